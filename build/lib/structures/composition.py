"""Place each species of a composition on a sublattice of its prototype.

The formula is parsed by `structures.formula` (grouped dopants, vacancies, hydrate water,
fractions); this module decides which sublattice every term fills, and how a grouped
coefficient is read ("in total" or "per element", whichever fills the host sublattice).
Amounts are per formula unit (f.u.).

    >>> comp = assign_sublattices("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "nvpf")
    >>> comp.reading, round(comp.sublattices["TM"].species["Ca"], 3)
    ('total', 0.02)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from structures.constants import ALKALI
from structures.errors import SublatticeError
from structures.formula import (  # noqa: F401  (VACANCY, parse_formula: part of this module's API)
    DEFAULT_TOLERANCE,
    ELEMENTS,
    NONMETALS,
    READINGS,
    VACANCY,
    ParsedFormula,
    Term,
    fmt_amount,
    parse_formula,
)
from structures.sublattices import Prototype, Sublattice, get_prototype, list_prototypes


@dataclass
class Occupancy:
    """Species on one sublattice: amounts per formula unit; '□' for written vacancies."""

    sublattice: Sublattice
    species: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.sublattice.label

    @property
    def sites(self) -> float:
        return self.sublattice.sites

    @property
    def occupied(self) -> float:
        """Sites per f.u. holding an atom (written vacancies excluded)."""
        return sum(a for el, a in self.species.items() if el != VACANCY)

    def site_fractions(self) -> dict[str, float]:
        """Fraction of this sublattice's sites held by each species (incl. written '□')."""
        return {el: a / self.sites for el, a in self.species.items()}


@dataclass
class SiteComposition:
    """A composition placed on the sublattices of a prototype (amounts per f.u.)."""

    formula: str
    prototype: Prototype
    reading: str  # "total", "per-element" or "none" (no dopant group)
    sublattices: dict[str, Occupancy]
    water_per_formula_unit: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def element_amounts(self, include_water: bool = False) -> dict[str, float]:
        """Atoms per formula unit by element (vacancies excluded)."""
        totals: dict[str, float] = {}
        for occ in self.sublattices.values():
            for el, a in occ.species.items():
                if el != VACANCY:
                    totals[el] = totals.get(el, 0.0) + a
        if include_water and self.water_per_formula_unit:
            totals["H"] = totals.get("H", 0.0) + 2 * self.water_per_formula_unit
            totals["O"] = totals.get("O", 0.0) + self.water_per_formula_unit
        return totals

    def role(self, role: str) -> list[Occupancy]:
        return [o for o in self.sublattices.values() if o.sublattice.role == role]


def assign_sublattices(
    formula: str,
    prototype: str | None = None,
    *,
    group_reading: str | None = None,
    site_map: dict[str, str] | None = None,
    normalize: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
) -> SiteComposition:
    """Parse `formula` and place every species on a sublattice of `prototype`.

    prototype: a name from `list_prototypes()`; None infers it (and says so in notes).
    group_reading: force 'total' or 'per-element' for grouped dopants; by default the
        reading that fills the host sublattice to its site count (within `tolerance`
        sites per f.u.) is taken, and the choice is reported in `notes`.
    site_map: explicit element -> sublattice label, overriding the prototype's rules.
    normalize: scale an over-full sublattice back to its site count (with a warning)
        instead of raising SublatticeError.
    """
    if group_reading is not None and group_reading not in READINGS:
        raise SublatticeError(f"group reading {group_reading!r} is not one of {READINGS}")
    parsed = parse_formula(formula)
    notes: list[str] = []
    if prototype is None:
        prototype, reason = infer_prototype(parsed)
        notes.append(f"prototype inferred as {prototype!r}: {reason}; pass --prototype to change")
    name = prototype.strip().lower()
    if name not in list_prototypes():
        raise SublatticeError(
            f"unknown prototype {prototype!r}; known: {', '.join(list_prototypes())}"
        )
    for el in site_map or {}:
        if el not in ELEMENTS:
            raise SublatticeError(f"site map names unknown element {el!r}")
    if not parsed.groups:
        readings = ["none"]
    elif group_reading:
        readings = [group_reading]
    else:
        readings = list(READINGS)

    fits, failures = _try_readings(parsed, readings, name, formula, notes, group_reading=group_reading,
                                   site_map=site_map or {}, normalize=normalize, tolerance=tolerance)
    comp = _one_reading(parsed, fits, failures, readings, group_reading)
    if parsed.water_text is not None and parsed.water is None:
        comp.warnings.append(
            f"hydrate water {parsed.water_text!r} has no number: left out of the molar mass"
        )
    return comp


