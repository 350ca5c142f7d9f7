"""One campaign's numbers in one document (analysis.json), from the result files of its steps.

Per material: ΔS_config (target and achieved in the SQS, R), SQS quality, relaxed energies and
volumes per host atom (Å^3, host = every atom but alkali ions), the volume change against the
pristine material (%), every NEB hop (barriers eV, profile, local environment,
convergence), the hop networks (`network`: the percolation barrier per axis a, b, c per cell and
its mean and spread over SQS), and the mixing (ΔH_mix, T*) and voltage (average voltage, strain)
studies. For
NVPF the review's barriers and the DFT literature range are noted beside the computed ones
(`calculators.neb.nvpf_comparison`).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from calculators.neb import NVPF_LITERATURE_EV, NVPF_REVIEW_EV, nvpf_comparison
from workflows.report.study_analysis import add_studies
from workflows.summary import min_mean_max, spread_summary


def _load(path: str) -> dict | None:
    p = Path(path)
    return json.loads(p.read_text()) if p.is_file() else None


def _latest(entries: list[dict], key) -> dict:
    """The last entry per key (a rerun firework pushes its result again)."""
    out: dict = {}
    for e in entries:
        out[key(e)] = e
    return out


def _sqs_row(s: dict) -> dict:
    """icet score and mean |Warren–Cowley α| (shells 1–2, all mixing sublattices) of one SQS,
    beside the mean over random occupations of the same supercell."""
    q = s.get("quality", {})
    sqs_alpha = [sh["mean_abs_alpha"] for shells in q.get("warren_cowley", {}).values() for sh in shells]
    rnd_alpha = [a for shells in q.get("random_mean_abs_alpha", {}).values() for a in shells]
    return {"name": s["name"], "n_atoms": s["n_atoms"], "icet_score": q.get("icet_score"),
            "random_icet_score": q.get("random_score_mean"),
            "mean_abs_alpha": float(np.mean(sqs_alpha)) if sqs_alpha else None,
            "random_mean_abs_alpha": float(np.mean(rnd_alpha)) if rnd_alpha else None}


def _neb_rows(doc: dict, structure: str) -> list[dict]:
    rows = []
    for calc, res in doc.get("results", {}).items():
        for r in res.get("hops", []):
            hop = r["hop"]
            env = hop.get("environment") or {}
            rows.append({
                "structure": structure, "hop": f"{hop['start_label']}->{hop['end_label']}",
                "length_A": hop["length_A"], "forward_barrier_eV": r["forward_barrier_eV"],
                "reverse_barrier_eV": r["reverse_barrier_eV"], "reaction_energy_eV": r["reaction_energy_eV"],
                "converged": r["converged"], "saddle": r["saddle"], "calculator": calc,
                "environment": " ".join(f"{el}{n}" for el, n in sorted(env.items())),
                "force_calls": r.get("force_calls"), "max_force_eV_A": r.get("max_force_eV_per_A"),
                "profile": {"reaction_coordinate_A": r["reaction_coordinate_A"],
                            "energies_eV": r["image_energies_eV"]}})
    return rows


def _structure_row(entry: dict) -> dict:
    """One relaxed structure of a material (the relax step's pushed entry and its relax.json)."""
    rdoc = _load(entry["json"]) or {}
    v0, v1 = entry["volume_per_host_atom_A3_initial"], entry["volume_per_host_atom_A3_relaxed"]
    return {"name": entry["structure"], "n_atoms": rdoc.get("natoms"),
            "energy_eV_per_atom": rdoc.get("energy_per_atom_eV"),
            "volume_per_host_atom_A3_initial": v0, "volume_per_host_atom_A3_relaxed": v1,
            "volume_change_pct": 100 * (v1 - v0) / v0, "max_force_eV_A": rdoc.get("max_force_eV_per_A"),
            "converged": rdoc.get("converged"), "calculator": rdoc.get("calculator"),
            "steps": rdoc.get("steps")}


def collect(campaign: dict, structures_results: list[dict], relax_results: list[dict],
            neb_results: list[dict], *, mixing_results: list[dict] | None = None,
            voltage_results: list[dict] | None = None, network_results: list[dict] | None = None) -> dict:
    """analysis.json from the entries the tasks pushed (paths to their JSON files); the mixing
    and voltage joins' entries become each material's `mixing` / `voltage`
    (`workflows.report.study_analysis`), the network joins' its `network`."""
    built = _latest(structures_results, lambda e: e["material"])
    relaxed = _latest(relax_results, lambda e: (e["material"], e["index"]))
    nebs = _latest(neb_results, lambda e: (e["material"], e["index"]))
    doc = {"campaign": campaign["name"], "description": campaign.get("description", ""),
           "calculator": campaign["calculator"], "preset": campaign.get("preset"),
           "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "materials": [], "notes": []}
    pristine_volume = None
    compared: set[str] = set()
    for mat in campaign["materials"]:
        name = mat["name"]
        sdoc = _load(built[name]["json"]) if name in built else None
        row = {"name": name, "formula": mat["formula"], "prototype": mat["prototype"], "role": mat["role"],
               "entropy": {}, "sqs": [], "structures": [], "neb": [], "notes": []}
        if sdoc:
            row["entropy"] = {"target_R": sdoc["entropy_target_R"],
                              "target_class": sdoc["entropy_target_class"],
                              "achieved_R": sdoc["entropy_achieved_R"],
                              "achieved_class": sdoc["entropy_achieved_class"]}
            row["sqs"] = [_sqs_row(s) for s in sdoc["structures"] if "quality" in s]
            row["notes"] += sdoc.get("notes", [])
        else:
            row["notes"].append("structures step did not finish")
        row["structures"] = [_structure_row(entry) for (m, _), entry in sorted(relaxed.items()) if m == name]
        for (m, _), entry in sorted(nebs.items()):
            if m == name and (ndoc := _load(entry["json"])):
                row["neb"] += _neb_rows(ndoc, entry["structure"])
                row["notes"] += ndoc.get("notes", [])
                if ndoc.get("nvpf_reference"):  # the NEB step compared with the review already
                    compared.add(name)
        barriers = [r["forward_barrier_eV"] for r in row["neb"]]
        row["neb_summary"] = min_mean_max(barriers)
        volumes = [s["volume_per_host_atom_A3_relaxed"] for s in row["structures"]]
        row["mean_volume_per_host_atom_A3"] = float(np.mean(volumes)) if volumes else None
        if mat["role"] == "pristine" and volumes and pristine_volume is None:
            pristine_volume = row["mean_volume_per_host_atom_A3"]
        doc["materials"].append(row)
    for row in doc["materials"]:
        v = row["mean_volume_per_host_atom_A3"]
        row["volume_vs_pristine_pct"] = (100 * (v - pristine_volume) / pristine_volume
                                         if v is not None and pristine_volume else None)
    add_studies(doc, campaign, mixing_results or [], voltage_results or [])
    _add_networks(doc, campaign, network_results or [])
    if any(m["prototype"] == "nvpf" for m in campaign["materials"]):
        _nvpf_reference(doc, compared)
    return doc  # a class change between formula and SQS is noted by the SQS step (sqs_set)


def network_row(entry: dict, ndoc: dict) -> dict:
    """One cell's hop network (its network.json) in a material's `network` entry."""
    return {"structure": entry["structure"], "index": entry["index"], "n_atoms": ndoc.get("n_atoms"),
            "percolation_barrier_eV": ndoc.get("percolation_barrier_eV") or {},
            "n_hops": len(ndoc.get("hops", [])), "n_refined": ndoc.get("n_refined"),
            "screen": ndoc.get("screen"), "screen_margin_eV": ndoc.get("screen_margin_eV"),
            "converged": ndoc.get("converged"), "site_energy_spread_eV": ndoc.get("site_energy_spread_eV"),
            "force_calls": (ndoc.get("force_calls") or {}).get("total"), "json": entry["json"]}


def _add_networks(doc: dict, campaign: dict, network_results: list[dict]) -> None:
    """Each material's `network`: its cells' percolation barriers and, per axis, their summary
    over the cells (n, min, mean, max, spread, std; an axis without a path is left out); None
    with a note when the material asked for a network that did not finish."""
    found = _latest(network_results, lambda e: (e["material"], e["index"]))
    wanted = {m["name"]: m for m in campaign["materials"]}
    for row in doc["materials"]:
        rows = [network_row(e, ndoc) for (m, _), e in sorted(found.items())
                if m == row["name"] and (ndoc := _load(e["json"]))]
        if not rows:
            if wanted.get(row["name"], {}).get("network"):
                row["network"] = None
                row["notes"].append("hop network did not finish (no network.json)")
            continue
        per_axis = {axis: spread_summary(r["percolation_barrier_eV"].get(axis) for r in rows)
                    for axis in "abc"}
        row["network"] = {"structures": rows, "percolation_barrier_eV": per_axis,
                          "converged": all(r["converged"] for r in rows)}
        lowest = [s["min_eV"] for s in per_axis.values() if s["n"]]
        if row["prototype"] == "nvpf" and lowest:
            material = "pristine" if row["role"] == "pristine" else "high-entropy"
            row["notes"].append("lowest percolation barrier " + nvpf_comparison(min(lowest), material))


def _nvpf_reference(doc: dict, compared: set[str]) -> None:
    """The review's NVPF barriers and the DFT range, and a note per NVPF material not compared yet."""
    doc["nvpf_reference"] = {"review_eV": NVPF_REVIEW_EV, "literature_range_eV": list(NVPF_LITERATURE_EV)}
    for row in doc["materials"]:
        if row["prototype"] == "nvpf" and row["neb_summary"]["n"] and row["name"] not in compared:
            material = "pristine" if row["role"] == "pristine" else "high-entropy"
            doc["notes"].append(f"{row['name']}: lowest barrier: "
                                + nvpf_comparison(row["neb_summary"]["min_eV"], material))
