"""End members of a mixed composition: the prototype's parent cell with its mixing sublattice
filled by one species at a time (NaMO2 for each M of an O3 oxide, Na3M2(PO4)2F3 for each M of
NVPF). No energies here: `workflows.studies.mixing` relaxes them beside the SQS.

    >>> comp = assign_sublattices("NaNi0.5Mn0.5O2", "o3")
    >>> [m.formula for m in end_members(comp, parent_cell("o3"))]
    ['NaNiO2', 'NaMnO2']

Only the mixing sublattice (role "mixing") may hold more than one species: every other
sublattice must hold one species on every site of the parent cell, or an end member would
need an ordering (Na/vacancy, O/F) of its own. Such a composition, one with nothing to mix,
and an end member whose species the prototype does not allow on the mixing sublattice
(configs/prototypes/*.yaml `allowed`) are input errors.

Units: site fractions 0-1; amounts per formula unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from structures.composition import VACANCY, Occupancy, SiteComposition, fmt_amount
from structures.constants import SUBLATTICE
from structures.errors import HecathodeInputError
from structures.sqs import ICET_VACANCY, site_targets


class NoMixingSiteError(HecathodeInputError):
    """A composition with one species on every mixing sublattice: nothing to mix."""


class EndMemberError(HecathodeInputError):
    """An end member the prototype cannot hold (species not allowed, or a second mixed sublattice)."""


@dataclass(frozen=True)
class EndMember:
    """One end member: `element` on every site of the mixing `sublattice` of the parent cell."""

    element: str
    sublattice: str
    formula: str  # per formula unit, sublattices in prototype order, e.g. NaNiO2
    atoms: Atoms  # the parent cell, site_label and sublattice arrays kept
    n_mixing_sites: int  # mixing sites in `atoms`

    @property
    def name(self) -> str:
        """Folder and file stem, e.g. end-Ni."""
        return f"end-{self.element}"


def mixing_occupancy(comp: SiteComposition) -> Occupancy:
    """The one mixing sublattice that holds more than one species (written vacancies excluded)."""
    mixing = comp.role("mixing")
    mixed = [o for o in mixing if len(_species(o)) > 1]
    if not mixed:
        held = "; ".join(f"{o.label}: {', '.join(_species(o)) or 'empty'}" for o in mixing) or "none"
        raise NoMixingSiteError(
            f"{comp.formula!r} has one species on every mixing sublattice of {comp.prototype.name} "
            f"({held}): there is no mixing site, so no mixing enthalpy")
    if len(mixed) > 1:
        raise EndMemberError(
            f"{comp.formula!r} mixes {len(mixed)} mixing sublattices of {comp.prototype.name} "
            f"({', '.join(o.label for o in mixed)}): end members fill one sublattice at a time")
    return mixed[0]


def _species(occ: Occupancy) -> list[str]:
    return [el for el, a in occ.species.items() if el != VACANCY and a > 0]


def check_single_species(comp: SiteComposition, parent: Atoms, mixing: str) -> dict[str, str]:
    """Sublattice -> its one species, for every configurational sublattice but `mixing`.

    Raises EndMemberError for a second mixed sublattice or a partly empty alkali sublattice
    (fractions relative to the sites of the parent cell, as the SQS builds them).
    """
    targets, _ = site_targets(comp, parent)
    fixed = {}
    for label, fr in targets.items():
        if label == mixing:
            continue
        if len(fr) > 1:
            raise EndMemberError(_second_sublattice_message(comp, label, fr, mixing))
        fixed[label] = next(iter(fr))
    return fixed


def _second_sublattice_message(comp: SiteComposition, label: str, fr: dict[str, float],
                               mixing: str) -> str:
    proto = comp.prototype.name
    if ICET_VACANCY in fr:
        return (f"the {label} sites of {proto} are partly empty in {comp.formula!r} "
                f"({fr[ICET_VACANCY]:.3g} vacancies per site of the ordered cell): its end members "
                f"would need a {label}/vacancy ordering of their own; the mixing study needs a full "
                f"{label} sublattice (mix only {mixing})")
    return (f"{comp.formula!r} also mixes the {label} sublattice of {proto} "
            f"({', '.join(sorted(fr))}): end members fill only the mixing sublattice {mixing}, so "
            f"no end member holds that second mixture")


def end_member_formula(comp: SiteComposition, mixing: Occupancy, element: str) -> str:
    """Formula per f.u. with `element` on every mixing site, sublattices in prototype order."""
    parts: list[str] = []
    for label, occ in comp.sublattices.items():
        if label == mixing.label:
            parts.append(element + _count(occ.sites))
            continue
        for el, amount in occ.species.items():
            if el != VACANCY and amount > 0:
                parts.append(el + _count(amount))
    return "".join(parts)


def _count(amount: float) -> str:
    return "" if abs(amount - 1) < 1e-9 else fmt_amount(amount)


def end_members(comp: SiteComposition, parent: Atoms) -> list[EndMember]:
    """One end member per species of the mixing sublattice, in the composition's order.

    The other sublattices hold their one species of the composition (as in the SQS).
    Raises NoMixingSiteError or EndMemberError before anything is built.
    """
    mixing = mixing_occupancy(comp)
    fixed = check_single_species(comp, parent, mixing.label)
    not_allowed = [el for el in _species(mixing) if el not in mixing.sublattice.allowed]
    if not_allowed:
        names = ", ".join(end_member_formula(comp, mixing, el) for el in not_allowed)
        raise EndMemberError(
            f"end member {names}: {', '.join(not_allowed)} is not allowed on the {mixing.label} "
            f"sublattice of {comp.prototype.name} (allowed: {', '.join(mixing.sublattice.allowed)})")
    subs = parent.arrays[SUBLATTICE]
    sites = np.flatnonzero(subs == mixing.label)
    members = []
    for el in _species(mixing):
        atoms = parent.copy()
        symbols = atoms.get_chemical_symbols()
        for i, sub in enumerate(subs):
            symbols[i] = el if sub == mixing.label else fixed.get(str(sub), symbols[i])
        atoms.set_chemical_symbols(symbols)
        atoms.info.pop("provenance", None)
        atoms.info.update(end_member=el, prototype=comp.prototype.name)
        members.append(EndMember(el, mixing.label, end_member_formula(comp, mixing, el), atoms,
                                 len(sites)))
    return members


def valence_notes(comp: SiteComposition, members: list[EndMember]) -> list[str]:
    """Where the mixture's oxidation states on the mixing sublattice differ from those of the
    end members (a redox exchange inside ΔH_mix, e.g. Ni3+ + Mn3+ -> Ni2+ + Mn4+), and end
    members that no neutral assignment fits (formal references). From `structures.rules`."""
    from structures.composition import assign_sublattices
    from structures.rules import guess_oxidation_states, ion_name

    if not members:
        return []
    label = members[0].sublattice
    mixture = guess_oxidation_states(comp).states.get(label, {})
    changed, unbalanced = [], []
    for m in members:
        try:
            ox = guess_oxidation_states(assign_sublattices(m.formula, comp.prototype.name))
        except HecathodeInputError:
            continue
        q_end, q_mix = ox.states.get(label, {}).get(m.element), mixture.get(m.element)
        if not ox.charge_balanced:
            unbalanced.append(f"{m.formula} ({ox.residual_charge:+.3g} e per f.u.)")
        elif q_end is not None and q_mix is not None and abs(q_end - q_mix) > 0.05:
            changed.append(f"{ion_name(m.element, q_end)} in {m.formula} -> {ion_name(m.element, q_mix)}")
    notes = []
    if changed:
        notes.append("ΔH_mix includes a redox exchange between the end members (" + "; ".join(changed)
                     + " in the mixture, by charge balance): that charge transfer can dominate ΔH_mix, and "
                     "it is where universal potentials are least certain")
    if unbalanced:
        notes.append("end members that no neutral oxidation-state assignment fits: " + ", ".join(unbalanced)
                     + "; they are formal references, and ΔH_mix against them is formal too")
    return notes


__all__ = ["EndMember", "EndMemberError", "NoMixingSiteError", "check_single_species",
           "end_member_formula", "end_members", "mixing_occupancy", "valence_notes"]
