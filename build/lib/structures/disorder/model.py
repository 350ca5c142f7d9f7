"""The disordered-crystal model: one `DisorderedSublattice` per symmetry-distinct orbit, the
`DisorderedStructure` that holds them, and its formula as papers write it.

Units: lengths in Å, occupancies as site fractions (0-1), amounts per formula unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from structures.errors import HecathodeInputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

POSITION_TOL = 0.05  # Å: atoms closer than this share one position (a mixed site)
CONTACT_MIN = 0.5  # Å: two fully occupied positions closer than this are an error
OCCUPANCY_SLACK = 0.01  # a position may hold up to 1 + this before it is an error
SYMPREC = 0.01  # Å: SpacegroupAnalyzer tolerance for the orbits
FULL = 1 - 1e-3  # total occupancy counted as a fully occupied site
ROLE_ORDER = ("alkali", "mixing", "complex", "centre", "anion", "ligand")


class DisorderError(HecathodeInputError):
    """A disordered structure that cannot be read or is physically inconsistent."""


@dataclass(frozen=True)
class DisorderedSublattice:
    """One symmetry-distinct orbit of positions.

    species: element -> occupancy per site (0-1); multiplicity: positions per cell as read;
    cif_labels: the `_atom_site_label`s on it; oxidation_hints: element -> charge from the
    CIF type symbols (empty when the file gives none).
    """

    label: str
    species: dict[str, float]
    multiplicity: int
    role: str
    cif_labels: tuple[str, ...]
    indices: tuple[int, ...]
    oxidation_hints: dict[str, float] = field(default_factory=dict)

    @property
    def occupancy(self) -> float:
        """Atoms per site (0-1)."""
        return sum(self.species.values())

    @property
    def vacancy(self) -> float:
        """Vacant fraction of the sites, 1 - occupancy."""
        return max(0.0, 1.0 - self.occupancy)

    @property
    def disordered(self) -> bool:
        """True for a mixed or partially occupied orbit."""
        return len(self.species) > 1 or self.occupancy < FULL


@dataclass
class DisorderedStructure:
    """A disordered crystal: structure, orbits (sublattices) and formula units per cell."""

    structure: Structure  # disordered; site.label = orbit label, site property cif_label
    sublattices: dict[str, DisorderedSublattice]
    formula_units: int
    source: str
    spacegroup: str
    notes: list[str] = field(default_factory=list)

    def amounts(self, formula_units: float | None = None) -> dict[str, float]:
        """Atoms per formula unit by element (Z = `formula_units`, default self.formula_units)."""
        z = formula_units or self.formula_units
        out: dict[str, float] = {}
        for sub in self.sublattices.values():
            for el, occ in sub.species.items():
                out[el] = out.get(el, 0.0) + occ * sub.multiplicity / z
        return out

    @property
    def formula(self) -> str:
        """Composition per formula unit as papers write it, e.g. 'Na3V2P2O8F3'."""
        return formula_string(self, self.formula_units)

    def partial(self) -> list[str]:
        """Labels of the mixed or partially occupied orbits."""
        return [label for label, sub in self.sublattices.items() if sub.disordered]



def _amount(x: float) -> str:
    """An amount as papers write it: '' for 1, '3', '0.2', '2/3', else up to 4 decimals."""
    if abs(x - 1) < 1e-9:
        return ""
    if abs(x - round(x)) < 1e-9:
        return str(round(x))
    decimal = f"{x:.4f}".rstrip("0")
    if abs(float(decimal) - x) < 1e-9:
        return decimal
    frac = Fraction(x).limit_denominator(24)
    if abs(float(frac) - x) < 1e-9:
        return f"{frac.numerator}/{frac.denominator}"
    return f"{x:.4f}".rstrip("0")


def formula_string(ds: DisorderedStructure, formula_units: float) -> str:
    """Formula per formula unit (Z = formula_units): alkali, metals, complex, centres, anions;
    cyanide ligands are written (CN)n after the complex metal, e.g. 'Na2MnFe(CN)6'."""
    by_role: dict[str, dict[str, float]] = {}
    for sub in ds.sublattices.values():
        amounts = by_role.setdefault(sub.role, {})
        for el, occ in sub.species.items():
            amounts[el] = amounts.get(el, 0.0) + occ * sub.multiplicity / formula_units
    ligand = by_role.pop("ligand", {})
    cyanide = set(ligand) == {"C", "N"} and abs(ligand["C"] - ligand["N"]) < 1e-9 and "complex" in by_role
    text = ""
    for role in ROLE_ORDER:
        text += "".join(f"{el}{_amount(a)}" for el, a in by_role.get(role, {}).items() if a > 1e-12)
        if role == "complex" and cyanide:
            text += f"(CN){_amount(ligand['C'])}"
    if not cyanide:
        text += "".join(f"{el}{_amount(a)}" for el, a in ligand.items() if a > 1e-12)
    return text
