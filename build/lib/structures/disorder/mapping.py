"""Compositions of a disordered crystal: on its own orbits or mapped onto a built-in prototype.

`site_composition` turns a `DisorderedStructure` into a `structures.composition.SiteComposition`:
on the structure's own orbits (`prototype=None`, what SQS on the CIF's parent cell needs) or
mapped onto a built-in prototype's sublattices (then `configurational_entropy` equals that of
the equivalent formula). `override_composition` applies a formula to the same framework
(another doping) after checking the sublattice mapping; `with_composition` writes such a
per-orbit composition back into the structure's occupancies.

Amounts per formula unit, occupancies as site fractions (0-1).
"""

from __future__ import annotations

from collections.abc import Mapping

from structures.composition import Occupancy, SiteComposition, assign_sublattices, infer_prototype
from structures.disorder.model import FULL, DisorderedStructure, DisorderedSublattice, formula_string
from structures.errors import HecathodeInputError, SublatticeError
from structures.formula import DEFAULT_TOLERANCE, VACANCY, parse_formula
from structures.sublattices import Prototype, Sublattice, get_prototype


def matching_prototype(ds: DisorderedStructure) -> str | None:
    """The built-in prototype the derived formula points to, if the orbits map onto it."""
    try:
        name, _ = infer_prototype(parse_formula(ds.formula))
    except HecathodeInputError:
        return None
    if name == "generic":
        return None
    try:
        prototype_mapping(ds, name)
    except SublatticeError:
        return None
    return name


def prototype_mapping(ds: DisorderedStructure, prototype: str) -> dict[str, str]:
    """Orbit label -> sublattice label of a built-in prototype (by role and allowed elements).

    Raises SublatticeError naming the orbit that fits no sublattice, or the prototype
    sublattice (a full one) that no orbit maps to.
    """
    proto = get_prototype(prototype)
    mapping = {}
    for label, sub in ds.sublattices.items():
        els = set(sub.species)
        fits = [s for s in proto.sublattices if els <= set(s.allowed)]
        cands = [s for s in fits if s.role == sub.role] or fits
        if not cands:
            have = "; ".join(f"{s.label} ({s.role}): {','.join(s.allowed)}" for s in proto.sublattices)
            raise SublatticeError(f"site {label} ({'/'.join(sub.species)}, {sub.role}) of {ds.source} fits "
                                  f"no sublattice of prototype {proto.name!r} ({have})")
        mapping[label] = _prefer(proto, cands, max(sub.species, key=sub.species.get)).label
    missing = [s.label for s in proto.sublattices if s.full and s.role not in ("complex", "ligand")
               and s.label not in mapping.values()]
    if missing:
        raise SublatticeError(f"no site of {ds.source} maps to sublattice {', '.join(missing)} of "
                              f"prototype {proto.name!r}")
    return mapping


def _prefer(proto: Prototype, cands: list[Sublattice], element: str) -> Sublattice:
    for s in cands:
        if s.label == element:
            return s
    for label in proto.preference.get(element, ()):
        for s in cands:
            if s.label == label:
                return s
    return cands[0]


def _prototype_units(ds: DisorderedStructure, proto: Prototype, mapping: Mapping[str, str]) -> float:
    """Formula units per cell counted on the prototype's mixing sublattice."""
    mixing = next((s for s in proto.sublattices if s.role == "mixing"), proto.sublattices[0])
    n = sum(ds.sublattices[o].multiplicity for o, t in mapping.items() if t == mixing.label)
    if n == 0:
        raise SublatticeError(f"no site of {ds.source} maps to the {mixing.label} sublattice of "
                              f"prototype {proto.name!r}")
    return n / mixing.sites


def site_composition(ds: DisorderedStructure, prototype: str | None = "auto",
                     merge: Mapping[str, str] | None = None) -> SiteComposition:
    """The composition per formula unit derived from the occupancies.

    prototype: 'auto' maps the orbits onto the built-in prototype the derived formula points
    to (falling back to the orbits when none fits); a name forces that prototype; None keeps
    one sublattice per orbit (labels as in `ds.sublattices`, Z = ds.formula_units), pooled
    where `merge` maps several orbit labels to one sublattice label.
    """
    note = None
    if prototype == "auto":
        prototype = matching_prototype(ds)
        note = (f"sublattices of prototype {prototype!r}, which the derived formula {ds.formula} points to"
                if prototype else f"no built-in prototype matches {ds.formula}: one sublattice per orbit")
    comp = (_orbit_composition(ds, merge) if prototype is None
            else _mapped_composition(ds, prototype, prototype_mapping(ds, prototype)))
    if note:
        comp.notes.append(note)
    return comp