def _try_readings(parsed: ParsedFormula, readings: list[str], name: str, formula: str,
                  notes: list[str], *, group_reading: str | None, site_map: dict[str, str],
                  normalize: bool, tolerance: float) -> tuple[dict[str, SiteComposition], dict[str, str]]:
    """Fill the sublattices under each reading of the grouped coefficient: the compositions that
    fit and, for the others, why not."""
    fits: dict[str, SiteComposition] = {}
    failures: dict[str, str] = {}
    for reading in readings:
        terms = parsed.resolved("total" if reading == "none" else reading)
        proto = _generic_prototype(terms) if name == "generic" else get_prototype(name)
        try:
            occ, warnings = _fill(proto, terms, site_map, normalize, tolerance, formula)
        except SublatticeError as exc:
            failures[reading] = str(exc)
            continue
        comp = SiteComposition(formula, proto, reading, occ, parsed.water, list(notes), warnings)
        if reading != "none":
            ok, detail = _group_fits_host(comp, parsed, tolerance)
            if not ok and not group_reading:
                failures[reading] = detail
                continue
            if not ok:
                comp.warnings.append(f"forced {reading} reading: {detail}")
            comp.notes.append(_reading_note(parsed, reading, detail, forced=bool(group_reading)))
        fits[reading] = comp
    return fits, failures


def _one_reading(parsed: ParsedFormula, fits: dict[str, SiteComposition], failures: dict[str, str],
                 readings: list[str], group_reading: str | None) -> SiteComposition:
    """The one composition that fits, or a SublatticeError saying why none or both do."""
    if len(fits) == 1:
        return next(iter(fits.values()))
    if len(fits) > 1:
        raise SublatticeError(
            f"dopant group {parsed.groups[0].text} fits both readings (in total and per element); "
            "pass --group-reading total|per-element"
        )
    if readings == ["none"] or group_reading:
        raise SublatticeError(next(iter(failures.values())))
    raise SublatticeError(
        f"dopant group {parsed.groups[0].text} fits neither reading: "
        + "; ".join(f"{r}: {msg}" for r, msg in failures.items())
    )


def _candidates(proto: Prototype, term: Term, site_map: dict[str, str]) -> list[str]:
    el = term.element
    if el in site_map:
        proto.sublattice(site_map[el])  # raises on an unknown label
        return [site_map[el]]
    if term.complex_id is not None:
        roles = {"ligand"} if el in NONMETALS else {"complex"}
    else:
        roles = {"alkali", "mixing", "centre", "anion"}
    labels = [s.label for s in proto.sublattices if s.role in roles and el in s.allowed]
    order = proto.preference.get(el)
    if order:
        labels = [lab for lab in order if lab in labels] + [x for x in labels if x not in order]
    return labels


def _fill(
    proto: Prototype,
    terms: list[Term],
    site_map: dict[str, str],
    normalize: bool,
    tol: float,
    formula: str,
) -> tuple[dict[str, Occupancy], list[str]]:
    occ = {s.label: Occupancy(s) for s in proto.sublattices}
    unit_home: dict[int, str] = {}
    pending: list[tuple[Term, list[str]]] = []
    for t in terms:
        if t.element == VACANCY:
            continue
        cands = _candidates(proto, t, site_map)
        if not cands:
            where = " inside a complex" if t.complex_id is not None else ""
            allowed = "; ".join(f"{s.label}: {','.join(s.allowed)}" for s in proto.sublattices)
            raise SublatticeError(
                f"{t.element}{where} fits no sublattice of prototype {proto.name!r} ({allowed})"
            )
        if len(cands) == 1:
            _add(occ[cands[0]], t.element, t.amount)
            unit_home.setdefault(t.unit, cands[0])
        else:
            pending.append((t, cands))
    for t, cands in pending:
        left = t.amount
        for k, label in enumerate(cands):
            room = occ[label].sites - occ[label].occupied
            take = left if k == len(cands) - 1 else max(0.0, min(left, room))
            if take > 1e-12:
                _add(occ[label], t.element, take)
                unit_home.setdefault(t.unit, label)
                left -= take
            if left <= 1e-12:
                break
    # a written vacancy belongs to the unit before it (or after it); inside a complex
    # such as [Fe(CN)6]0.79□0.21 that is the complex site, not the cyanide ligands
    complex_home = {t.complex_id: unit_home[t.unit] for t in terms
                    if t.complex_id is not None and t.unit in unit_home
                    and occ[unit_home[t.unit]].sublattice.role == "complex"}
    unit_complex = {t.unit: t.complex_id for t in terms if t.complex_id is not None}

    def home_of(unit: int) -> str | None:
        return complex_home.get(unit_complex.get(unit)) or unit_home.get(unit)

    for t in terms:
        if t.element != VACANCY:
            continue
        home = home_of(t.unit - 1) or home_of(t.unit + 1)
        if home is None:
            raise SublatticeError(f"vacancy □ in {formula!r} follows no species it could belong to")
        _add(occ[home], VACANCY, t.amount)

    warnings = []
    for o in occ.values():
        total = sum(o.species.values())
        if total > o.sites + tol:
            detail = " + ".join(f"{el} {a:.4g}" for el, a in o.species.items())
            msg = (
                f"sublattice {o.label} of {proto.name} holds {total:.4g} per f.u. "
                f"({detail}) but has {o.sites:g} sites"
            )
            if not normalize:
                raise SublatticeError(msg + "; pass --normalize to rescale it")
            scale = o.sites / total
            o.species = {el: a * scale for el, a in o.species.items()}
            warnings.append(msg + f": rescaled by {scale:.4f} (--normalize)")
        elif o.sublattice.full and total < o.sites - tol and o.sublattice.role != "complex":
            warnings.append(
                f"sublattice {o.label} holds {total:.4g} of {o.sites:g} sites per f.u.: "
                f"{o.sites - total:.3g} vacancies implied"
            )
    return {k: v for k, v in occ.items() if v.species}, warnings


