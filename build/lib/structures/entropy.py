"""Configurational entropy per sublattice, eq. (2)/(5) of the review (Chem. Sci. 16, 17058).

ΔS_config = -R Σ_sublattices Σ_i x_i ln x_i, with x_i the site fraction of species i
on that sublattice. Units: R (dimensionless multiple of the gas constant) and
J mol⁻¹ K⁻¹. By default vacancies are not a species (the review's 1.61 R for the
HE-PBA counts only the five metals); `include_vacancies=True` adds written □ and
the empty part of partly filled sublattices as a species. `per_formula_unit=True`
weights each sublattice by its sites per formula unit (R per formula unit), a
different convention that is always labelled as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from structures.composition import VACANCY, Occupancy, SiteComposition

R_J_PER_MOL_K = 8.314462618
HIGH, MEDIUM = 1.5, 1.0  # class thresholds in R (review §2.2)


@dataclass(frozen=True)
class EntropyResult:
    """ΔS_config: per sublattice (R per site) and total, in R and J mol⁻¹ K⁻¹."""

    per_sublattice_R: dict[str, float]
    fractions: dict[str, dict[str, float]]
    total_R: float
    convention: str
    include_vacancies: bool

    @property
    def total_J_per_mol_K(self) -> float:
        return self.total_R * R_J_PER_MOL_K

    @property
    def entropy_class(self) -> str:
        return classify(self.total_R)


def mixing_entropy(fractions: list[float]) -> float:
    """-Σ x ln x in units of R for site fractions that sum to 1 (zeros ignored)."""
    if any(x < 0 for x in fractions):
        raise ValueError(f"negative site fraction in {fractions}")
    total = sum(fractions)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"site fractions sum to {total:.6g}, not 1")
    return max(0.0, -sum(x * math.log(x) for x in fractions if x > 0))


def classify(entropy_R: float) -> str:
    """'high' (>= 1.5 R), 'medium' (1 R <= S < 1.5 R) or 'low' (< 1 R), review §2.2."""
    eps = 1e-9
    if entropy_R >= HIGH - eps:
        return "high"
    if entropy_R >= MEDIUM - eps:
        return "medium"
    return "low"


def sublattice_fractions(occ: Occupancy, include_vacancies: bool = False) -> dict[str, float]:
    """Site fractions used for the entropy of one sublattice.

    Without vacancies: the atoms on the sublattice, normalised to 1.
    With vacancies: atoms and written □ per site, plus '□' for any empty remainder.
    """
    atoms = {el: a for el, a in occ.species.items() if el != VACANCY}
    if not include_vacancies:
        n = sum(atoms.values())
        return {el: a / n for el, a in atoms.items()}
    fractions = {el: a / occ.sites for el, a in atoms.items()}
    empty = 1.0 - sum(fractions.values())
    if empty > 1e-9:
        fractions[VACANCY] = empty
    return fractions


def configurational_entropy(
    comp: SiteComposition, include_vacancies: bool = False, per_formula_unit: bool = False
) -> EntropyResult:
    """ΔS_config of a composition on its sublattices (see module docstring for units)."""
    per, fracs = {}, {}
    for label, occ in comp.sublattices.items():
        if not occ.sublattice.configurational:
            continue
        fracs[label] = sublattice_fractions(occ, include_vacancies)
        per[label] = mixing_entropy(list(fracs[label].values()))
    if per_formula_unit:
        total = sum(comp.sublattices[k].sites * s for k, s in per.items())
        convention = "per formula unit: Σ (sites per f.u.) × (-Σ x ln x), R per f.u."
    else:
        total = sum(per.values())
        convention = "review eq. (2)/(5): Σ over sublattices of -Σ x ln x, R per site"
    return EntropyResult(per, fracs, total, convention, include_vacancies)
