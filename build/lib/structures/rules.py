"""Design rules for a composition on its sublattices (review §4.1).

- oxidation states: fixed for alkali, polyanion centre, anion and cyanide; on the
  mixing (and PBA complex) sites chosen from `configs/rules/redox.yaml` so that the
  formula is neutral, preferring assignments with no redox-incompatible pair, then
  integer states, then the most common states; one element may be mixed-valent.
- Shannon ionic radii (pymatgen) on the mixing site for the prototype's
  coordination and spin, and the size mismatch δ = sqrt(Σ x_i (1 - r_i/r̄)²).
- electronegativity spread (Pauling) on the mixing site.
- redox-incompatible pairs on one site: A^a and B^b clash when the couple
  A^a/A^(a-1) lies above B^(b+1)/B^b (vs Na+/Na), so A^a would oxidise B^b
  (the review's example: Mn3+ + V3+ -> Mn2+ + V4+).
- theoretical capacity in mA h g⁻¹ (F = 96485.33212 C mol⁻¹): electrons from the
  active couples, limited by the extractable Na.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from pymatgen.core import Composition, Element, Species

from structures.composition import VACANCY, Occupancy, SiteComposition
from structures.errors import HecathodeInputError
from structures.settings import RULES_DIR

FARADAY = 96485.33212  # C mol⁻¹
MAH_PER_C = 1 / 3.6  # 1 mA h = 3.6 C
SIZE_MISMATCH_LIMIT = 0.066  # δ of metallic HEA solid solutions (Yang & Zhang 2012)
ION_SIZE_LIMIT = 0.15  # |r_i/r̄ - 1| beyond which an ion hardly shares a site
REDOX_MARGIN = 0.1  # V: couples closer than this are within the accuracy of the table
CHARGE_TOLERANCE = 0.05  # e per f.u.: printed formulas are rounded to ~0.01 per element
REDOX_FILE = RULES_DIR / "redox.yaml"
VARIABLE_ROLES = ("mixing", "complex")


@cache
def load_redox(path: str | Path = REDOX_FILE) -> dict:
    """Oxidation-state candidates and redox couples (see configs/rules/redox.yaml)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
        for key in ("fixed", "oxidation_states", "couples"):
            data[key]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise HecathodeInputError(f"cannot read redox table {path}: {exc}") from None
    return data


def redox_family(comp: SiteComposition) -> str:
    """Family whose couples apply: the prototype's, or a guess for `generic`."""
    fam = comp.prototype.family
    if fam != "generic":
        return fam
    roles = {o.sublattice.role for o in comp.sublattices.values()}
    if "complex" in roles:
        return "pba"
    if "centre" in roles:
        return "polyanion"
    return "layered_oxide"


# --------------------------------------------------------------------------- redox


def _couples(redox: dict, family: str, site: str) -> list[dict]:
    return [c for c in redox["couples"].get(family, []) if c.get("site", site) == site]


def _states(q: float) -> set[int]:
    return {math.floor(q + 1e-9), math.ceil(q - 1e-9)}


def ion_name(el: str, q: float) -> str:
    if abs(q - round(q)) < 1e-6:
        return f"{el}{round(q)}+" if q > 0 else f"{el}{-round(q)}-"
    return f"{el}{q:+.2f}"


def redox_conflicts(
    states: dict[str, float], family: str, site: str = "TM", redox: dict | None = None
) -> list[str]:
    """Redox-incompatible pairs among `states` (element -> oxidation state) on one site.

    A^a and B^b clash when E(A^a/A^(a-1)) exceeds E(B^(b+1)/B^b) vs Na+/Na by more than
    REDOX_MARGIN: A^a oxidises B^b.
    A mixed-valent element counts with both neighbouring integer states.
    """
    redox = redox or load_redox()
    couples = _couples(redox, family, site)
    found = []
    for a_el, a_q in states.items():
        for b_el, b_q in states.items():
            if a_el == b_el:
                continue
            for a in _states(a_q):
                for b in _states(b_q):
                    red = next((c for c in couples if c["element"] == a_el and c["ox"] == a
                                and c["red"] == a - 1), None)
                    ox = next((c for c in couples if c["element"] == b_el and c["red"] == b
                               and c["ox"] == b + 1), None)
                    if red and ox and round(red["E"] - ox["E"], 3) > REDOX_MARGIN:
                        found.append(
                            f"{a_el}{a}+ with {b_el}{b}+ on {site}: {a_el}{a}+ oxidises {b_el}{b}+ "
                            f"to {a_el}{a - 1}+ + {b_el}{b + 1}+ (E({a_el}{a}+/{a_el}{a - 1}+) "
                            f"{red['E']:.1f} V > E({b_el}{b + 1}+/{b_el}{b}+) {ox['E']:.1f} V "
                            "vs Na+/Na)"
                        )
    return found


