"""Low-Ewald Na/vacancy orderings of one cell without usable symmetry (a P1 SQS: keep n of its
m Na): pymatgen's `EwaldMinimizer` where the problem is small enough, then simulated annealing
with a greedy swap polish on the Ewald matrix from several seeds. Energies eV.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np

from structures.composition import SiteComposition
from structures.orderings.frame import (
    Frame,
    OrderingCandidate,
    OrderingError,
    OrderingResult,
    build_frame,
    ewald_matrix,
    ordered_atoms,
    plain_structure,
)

MINIMIZER_LIMIT = 200_000  # configurations up to which search_orderings runs pymatgen's EwaldMinimizer


def search_orderings(parent, sites: str | Sequence[str], n_keep: int, *, species: str = "Na",
                     oxidation_states: Mapping[str, float] | None = None,
                     composition: SiteComposition | None = None, n_starts: int = 4,
                     n_steps: int | None = None, n_return: int = 5, seed: int = 0,
                     minimizer: bool = True, primitive: bool = True) -> OrderingResult:
    """Low-Ewald orderings of `n_keep` Na on the `sites` of this very cell (no supercell, no
    symmetry reduction): pymatgen's EwaldMinimizer (fast algorithm) when `minimizer` and the
    configurations are at most MINIMIZER_LIMIT, plus `n_starts` simulated annealing runs (`n_steps` swaps
    each, default 200 per site, temperature 1 -> 0.005 eV) each polished by greedy swaps.
    Returns the `n_return` lowest distinct states; `search` says which search found each.
    """
    t0 = time.perf_counter()
    sites = (sites,) if isinstance(sites, str) else tuple(sites)
    frame, n_keep, table = build_frame(parent, sites, species, n_keep, oxidation_states, composition,
                                       primitive)
    k = round(n_keep)
    if abs(k - n_keep) > 1e-6:
        raise OrderingError(f"{n_keep:g} Na cannot be kept in one cell; build a supercell that holds a "
                            "whole number (or use rank_orderings)")
    targets = np.flatnonzero(frame.target)
    M = ewald_matrix(frame.cell, frame.frac @ frame.cell, frame.charges)
    found: dict[tuple[int, ...], tuple[float, str]] = {}
    use_minimizer = minimizer and math.comb(len(targets), k) <= MINIMIZER_LIMIT
    if use_minimizer:
        for sel in _minimizer(M, targets, k, n_return):
            _keep_state(found, M, frame, sel, "ewald_minimizer_fast")
    rng = np.random.default_rng(seed)
    for run in range(n_starts):
        sel = _anneal(M, frame, targets, k, rng, n_steps or 200 * len(targets))
        _keep_state(found, M, frame, _greedy(M, frame, targets, sel), f"annealing+greedy seed {seed}:{run}")
    cands = _distinct(frame, sorted(found.items(), key=lambda kv: kv[1][0]), n_return)
    notes = [f"{len(found)} distinct states from {n_starts} annealing runs"
             + (" and pymatgen EwaldMinimizer" if use_minimizer else "")]
    notes += frame.notes
    return OrderingResult(cands, sites, species, len(targets), k, 1, len(found), table,
                          time.perf_counter() - t0, notes)


def _distinct(frame: Frame, ranked: list, n_return: int) -> list[OrderingCandidate]:
    """The n_return lowest states, dropping states equivalent (StructureMatcher) to a kept one of
    the same energy (the minimizer and the annealing runs find symmetry copies)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    out: list[OrderingCandidate] = []
    kept_structs = []
    for sel, (energy, how) in ranked:
        cand = _state_candidate(frame, sel, energy, how, len(out))
        struct = plain_structure(cand.atoms)
        if any(abs(c.ewald_eV - energy) < 1e-6 and matcher.fit(k, struct)
               for c, k in zip(out, kept_structs, strict=True)):
            continue
        out.append(cand)
        kept_structs.append(struct)
        if len(out) == n_return:
            break
    return out


def _occupied(frame: Frame, sel) -> np.ndarray:
    occ = ~frame.target.copy()
    occ[list(sel)] = True
    return occ


def _keep_state(found: dict, M: np.ndarray, frame: Frame, sel, how: str) -> None:
    """Record a state (sorted kept indices) with its energy and every search that reached it."""
    key = tuple(sorted(int(i) for i in sel))
    if key in found:
        energy, hows = found[key]
        found[key] = (energy, hows if how in hows.split(", ") else f"{hows}, {how}")
        return
    occ = _occupied(frame, key)
    found[key] = (float(M[np.ix_(occ, occ)].sum()), how)


def _minimizer(M: np.ndarray, targets: np.ndarray, k: int, n_return: int) -> list[list[int]]:
    from pymatgen.analysis.ewald import EwaldMinimizer

    em = EwaldMinimizer(M.copy(), [[0.0, len(targets) - k, [int(t) for t in targets], None]],
                        num_to_return=n_return, algo=EwaldMinimizer.ALGO_FAST)
    out = []
    for _, manipulations in em.output_lists:
        removed = {i for i, _ in manipulations}
        out.append([int(t) for t in targets if int(t) not in removed])
    return out


def _anneal(M: np.ndarray, frame: Frame, targets: np.ndarray, k: int, rng, n_steps: int) -> list[int]:
    """Metropolis swaps (one Na to an empty site) with a geometric temperature ramp 1 -> 0.005 eV."""
    kept = [int(i) for i in rng.choice(targets, size=k, replace=False)]
    empty = [int(i) for i in targets if int(i) not in set(kept)]
    if not kept or not empty:
        return kept
    field_ = M[:, _occupied(frame, kept)].sum(axis=1)
    d = np.diag(M)
    for t in np.geomspace(1.0, 0.005, n_steps):
        ia, ib = int(rng.integers(len(kept))), int(rng.integers(len(empty)))
        a, b = kept[ia], empty[ib]
        de = 2 * (field_[b] - field_[a]) + d[a] + d[b] - 2 * M[a, b]
        if de <= 0 or rng.random() < math.exp(-de / t):
            field_ += M[:, b] - M[:, a]
            kept[ia], empty[ib] = b, a
    return kept


def _greedy(M: np.ndarray, frame: Frame, targets: np.ndarray, kept: list[int]) -> list[int]:
    """Steepest descent over all single swaps until none lowers the energy."""
    kept = list(kept)
    empty = [int(i) for i in targets if int(i) not in set(kept)]
    d = np.diag(M)
    while kept and empty:
        field_ = M[:, _occupied(frame, kept)].sum(axis=1)
        a, b = np.array(kept), np.array(empty)
        de = (2 * (field_[b][None, :] - field_[a][:, None]) + d[a][:, None] + d[b][None, :]
              - 2 * M[np.ix_(a, b)])
        i, j = np.unravel_index(np.argmin(de), de.shape)
        if de[i, j] >= -1e-9:
            break
        kept[i], empty[j] = empty[j], kept[i]
    return kept


def _state_candidate(frame: Frame, sel: tuple[int, ...], energy: float, how: str,
                     index: int) -> OrderingCandidate:
    occ = _occupied(frame, sel)
    basis = np.flatnonzero(occ)
    atoms = ordered_atoms(frame, basis, frame.frac[basis] @ frame.cell, frame.cell)
    targets = np.flatnonzero(frame.target)
    kept = tuple(j for j, t in enumerate(targets) if t in set(sel))
    eye = np.eye(3, dtype=int).tolist()
    atoms.info.update(ewald_eV=energy, search=how, supercell_matrix=eye, rank=index)
    return OrderingCandidate(index, energy, atoms, eye, how, kept)
