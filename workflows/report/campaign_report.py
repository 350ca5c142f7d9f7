"""A campaign's report: `report.md` plus PNG plots, from its analysis.json (workflows.report.analysis).

Plots (each skipped, with a line in the report saying why, when there is no data for it):

- entropy.png: ΔS_config per material (units of R), formula target vs the built SQS cell, with
  the medium (1.0 R) and high (1.5 R) thresholds and the class of each bar;
- sqs_quality.png: mean |Warren–Cowley α| (dimensionless, 0 = random) of every SQS beside the
  mean over random occupations of the same supercell, icet score written above the bar;
- volumes.png: relaxed volume per host atom (Å^3) of every structure, per material, with the
  change of the mean against the pristine material (%);
- neb_profiles.png: NEB energy profiles, energy relative to the initial state (eV) vs reaction
  coordinate (Å), one colour per material, one thin line per hop;
- barriers.png: forward barriers (eV) per material (points, box from 4 hops on), with the NVPF
  DFT literature range as a band and the review's values as markers when the analysis carries
  `nvpf_reference`.

With hop networks (`workflows.report.network_report`): a Hop networks section (percolation
barrier along a, b, c per cell, mean ± spread over SQS). With mixing / voltage studies
(`workflows.report.study_report`): a Thermodynamics section (ΔH_mix,
ΔS_config, T* and the synthesis verdict per potential; mixing_gibbs.png) and an Electrochemistry
section (average voltage, volume and lattice change, states above the hull, pristine vs
high-entropy; voltage_profiles.png, voltage_strain.png).

Hollow markers and dashed lines are results that did not converge. The Markdown holds a summary
table per material, the notes verbatim, what is missing, the plots, and an "Every number" table
(one row per computed number). Every file is written atomically. A partial analysis (missing
keys, None values, a material without SQS or NEB) gives a partial report, never an exception.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from structures.errors import HecathodeInputError
from structures.io import atomic_write
from workflows.report.campaign_plots import PLOTS, num, profile
from workflows.report.network_report import network_missing, network_numbers, network_section
from workflows.report.plotting import COLOURS
from workflows.report.study_report import study_missing, study_numbers, study_sections
from workflows.summary import min_mean_max

DASH = "–"


# ---------------------------------------------------------------------------------------------
# normalising a (possibly partial) analysis document


def _list(value) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list | tuple) else []


def _notes(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(n) for n in value] if isinstance(value, list | tuple) else [str(value)]


def _material(m: dict, k: int) -> dict:
    """One material with every key the report reads present (None or [] where absent)."""
    entropy = m.get("entropy") if isinstance(m.get("entropy"), dict) else {}
    structures = _list(m.get("structures"))
    neb = _list(m.get("neb"))
    volumes = [v for s in structures if (v := num(s.get("volume_per_host_atom_A3_relaxed"))) is not None]
    mean_volume = num(m.get("mean_volume_per_host_atom_A3"))
    if mean_volume is None and volumes:
        mean_volume = float(np.mean(volumes))
    barriers = [b for r in neb if (b := num(r.get("forward_barrier_eV"))) is not None]
    given = m.get("neb_summary") if isinstance(m.get("neb_summary"), dict) else {}
    if all(num(given.get(k)) is not None for k in ("min_eV", "mean_eV", "max_eV")):
        summary = {"n": given.get("n", len(barriers)), "min_eV": num(given["min_eV"]),
                   "mean_eV": num(given["mean_eV"]), "max_eV": num(given["max_eV"])}
    else:
        summary = min_mean_max(barriers)
    name = m.get("name")
    return {"name": str(name) if name not in (None, "") else f"material {k + 1}",
            "formula": m.get("formula") or DASH, "prototype": m.get("prototype"),
            "role": m.get("role") or DASH, "entropy": entropy, "sqs": _list(m.get("sqs")),
            "structures": structures, "neb": neb, "neb_summary": summary, "mean_volume": mean_volume,
            "volume_vs_pristine_pct": num(m.get("volume_vs_pristine_pct")), "notes": _notes(m.get("notes")),
            "colour": COLOURS[k % len(COLOURS)],
            "network": m.get("network") if isinstance(m.get("network"), dict) else None,
            "network_asked": "network" in m,
            "studies": {s: m[s] if isinstance(m[s], dict) else None for s in ("mixing", "voltage") if s in m}}


def _materials(analysis: dict) -> list[dict]:
    mats = [_material(m, k) for k, m in enumerate(_list(analysis.get("materials")))]
    pristine = next((m["mean_volume"] for m in mats if m["role"] == "pristine" and m["mean_volume"]), None)
    for m in mats:  # an analysis without the comparison: make it from the mean volumes
        if (m["volume_vs_pristine_pct"] is None and m["role"] != "pristine" and pristine
                and m["mean_volume"] is not None):
            m["volume_vs_pristine_pct"] = 100 * (m["mean_volume"] - pristine) / pristine
    return mats


def _reference(analysis: dict) -> dict | None:
    """The NVPF reference as {"range": (lo, hi) eV or None, "review": {role: eV}}, or None."""
    ref = analysis.get("nvpf_reference")
    if not isinstance(ref, dict):
        return None
    rng = ref.get("literature_range_eV")
    lo_hi = None
    if isinstance(rng, list | tuple) and len(rng) == 2 and None not in (num(rng[0]), num(rng[1])):
        lo_hi = (num(rng[0]), num(rng[1]))
    review = ref.get("review_eV") if isinstance(ref.get("review_eV"), dict) else {}
    review = {k: v for k, v in ((k, num(v)) for k, v in review.items()) if v is not None}
    return {"range": lo_hi, "review": review} if lo_hi or review else None


# ---------------------------------------------------------------------------------------------
# formatting


def _fmt(value, digits: int = 3, signed: bool = False) -> str:
    """None -> '–', bool -> yes/NO, number -> fixed decimals, anything else -> str."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "NO"
    v = num(value)
    if v is None:
        return str(value)
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _cell(value) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _row(cells) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _caption(name: str, ref: dict | None) -> str:
    captions = {
        "entropy.png": "ΔS_config in units of R (review eq. 2): grey, the formula's; blue, the SQS cell "
                       "actually built. Dashed lines: medium (1.0 R) and high (1.5 R) thresholds.",
        "sqs_quality.png": "Mean |Warren–Cowley α| over the mixing sublattices (0 = ideal random) of each "
                           "SQS, beside the mean over random occupations of the same supercell; the icet "
                           "score is written above each SQS bar (up to 7 SQS; all are in the table below).",
        "volumes.png": "Relaxed volume per host atom (Å³; host = every atom but the alkali ions); grey "
                       "ticks: before relaxation; hollow: relaxation not converged.",
        "neb_profiles.png": "Energy relative to the initial state (eV) vs reaction coordinate (Å); one "
                            "colour per material, one line per hop; dashed: NEB not converged.",
        "barriers.png": "Forward barrier of every hop (eV); hollow: NEB not converged; box from 4 hops on.",
    }
    text = captions[name]
    if name == "barriers.png" and ref:
        if ref["range"]:
            text += (f" Shaded band: NVPF DFT literature range {ref['range'][0]:.2f}–{ref['range'][1]:.2f} "
                     "eV.")
        if ref["review"]:
            vals = ", ".join(f"{v:.3f} eV {k}" for k, v in ref["review"].items())
            text += f" Stars: the review's values ({vals}), drawn for NVPF materials."
    return text