def _mapped_composition(ds: DisorderedStructure, name: str, mapping: Mapping[str, str]) -> SiteComposition:
    proto = get_prototype(name)
    z = _prototype_units(ds, proto, mapping)
    occ = {s.label: Occupancy(s) for s in proto.sublattices}
    capacity = {s.label: 0.0 for s in proto.sublattices}
    for label, sub in ds.sublattices.items():
        target = mapping[label]
        capacity[target] += sub.multiplicity / z
        for el, x in sub.species.items():
            occ[target].species[el] = occ[target].species.get(el, 0.0) + x * sub.multiplicity / z
    notes = [f"occupancies of {ds.source} mapped onto prototype {proto.name}: "
             + ", ".join(f"{o}->{t}" for o, t in mapping.items())]
    for s in proto.sublattices:
        total = occ[s.label].occupied
        if total > s.sites + DEFAULT_TOLERANCE:
            raise SublatticeError(f"{ds.source} holds {total:.4g} atoms per f.u. on sublattice {s.label} "
                                  f"of prototype {proto.name!r}, which has {s.sites:g} sites")
        if capacity[s.label] and abs(capacity[s.label] - s.sites) > 1e-6:
            notes.append(f"{ds.source} has {capacity[s.label]:.4g} {s.label} sites per f.u., prototype "
                         f"{proto.name} {s.sites:g}: amounts kept, site fractions on the prototype's sites")
    subs = {k: _rounded(v) for k, v in occ.items() if v.species}
    return SiteComposition(formula_string(ds, z), proto, "none", subs, notes=notes)


def _rounded(occ: Occupancy) -> Occupancy:
    occ.species = {el: round(a, 12) for el, a in occ.species.items()}
    return occ


def _orbit_prototype(ds: DisorderedStructure, merge: Mapping[str, str] | None) -> Prototype:
    """A Prototype whose sublattices are the orbits (pooled by `merge`), sites per f.u. = mult / Z."""
    merge = merge or {}
    pooled: dict[str, list[DisorderedSublattice]] = {}
    for label, sub in ds.sublattices.items():
        pooled.setdefault(merge.get(label, label), []).append(sub)
    subs = []
    for label, members in pooled.items():
        role = members[0].role
        els = tuple(dict.fromkeys(el for m in members for el in m.species))
        subs.append(Sublattice(
            label=label, role=role, sites=sum(m.multiplicity for m in members) / ds.formula_units,
            allowed=els, full=all(m.occupancy >= FULL for m in members),
            configurational=role != "ligand", coordination="VI" if role in ("mixing", "complex") else None,
            spin="low" if role == "complex" else "high", note="+".join(m.label for m in members)))
    name = matching_prototype(ds)
    family = get_prototype(name).family if name else "generic"
    return Prototype("cif", family, ds.formula, f"sublattices of {ds.source} ({ds.spacegroup})", tuple(subs))


def _orbit_composition(ds: DisorderedStructure, merge: Mapping[str, str] | None) -> SiteComposition:
    proto = _orbit_prototype(ds, merge)
    occ = {s.label: Occupancy(s) for s in proto.sublattices}
    for label, sub in ds.sublattices.items():
        target = occ[(merge or {}).get(label, label)]
        for el, x in sub.species.items():
            target.species[el] = target.species.get(el, 0.0) + x * sub.multiplicity / ds.formula_units
    notes = [f"one sublattice per symmetry-distinct orbit of {ds.source} ({ds.spacegroup}), "
             f"Z = {ds.formula_units} formula units per cell"]
    return SiteComposition(ds.formula, proto, "none", {k: _rounded(v) for k, v in occ.items()}, notes=notes)


