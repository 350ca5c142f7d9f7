"""From relaxed states to what voltage.json reports: one electrode per host and calculator (hull,
voltage steps, states above the hull, end-state strain), the summaries over SQS, the pristine
vs high-entropy comparison and the notes a reader needs. No calculation here.

Units: voltages V vs Na+/Na, energies eV, Na contents per formula unit, changes percent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workflows.studies.voltage_geometry import end_state_changes
from workflows.studies.voltage_hull import HullState, voltage_hull
from workflows.summary import spread_summary

MLIPS = ("chgnet", "sevenn")
MLIP_NOTE = (
    "error scale: CHGNet and SevenNet-0 are fitted to Materials Project GGA/GGA+U energies; their "
    "intercalation voltages carry that reference's error (GGA+U: a few tenths of a volt against "
    "experiment; plain GGA underestimates TM-oxide voltages by up to ~1 V, Zhou et al., Phys. Rev. B "
    "70, 235121 (2004)) plus the potential's own energy error (tens of meV/atom against its training "
    "data, partly cancelling between states of one framework): read voltages to ±0.3-0.5 V, and "
    "pristine-vs-HE differences smaller than the SQS spread or the potentials' disagreement as not "
    "resolved; compare with -c chgnet,sevenn")
DFT_NOTE = ("error scale: GGA(+U) voltages are typically a few tenths of a volt off experiment "
            "(plain GGA without U low by up to ~1 V for TM oxides; Zhou et al., Phys. Rev. B 70, "
            "235121 (2004)); a small cell with loose settings adds its own error")
EXPERIMENT = {
    "nvpf": ("experiment: Na3V2(PO4)2F3 -> NaV2(PO4)2F3 runs on two plateau regions near 3.7 and "
             "4.2 V vs Na+/Na (average ~3.9 V; primary literature, e.g. Bianchini et al., Chem. "
             "Mater. 27, 3009 (2015)); the review gives no plateau value: it quotes the HE-NVPF "
             "window 2.0-4.3 V (Table 3, ref. 78) and says the high-entropy substitution raises the "
             "low-voltage discharge plateau (Fig. 13c)"),
    "o3": ("experiment: the review's Table 1 gives only voltage windows for HE O3 oxides (e.g. "
           "1.5-4.2 V for NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2, 2-3.9 V to 2-4.5 V for the others), no "
           "average voltage; O3 NaNi0.5Mn0.5O2 cycles with several plateaus around ~3 V in "
           "2.2-3.8 V (primary literature, Komaba et al., Inorg. Chem. 51, 6211 (2012))"),
}
STRAIN_NOTE = ("strain reference: the review quotes a 0.94% volume change for P2 "
               "Na0.8Li0.17Ca0.025Mg0.12Ni0.05Mn0.66O2 in 2.0-4.3 V and 3.3% / 2.6% (charge / "
               "discharge) for the single-crystal HE Prussian blue; it gives none for NVPF or O3")
EWALD_NOTE = ("orderings are pre-ranked by the Ewald energy of formal charges, with the charge of "
              "the removed Na spread evenly over the transition-metal sites (a mean-field background "
              "for ranking only); only the best --n-relax per content are relaxed")


# ------------------------------------------------------------------ electrodes

def _profile_row(s) -> dict:
    g = s.geometry
    return {"na_per_fu": s.na_per_fu, "state": s.name, "energy_per_fu_eV": s.energy_per_fu_eV,
            "on_hull": s.on_hull, "volume_per_host_atom_A3": g.get("volume_per_host_atom_A3"),
            "lattice": g.get("conventional_lattice", g.get("lattice")),
            "tm_o_mean_bond_A": g.get("tm_o_mean_bond_all_A"),
            "octahedral_distortion_mean": g.get("octahedral_distortion_mean")}


def electrode(states: Sequence, metal: dict, calculator: str, host: str) -> dict:
    """Hull, steps, states above the hull and end-state changes of one host with one calculator;
    marks each state's `lowest_at_content`, `on_hull` and `e_above_hull_eV_per_fu`."""
    hull = voltage_hull([HullState(s.name, s.atoms, s.energy_eV, s.n_fu) for s in states],
                        metal["energy_per_atom_eV"])
    above = {a["name"]: a["e_above_hull_eV_per_fu"] for a in hull.above_hull}
    lowest = {}
    for s in states:
        s.on_hull = s.name in hull.stable
        s.e_above_hull_eV_per_fu = above.get(s.name, 0.0)
        if s.na_per_fu not in lowest or s.energy_per_fu_eV < lowest[s.na_per_fu].energy_per_fu_eV:
            lowest[s.na_per_fu] = s
    for s in lowest.values():
        s.lowest_at_content = True
    profile = [_profile_row(lowest[na]) for na in sorted(lowest, reverse=True)]
    high, low = lowest[max(lowest)], lowest[min(lowest)]
    doc = {"calculator": calculator, "host": host,
           "converged": all(s.converged for s in states) and metal["converged"], **hull.to_json(),
           "sodiated_state": high.name, "desodiated_state": low.name,
           **end_state_changes(high.atoms, low.atoms, high.geometry, low.geometry), "profile": profile}
    for a in doc["above_hull"]:
        a.update(calculator=calculator, host=host)
    for st in doc["voltage_steps"]:
        st.update(calculator=calculator, host=host)
    return doc


