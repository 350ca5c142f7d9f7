"""The parent cell of a disordered crystal: every position present, labelled, as `ase.Atoms`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from ase import Atoms

from structures.constants import SITE_LABEL as LABEL
from structures.constants import SUBLATTICE
from structures.disorder.model import DisorderedStructure


def parent_atoms(ds: DisorderedStructure, primitive: bool = True,
                 sublattice_of: Mapping[str, str] | None = None) -> Atoms:
    """The parent cell with every position present, for SQS and orderings.

    Each position holds its majority element; `arrays["site_label"]` is the orbit label,
    `arrays["sublattice"]` the orbit label or `sublattice_of[label]` (e.g. from
    `alkali_merge` or `prototype_mapping`), `arrays["occupancy"]` the atoms per site (0-1).
    primitive: reduce to the primitive cell of the disordered structure (pymatgen
    `get_primitive_structure`), the smallest cell SQS and enumeration can start from.
    `atoms.info`: formula_units (in this cell), source, provenance, disordered=True.
    """
    struct = ds.structure.copy()
    struct.add_site_property("orbit", [site.label for site in struct])
    struct.remove_site_property("cif_label")
    if primitive:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            struct = struct.get_primitive_structure(use_site_props=True)
    orbit = [str(x) for x in struct.site_properties["orbit"]]
    symbols = [max(site.species.items(), key=lambda kv: kv[1])[0].symbol for site in struct]
    atoms = Atoms(symbols, cell=struct.lattice.matrix, scaled_positions=struct.frac_coords, pbc=True)
    atoms.arrays[LABEL] = np.array(orbit).astype(str)
    atoms.arrays[SUBLATTICE] = np.array([(sublattice_of or {}).get(o, o) for o in orbit]).astype(str)
    atoms.arrays["occupancy"] = np.array([sum(site.species.values()) for site in struct], dtype=float)
    atoms.info.update(formula_units=ds.formula_units * len(struct) / len(ds.structure), source=ds.source,
                      disordered=True, provenance={"source": f"user file {ds.source}", "model": False})
    return atoms


def site_species(ds: DisorderedStructure, atoms: Atoms) -> list[dict[str, float]]:
    """Species -> occupancy of every site of `parent_atoms(ds)` (looked up by its orbit label)."""
    return [dict(ds.sublattices[str(label)].species) for label in atoms.arrays[LABEL]]
