"""Geometry of the states of a voltage study: lattice parameters, volume per host atom, TM–O
bonds and octahedral distortion (`structures.analysis`), and their change on desodiation.

Lattice parameters are given twice: of the relaxed cell itself, and of the prototype's
conventional cell carried through the same deformation (`conventional_lattice`), so that an
ordering in a doubled supercell and the as-made cell compare directly (NVPF a, b, c of
P4_2/mnm; O3 hexagonal a, c). Lengths Å, angles degrees, volumes Å^3, changes percent (angles:
degrees).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.geometry import cell_to_cellpar

from structures.analysis import (
    GeometryError,
    mean_tm_o_bond_lengths,
    octahedral_distortion,
    volume_change_percent,
    volume_per_host_atom,
)

LENGTHS = ("a", "b", "c")
ANGLES = ("alpha", "beta", "gamma")


def _cellpar(cell: np.ndarray) -> dict[str, float]:
    return dict(zip(LENGTHS + ANGLES, map(float, cell_to_cellpar(np.asarray(cell))), strict=True))


def conventional_lattice(start_cell: np.ndarray, relaxed_cell: np.ndarray,
                         conventional_cell: np.ndarray) -> dict[str, float]:
    """a, b, c (Å), α, β, γ (°) of `conventional_cell` deformed as `start_cell` -> `relaxed_cell`
    (rows are lattice vectors, all in one Cartesian frame): C_conv · C_start⁻¹ · C_relaxed."""
    deformation = np.linalg.solve(np.asarray(start_cell, float), np.asarray(relaxed_cell, float))
    return _cellpar(np.asarray(conventional_cell, float).reshape(3, 3) @ deformation)


def state_geometry(relaxed: Atoms, start_cell: np.ndarray, conventional_cell=None) -> dict:
    """Lattice, volumes, mean TM–anion bond per TM element and overall, mean octahedral
    distortion (Baur's D) of a relaxed state; `bond_note` says why the bonds are missing."""
    geo: dict = {"lattice": _cellpar(relaxed.cell[:]), "volume_A3": float(relaxed.get_volume()),
                 "volume_per_host_atom_A3": volume_per_host_atom(relaxed)}
    if conventional_cell is not None:
        geo["conventional_lattice"] = conventional_lattice(start_cell, relaxed.cell[:], conventional_cell)
    try:
        bonds = mean_tm_o_bond_lengths(relaxed)
        octahedra = octahedral_distortion(relaxed)
    except GeometryError as exc:
        geo["bond_note"] = str(exc)
        return geo
    geo["tm_o_mean_bond_A"] = bonds
    if octahedra:
        geo["tm_o_mean_bond_all_A"] = float(np.mean([o["mean_bond_length_A"] for o in octahedra]))
        geo["octahedral_distortion_mean"] = float(np.mean([o["distortion_index"] for o in octahedra]))
        geo["octahedral_distortion_max"] = float(np.max([o["distortion_index"] for o in octahedra]))
    return geo


def end_state_changes(sodiated: Atoms, desodiated: Atoms, geo_sodiated: dict, geo_desodiated: dict) -> dict:
    """From the sodiated to the desodiated end state: volume change per host atom (percent),
    lattice changes (lengths percent, angles degrees) of the conventional cell (else of the cell),
    change of the mean TM–O bond (Å) and of the mean distortion index."""
    key = "conventional_lattice" if "conventional_lattice" in geo_sodiated else "lattice"
    before, after = geo_sodiated[key], geo_desodiated[key]
    changes = {"volume_change_percent": volume_change_percent(sodiated, desodiated),
               "lattice_frame": "conventional cell" if key == "conventional_lattice" else "cell",
               "lattice_change_percent": {k: 100 * (after[k] - before[k]) / before[k] for k in LENGTHS},
               "angle_change_deg": {k: after[k] - before[k] for k in ANGLES}}
    for name in ("tm_o_mean_bond_all_A", "octahedral_distortion_mean"):
        if name in geo_sodiated and name in geo_desodiated:
            changes[f"{name}_change"] = geo_desodiated[name] - geo_sodiated[name]
    return changes


__all__ = ["conventional_lattice", "end_state_changes", "state_geometry"]