def build_electrodes(states: Sequence, metals: dict[str, dict], calculators: Sequence[str],
                     hosts: Sequence[str]) -> list[dict]:
    """One electrode per calculator and host, in that order."""
    return [electrode([s for s in states if s.calculator == c and s.host == h], metals[c], c, h)
            for c in calculators for h in hosts]


# ------------------------------------------------------------------ summaries

def stats(values: Sequence[float | None], unit: str) -> dict:
    """min/mean/max plus spread (max − min) and sample std (workflows.summary.spread_summary)."""
    return spread_summary(values, unit)


def _per_calc(electrodes: list[dict], calc: str, key: str, unit: str) -> dict:
    rows = [e for e in electrodes if e["calculator"] == calc]
    return {**stats([e[key] for e in rows], unit), "per_host": {e["host"]: e[key] for e in rows}}


def summaries(electrodes: list[dict], calculators: Sequence[str]) -> dict:
    """Top-level voltage.json keys: the first calculator's means over hosts, per-calculator
    summaries, every step and every state above the hull (each tagged calculator and host)."""
    first = [e for e in electrodes if e["calculator"] == calculators[0]]
    out = {"calculator": calculators[0],
           "average_voltage_V": float(np.mean([e["average_voltage_V"] for e in first])),
           "volume_change_percent": float(np.mean([e["volume_change_percent"] for e in first])),
           "lattice_change_percent": {k: float(np.mean([e["lattice_change_percent"][k] for e in first]))
                                      for k in first[0]["lattice_change_percent"]},
           "angle_change_deg": {k: float(np.mean([e["angle_change_deg"][k] for e in first]))
                                for k in first[0]["angle_change_deg"]},
           "voltage_steps": [st for e in electrodes for st in e["voltage_steps"]],
           "above_hull": [a for e in electrodes for a in e["above_hull"]],
           "converged": all(e["converged"] for e in electrodes)}
    out["average_voltage_summary"] = {c: _per_calc(electrodes, c, "average_voltage_V", "V")
                                      for c in calculators}
    out["volume_change_summary"] = {c: _per_calc(electrodes, c, "volume_change_percent", "percent")
                                    for c in calculators}
    if len(calculators) > 1:
        a, b = calculators[0], calculators[-1]
        out["potential_uncertainty"] = {
            "between": f"{b} - {a}",
            "average_voltage_V": out["average_voltage_summary"][b]["mean_V"]
            - out["average_voltage_summary"][a]["mean_V"],
            "volume_change_percent": out["volume_change_summary"][b]["mean_percent"]
            - out["volume_change_summary"][a]["mean_percent"]}
    return out


def _side(doc: dict) -> dict:
    return {"formula": doc["formula"], "hosts": [h["name"] for h in doc["hosts"]],
            "host_formulas": sorted({h["formula"] for h in doc["hosts"]}),
            "average_voltage_summary": doc["average_voltage_summary"],
            "volume_change_summary": doc["volume_change_summary"],
            "average_voltage_V": doc["average_voltage_V"],
            "volume_change_percent": doc["volume_change_percent"],
            "lattice_change_percent": doc["lattice_change_percent"], "converged": doc["converged"],
            "electrodes": [{k: e[k] for k in ("calculator", "host", "average_voltage_V", "voltage_steps",
                                              "volume_change_percent", "lattice_change_percent", "profile",
                                              "converged")}
                           for e in doc["electrodes"]]}


