"""Voltage steps from the convex hull of E(Na_x): pymatgen's `InsertionElectrode`, plus the
states it leaves out.

    hull = voltage_hull([HullState("na-3", atoms3, e3, 4.0), HullState("na-1", atoms1, e1, 4.0)],
                        na_metal_eV_per_atom=-1.31)
    hull.average_voltage_V, hull.steps, hull.above_hull

Every state becomes a `ComputedStructureEntry` (its relaxed cell and total energy); the
working-ion reference is the relaxed bcc Na energy per atom. `InsertionElectrode.from_entries`
finds the stable states (its phase diagram of the entries, elements set artificially high) and
the voltage of each step between neighbouring stable states,

    V = −[E(x2) − E(x1) − (x2 − x1) E_Na] / (x2 − x1)      (eV per f.u. -> V, Na+ carries 1 e)

with x the Na per formula unit. The electrode keeps the unstable states only as a list: here
each one's energy above the hull comes from a pymatgen `PhaseDiagram` built from the same
entries the same way, per atom and per formula unit (atoms per f.u. × per-atom value).

Units: energies eV, voltages V vs Na+/Na, x in Na per formula unit, capacity mAh/g.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ase import Atoms

from structures.errors import HecathodeInputError

ELEMENT_OFFSET_EV = 10.0  # what InsertionElectrode.from_entries puts the elements above the entries


class HullError(HecathodeInputError):
    """States that cannot form an electrode (one Na content, different frameworks)."""


@dataclass(frozen=True)
class HullState:
    """One relaxed state: its name, cell, total energy (eV) and formula units in the cell."""

    name: str
    atoms: Atoms
    energy_eV: float
    n_fu: float

    @property
    def na_per_fu(self) -> float:
        return self.atoms.get_chemical_symbols().count("Na") / self.n_fu

    @property
    def energy_per_fu_eV(self) -> float:
        return self.energy_eV / self.n_fu


@dataclass
class VoltageStep:
    """One step of the voltage profile between two neighbouring stable states (x in Na/f.u.)."""

    na_low_per_fu: float  # the charged end (fewer Na)
    na_high_per_fu: float
    voltage_V: float
    state_low: str
    state_high: str
    capacity_mAh_per_g: float  # of this step, per mass of the discharged state (pymatgen)


@dataclass
class HullResult:
    """Steps between the stable states, their capacity-weighted average, and the states above."""

    steps: list[VoltageStep]
    average_voltage_V: float
    stable: list[str]
    above_hull: list[dict] = field(default_factory=list)  # name, na_per_fu, e_above_hull_*
    na_metal_eV_per_atom: float = 0.0
    capacity_mAh_per_g: float = 0.0  # between the end states, per mass of the discharged end

    def to_json(self) -> dict:
        return {"average_voltage_V": self.average_voltage_V,
                "voltage_steps": [vars(s) for s in self.steps], "stable_states": self.stable,
                "above_hull": self.above_hull, "na_metal_eV_per_atom": self.na_metal_eV_per_atom,
                "capacity_mAh_per_g": self.capacity_mAh_per_g}


def state_entry(state: HullState):
    """A ComputedStructureEntry of a state (entry_id = its name)."""
    from pymatgen.entries.computed_entries import ComputedStructureEntry
    from pymatgen.io.ase import AseAtomsAdaptor

    plain = Atoms(state.atoms.get_chemical_symbols(), state.atoms.positions, cell=state.atoms.cell,
                  pbc=True)
    return ComputedStructureEntry(AseAtomsAdaptor.get_structure(plain), float(state.energy_eV),
                                  entry_id=state.name)


def na_metal_entry(na_metal_eV_per_atom: float):
    """The working-ion entry: one Na atom at the bcc reference energy (eV/atom)."""
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    return PDEntry(Composition("Na"), float(na_metal_eV_per_atom), name="Na (bcc)")


def _check(states: Sequence[HullState]) -> None:
    from pymatgen.core import Composition

    if len({round(s.na_per_fu, 9) for s in states}) < 2:
        raise HullError("a voltage needs states at two Na contents at least, got "
                        + ", ".join(f"{s.name} (Na{s.na_per_fu:g})" for s in states))
    frames = {Composition({el: n for el, n in Composition(s.atoms.get_chemical_formula()).items()
                           if el.symbol != "Na"}).reduced_formula for s in states}
    if len(frames) > 1:
        raise HullError(f"the states do not share one host framework: {', '.join(sorted(frames))}")


def hull_phase_diagram(entries: Sequence):
    """The phase diagram InsertionElectrode.from_entries builds: the entries and every element at
    ELEMENT_OFFSET_EV above the highest entry energy per atom (so only the entries make the hull)."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    elements = sorted({el for e in entries for el in e.composition.elements})
    top = max(e.energy_per_atom for e in entries) + ELEMENT_OFFSET_EV
    return PhaseDiagram(list(entries) + [PDEntry(Composition({el: 1}), top) for el in elements])


def voltage_hull(states: Sequence[HullState], na_metal_eV_per_atom: float) -> HullResult:
    """Voltage steps, average voltage and the states above the hull of `states` vs bcc Na.

    Raises HullError for fewer than two Na contents or states of different host frameworks.
    """
    from pymatgen.apps.battery.insertion_battery import InsertionElectrode

    _check(states)
    by_name = {s.name: s for s in states}
    entries = [state_entry(s) for s in states]
    electrode = InsertionElectrode.from_entries(entries, na_metal_entry(na_metal_eV_per_atom))
    steps = [VoltageStep(by_name[p.entry_charge.entry_id].na_per_fu,
                         by_name[p.entry_discharge.entry_id].na_per_fu, float(p.voltage),
                         p.entry_charge.entry_id, p.entry_discharge.entry_id,
                         float(p.mAh / p.mass_discharge))
             for p in electrode.voltage_pairs]
    steps.sort(key=lambda s: s.na_low_per_fu)
    pd = hull_phase_diagram(entries)
    above = []
    for entry in electrode.get_unstable_entries():
        s = by_name[entry.entry_id]
        e_atom = float(pd.get_e_above_hull(entry, allow_negative=True))
        e_atom = 0.0 if abs(e_atom) < 1e-12 else e_atom  # round-off of a state on a facet
        above.append({"name": s.name, "na_per_fu": s.na_per_fu, "e_above_hull_eV_per_atom": e_atom,
                      "e_above_hull_eV_per_fu": e_atom * len(s.atoms) / s.n_fu})
    above.sort(key=lambda a: (-a["na_per_fu"], a["e_above_hull_eV_per_fu"]))
    return HullResult(steps=steps, average_voltage_V=float(electrode.get_average_voltage()),
                      stable=[e.entry_id for e in electrode.get_stable_entries()], above_hull=above,
                      na_metal_eV_per_atom=float(na_metal_eV_per_atom),
                      capacity_mAh_per_g=float(electrode.get_capacity_grav()))


__all__ = ["HullError", "HullResult", "HullState", "VoltageStep", "hull_phase_diagram",
           "na_metal_entry", "state_entry", "voltage_hull"]
