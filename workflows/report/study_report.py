"""The Thermodynamics and Electrochemistry sections of a campaign report (report.md), their
rows of the "Every number" table and their "missing" lines, from the materials' `mixing` /
`voltage` entries of analysis.json (`workflows.report.study_analysis`).

A section appears when some material carries the entry (a dict, or None for a study that did
not finish); missing keys and None values are reported as missing, never raised. Units: ΔH_mix
meV per atom and per mixing site, ΔS_config R per mixing site, T K, voltages V vs Na+/Na, volume
and lattice changes percent.
"""

from __future__ import annotations

from pathlib import Path

from workflows.report.campaign_plots import num
from workflows.report.study_plots import STUDY_PLOTS

DASH = "–"
INTRO = {
    "mixing": "ΔH_mix = E(SQS) − Σ x_i E(end member i) (isostructural end members, relaxed with the "
              "same potential), ΔS_config of the site fractions the SQS hold, ΔG_mix(T) = ΔH_mix − "
              "TΔS_config and the crossover T* = ΔH_mix / ΔS_config (review §2, eq. 4). ± is the spread "
              "(max − min) over SQS.",
    "voltage": "Voltage steps from the convex hull of E(Na_x) with bcc Na as the reference (pymatgen "
               "InsertionElectrode), average voltage between the end contents, and the volume (per host "
               "atom) and conventional-lattice changes from the sodiated to the desodiated end state. ± is "
               "the spread over hosts (SQS).",
}
CAPTIONS = {
    "mixing_gibbs.png": "ΔG_mix(T) per mixing site: line, the mean over SQS; band, the SQS spread; dots, T*; "
                        "dashed, the synthesis temperature. Line style: potential.",
    "voltage_profiles.png": "Voltage (V vs Na⁺/Na) against Na per formula unit; colour: material, line "
                            "style: potential, one line per host (SQS).",
    "voltage_strain.png": "Left: volume change per host atom between the end states (bar: mean over hosts, "
                          "whisker: min–max). Right: conventional lattice parameters a, b, c.",
}


def f(value, digits: int = 2, signed: bool = False) -> str:
    """None -> '–', bool -> yes/NO, number -> fixed decimals, anything else -> str."""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    v = num(value)
    if v is None:
        return DASH if value is None else str(value)
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _pm(mean, spread, digits: int = 1, signed: bool = False) -> str:
    text = f(mean, digits, signed)
    return text + (f" ± {f(spread, digits)}" if num(spread) and num(mean) is not None else "")


def _na(value) -> str:
    """A Na content as written (3, 0.5), '–' when absent."""
    v = num(value)
    return DASH if v is None else f"{v:g}"


def _row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def entries(mats: list[dict], study: str) -> list[tuple[dict, dict | None]]:
    """(material, entry or None) for the materials that carry the study."""
    return [(m, m["studies"][study]) for m in mats if study in m["studies"]]


def _calcs(entry: dict) -> dict[str, dict]:
    per = entry.get("per_calculator")
    return {str(c): v for c, v in per.items() if isinstance(v, dict)} if isinstance(per, dict) else {}