def compare_studies(high_entropy: dict, pristine: dict) -> dict:
    """Pristine beside high-entropy (two voltage.json documents): per shared calculator the mean
    average voltage and volume change, their difference (HE − pristine) and the HE SQS spread."""
    calcs = [c for c in high_entropy["calculators"] if c in pristine["calculators"]]
    diff = {}
    for c in calcs:
        he_v, p_v = high_entropy["average_voltage_summary"][c], pristine["average_voltage_summary"][c]
        he_s, p_s = high_entropy["volume_change_summary"][c], pristine["volume_change_summary"][c]
        diff[c] = {"average_voltage_V": he_v["mean_V"] - p_v["mean_V"],
                   "he_sqs_spread_V": he_v.get("spread_V", 0.0),
                   "volume_change_percent": he_s["mean_percent"] - p_s["mean_percent"],
                   "he_sqs_spread_percent": he_s.get("spread_percent", 0.0)}
    return {"pristine": _side(pristine), "high_entropy": _side(high_entropy),
            "difference_he_minus_pristine": diff,
            "same_na_per_fu": high_entropy["na_per_fu"] == pristine["na_per_fu"],
            "reading": "a difference smaller than the HE SQS spread, or than the potentials' "
                       "disagreement, is not resolved; where the SQS hold another composition than the "
                       "formula (notes), the difference is that of the SQS composition"}


# ------------------------------------------------------------------ notes

def _ordering_notes(result) -> list[str]:
    notes = []
    for block in result.orderings:
        if block["method"] in ("as-made", "fully desodiated"):
            continue
        found = ("symmetry-distinct orderings" if block["method"].startswith("rank") else
                 "low-Ewald states reached (symmetry-equivalent copies then dropped)")
        notes.append(f"{block['host']} Na{block['na_per_fu']:g}: {block['n_found']} {found} "
                     f"({block['method']}); {block['n_relaxed']} relaxed, lowest Ewald first")
    for s in result.states:
        if s.lowest_at_content and s.ordering > 0:
            notes.append(f"{s.calculator} {s.host} Na{s.na_per_fu:g}: the lowest relaxed state is Ewald "
                         f"rank {s.ordering}, not 0: the Ewald ranking only filters; raise --n-relax to "
                         "look further")
    return notes


def study_notes(comp, result, sqs_doc: dict | None) -> list[str]:
    """Composition reading, SQS vs formula, orderings, convergence, hull, error scale, experiment."""
    notes = list(dict.fromkeys(comp.notes + comp.warnings + (sqs_doc or {}).get("notes", [])))
    cells = sorted({h["formula"] for h in result.hosts if h["kind"] == "sqs" and not h["formula_matches"]})
    if cells:
        notes.append(f"the SQS cells hold {', '.join(cells)}, not {comp.formula}: every voltage and strain "
                     "here describes the SQS composition (the nearest representable in the cell)")
    notes.append("formal mean transition-metal oxidation state (charge balance) from the sodiated to the "
                 "desodiated end: " + "; ".join(
                     f"{h['name']} " + " -> ".join(f"+{q:.2f}" for q in h["tm_oxidation_state"].values())
                     for h in result.hosts)
                 + " (a couple beyond the usual one, e.g. V4+/V5+, raises the voltage)")
    notes.append(EWALD_NOTE)
    notes += _ordering_notes(result)
    for s in result.states:
        if not s.converged:
            notes.append(f"{s.calculator} {s.name} NOT converged (max force {s.max_force_eV_per_A:.3f} eV/Å "
                         f"after {s.steps} steps); raise --steps and run again to continue it")
    n_above = sum(len(e["above_hull"]) for e in result.electrodes)
    if n_above:
        notes.append(f"{n_above} relaxed states lie above the hull (listed in above_hull with their "
                     "energy above it; pymatgen's InsertionElectrode leaves them out of the steps)")
    if not result.settings["relax_cell"]:
        notes.append("cells fixed (ions only): the volume and lattice changes are those of the start cells")
    calcs = result.calculators
    if any(c in MLIPS for c in calcs):
        notes.append(MLIP_NOTE)
    if any(c not in MLIPS for c in calcs):
        notes.append(DFT_NOTE)
    if len(calcs) > 1:
        pu = summaries(result.electrodes, calcs)["potential_uncertainty"]
        notes.append(f"potential uncertainty: {pu['between']} differ by {pu['average_voltage_V']:+.3f} V "
                     f"in the mean average voltage and {pu['volume_change_percent']:+.2f} % in the volume "
                     "change")
    if result.prototype in EXPERIMENT:
        notes.append(EXPERIMENT[result.prototype])
    notes.append(STRAIN_NOTE)
    return notes


__all__ = ["build_electrodes", "compare_studies", "electrode", "stats", "study_notes", "summaries"]