# ---------------------------------------------------------------------------------------------
# tables

# (key, quantity, unit, decimals) of the numbers reported per structure / SQS / NEB hop
STRUCTURE_NUMBERS = [("energy_eV_per_atom", "energy", "eV/atom", 3),
                     ("volume_per_host_atom_A3_initial", "volume per host atom, initial", "Å³", 2),
                     ("volume_per_host_atom_A3_relaxed", "volume per host atom, relaxed", "Å³", 2),
                     ("volume_change_pct", "volume change on relaxation", "%", 2),
                     ("max_force_eV_A", "max residual force", "eV/Å", 3)]
SQS_NUMBERS = [("icet_score", "icet score, SQS", DASH, 3),
               ("random_icet_score", "icet score, random occupations (mean)", DASH, 3),
               ("mean_abs_alpha", "mean |Warren–Cowley α|, SQS", DASH, 3),
               ("random_mean_abs_alpha", "mean |Warren–Cowley α|, random occupations (mean)", DASH, 3)]
NEB_NUMBERS = [("forward_barrier_eV", "forward barrier", "eV", 3),
               ("reverse_barrier_eV", "reverse barrier", "eV", 3),
               ("reaction_energy_eV", "reaction energy", "eV", 3),
               ("max_force_eV_A", "max residual force on the band", "eV/Å", 3)]


