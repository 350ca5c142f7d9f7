"""Disordered crystals in: partially occupied CIFs and pymatgen structures -> sublattices.

`read_disordered` reads a CIF (with or without symmetry operations: pymatgen's CIF
reader parses the file and gives the symmetry operations, here they expand the
asymmetric unit) or a pymatgen Structure JSON file; `from_structure` takes a pymatgen
Structure (e.g. a Materials Project entry). The result, a `DisorderedStructure`, holds

- the disordered pymatgen Structure: one site per position, species -> occupancy (0-1);
  atoms of different elements closer than `position_tol` Å share a position and form one
  mixed site whose label joins the CIF labels with '+' (e.g. 'M1Ni+M1Mn'); an occupancy
  sum below 1 means vacancies;
- one `DisorderedSublattice` per symmetry-distinct orbit (pymatgen SpacegroupAnalyzer on
  the disordered structure), labelled from the CIF's `_atom_site_label`s, with its
  species -> occupancy, multiplicity per cell, role (alkali, mixing, centre, anion,
  complex, ligand) and the oxidation-state hints of type symbols such as Mn3+ or O2-;
- the number of formula units Z per cell (gcd of the multiplicities) and the formula per
  formula unit, written as papers write it (e.g. 'Na2/3Ni1/3Mn2/3O2').

`site_composition` turns it into a `structures.composition.SiteComposition`: on the
structure's own orbits (`prototype=None`, what SQS on the CIF's parent cell needs) or
mapped onto a built-in prototype's sublattices (then `configurational_entropy` equals
that of the equivalent formula). `override_composition` applies a formula to the same
framework (another doping) after checking the sublattice mapping, and `with_composition`
writes its per-orbit form back into the occupancies. `parent_atoms` gives the parent cell
with every position present and `site_label` / `sublattice` arrays, for `structures.sqs`
and `structures.orderings`.

Modules: `model` (the dataclasses, the formula), `cif` (reading), `mapping` (orbits ->
sublattices, compositions), `parent` (the parent cell). Everything public is importable
from `structures.disorder`.

Bad input raises `DisorderError` (a `HecathodeInputError`) with a one-line message.
Units: lengths in Å, occupancies as site fractions (0-1), amounts per formula unit.
"""

from structures.disorder.cif import from_structure, read_disordered
from structures.disorder.mapping import (
    alkali_merge,
    matching_prototype,
    override_composition,
    prototype_mapping,
    site_composition,
    with_composition,
)
from structures.disorder.model import (
    FULL,
    POSITION_TOL,
    SYMPREC,
    DisorderedStructure,
    DisorderedSublattice,
    DisorderError,
    formula_string,
)
from structures.disorder.parent import parent_atoms, site_species

__all__ = [
    "FULL", "POSITION_TOL", "SYMPREC", "DisorderError", "DisorderedStructure", "DisorderedSublattice",
    "alkali_merge", "formula_string", "from_structure", "matching_prototype", "override_composition",
    "parent_atoms", "prototype_mapping", "read_disordered", "site_composition", "site_species",
    "with_composition",
]
