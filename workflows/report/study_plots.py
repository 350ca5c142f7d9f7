"""Figures of a campaign report's Thermodynamics and Electrochemistry sections, from the
materials' `mixing` / `voltage` entries of analysis.json (`workflows.report.study_analysis`).
Each returns None when drawn, or the reason it was not (no data for it).

- mixing_gibbs.png: ΔG_mix(T) = ΔH_mix − TΔS_config (meV per mixing site), per material and
  potential the mean over SQS (line) and the SQS band, T* (dots) and synthesis temperatures;
- voltage_profiles.png: voltage steps from the hull (V vs Na+/Na) against Na per formula unit,
  one colour per material, one line style per potential, one line per host;
- voltage_strain.png: volume change per host atom (%) between the end states per material and
  potential (bar: mean over hosts, whisker: min–max), and the lattice changes a, b, c (%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workflows.report.campaign_plots import num
from workflows.report.plotting import figure, save
from workflows.studies.mixing_results import K_B_EV_PER_K

STYLES = ["-", "--", ":", "-."]


def _curves(entry: dict, T: np.ndarray) -> dict[str, np.ndarray]:
    """Calculator -> ΔG_mix(T) of each SQS (meV per mixing site), from the per-SQS rows."""
    out: dict[str, list] = {}
    for r in entry.get("per_sqs") or []:
        dh, ds = num(r.get("dH_mix_eV_per_mixing_site")), num(r.get("dS_config_R"))
        if dh is not None and ds is not None:
            out.setdefault(str(r.get("calculator")), []).append(1000 * (dh - T * K_B_EV_PER_K * ds))
    return {c: np.array(v) for c, v in out.items()}


def _t_top(rows: list[tuple[dict, dict]]) -> float:
    temps = [1500.0]
    for _, e in rows:
        temps += [1.2 * t for t in [num(e.get("synthesis_temperature_K"))] if t]
        temps += [1.3 * t for c in (e.get("per_calculator") or {}).values() if (t := num(c.get("T_star_K")))]
    return max(temps)


def plot_gibbs(rows: list[tuple[dict, dict]], path: Path) -> str | None:
    """ΔG_mix(T) per material (row: normalised material, its mixing entry)."""
    T = np.linspace(0.0, _t_top(rows), 301)
    drawn = [(m, e, c) for m, e in rows if (c := _curves(e, T))]
    if not drawn:
        return "no ΔH_mix in the analysis (mixing studies not finished)"
    fig, ax = figure()
    calcs = sorted({c for _, _, curves in drawn for c in curves})
    synth = set()
    for m, e, curves in drawn:
        for calc, cs in curves.items():
            style = STYLES[calcs.index(calc) % len(STYLES)]
            ax.fill_between(T, cs.min(axis=0), cs.max(axis=0), color=m["colour"], alpha=0.15, lw=0)
            t_star = num((e.get("per_calculator") or {}).get(calc, {}).get("T_star_K"))
            label = f"{m['name']} ({calc})" + (f": T* {t_star:.0f} K" if t_star else ": T* not defined")
            ax.plot(T, cs.mean(axis=0), color=m["colour"], ls=style, lw=1.8, label=label)
            if t_star is not None and t_star <= T[-1]:
                ax.plot([t_star], [0.0], "o", color=m["colour"], ms=5)
        if (t := num(e.get("synthesis_temperature_K"))) is not None:
            synth.add(t)
    for t in sorted(synth):
        ax.axvline(t, color="black", ls="--", lw=0.9, label=f"synthesis {t:g} K")
    ax.axhline(0.0, color="0.4", lw=0.6)
    ax.set_xlim(T[0], T[-1])
    ax.set_xlabel("T (K)")
    ax.set_ylabel("ΔG_mix (meV per mixing site)")
    ax.set_title("Mixing free energy ΔH_mix − TΔS_config (band: over SQS)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    save(fig, path)
    return None


def _steps_xy(steps: list[dict]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for st in sorted(steps, key=lambda s: num(s.get("na_low_per_fu")) or 0.0):
        lo, hi, v = num(st.get("na_low_per_fu")), num(st.get("na_high_per_fu")), num(st.get("voltage_V"))
        if None not in (lo, hi, v):
            xs += [lo, hi]
            ys += [v, v]
    return xs, ys


def plot_profiles(rows: list[tuple[dict, dict]], path: Path) -> str | None:
    """Voltage steps per material, potential and host (row: material, its voltage entry)."""
    lines = [(m, e, xy) for m, v in rows for e in (v.get("electrodes") or [])
             if isinstance(e, dict) and (xy := _steps_xy(e.get("voltage_steps") or []))[0]]
    if not lines:
        return "no voltage steps in the analysis (voltage studies not finished)"
    fig, ax = figure()
    calcs = sorted({str(e.get("calculator")) for _, e, _ in lines})
    seen = set()
    for m, e, (xs, ys) in lines:
        calc = str(e.get("calculator"))
        key = (m["name"], calc)
        avg = num(e.get("average_voltage_V"))
        label = None if key in seen else f"{m['name']} ({calc})" + (f": ⟨V⟩ {avg:.2f} V" if avg else "")
        seen.add(key)
        ax.plot(xs, ys, color=m["colour"], ls=STYLES[calcs.index(calc) % len(STYLES)], lw=1.6, alpha=0.85,
                label=label)
    volts = [y for _, _, (_, ys) in lines for y in ys]
    ax.set_ylim(min(volts) - 0.5, max(volts) + 0.5)  # at least a 1 V window: steps read at their scale
    ax.set_xlabel("Na per formula unit")
    ax.set_ylabel("voltage (V vs Na⁺/Na)")
    ax.set_title("Voltage from the hull of E(Na_x) (one line per host)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    save(fig, path)
    return None


def plot_strain(rows: list[tuple[dict, dict]], path: Path) -> str | None:
    """Volume change per potential (mean, min–max over hosts) and lattice changes per material."""
    bars = []
    for m, v in rows:
        electrodes = [e for e in v.get("electrodes") or [] if isinstance(e, dict)]
        for calc in v.get("calculators") or []:
            vals = [x for e in electrodes
                    if e.get("calculator") == calc and (x := num(e.get("volume_change_percent"))) is not None]
            bars += [(m, calc, vals)] if vals else []
    if not bars:
        return "no volume change in the analysis (voltage studies not finished)"
    fig, (ax_v, ax_l) = figure(ncols=2, size=(11, 4.2))
    for i, (m, _, vals) in enumerate(bars):
        mean = float(np.mean(vals))
        ax_v.bar(i, mean, 0.6, color=m["colour"], zorder=2)
        if len(vals) > 1:
            ax_v.errorbar([i], [mean], yerr=[[mean - min(vals)], [max(vals) - mean]], color="k", capsize=3,
                          zorder=3)
        ax_v.annotate(f"{mean:+.2f} %", (i, mean), xytext=(0, 4 if mean >= 0 else -12),
                      textcoords="offset points", ha="center", fontsize=7)
    ax_v.set_xticks(range(len(bars)), [f"{m['name']}\n{c}" for m, c, _ in bars], fontsize=7)
    ax_v.set_ylabel("volume change per host atom (%)")
    ax_v.set_title("Desodiated vs sodiated end state", fontsize=10)
    lattice = [(m, v["lattice_change_percent"]) for m, v in rows
               if isinstance(v.get("lattice_change_percent"), dict)]
    for k, axis in enumerate(("a", "b", "c")):
        vals = [num(lat.get(axis)) or 0.0 for _, lat in lattice]
        ax_l.bar(np.arange(len(lattice)) + (k - 1) * 0.25, vals, 0.25, label=axis, zorder=2,
                 color=["tab:blue", "tab:orange", "tab:green"][k])
    ax_l.set_xticks(range(len(lattice)), [m["name"] for m, _ in lattice], fontsize=8)
    ax_l.set_ylabel("lattice parameter change (%)")
    ax_l.set_title("Lattice changes (first potential, mean over hosts)", fontsize=10)
    for ax in (ax_v, ax_l):
        ax.axhline(0.0, color="0.4", lw=0.6)
        ax.margins(y=0.15)
    if lattice:
        ax_l.legend(fontsize=7)
    save(fig, path)
    return None


STUDY_PLOTS = {"mixing": [("mixing_gibbs.png", plot_gibbs, "ΔG_mix(T)")],
               "voltage": [("voltage_profiles.png", plot_profiles, "Voltage profiles"),
                           ("voltage_strain.png", plot_strain, "Volume and lattice change on desodiation")]}