def _hop_label(r: dict, k: int) -> str:
    """'#k structure hop (length, environment, saddle)': k counts the material's hops from 1."""
    label = f"#{k} {r.get('structure') or DASH} {r.get('hop') or ''}".strip()
    extra = [f"{num(r.get('length_A')):.2f} Å"] if num(r.get("length_A")) is not None else []
    if r.get("environment"):
        extra.append(str(r["environment"]))
    if r.get("saddle") == "endpoint":
        extra.append("saddle at endpoint")
    return label + (f" ({', '.join(extra)})" if extra else "")


def every_number(mats: list[dict], calculator: str) -> list[tuple[str, ...]]:
    """One row per computed number: (material, structure, quantity, value, unit, calculator,
    converged). None values are left out (they are listed as missing)."""
    rows = []
    for m in mats:
        ent = m["entropy"]
        for key, label in (("target", "ΔS_config of the formula"), ("achieved", "ΔS_config of the SQS cell")):
            if (v := num(ent.get(key + "_R"))) is not None:
                cls = ent.get(key + "_class")
                label += f" ({cls})" if cls else ""
                rows.append((m["name"], DASH, label, _fmt(v, 3), "R", DASH, DASH))
        for s in m["sqs"]:
            for key, label, unit, digits in SQS_NUMBERS:
                if (v := num(s.get(key))) is not None:
                    rows.append((m["name"], s.get("name") or DASH, label, _fmt(v, digits), unit, "icet",
                                 DASH))
        for s in m["structures"]:
            calc = s.get("calculator") or calculator
            for key, label, unit, digits in STRUCTURE_NUMBERS:
                if (v := num(s.get(key))) is not None:
                    rows.append((m["name"], s.get("name") or DASH, label, _fmt(v, digits), unit, calc,
                                 _fmt(s.get("converged"))))
        if m["volume_vs_pristine_pct"] is not None:
            rows.append((m["name"], "mean of structures", "volume per host atom vs pristine",
                         _fmt(m["volume_vs_pristine_pct"], 2, signed=True), "%", calculator, DASH))
        for k, r in enumerate(m["neb"], start=1):
            calc = r.get("calculator") or calculator
            for key, label, unit, digits in NEB_NUMBERS:
                if (v := num(r.get(key))) is not None:
                    rows.append((m["name"], _hop_label(r, k), label, _fmt(v, digits), unit, calc,
                                 _fmt(r.get("converged"))))
    return rows


def _summary_row(m: dict) -> list[str]:
    ent = m["entropy"]

    def entropy(key: str) -> str:
        v = num(ent.get(key + "_R"))
        return DASH if v is None else f"{v:.3f} ({ent.get(key + '_class') or '?'})"

    s = m["neb_summary"]
    barriers = (f"{s['min_eV']:.3f} / {s['mean_eV']:.3f} / {s['max_eV']:.3f} (n = {s['n']})"
                if s.get("n") else DASH)
    if m["role"] == "pristine":
        dv = "reference"
    else:
        dv = _fmt(m["volume_vs_pristine_pct"], 2, signed=True)
    return [m["name"], m["formula"], m["role"], entropy("target"), entropy("achieved"),
            _fmt(m["mean_volume"], 2), dv, barriers]


def _missing(mats: list[dict]) -> list[str]:
    out = []
    if not mats:
        out.append("the analysis lists no material")
    has_pristine = any(m["role"] == "pristine" and m["mean_volume"] is not None for m in mats)
    for m in mats:
        n = m["name"]
        ent = m["entropy"]
        if num(ent.get("target_R")) is None:
            out.append(f"{n}: no ΔS_config (structures step not finished)")
        elif num(ent.get("achieved_R")) is None and m["role"] != "pristine":
            out.append(f"{n}: ΔS_config of the built cell is missing")
        if not m["sqs"] and m["role"] != "pristine":
            out.append(f"{n}: no SQS quality data")
        if not m["structures"]:
            out.append(f"{n}: no relaxed structure yet")
        else:
            bad = sum(1 for s in m["structures"] if s.get("converged") is False)
            if bad:
                out.append(f"{n}: {bad} of {len(m['structures'])} relaxations not converged")
            if m["role"] != "pristine" and m["volume_vs_pristine_pct"] is None and not has_pristine:
                out.append(f"{n}: volume change vs pristine unavailable (no relaxed pristine material)")
        if not m["neb"]:
            if not m["network_asked"]:  # a hop network's lines: network_report.network_missing
                out.append(f"{n}: NEB results are missing (not requested or not finished)")
        else:
            bad = sum(1 for r in m["neb"] if r.get("converged") is False)
            if bad:
                out.append(f"{n}: {bad} of {len(m['neb'])} NEB hops not converged")
            ends = sum(1 for r in m["neb"] if r.get("saddle") == "endpoint")
            if ends:
                verb = "hop has its" if ends == 1 else "hops have their"
                out.append(f"{n}: {ends} of {len(m['neb'])} NEB {verb} highest energy at an endpoint "
                           "(barrier = endpoint energy difference)")
            if not any(profile(r) for r in m["neb"]):
                out.append(f"{n}: NEB energy profiles are missing")
    return out