@dataclass
class OxidationStates:
    """Oxidation state per (sublattice, element); fractional = mixed valence."""

    states: dict[str, dict[str, float]]
    charge_balanced: bool
    residual_charge: float  # e per formula unit left over by the best assignment
    mixed_valent: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def guess_oxidation_states(comp: SiteComposition, redox: dict | None = None) -> OxidationStates:
    """Neutral oxidation-state assignment constrained by sublattice (see module doc)."""
    redox = redox or load_redox()
    family = redox_family(comp)
    fixed_charge = 0.0
    keys: list[tuple[str, str]] = []
    amounts: list[float] = []
    cands: list[list[int]] = []
    states: dict[str, dict[str, float]] = {}
    for label, occ in comp.sublattices.items():
        states[label] = {}
        for el, n in occ.species.items():
            if el == VACANCY:
                continue
            variable = occ.sublattice.role in VARIABLE_ROLES or el not in redox["fixed"]
            if not variable:
                q = redox["fixed"][el]
                states[label][el] = q
                fixed_charge += n * q
                continue
            table = redox["oxidation_states"]
            options = table.get(family, {}).get(el) or table["default"].get(el)
            if not options:
                options = [q for q in Element(el).common_oxidation_states if q > 0]
            if not options:
                raise HecathodeInputError(f"no positive oxidation state known for {el} on {label}")
            keys.append((label, el))
            amounts.append(n)
            cands.append(list(options))

    balanced, unbalanced = None, None
    for combo in itertools.product(*[range(len(c)) for c in cands]):
        qs = [cands[k][i] for k, i in enumerate(combo)]
        delta = fixed_charge + sum(n * q for n, q in zip(amounts, qs, strict=True))
        options = []
        if abs(delta) <= CHARGE_TOLERANCE:
            options.append((qs, None))
        else:
            for k, (n, c) in enumerate(zip(amounts, cands, strict=True)):
                q_new = qs[k] - delta / n
                if len(c) > 1 and min(c) - 1e-9 <= q_new <= max(c) + 1e-9:
                    options.append((qs[:k] + [q_new] + qs[k + 1:], k))
        for q_list, mixed in options:
            conflicts = _all_conflicts(keys, q_list, comp, family, redox)
            residual = 0.0 if mixed is not None else delta
            rank = sum(_rank(q, c) for q, c in zip(q_list, cands, strict=True))
            off_integer = 0.0 if mixed is None else abs(q_list[mixed] - round(q_list[mixed]))
            score = (len(conflicts) > 0, len(conflicts), rank, mixed is not None,
                     off_integer, abs(residual))
            if balanced is None or score < balanced[0]:
                balanced = (score, q_list, mixed, conflicts, residual)
        if not options and (unbalanced is None or (abs(delta), sum(combo)) < unbalanced[0]):
            unbalanced = ((abs(delta), sum(combo)), qs, delta)

    if not keys:
        return OxidationStates(states, abs(fixed_charge) < 1e-6, fixed_charge)
    if balanced is None:
        _, q_list, residual = unbalanced
        for (label, el), q in zip(keys, q_list, strict=True):
            states[label][el] = q
        return OxidationStates(
            states, False, residual,
            notes=[f"no neutral assignment within the candidate states: {residual:+.3f} e "
                   "per f.u. left over"],
        )
    _, q_list, mixed, conflicts, residual = balanced
    for (label, el), q in zip(keys, q_list, strict=True):
        states[label][el] = q
    result = OxidationStates(states, True, residual, conflicts=conflicts)
    if abs(residual) > 1e-6:
        result.notes.append(f"neutral within {CHARGE_TOLERANCE} e per f.u. (residual "
                            f"{residual:+.3f} e, rounding of the printed formula)")
    if mixed is not None:
        label, el = keys[mixed]
        result.mixed_valent.append(f"{el} on {label}: {q_list[mixed]:+.3f} (mixed valence)")
    if conflicts:
        result.notes.append("every neutral assignment contains a redox-incompatible pair")
    return result