def _mixing_table(rows: list[tuple[dict, dict | None]]) -> list[str]:
    lines = ["| material | potential | SQS | ΔH_mix (meV/atom) | ΔH_mix (meV/site) "
             "| ΔS_config SQS (formula) (R) | T* (K) | T* per SQS (K) | synthesis (K) | T* below synthesis "
             "| converged |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, e in rows:
        if e is None:
            lines.append(_row([m["name"], DASH, DASH, "not finished"] + [DASH] * 7))
            continue
        ds = f"{f(e.get('dS_config_R'), 3)} ({f(e.get('dS_config_target_R'), 3)})"
        for calc, c in _calcs(e).items() or [(DASH, {})]:
            lo, hi = num(c.get("T_star_min_K")), num(c.get("T_star_max_K"))
            t_range = DASH if lo is None or hi is None else f"{lo:.0f}–{hi:.0f}"
            lines.append(_row([m["name"], calc, c.get("n_sqs", DASH),
                               _pm(c.get("dH_mix_meV_per_atom_mean"), c.get("dH_mix_meV_per_atom_spread"), 1,
                                   True), f(c.get("dH_mix_meV_per_site_mean"), 1, True), ds,
                               f(c.get("T_star_K"), 0) if num(c.get("T_star_K")) else "not defined",
                               t_range, f(e.get("synthesis_temperature_K"), 0),
                               f(c.get("T_star_below_synthesis")), f(c.get("converged"))]))
    return lines


def _verdicts(rows: list[tuple[dict, dict | None]]) -> list[str]:
    out = []
    for m, e in rows:
        for calc, c in _calcs(e or {}).items():
            if c.get("verdict"):
                out.append(f"- {m['name']} ({calc}): {c['verdict']}")
        if e and num(e.get("potential_uncertainty_meV_per_atom")) is not None:
            out.append(f"- {m['name']}: potential uncertainty ({e.get('potential_uncertainty_between')}) "
                       f"{f(e['potential_uncertainty_meV_per_atom'], 1, True)} meV/atom in mean ΔH_mix")
    return out


def _voltage_table(rows: list[tuple[dict, dict | None]]) -> list[str]:
    lines = ["| material | role | potential | Na per f.u. | hosts | average voltage (V) "
             "| ΔV per host atom (%) | Δa / Δb / Δc (%) | states above hull | converged |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, v in rows:
        if v is None:
            lines.append(_row([m["name"], m["role"], DASH, DASH, DASH, "not finished"] + [DASH] * 4))
            continue
        na = " → ".join(_na(x) for x in v.get("na_per_fu") or [])
        lat = v.get("lattice_change_percent") if isinstance(v.get("lattice_change_percent"), dict) else {}
        lat_text = " / ".join(f(lat.get(k), 2, True) for k in ("a", "b", "c"))
        first = v.get("calculator")
        for calc, c in _calcs(v).items() or [(DASH, {})]:
            above = [a for a in v.get("above_hull") or []
                     if isinstance(a, dict) and a.get("calculator") == calc]
            volume = _pm(c.get("volume_change_percent_mean"), c.get("volume_change_percent_spread"), 2, True)
            lines.append(_row([m["name"], m["role"], calc, na or DASH, c.get("n_hosts", DASH),
                               _pm(c.get("average_voltage_V_mean"), c.get("average_voltage_V_spread"), 2),
                               volume, lat_text if calc == first else DASH, len(above),
                               f(v.get("converged"))]))
    return lines


def _comparison(rows: list[tuple[dict, dict | None]]) -> list[str]:
    lines = []
    for m, v in rows:
        cmp_ = (v or {}).get("vs_pristine")
        if not isinstance(cmp_, dict):
            continue
        for calc, d in (cmp_.get("difference_he_minus_pristine") or {}).items():
            n = num(_calcs(v).get(calc, {}).get("n_hosts"))
            one = "– (1 host)" if n == 1 else None  # no spread to resolve a difference against
            lines.append(_row([m["name"], cmp_.get("pristine", DASH), calc,
                               f(d.get("average_voltage_V"), 3, True), one or f(d.get("he_sqs_spread_V"), 3),
                               f(d.get("volume_change_percent"), 2, True),
                               one or f(d.get("he_sqs_spread_percent"), 2)]))
    if not lines:
        return []
    reading = next((v["vs_pristine"].get("reading") for _, v in rows if v and v.get("vs_pristine")), None)
    head = ["", "Pristine vs high-entropy (difference HE − pristine):", "",
            "| material | pristine | potential | Δ average voltage (V) | HE SQS spread (V) "
            "| Δ volume change (%) | HE SQS spread (%) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    return head + lines + (["", f"Reading: {reading}."] if reading else [])


def _plots(study: str, rows: list, out: Path) -> list[str]:
    lines = []
    drawable = [(m, e) for m, e in rows if isinstance(e, dict)]
    for name, plot, title in STUDY_PLOTS[study]:
        why_not = plot(drawable, out / name)
        if why_not is None:
            lines += [f"![{title}]({name})", "", CAPTIONS[name], ""]
        else:
            (out / name).unlink(missing_ok=True)  # a plot from an earlier, fuller analysis
            lines += [f"{title}: not drawn: {why_not}.", ""]
    return lines


def _study_notes(rows: list[tuple[dict, dict | None]], study: str) -> list[str]:
    seen: dict[str, list[str]] = {}
    for m, e in rows:
        for n in (e or {}).get("notes") or []:
            seen.setdefault(str(n), []).append(m["name"])
    if not seen:
        return []
    return ([f"Notes of the {study} studies:", ""]
            + [f"- {', '.join(who)}: {n}" for n, who in seen.items()] + [""])


def study_sections(mats: list[dict], out: Path) -> list[str]:
    """The Markdown lines of the Thermodynamics and Electrochemistry sections (none without data);
    their plots written into `out`."""
    lines = []
    mixing, voltage = entries(mats, "mixing"), entries(mats, "voltage")
    if mixing:
        lines += ["## Thermodynamics", "", INTRO["mixing"], ""] + _mixing_table(mixing) + [""]
        lines += (_verdicts(mixing) + [""]) if _verdicts(mixing) else []
        lines += _plots("mixing", mixing, out) + _study_notes(mixing, "mixing")
    if voltage:
        lines += ["## Electrochemistry", "", INTRO["voltage"], ""] + _voltage_table(voltage)
        lines += _comparison(voltage)
        lines += [""] + _plots("voltage", voltage, out) + _study_notes(voltage, "voltage")
    return lines


# (key, quantity, unit, decimals) of the "Every number" rows per potential
MIXING_NUMBERS = [("dH_mix_meV_per_atom_mean", "ΔH_mix, mean over SQS", "meV/atom", 2),
                  ("dH_mix_meV_per_atom_spread", "ΔH_mix, spread over SQS", "meV/atom", 2),
                  ("dH_mix_meV_per_site_mean", "ΔH_mix per mixing site, mean over SQS", "meV/site", 2),
                  ("T_star_K", "T* of the mean ΔH_mix", "K", 0)]
VOLTAGE_NUMBERS = [("average_voltage_V_mean", "average voltage, mean over hosts", "V", 3),
                   ("average_voltage_V_spread", "average voltage, spread over hosts", "V", 3),
                   ("volume_change_percent_mean", "volume change per host atom, end states", "%", 2)]


def _mixing_numbers(m: dict, e: dict) -> list[tuple[str, ...]]:
    rows = [(m["name"], "SQS" if key == "dS_config_R" else "formula", label, f(v, 3), "R", DASH, DASH)
            for key, label in (("dS_config_R", "ΔS_config of the mixing site, SQS (mean)"),
                               ("dS_config_target_R", "ΔS_config of the mixing site, formula"))
            if (v := num(e.get(key))) is not None]
    for calc, c in _calcs(e).items():
        rows += [(m["name"], "mean over SQS", label, f(v, d), unit, calc, f(c.get("converged")))
                 for key, label, unit, d in MIXING_NUMBERS if (v := num(c.get(key))) is not None]
    for r in e.get("per_sqs") or []:
        if isinstance(r, dict) and (v := num(r.get("dH_mix_meV_per_atom"))) is not None:
            rows.append((m["name"], r.get("sqs") or DASH, "ΔH_mix", f(v, 2), "meV/atom",
                         r.get("calculator") or DASH, f(r.get("converged"))))
    return rows


def _voltage_numbers(m: dict, v: dict) -> list[tuple[str, ...]]:
    conv = f(v.get("converged"))
    rows = []
    for calc, c in _calcs(v).items():
        rows += [(m["name"], "mean over hosts", label, f(x, d), unit, calc, conv)
                 for key, label, unit, d in VOLTAGE_NUMBERS if (x := num(c.get(key))) is not None]
    lat = v.get("lattice_change_percent") if isinstance(v.get("lattice_change_percent"), dict) else {}
    rows += [(m["name"], "mean over hosts", f"lattice parameter {k} change, end states", f(x, 2), "%",
              v.get("calculator") or DASH, conv)
             for k in ("a", "b", "c") if (x := num(lat.get(k))) is not None]
    for st in v.get("voltage_steps") or []:
        if isinstance(st, dict) and (x := num(st.get("voltage_V"))) is not None:
            step = f"voltage step Na{_na(st.get('na_high_per_fu'))} → Na{_na(st.get('na_low_per_fu'))}"
            rows.append((m["name"], st.get("host") or DASH, step, f(x, 3), "V", st.get("calculator") or DASH,
                         conv))
    for a in v.get("above_hull") or []:
        if isinstance(a, dict) and (x := num(a.get("e_above_hull_eV_per_fu"))) is not None:
            rows.append((m["name"], a.get("name") or DASH, "energy above the hull", f(x, 3), "eV/f.u.",
                         a.get("calculator") or DASH, conv))
    return rows


def study_numbers(mats: list[dict]) -> list[tuple[str, ...]]:
    """Rows (material, structure, quantity, value, unit, calculator, converged) of the studies."""
    rows = []
    for m, e in entries(mats, "mixing"):
        rows += _mixing_numbers(m, e) if e else []
    for m, v in entries(mats, "voltage"):
        rows += _voltage_numbers(m, v) if v else []
    return rows


def study_missing(mats: list[dict]) -> list[str]:
    """What the studies lack: not finished, not converged, a SQS composition that is not the formula's."""
    out = []
    for study in ("mixing", "voltage"):
        for m, e in entries(mats, study):
            if e is None:
                out.append(f"{m['name']}: the {study} study did not finish")
            elif e.get("converged") is False:
                out.append(f"{m['name']}: some {study} relaxations did not converge (see the {study} notes)")
            elif study == "voltage" and any(h.get("formula_matches") is False for h in e.get("hosts") or []
                                            if isinstance(h, dict)):
                out.append(f"{m['name']}: the voltage hosts (SQS) hold another composition than the formula")
    return out
