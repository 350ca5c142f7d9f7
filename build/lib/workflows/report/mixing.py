"""Figure of a mixing study (`workflows.studies.mixing`): ΔG_mix(T) = ΔH_mix − TΔS_config per
mixing site, one line per SQS and potential, the band they span, T* and the synthesis
temperature marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workflows.report.plotting import COLOURS, figure, save
from workflows.studies.mixing_results import K_B_EV_PER_K


def temperature_range_K(doc: dict) -> np.ndarray:
    """0 K to past the largest T* and the synthesis temperature (at least 1500 K)."""
    t_stars = [r["T_star_K"] for r in doc["per_sqs"] if r["T_star_K"] is not None]
    top = max([1500.0, *(1.3 * t for t in t_stars),
               1.2 * (doc.get("synthesis_temperature_K") or 0.0)])
    return np.linspace(0.0, top, 301)


def plot_mixing(doc: dict, path: str | Path) -> Path:
    """ΔG_mix(T) in meV per mixing site from a mixing.json document; written to `path` (PNG)."""
    fig, ax = figure()
    T = temperature_range_K(doc)
    curves = {}
    for r in doc["per_sqs"]:
        dg = 1000 * (r["dH_mix_eV_per_mixing_site"] - T * K_B_EV_PER_K * r["dS_config_R"])
        curves.setdefault(r["calculator"], []).append(dg)
    everything = np.array([c for cs in curves.values() for c in cs])
    ax.fill_between(T, everything.min(axis=0), everything.max(axis=0), color="0.85",
                    label="band over SQS and potentials")
    for k, (calc, cs) in enumerate(curves.items()):
        _draw_calculator(ax, T, np.array(cs), calc, doc, COLOURS[k % len(COLOURS)])
    ax.axhline(0.0, color="black", lw=0.8)
    t_synth = doc.get("synthesis_temperature_K")
    if t_synth:
        ax.axvline(t_synth, color="black", ls="--", lw=1, label=f"synthesis {t_synth:g} K")
    ax.set_xlim(T[0], T[-1])
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"ΔG_mix (meV per {doc['mixing_sublattice']} site)")
    ds = doc["dS_config_R"]
    ax.set_title(f"{doc['formula']} ({doc['prototype']}): ΔS_config {ds['mean_R']:.3f} R per site, "
                 f"{len({r['sqs'] for r in doc['per_sqs']})} SQS × {len(doc['calculators'])} potential(s)",
                 fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, path)


def _draw_calculator(ax, T: np.ndarray, curves: np.ndarray, calc: str, doc: dict, colour: str) -> None:
    """One potential: its SQS lines (thin), their mean (thick) and T* of the mean ΔH_mix."""
    dh = doc["dH_mix_meV_per_atom"]["per_calculator"][calc]
    for c in curves:
        ax.plot(T, c, color=colour, lw=0.6, alpha=0.6)
    spread = f" (spread {dh['spread_meV_per_atom']:.1f})" if dh["n"] > 1 else ""
    ax.plot(T, curves.mean(axis=0), color=colour, lw=2,
            label=f"{calc}: ΔH_mix {dh['mean_meV_per_atom']:.1f} meV/atom{spread}")
    t_star = doc["T_star_K"]["per_calculator"][calc]["value_K"]
    if t_star is not None and t_star <= T[-1]:
        ax.axvline(t_star, color=colour, ls=":", lw=1.2)
        ax.plot([t_star], [0.0], "o", color=colour, label=f"{calc}: T* {t_star:.0f} K")
    elif t_star is None:
        ax.plot([], [], " ", label=f"{calc}: ΔH_mix ≤ 0, T* not defined")
