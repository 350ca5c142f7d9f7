"""pymatgen's OrderDisorderedStructureTransformation on the same cell and charges, the reference
to compare with, and `rank_of` (where a known ordering sits in a ranked list). Energies eV.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition
from structures.orderings.frame import (
    Frame,
    OrderingCandidate,
    OrderingError,
    OrderingResult,
    build_frame,
    ewald_energy,
    ordered_atoms,
    oxidation_state,
    plain_structure,
)


def odst_orderings(parent, sites: str | Sequence[str], n_keep: float | None = None, *, species: str = "Na",
                   algo: str = "fast", n_return: int = 1,
                   oxidation_states: Mapping[str, float] | None = None,
                   composition: SiteComposition | None = None, primitive: bool = True) -> OrderingResult:
    """pymatgen's OrderDisorderedStructureTransformation (algo 'fast' or 'best_first') on the
    parent cell as given, with the same charges as `rank_orderings`: the reference to compare
    with. Its energies are recomputed with `ewald_energy` (ODST's own in atoms.info). Every
    disordered site is ordered by ODST, so compare on parents whose only disorder is `sites`.
    """
    from pymatgen.core import Lattice, Species, Structure
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation as Odst,
    )

    t0 = time.perf_counter()
    sites = (sites,) if isinstance(sites, str) else tuple(sites)
    frame, n_keep, table = build_frame(parent, sites, species, n_keep, oxidation_states, composition,
                                       primitive)
    m = int(frame.target.sum())
    q = frame.table[("*", species)]
    site_species = [{Species(species, q): n_keep / m} if t else
                    {Species(el, oxidation_state(frame.table, sub, el)): x for el, x in occ.items()}
                    for occ, sub, t in zip(frame.species, frame.sublattices, frame.target, strict=True)]
    struct = Structure(Lattice(frame.cell), site_species, frame.frac)
    codes = {"fast": Odst.ALGO_FAST, "best_first": Odst.ALGO_BEST_FIRST}
    if algo not in codes:
        raise OrderingError(f"ODST algorithm {algo!r} is not one of {', '.join(codes)}")
    ranked = Odst(algo=codes[algo]).apply_transformation(struct, return_ranked_list=n_return)
    cands = [_odst_candidate(frame, r, f"odst_{algo}", i) for i, r in enumerate(ranked)]
    note = f"pymatgen OrderDisorderedStructureTransformation, {algo}"
    return OrderingResult(cands, sites, species, m, round(n_keep), 1, len(cands), table,
                          time.perf_counter() - t0, [note, *frame.notes])


def _odst_candidate(frame: Frame, entry: dict, how: str, index: int) -> OrderingCandidate:
    struct = entry["structure"]
    frac = np.mod(struct.frac_coords, 1.0)
    d = frac[:, None, :] - frame.frac[None, :, :]
    d -= np.round(d)
    basis = np.argmin(np.linalg.norm(d @ frame.cell, axis=2), axis=1)
    atoms = ordered_atoms(frame, basis, struct.cart_coords, frame.cell)
    charges = np.array([sum(sp.oxi_state * x for sp, x in site.species.items()) for site in struct])
    atoms.set_initial_charges(charges)
    energy = ewald_energy(frame.cell, struct.cart_coords, charges)
    eye = np.eye(3, dtype=int).tolist()
    atoms.info.update(ewald_eV=energy, odst_energy_eV=float(entry["energy"]), search=how, rank=index)
    return OrderingCandidate(index, energy, atoms, eye, how)


def rank_of(result: OrderingResult, reference) -> int | None:
    """Index of the first candidate equivalent to `reference` (Atoms or pymatgen Structure) under
    pymatgen's StructureMatcher (default tolerances, cells compared as given: its reduction to a
    primitive cell can pick different cells for a relaxed and an ideal copy), or None."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    ref = plain_structure(reference) if isinstance(reference, Atoms) else reference
    matcher = StructureMatcher(primitive_cell=False, attempt_supercell=True)
    for cand in result.candidates:
        if matcher.fit(plain_structure(cand.atoms), ref):
            return cand.index
    return None
