"""Every symmetry-distinct Na/vacancy ordering in the smallest supercell that holds the
occupancy (icet's `enumerate_structures`, Hart-Forcade enumeration over all supercell shapes
of that size), ranked by Ewald energy. Energies eV, lengths Å.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition
from structures.orderings.frame import (
    SYMPREC,
    VACANCY_SYMBOL,
    Frame,
    OrderingCandidate,
    OrderingError,
    OrderingResult,
    build_frame,
    ewald_matrix,
    ordered_atoms,
)

DEFAULT_MAX_ATOMS = 400
DEFAULT_MAX_ORDERINGS = 500
DEFAULT_TOLERANCE = 1e-6  # site fraction: "exactly"
RAW_LIMIT = 2_000_000  # labelings icet would have to screen; above this, use search_orderings
COUNT_BUDGET_S = 10.0  # s spent counting the orderings beyond max_orderings, for the error message


def smallest_supercell(n_keep: float, n_sites: int, atoms_per_cell: float, what: str,
                       max_atoms: int = DEFAULT_MAX_ATOMS,
                       tolerance: float = DEFAULT_TOLERANCE) -> tuple[int, int]:
    """Smallest number of parent cells n holding round(n * n_keep) Na on n * n_sites sites
    whose site fraction is within `tolerance` of n_keep / n_sites, with at most `max_atoms`
    atoms (after removing the vacancies). Returns (n, Na kept in the supercell).
    """
    x = n_keep / n_sites
    best = None
    n = 1
    while n * atoms_per_cell <= max_atoms or n == 1:
        k = round(n * n_keep)
        dev = abs(k / (n * n_sites) - x)
        if dev <= tolerance:
            return n, k
        if best is None or dev < best[2] - 1e-12:
            best = (n, k, dev)
        n += 1
    frac = Fraction(x).limit_denominator(10000)
    exact = frac.denominator // math.gcd(frac.denominator, n_sites)
    need = (f"needs {exact} parent cells ({round(exact * atoms_per_cell)} atoms) to be held exactly"
            if abs(float(frac) - x) < 1e-9 else "has no exact supercell")
    n, k, dev = best
    raise OrderingError(f"{what}: occupancy {x:.4g} ({n_keep:g} of {n_sites} sites per cell) {need}; "
                        f"within max_atoms={max_atoms} the closest is {k}/{n * n_sites} = "
                        f"{k / (n * n_sites):.4g} in {n} cells (deviation {dev:.3g} > tolerance "
                        f"{tolerance:g}); raise max_atoms or tolerance")


def rank_orderings(parent, sites: str | Sequence[str], n_keep: float | None = None, *, species: str = "Na",
                   oxidation_states: Mapping[str, float] | None = None,
                   composition: SiteComposition | None = None, max_atoms: int = DEFAULT_MAX_ATOMS,
                   tolerance: float = DEFAULT_TOLERANCE,
                   max_orderings: int = DEFAULT_MAX_ORDERINGS, primitive: bool = True) -> OrderingResult:
    """Every symmetry-distinct ordering of `n_keep` Na per parent cell on the sites labelled
    `sites`, in the smallest supercell that holds that occupancy, ranked by Ewald energy.

    parent: DisorderedStructure (its primitive `parent_atoms`; n_keep defaults to the file's
    occupancy), pymatgen Structure, or Atoms with every position present and `site_label`
    (or `sublattice`) arrays. sites: label(s) of the positions to order, e.g. 'Na2' or
    ('Naf', 'Nae'). Raises OrderingError when no supercell within `max_atoms` holds the
    occupancy to `tolerance` (site fraction), or when there are more than `max_orderings`.
    primitive: for a DisorderedStructure, start from its primitive cell (else the cell as read).
    """
    t0 = time.perf_counter()
    sites = (sites,) if isinstance(sites, str) else tuple(sites)
    frame, n_keep, table = build_frame(parent, sites, species, n_keep, oxidation_states, composition,
                                       primitive)
    m = int(frame.target.sum())
    n_cells, k = smallest_supercell(n_keep, m, len(frame) - m + n_keep, "/".join(sites), max_atoms, tolerance)
    found = _enumerate(frame, species, n_cells, k, max_orderings, "/".join(sites))
    energies = _energies(frame, found)
    cands = sorted((_candidate(frame, s, "enumeration", e) for s, e in zip(found, energies, strict=True)),
                   key=lambda c: c.ewald_eV)
    for i, c in enumerate(cands):
        c.index = c.atoms.info["rank"] = i
    notes = [f"{len(cands)} symmetry-distinct orderings of {k} {species} on {n_cells * m} "
             f"{'/'.join(sites)} sites in {n_cells} parent cell(s) (icet enumerate_structures)", *frame.notes]
    return OrderingResult(cands, sites, species, n_cells * m, k, n_cells, len(cands), table,
                          time.perf_counter() - t0, notes)


def _icet_input(frame: Frame, species: str) -> tuple[Atoms, list[list[str]]]:
    """The parent for icet: one dummy element per kind of site (so the symmetry is that of the
    disordered parent), and the species allowed on each site."""
    from ase.data import chemical_symbols

    keys = [(lab, sym, round(float(q), 6), bool(t)) for lab, sym, q, t
            in zip(frame.labels, frame.symbols, frame.charges, frame.target, strict=True)]
    kinds = {k: i + 1 for i, k in enumerate(dict.fromkeys(keys))}
    numbers = [kinds[k] for k in keys]
    atoms = Atoms(numbers=numbers, cell=frame.cell, scaled_positions=frame.frac, pbc=True)
    allowed = [[species, VACANCY_SYMBOL] if t else [chemical_symbols[z]]
               for z, t in zip(numbers, frame.target, strict=True)]
    return atoms, allowed


def _enumerate(frame: Frame, species: str, n_cells: int, k: int, max_orderings: int,
               what: str) -> list[Atoms]:
    from icet.tools import enumerate_structures

    sym, allowed = _icet_input(frame, species)
    m = int(frame.target.sum())
    n_vac = n_cells * m - k
    if n_vac == 0 or k == 0:
        whole = sym.repeat((n_cells, 1, 1))
        whole.set_chemical_symbols([(species if k else VACANCY_SYMBOL) if frame.target[i % len(frame)] else s
                                    for i, s in enumerate(whole.get_chemical_symbols())])
        return [whole]
    _check_count(sym, n_cells * m, k, n_cells, max_orderings, what)
    natoms = n_cells * len(frame)
    window = {VACANCY_SYMBOL: ((n_vac - 0.5) / natoms, (n_vac + 0.5) / natoms)}
    found = []
    stream = enumerate_structures(sym, [n_cells], allowed, concentration_restrictions=window,
                                  niggli_reduce=False, symprec=SYMPREC)
    for s in stream:
        found.append(s)
        if len(found) > max_orderings:
            count = _count_rest(stream, len(found))
            raise OrderingError(f"{what}: {count} symmetry-distinct orderings of {k} Na on {n_cells * m} "
                                f"sites, more than max_orderings={max_orderings}; raise max_orderings "
                                "(--max-orderings) or rank them with search_orderings (Ewald annealing)")
    return found


def _count_rest(stream, counted: int) -> str:
    """Count the remaining orderings for at most COUNT_BUDGET_S seconds."""
    t0 = time.perf_counter()
    for _ in stream:
        counted += 1
        if time.perf_counter() - t0 > COUNT_BUDGET_S:
            return f"more than {counted} (counted for {COUNT_BUDGET_S:g} s)"
    return str(counted)


def _check_count(sym: Atoms, n_sites: int, k: int, n_cells: int, max_orderings: int, what: str) -> None:
    """Refuse before enumerating when the configurations are too many to screen or to keep."""
    import spglib

    total = math.comb(n_sites, k)
    cell = (sym.cell[:], sym.get_scaled_positions(), sym.numbers)
    n_ops = len(spglib.get_symmetry(cell, symprec=SYMPREC)["rotations"])
    estimate = math.ceil(total / (n_ops * n_cells))
    if total > RAW_LIMIT or estimate > max_orderings:
        why = " and too many to enumerate" if total > RAW_LIMIT else ""
        raise OrderingError(f"{what}: {total} ways to place {k} Na on {n_sites} sites, at least {estimate} "
                            f"symmetry-distinct orderings ({n_ops} symmetry operations), more than "
                            f"max_orderings={max_orderings}{why}; raise max_orderings (--max-orderings) or "
                            "rank them with search_orderings")


def _energies(frame: Frame, found: list[Atoms]) -> list[float]:
    """Ewald energy (eV) of every enumerated cell: one Ewald matrix per supercell shape (icet puts
    the sites of one shape in the same order), then the sum over the occupied sites."""
    matrices: dict[tuple, np.ndarray] = {}
    out = []
    for s in found:
        key = tuple(np.round(s.cell[:], 6).ravel())
        if key not in matrices:
            basis = np.arange(len(s)) % len(frame)
            matrices[key] = ewald_matrix(s.cell[:], s.positions, frame.charges[basis])
        keep = np.array([sym != VACANCY_SYMBOL for sym in s.get_chemical_symbols()])
        out.append(float(matrices[key][np.ix_(keep, keep)].sum()))
    return out


def _candidate(frame: Frame, cell_atoms: Atoms, search: str, energy: float) -> OrderingCandidate:
    """Ordered cell from an enumerated supercell (atom i sits on parent site i mod N)."""
    basis = np.arange(len(cell_atoms)) % len(frame)
    keep = np.array([s != VACANCY_SYMBOL for s in cell_atoms.get_chemical_symbols()])
    on_target = frame.target[basis]
    kept = tuple(int(j) for j, i in enumerate(np.flatnonzero(on_target)) if keep[i])
    idx = np.flatnonzero(keep)
    atoms = ordered_atoms(frame, basis[idx], cell_atoms.positions[idx], cell_atoms.cell[:])
    P = np.rint(cell_atoms.cell[:] @ np.linalg.inv(frame.cell)).astype(int)
    atoms.info.update(ewald_eV=energy, search=search, supercell_matrix=P.tolist())
    return OrderingCandidate(-1, energy, atoms, P.tolist(), search, kept)