def _bullets(notes: list[str]) -> list[str]:
    return ["- " + n.replace("\n", "\n  ") for n in notes]


# ---------------------------------------------------------------------------------------------


def _header(analysis: dict, mats: list[dict], calc: str) -> list[str]:
    created = str(analysis.get("created") or "")
    date = created[:10] if created else "date unknown"
    campaign = analysis.get("campaign") or "(unnamed campaign)"
    lines = [f"# Campaign report: {campaign} ({date})", ""]
    if analysis.get("description"):
        lines += [str(analysis["description"]), ""]
    preset = f" (preset {analysis['preset']})" if analysis.get("preset") else ""
    return lines + [f"- Calculator: {calc}{preset}", f"- Analysis written: {created or 'unknown'}",
                    f"- Materials: {', '.join(m['name'] for m in mats) or 'none'}", ""]


def write_report(analysis: dict, out_dir: str | Path) -> Path:
    """Write `report.md` and the PNG plots (entropy.png, sqs_quality.png, volumes.png,
    neb_profiles.png, barriers.png; those without data are skipped and a stale copy removed)
    into `out_dir`, atomically; return the path of report.md.

    `analysis` is the campaign's analysis.json as a dict (workflows.report.analysis.collect): energies
    in eV (per atom for relaxed structures), volumes in Å^3 per host atom, ΔS_config in units
    of R, barriers in eV, reaction coordinates in Å. Missing keys and None values are reported
    as missing, not raised. Raises HecathodeInputError (a ValueError) when `analysis` is not a
    dict.
    """
    if not isinstance(analysis, dict):
        raise HecathodeInputError(f"analysis must be a dict (analysis.json), got {type(analysis).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mats = _materials(analysis)
    ref = _reference(analysis)
    calc = str(analysis.get("calculator") or DASH)
    lines = _header(analysis, mats, calc)

    lines += ["## Summary", "",
              "| material | formula | role | ΔS_config formula (R) | ΔS_config SQS cell (R) "
              "| V / host atom (Å³) | ΔV vs pristine (%) | forward barrier min / mean / max (eV) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [_row(_summary_row(m)) for m in mats]
    if ref:
        parts = []
        if ref["range"]:
            parts.append(f"NVPF DFT literature range {ref['range'][0]:.2f}–{ref['range'][1]:.2f} eV")
        if ref["review"]:
            parts.append("the review's values "
                         + ", ".join(f"{v:.3f} eV ({k})" for k, v in ref["review"].items()))
        lines += ["", "NVPF barrier reference: " + "; ".join(parts) + "."]
    lines.append("")

    notes = _notes(analysis.get("notes")) + [f"{m['name']}: {n}" for m in mats for n in m["notes"]]
    lines += ["## Notes", ""] + (_bullets(notes) if notes else ["No notes."]) + [""]
    missing = _missing(mats) + network_missing(mats) + study_missing(mats)
    if missing:
        lines += ["## Missing or incomplete", ""] + _bullets(missing) + [""]

    lines += ["## Plots", ""]
    for name, plot, title in PLOTS:
        lines += [f"### {title}", ""]
        why_not = plot(mats, out / name, ref)
        if why_not is None:
            lines += [f"![{title}]({name})", "", _caption(name, ref), ""]
        else:
            (out / name).unlink(missing_ok=True)  # a plot from an earlier, fuller analysis
            lines += [f"Not drawn: {why_not}.", ""]

    lines += network_section(mats)  # percolation barriers (materials with a hop network)
    lines += study_sections(mats, out)  # Thermodynamics, Electrochemistry (materials with those studies)
    numbers = every_number(mats, calc) + network_numbers(mats, calc) + study_numbers(mats)
    lines += ["## Every number", "",
              "| material | structure | quantity | value | unit | calculator | converged |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [_row(r) for r in numbers] if numbers else ["", "No computed number yet."]
    text = "\n".join(lines) + "\n"
    return atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