def _rank(q: float, candidates: list[int]) -> float:
    """Position of a state in the candidate list (0 = most common); mixed: mean of neighbours."""
    states = sorted(_states(q))
    return sum(candidates.index(s) if s in candidates else len(candidates) for s in states) / len(
        states
    )


def _all_conflicts(keys, q_list, comp, family, redox) -> list[str]:
    by_site: dict[str, dict[str, float]] = {}
    for (label, el), q in zip(keys, q_list, strict=True):
        if comp.sublattices[label].sublattice.role in VARIABLE_ROLES:
            by_site.setdefault(label, {})[el] = q
    out = []
    for label, st in by_site.items():
        if len(st) > 1:
            out += redox_conflicts(st, family, label, redox)
    return out


# --------------------------------------------------------------------------- size, χ


def shannon_radius(el: str, q: float, coordination: str = "VI", spin: str = "high") -> float | None:
    """Shannon ionic radius in Å (pymatgen); a mixed valence interpolates linearly."""
    lo, hi = math.floor(q + 1e-9), math.ceil(q - 1e-9)
    radii = []
    for state in sorted({lo, hi}):
        try:
            sp = Species(el, state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    r = sp.get_shannon_radius(coordination, "High Spin" if spin == "high" else "Low Spin")
                except KeyError:
                    r = sp.get_shannon_radius(coordination, "")
            radii.append(float(r))
        except (KeyError, ValueError, TypeError):
            return None
    if len(radii) == 1:
        return radii[0]
    return radii[0] + (q - lo) * (radii[1] - radii[0])


def size_mismatch(radii: dict[str, float], fractions: dict[str, float]) -> float:
    """δ = sqrt(Σ x_i (1 - r_i/r̄)²), r̄ = Σ x_i r_i (dimensionless; ×100 for %)."""
    mean = sum(fractions[e] * r for e, r in radii.items())
    return math.sqrt(sum(fractions[e] * (1 - r / mean) ** 2 for e, r in radii.items()))


def electronegativity_spread(occ: Occupancy) -> dict[str, float]:
    """Pauling electronegativity on one sublattice: range and Δχ = sqrt(Σ x (χ - χ̄)²)."""
    atoms = {e: a for e, a in occ.species.items() if e != VACANCY}
    n = sum(atoms.values())
    chi = {e: Element(e).X for e in atoms}
    mean = sum(atoms[e] / n * chi[e] for e in atoms)
    delta = math.sqrt(sum(atoms[e] / n * (chi[e] - mean) ** 2 for e in atoms))
    return {"range_pauling": max(chi.values()) - min(chi.values()), "delta_pauling": delta,
            "mean_pauling": mean}


# --------------------------------------------------------------------------- capacity


@dataclass
class Capacity:
    """Theoretical capacity (mA h g⁻¹) and what limits it."""

    mAh_g: float
    electrons_per_fu: float
    redox_electrons_per_fu: float
    extractable_na_per_fu: float
    molar_mass_g_mol: float
    limited_by: str
    contributions: dict[str, float]
    inactive_fraction: float
    inactive_species: list[str]
    water_in_mass: bool


def theoretical_capacity(
    comp: SiteComposition, ox: OxidationStates, redox: dict | None = None
) -> Capacity:
    """Capacity for extracting Na from the as-written composition via active couples."""
    redox = redox or load_redox()
    family = redox_family(comp)
    contributions: dict[str, float] = {}
    inactive, mixing_atoms, inactive_atoms = [], 0.0, 0.0
    for label, occ in comp.sublattices.items():
        if occ.sublattice.role not in VARIABLE_ROLES:
            continue
        active = [c for c in _couples(redox, family, label) if c.get("active")]
        for el, n in occ.species.items():
            if el == VACANCY:
                continue
            q = ox.states[label][el]
            top = q
            while True:
                step = next((c for c in active if c["element"] == el
                             and c["red"] - 1e-9 <= top < c["ox"] - 1e-9), None)
                if step is None:
                    break
                top = step["ox"]
            e = n * (top - q)
            if e > 1e-9:
                contributions[f"{ion_name(el, q)}->{el}{top}+ ({label})"] = e
            if occ.sublattice.role == "mixing":
                mixing_atoms += n
                if e <= 1e-9:
                    inactive_atoms += n
                    inactive.append(ion_name(el, q))
    redox_e = sum(contributions.values())
    na = sum(o.species.get("Na", 0.0) for o in comp.role("alkali"))
    extractable = max(0.0, na - comp.prototype.residual_na)
    electrons = min(redox_e, extractable)
    limited_by = "Na content" if extractable < redox_e else "redox couples"
    amounts = comp.element_amounts(include_water=comp.water_per_formula_unit is not None)
    mass = Composition(amounts).weight
    return Capacity(
        mAh_g=electrons * FARADAY * MAH_PER_C / mass,
        electrons_per_fu=electrons,
        redox_electrons_per_fu=redox_e,
        extractable_na_per_fu=extractable,
        molar_mass_g_mol=float(mass),
        limited_by=limited_by,
        contributions=contributions,
        inactive_fraction=inactive_atoms / mixing_atoms if mixing_atoms else 0.0,
        inactive_species=inactive,
        water_in_mass=bool(comp.water_per_formula_unit),
    )


# --------------------------------------------------------------------------- report


def check_composition(comp: SiteComposition, redox: dict | None = None) -> dict:
    """All design rules for one composition as a JSON-ready dict (keys in README)."""
    redox = redox or load_redox()
    ox = guess_oxidation_states(comp, redox)
    warns = list(comp.warnings)
    size, chi = {}, {}
    for label, occ in comp.sublattices.items():
        if occ.sublattice.role != "mixing":
            continue
        atoms = {e: a for e, a in occ.species.items() if e != VACANCY}
        n = sum(atoms.values())
        fractions = {e: a / n for e, a in atoms.items()}
        radii = {}
        for e in atoms:
            r = shannon_radius(e, ox.states[label][e], occ.sublattice.coordination or "VI",
                               occ.sublattice.spin)
            if r is None:
                warns.append(f"no Shannon radius for {ion_name(e, ox.states[label][e])} "
                             f"({occ.sublattice.coordination}); left out of δ on {label}")
            else:
                radii[e] = r
        if radii:
            sub = {e: fractions[e] / sum(fractions[x] for x in radii) for e in radii}
            delta = size_mismatch(radii, sub)
            mean = sum(sub[e] * r for e, r in radii.items())
            size[label] = {"delta": delta, "mean_radius_A": mean,
                           "radii_A": radii, "coordination": occ.sublattice.coordination,
                           "spin": occ.sublattice.spin}
            if delta > SIZE_MISMATCH_LIMIT:
                warns.append(f"size mismatch δ = {delta:.1%} on {label} exceeds "
                             f"{SIZE_MISMATCH_LIMIT:.1%} (solid-solution limit of metallic HEAs)")
            for e, r in radii.items():
                dev = r / mean - 1
                if abs(dev) > ION_SIZE_LIMIT:
                    warns.append(
                        f"{ion_name(e, ox.states[label][e])} ({r:.3f} Å) is {abs(dev):.0%} "
                        f"{'larger' if dev > 0 else 'smaller'} than the mean {label} radius "
                        f"{mean:.3f} Å: beyond ±{ION_SIZE_LIMIT:.0%} it hardly shares the site"
                    )
        chi[label] = electronegativity_spread(occ)
    cap = theoretical_capacity(comp, ox, redox)
    if not ox.charge_balanced:
        warns.append(f"not charge balanced: {ox.residual_charge:+.3f} e per formula unit")
    warns += [f"redox-incompatible pair: {c}" for c in ox.conflicts]
    if comp.water_per_formula_unit:
        warns.append(f"{comp.water_per_formula_unit:g} H2O per f.u. counted in the molar mass")
    return {
        "oxidation_states": ox.states,
        "mixed_valence": ox.mixed_valent,
        "charge_balanced": ox.charge_balanced,
        "size_mismatch": size,
        "electronegativity_spread": chi,
        "redox_conflicts": ox.conflicts,
        "theoretical_capacity_mAh_g": cap.mAh_g,
        "capacity": {
            "electrons_per_formula_unit": cap.electrons_per_fu,
            "redox_electrons_per_formula_unit": cap.redox_electrons_per_fu,
            "extractable_na_per_formula_unit": cap.extractable_na_per_fu,
            "limited_by": cap.limited_by,
            "molar_mass_g_mol": cap.molar_mass_g_mol,
            "couples": cap.contributions,
            "water_in_mass": cap.water_in_mass,
            "redox_family": redox_family(comp),
        },
        "inactive_fraction": cap.inactive_fraction,
        "inactive_species": cap.inactive_species,
        "warnings": warns + ox.notes,
    }
