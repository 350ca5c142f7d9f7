"""The mixing and voltage studies of a campaign in analysis.json: per material a `mixing` and a
`voltage` entry made from the study's mixing.json / voltage.json (the joins' result files).

mixing: per calculator ΔH_mix mean / spread / std over SQS (meV per atom and per mixing site),
T* (K) with its per-SQS range, whether it lies below the synthesis temperature and the verdict;
ΔS_config of the SQS and of the formula (R per mixing site); the per-SQS rows the ΔG_mix(T) plot
needs; the potential uncertainty; convergence; notes.

voltage: per calculator the average voltage (V vs Na+/Na) and volume change (%) over hosts (mean,
spread), the lattice changes between the end states (%), every voltage step, the states above the
hull, the profile per host (for the plots), convergence, notes; for a non-pristine material the
difference to the campaign's pristine material (`workflows.studies.voltage_analysis.compare_studies`).
"""

from __future__ import annotations

import json
from pathlib import Path

SQS_ROW_KEYS = ("sqs", "calculator", "dH_mix_eV_per_mixing_site", "dH_mix_meV_per_atom", "dS_config_R",
                "T_star_K", "converged")
ELECTRODE_KEYS = ("calculator", "host", "average_voltage_V", "volume_change_percent",
                  "lattice_change_percent", "angle_change_deg", "voltage_steps", "above_hull", "profile",
                  "converged", "sodiated_state", "desodiated_state")


def _load(path: str | None) -> dict | None:
    p = Path(path) if path else None
    return json.loads(p.read_text()) if p is not None and p.is_file() else None


def _latest(entries: list[dict]) -> dict[str, dict]:
    return {e["material"]: e for e in entries}  # a rerun join pushes again: the last one counts


def _mixing_calculator(doc: dict, calc: str) -> dict:
    dh = doc["dH_mix_meV_per_atom"]["per_calculator"][calc]
    site = doc["dH_mix_eV_per_mixing_site"]["per_calculator"][calc]
    t = doc["T_star_K"]["per_calculator"][calc]
    rows = [r for r in doc["per_sqs"] if r["calculator"] == calc]
    mean_site = site.get("mean_eV_per_mixing_site")
    return {"n_sqs": dh.get("n", 0), "dH_mix_meV_per_atom_mean": dh.get("mean_meV_per_atom"),
            "dH_mix_meV_per_atom_spread": dh.get("spread_meV_per_atom"),
            "dH_mix_meV_per_atom_std": dh.get("std_meV_per_atom"),
            "dH_mix_meV_per_site_mean": None if mean_site is None else 1000 * mean_site,
            "T_star_K": t.get("value_K"), "T_star_min_K": t.get("min_K"), "T_star_max_K": t.get("max_K"),
            "T_star_below_synthesis": t.get("T_star_below_synthesis"), "verdict": t.get("verdict"),
            "converged": all(r["converged"] for r in rows)}


def mixing_entry(doc: dict, entry: dict) -> dict:
    """The `mixing` entry of one material from its mixing.json document."""
    per_calc = {c: _mixing_calculator(doc, c) for c in doc["calculators"]}
    pu = doc.get("potential_uncertainty") or {}
    ds = doc["dS_config_R"]
    return {"calculators": doc["calculators"], "mixing_sublattice": doc.get("mixing_sublattice"),
            "dS_config_R": ds.get("mean_R"), "dS_config_target_R": ds.get("target_R"),
            "synthesis_temperature_K": doc.get("synthesis_temperature_K"), "per_calculator": per_calc,
            "potential_uncertainty_meV_per_atom": pu.get("dH_mix_meV_per_atom", {}).get("mean_difference"),
            "potential_uncertainty_between": pu.get("between"),
            "per_sqs": [{k: r.get(k) for k in SQS_ROW_KEYS} for r in doc["per_sqs"]],
            "converged": all(c["converged"] for c in per_calc.values()),
            "notes": list(doc.get("notes", [])), "json": entry.get("json"), "plot": entry.get("plot")}


def voltage_entry(doc: dict, entry: dict) -> dict:
    """The `voltage` entry of one material from its voltage.json document."""
    per_calc = {}
    for calc in doc["calculators"]:
        v, dv = doc["average_voltage_summary"][calc], doc["volume_change_summary"][calc]
        per_calc[calc] = {"n_hosts": v.get("n", 0), "average_voltage_V_mean": v.get("mean_V"),
                          "average_voltage_V_spread": v.get("spread_V"),
                          "volume_change_percent_mean": dv.get("mean_percent"),
                          "volume_change_percent_spread": dv.get("spread_percent")}
    return {"calculators": doc["calculators"], "calculator": doc.get("calculator"),
            "na_per_fu": doc["na_per_fu"], "average_voltage_V": doc.get("average_voltage_V"),
            "volume_change_percent": doc.get("volume_change_percent"),
            "lattice_change_percent": doc.get("lattice_change_percent"),
            "angle_change_deg": doc.get("angle_change_deg"),
            "per_calculator": per_calc, "voltage_steps": doc.get("voltage_steps", []),
            "above_hull": doc.get("above_hull", []),
            "electrodes": [{k: e.get(k) for k in ELECTRODE_KEYS} for e in doc.get("electrodes", [])],
            "hosts": [{k: h.get(k) for k in ("name", "kind", "formula", "formula_matches", "n_atoms")}
                      for h in doc.get("hosts", [])],
            "potential_uncertainty": doc.get("potential_uncertainty"), "converged": doc.get("converged"),
            "notes": list(doc.get("notes", [])), "json": entry.get("json"), "plots": entry.get("plots", [])}


def add_studies(doc: dict, campaign: dict, mixing_results: list[dict], voltage_results: list[dict]) -> None:
    """Give every material of `doc` (analysis.json) that asked for a study its entry: the study's
    numbers, or None with a note when the study did not finish."""
    wanted = {m["name"]: m for m in campaign["materials"]}
    found = {"mixing": _latest(mixing_results), "voltage": _latest(voltage_results)}
    docs: dict[str, dict] = {}
    for row in doc["materials"]:
        asked = wanted.get(row["name"], {})
        for study, make in (("mixing", mixing_entry), ("voltage", voltage_entry)):
            entry = found[study].get(row["name"])
            sdoc = _load(entry.get("json")) if entry else None
            if sdoc is not None:
                row[study] = make(sdoc, entry)
                docs[f"{study} {row['name']}"] = sdoc
            elif asked.get(study) or entry:
                row[study] = None
                row["notes"].append(f"{study} study did not finish (no {study}.json)")
    _compare_voltages(doc, docs)


def _compare_voltages(doc: dict, docs: dict[str, dict]) -> None:
    """Each non-pristine material's voltage against the first pristine one with a voltage."""
    from workflows.studies.voltage_analysis import compare_studies

    pristine = next((r for r in doc["materials"] if r["role"] == "pristine" and r.get("voltage")), None)
    if pristine is None:
        return
    base = docs[f"voltage {pristine['name']}"]
    for row in doc["materials"]:
        if row is pristine or not row.get("voltage"):
            continue
        comp = compare_studies(docs[f"voltage {row['name']}"], base)
        row["voltage"]["vs_pristine"] = {"pristine": pristine["name"],
                                         "difference_he_minus_pristine": comp["difference_he_minus_pristine"],
                                         "same_na_per_fu": comp["same_na_per_fu"], "reading": comp["reading"]}