def alkali_merge(ds: DisorderedStructure) -> dict[str, str]:
    """Pool partially occupied alkali orbits with the same elements, e.g. Naf, Nae -> 'Naf+Nae'.

    icet gives one concentration per set of allowed species, so an SQS needs them pooled.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for label, sub in ds.sublattices.items():
        if sub.role == "alkali" and sub.occupancy < FULL:
            groups.setdefault(tuple(sorted(sub.species)), []).append(label)
    return {label: "+".join(labels) for labels in groups.values() if len(labels) > 1 for label in labels}


def override_composition(ds: DisorderedStructure, formula: str, prototype: str | None = "auto",
                         orbit_level: bool = False, **assign_kwargs) -> SiteComposition:
    """The composition of `formula` on the framework of `ds` (e.g. the same CIF at another doping).

    The formula is placed on the prototype's sublattices (`assign_sublattices`, which takes
    `assign_kwargs`), then checked against the structure: every sublattice the formula fills
    must have sites in the structure, every sublattice of the structure must be filled, and
    no sublattice may hold more atoms per f.u. than the structure has sites. orbit_level:
    return it split over the structure's orbits (for SQS on `parent_atoms(ds)`), each orbit
    keeping its share of the atoms as in the file.
    """
    name = matching_prototype(ds) if prototype == "auto" else prototype
    if name is None:
        raise SublatticeError(f"no built-in prototype matches {ds.source} ({ds.formula}); pass the "
                              "prototype whose sublattices the formula is written for")
    comp = assign_sublattices(formula, name, **assign_kwargs)
    mapping = prototype_mapping(ds, name)
    capacity = _check_override(ds, comp, mapping)
    comp.notes.append(f"occupancies of {ds.source} overridden by {formula!r}; sublattice mapping checked: "
                      + ", ".join(f"{o}->{t}" for o, t in mapping.items()))
    return _split_over_orbits(ds, comp, mapping, capacity) if orbit_level else comp


def _check_override(ds: DisorderedStructure, comp: SiteComposition, mapping: Mapping[str, str]) -> dict:
    z = _prototype_units(ds, comp.prototype, mapping)
    capacity: dict[str, float] = {}
    for label, target in mapping.items():
        capacity[target] = capacity.get(target, 0.0) + ds.sublattices[label].multiplicity / z
    for label, occ in comp.sublattices.items():
        if label not in capacity:
            raise SublatticeError(f"{comp.formula!r} puts {', '.join(occ.species)} on sublattice {label}, "
                                  f"which no site of {ds.source} maps to")
        if occ.occupied > capacity[label] + DEFAULT_TOLERANCE:
            raise SublatticeError(f"{comp.formula!r} puts {occ.occupied:.4g} atoms per f.u. on {label}, but "
                                  f"{ds.source} has {capacity[label]:.4g} {label} sites per f.u.")
    empty = sorted(set(capacity) - set(comp.sublattices))
    if empty:
        sites = [o for o, t in mapping.items() if t in empty]
        raise SublatticeError(f"{comp.formula!r} leaves sublattice {', '.join(empty)} empty, but {ds.source} "
                              f"has sites there ({', '.join(sites)})")
    return capacity


def _split_over_orbits(ds: DisorderedStructure, comp: SiteComposition, mapping: Mapping[str, str],
                       capacity: Mapping[str, float]) -> SiteComposition:
    """Per-orbit composition: each orbit keeps its share of the sublattice's atoms, capped at full."""
    z = _prototype_units(ds, comp.prototype, mapping)
    base = _orbit_prototype(ds, None)
    subs = {s.label: s for s in base.sublattices}
    out: dict[str, Occupancy] = {}
    for target, occ in comp.sublattices.items():
        orbits = [o for o, t in mapping.items() if t == target]
        sites = {o: ds.sublattices[o].multiplicity / z for o in orbits}
        weight = {o: ds.sublattices[o].occupancy * sites[o] for o in orbits}
        share = _fill_shares(occ.occupied, sites, weight)
        atoms = {el: a for el, a in occ.species.items() if el != VACANCY}
        total = sum(atoms.values()) or 1.0
        for o in orbits:
            sub = subs[o]
            sub = Sublattice(sub.label, sub.role, sites[o], tuple(atoms), sub.full, sub.configurational,
                             sub.coordination, sub.spin, sub.note)
            out[o] = _rounded(Occupancy(sub, {el: share[o] * a / total for el, a in atoms.items()}))
    proto = Prototype("cif", comp.prototype.family, comp.formula, base.description,
                      tuple(o.sublattice for o in out.values()))
    return SiteComposition(comp.formula, proto, comp.reading, out, comp.water_per_formula_unit,
                           list(comp.notes), list(comp.warnings))


def _fill_shares(amount: float, sites: Mapping[str, float], weight: Mapping[str, float]) -> dict[str, float]:
    """Split `amount` atoms over orbits in proportion to `weight`, none above its `sites`."""
    share = dict.fromkeys(sites, 0.0)
    left, open_ = amount, [o for o in sites]
    while left > 1e-12 and open_:
        w = {o: weight[o] or sites[o] for o in open_}
        total = sum(w.values())
        for o in list(open_):
            share[o] += left * w[o] / total
        left = 0.0
        for o in list(open_):
            if share[o] > sites[o]:
                left += share[o] - sites[o]
                share[o] = sites[o]
                open_.remove(o)
    return share


def with_composition(ds: DisorderedStructure, comp: SiteComposition) -> DisorderedStructure:
    """A copy of `ds` whose occupancies are those of `comp`, a composition per orbit (as
    `override_composition(..., orbit_level=True)` gives): site fraction = amount / sites per f.u.

    Everything downstream (parent cell, orderings, SQS) then sees the formula's doping on the
    file's framework. Oxidation hints are kept for the elements still present.
    """
    from dataclasses import replace

    from pymatgen.core import Composition

    missing = [label for label in ds.sublattices if label not in comp.sublattices]
    if missing:
        raise SublatticeError(f"{comp.formula!r} gives no occupancy for site(s) {', '.join(missing)} of "
                              f"{ds.source}")
    struct = ds.structure.copy()
    subs = {}
    for label, sub in ds.sublattices.items():
        occ = comp.sublattices[label]
        species = {el: a / occ.sites for el, a in occ.species.items() if el != VACANCY and a > 1e-12}
        hints = {el: q for el, q in sub.oxidation_hints.items() if el in species}
        subs[label] = replace(sub, species=species, oxidation_hints=hints)
        for i in sub.indices:
            struct[i].species = Composition(species)
    notes = [*ds.notes, f"occupancies of {ds.source} replaced by those of {comp.formula!r}"]
    return DisorderedStructure(struct, subs, ds.formula_units, ds.source, ds.spacegroup, notes)