def _add(o: Occupancy, el: str, amount: float) -> None:
    o.species[el] = o.species.get(el, 0.0) + amount


def _group_fits_host(comp: SiteComposition, parsed: ParsedFormula, tol: float) -> tuple[bool, str]:
    details, ok = [], True
    for g in parsed.groups:
        host = max(
            comp.sublattices.values(),
            key=lambda o: (sum(el in o.species for el in g.elements),
                           sum(o.species.get(el, 0.0) for el in g.elements)),
        )
        total = sum(host.species.values())
        if comp.prototype.name == "generic":
            target = max(1.0, round(total))
            good = abs(total - target) <= tol
            details.append(f"{host.label} sums to {total:.4g} (integer {target:g} expected)")
        else:
            good = abs(total - host.sites) <= tol
            details.append(f"{host.label} sums to {total:.4g} of {host.sites:g} sites")
        ok &= good
    return ok, "; ".join(details)


def _reading_note(parsed: ParsedFormula, reading: str, detail: str, forced: bool) -> str:
    g = parsed.groups[0]
    n = len(g.elements)
    each = g.coefficient / n if reading == "total" else g.coefficient
    how = "forced by --group-reading" if forced else "the reading that fills the host"
    meaning = "in total" if reading == "total" else "per element"
    return (
        f"dopant group {g.text}: coefficient read {meaning} ({fmt_amount(each)} of each of "
        f"{', '.join(g.elements)} per f.u.), {how}: {detail}"
    )


# --------------------------------------------------------------------------- inference


def infer_prototype(parsed: ParsedFormula) -> tuple[str, str]:
    """Guess the prototype from the composition; returns (name, reason)."""
    a = parsed.amounts("total")
    els = set(a) - {VACANCY}
    if any(t.complex_id is not None for t in parsed.terms):
        return "pba", "hexacyanometallate [M(CN)6] found"
    if "P" in els and "O" in els:
        ratio = a["O"] / a["P"]
        if a.get("F", 0) > 0 and abs(a["P"] - 2) < 0.05 and abs(a["O"] + a["F"] - 11) < 0.1:
            return "nvpf", "fluorophosphate Na3M2(PO4)2(O,F)3"
        if abs(ratio - 3.75) < 0.05:
            return "nfpp", "mixed phosphate (PO4)2P2O7 (O/P = 3.75)"
        if abs(ratio - 4) < 0.05 and abs(a["P"] - 3) < 0.05:
            return "nasicon", "phosphate (PO4)3"
    metals = {e for e in els if e not in NONMETALS}
    if els <= metals | {"O", "F"} and "O" in els:
        m = sum(a[e] for e in metals if e not in ALKALI - {"Li"})
        if abs(a.get("O", 0) + a.get("F", 0) - 2) < 0.1 and abs(m - 1) < 0.06:
            na = a.get("Na", 0.0)
            if na >= 0.85:
                return "o3", f"layered oxide NaMO2 with Na {na:.3g} >= 0.85 (O3 assumed)"
            return "p2", f"layered oxide NaxMO2 with Na {na:.3g} < 0.85 (P2 assumed)"
    return "generic", "no known prototype matches"


def _generic_prototype(terms: list[Term]) -> Prototype:
    """Sublattices built from the composition: alkali, metal, centre, anion, complex, ligand.

    Each holds exactly what is written on it (written vacancies included), so it is full.
    """
    els = {t.element for t in terms} - {VACANCY}

    def role_of(t: Term) -> tuple[str, str]:
        e = t.element
        if t.complex_id is not None:
            return ("ligand", e) if e in NONMETALS else ("complex", "B")
        if e in ALKALI:
            return "alkali", "A"
        if e in {"P", "Si", "B", "As", "C"} or (e == "S" and "O" in els):
            return "centre", "X"
        if e in NONMETALS:
            return "anion", "anion"
        return "mixing", "M"

    sites: dict[tuple[str, str], float] = {}
    allowed: dict[tuple[str, str], set[str]] = {}
    unit_key: dict[int, tuple[str, str]] = {}
    for t in terms:
        if t.element != VACANCY:
            key = role_of(t)
            unit_key.setdefault(t.unit, key)
            allowed.setdefault(key, set()).add(t.element)
            sites[key] = sites.get(key, 0.0) + t.amount
    for t in terms:
        key = unit_key.get(t.unit - 1) or unit_key.get(t.unit + 1)
        if t.element == VACANCY and key is not None:
            sites[key] += t.amount
    subs = tuple(
        Sublattice(label=label, role=role, sites=total, allowed=tuple(sorted(allowed[(role, label)])),
                   full=True, configurational=role != "ligand", coordination="VI")
        for (role, label), total in sites.items()
    )
    return Prototype("generic", "generic", "as written", "sublattices built from the formula", subs)
