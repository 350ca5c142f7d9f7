"""Geometry of relaxed structures: volume change, TM–O bond lengths, octahedral distortion.

Geometry only (no calculators). Lengths in Å, volumes in Å^3, volume changes in percent.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from structures.constants import ALKALI, SITE_LABEL, TRANSITION_METALS
from structures.errors import HecathodeInputError

ANIONS = ("O", "F")


class GeometryError(HecathodeInputError):
    """Structures that cannot be compared, or a site without the expected neighbours."""


def volume_per_host_atom(atoms: Atoms, exclude: frozenset[str] = ALKALI) -> float:
    """Cell volume per host atom (every atom not in `exclude`, alkali ions by default), Å^3.

    The measure that compares a sodiated and a desodiated cell of one framework, or a pristine
    cell and an SQS of different size."""
    n = sum(s not in exclude for s in atoms.get_chemical_symbols())
    if n == 0:
        raise GeometryError(f"{atoms.get_chemical_formula()} has no atoms outside {sorted(exclude)}")
    return float(atoms.get_volume() / n)


def volume_change_percent(before: Atoms, after: Atoms, exclude: frozenset[str] = ALKALI) -> float:
    """Volume change from `before` to `after`, percent (100 (V_after − V_before) / V_before).

    Volumes are compared per host atom, i.e. per atom not in `exclude` (alkali ions by default),
    so that a sodiated and a desodiated cell of the same framework compare directly (the
    review's "zero-strain" claims); for cells with the same host atoms this is the plain cell
    volume change.
    """
    v0 = volume_per_host_atom(before, exclude)
    v1 = volume_per_host_atom(after, exclude)
    return 100.0 * (v1 - v0) / v0


def _tm_anion_bonds(atoms: Atoms, n_neighbours: int, cutoff: float, anions) -> dict[int, np.ndarray]:
    """For each TM atom index, its `n_neighbours` shortest TM–anion distances (Å), sorted."""
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    symbols = np.array(atoms.get_chemical_symbols())
    is_anion = np.isin(symbols[j], list(anions))
    bonds: dict[int, np.ndarray] = {}
    for idx, sym in enumerate(symbols):
        if sym not in TRANSITION_METALS:
            continue
        dist = np.sort(d[(i == idx) & is_anion])
        if len(dist) < n_neighbours:
            raise GeometryError(
                f"{sym} atom {idx} has {len(dist)} anion neighbours within {cutoff} Å, "
                f"expected {n_neighbours}")
        bonds[idx] = dist[:n_neighbours]
    return bonds


def mean_tm_o_bond_lengths(atoms: Atoms, anions=ANIONS, n_neighbours: int = 6,
                           cutoff: float = 3.0) -> dict[str, float]:
    """Mean TM–anion bond length per TM element, Å (the `n_neighbours` nearest anions of each TM).

    Anions are O and F by default; `cutoff` (Å) bounds the neighbour search.
    """
    bonds = _tm_anion_bonds(atoms, n_neighbours, cutoff, anions)
    per_element: dict[str, list[float]] = {}
    for idx, dist in bonds.items():
        per_element.setdefault(atoms[idx].symbol, []).extend(dist.tolist())
    return {el: float(np.mean(v)) for el, v in sorted(per_element.items())}


def distortion_index(bond_lengths) -> float:
    """Baur's distortion index D = (1/n) Σ |l_i − l_av| / l_av (dimensionless; 0 for a regular polyhedron)."""
    lengths = np.asarray(bond_lengths, dtype=float)
    if lengths.size == 0 or np.any(lengths <= 0):
        raise GeometryError("distortion index needs positive bond lengths")
    mean = lengths.mean()
    return float(np.mean(np.abs(lengths - mean)) / mean)


def octahedral_distortion(atoms: Atoms, anions=ANIONS, cutoff: float = 3.0) -> list[dict]:
    """Per TM site: index, element, site label, the six TM–anion bond lengths (Å), their mean (Å)
    and Baur's distortion index D (dimensionless). A Jahn–Teller ion (Mn3+, Ni3+ low spin) in
    an elongated octahedron shows D of a few percent; a regular octahedron gives 0.
    """
    bonds = _tm_anion_bonds(atoms, 6, cutoff, anions)
    labels = atoms.arrays.get(SITE_LABEL)
    return [{
        "index": idx,
        "element": atoms[idx].symbol,
        "site_label": str(labels[idx]) if labels is not None else atoms[idx].symbol,
        "bond_lengths_A": dist.tolist(),
        "mean_bond_length_A": float(dist.mean()),
        "distortion_index": distortion_index(dist),
    } for idx, dist in bonds.items()]
