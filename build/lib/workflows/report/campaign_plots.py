"""The figures of a campaign report, from the normalised materials of `campaign_report`.
Each returns None when drawn, or the reason it was not (no data for it)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from structures.entropy import HIGH as HIGH_R
from structures.entropy import MEDIUM as MEDIUM_R
from workflows.report.plotting import figure, save


def num(value) -> float | None:
    """A finite float, or None for anything else (None, NaN, bool, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def review_key(m: dict) -> str:
    return "pristine" if m["role"] == "pristine" else "high-entropy"


def _hollow(converged) -> bool:
    return converged is False


def _spread(n: int, width: float = 0.3) -> np.ndarray:
    return np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(n)


# ---------------------------------------------------------------------------------------------
# plots: each returns None when drawn, or the reason it was not


def plot_entropy(mats: list[dict], path: Path, ref: dict | None = None) -> str | None:
    """ΔS_config (R): formula target vs the SQS cell per material, class thresholds 1.0/1.5 R."""
    rows = [m for m in mats if num(m["entropy"].get("target_R")) is not None
            or num(m["entropy"].get("achieved_R")) is not None]
    if not rows:
        return "no ΔS_config in the analysis (structures step not finished)"
    fig, ax = figure()
    values = []
    for i, m in enumerate(rows):
        ent = m["entropy"]
        for dx, key, cls, colour, label in ((-0.2, "target_R", "target_class", "0.65", "formula (target)"),
                                            (0.2, "achieved_R", "achieved_class", "tab:blue",
                                             "built cell (SQS)")):
            v = num(ent.get(key))
            if v is None:
                ax.text(i + dx, 0.02, "n/a", ha="center", va="bottom", fontsize=7, color="0.3")
                continue
            values.append(v)
            ax.bar(i + dx, v, 0.4, color=colour, label=label if i == 0 else None, zorder=2)
            ax.text(i + dx, v, ent.get(cls) or "", ha="center", va="bottom", fontsize=7)
    for level, text in ((MEDIUM_R, "medium ≥ 1.0 R"), (HIGH_R, "high ≥ 1.5 R")):
        ax.axhline(level, ls="--", lw=0.8, color="k", zorder=1)
        ax.text(1.01, level, text, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=7)
    ax.set_xticks(range(len(rows)), [m["name"] for m in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(r"$\Delta S_\mathrm{config}$ (R)")
    ax.set_ylim(0, max(2.0, 1.3 * max(values, default=0.0) + 0.2))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.set_title("Configurational entropy per material", fontsize=10)
    save(fig, path)
    return None


def plot_sqs_quality(mats: list[dict], path: Path, ref: dict | None = None) -> str | None:
    """Mean |Warren–Cowley α| of each SQS vs random occupations, grouped by material."""
    rows = [(m, s) for m in mats for s in m["sqs"]
            if num(s.get("mean_abs_alpha")) is not None or num(s.get("random_mean_abs_alpha")) is not None]
    if not rows:
        return "no SQS with Warren–Cowley α in the analysis (a pristine material has none)"
    fig, ax = figure()
    top = max(max(num(s.get("mean_abs_alpha")) or 0.0, num(s.get("random_mean_abs_alpha")) or 0.0)
              for _, s in rows)
    labelled: set[str] = set()
    crowded = len(rows) >= 8  # then: no score labels, tick = SQS name only (material by colour)
    for i, (m, s) in enumerate(rows):
        a, r = num(s.get("mean_abs_alpha")), num(s.get("random_mean_abs_alpha"))
        if a is not None:
            ax.bar(i - 0.2, a, 0.4, color=m["colour"], zorder=2,
                   label=None if m["name"] in labelled else f"SQS, {m['name']}")
            labelled.add(m["name"])
            score = num(s.get("icet_score"))
            if score is not None and not crowded:
                ax.text(i - 0.2, a + 0.01 * (top or 1), f"score\n{score:.2f}", ha="center", va="bottom",
                        fontsize=6)
        if r is not None:
            ax.bar(i + 0.2, r, 0.4, color="0.7", label="random occupations (mean)" if i == 0 else None,
                   zorder=2)
    if crowded:
        ax.set_xticks(range(len(rows)), [str(s.get("name", "?")) for _, s in rows], fontsize=6, rotation=60)
    else:
        ax.set_xticks(range(len(rows)), [f"{s.get('name', '?')}\n{m['name']}" for m, s in rows], fontsize=7)
    ax.set_ylabel("mean |Warren–Cowley α| (0 = random)")
    ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_title("SQS quality: short-range order left in each supercell", fontsize=10)
    save(fig, path)
    return None


def plot_volumes(mats: list[dict], path: Path, ref: dict | None = None) -> str | None:
    """Relaxed (and initial) volume per host atom, Å^3, per structure and material."""
    rows = [m for m in mats
            if any(num(s.get("volume_per_host_atom_A3_relaxed")) is not None for s in m["structures"])]
    if not rows:
        return "no relaxed volume in the analysis (relaxations not finished)"
    fig, ax = figure()
    hollow_seen = initial_seen = False
    for i, m in enumerate(rows):
        structs = [s for s in m["structures"] if num(s.get("volume_per_host_atom_A3_relaxed")) is not None]
        xs = i + _spread(len(structs))
        for x, s in zip(xs, structs, strict=True):
            v = num(s["volume_per_host_atom_A3_relaxed"])
            hollow = _hollow(s.get("converged"))
            hollow_seen |= hollow
            ax.scatter([x], [v], s=40, zorder=3, edgecolors=m["colour"],
                       facecolors="none" if hollow else m["colour"])
            v0 = num(s.get("volume_per_host_atom_A3_initial"))
            if v0 is not None:
                initial_seen = True
                ax.scatter([x], [v0], s=25, marker="_", color="0.4", zorder=2)
                ax.plot([x, x], [v0, v], color="0.6", lw=0.6, zorder=1)
        top = max(max(num(s["volume_per_host_atom_A3_relaxed"]),
                      num(s.get("volume_per_host_atom_A3_initial")) or -np.inf) for s in structs)
        if m["role"] == "pristine":
            text = "pristine (reference)"
        elif m["volume_vs_pristine_pct"] is not None:
            text = f"{m['volume_vs_pristine_pct']:+.2f} % vs pristine"
        else:
            text = "no pristine to compare"
        ax.annotate(text, (i, top), xytext=(0, 9), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(range(len(rows)), [m["name"] for m in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("volume per host atom (Å³)")
    ax.margins(y=0.3)
    handles = [ax.scatter([], [], s=40, color="0.2", label="relaxed")]
    if initial_seen:
        handles.append(ax.scatter([], [], s=25, marker="_", color="0.4", label="initial (unrelaxed)"))
    if hollow_seen:
        handles.append(ax.scatter([], [], s=40, facecolors="none", edgecolors="0.2",
                                  label="relaxation not converged"))
    ax.legend(handles=handles, fontsize=7, loc="best")
    ax.set_title("Relaxed volume per host atom (host = all but alkali ions)", fontsize=10)
    save(fig, path)
    return None


def profile(r: dict) -> tuple[list[float], list[float]] | None:
    prof = r.get("profile") if isinstance(r.get("profile"), dict) else {}
    s, e = prof.get("reaction_coordinate_A"), prof.get("energies_eV")
    if not isinstance(s, list | tuple) or not isinstance(e, list | tuple) or len(s) != len(e) or len(s) < 2:
        return None
    s, e = [num(x) for x in s], [num(x) for x in e]
    if None in s or None in e:
        return None
    return s, [x - e[0] for x in e]  # relative to the initial state (no-op when it already is)


def plot_profiles(mats: list[dict], path: Path, ref: dict | None = None) -> str | None:
    """NEB energy (eV, relative to the initial state) vs reaction coordinate (Å), all materials."""
    rows = [(m, r, p) for m in mats for r in m["neb"] if (p := profile(r)) is not None]
    if not rows:
        if any(m["neb"] for m in mats):
            return "the NEB results carry no energy profiles"
        return "NEB results are missing for every material"
    fig, ax = figure()
    seen: set[str] = set()
    unconverged = False
    for m, r, (s, e) in rows:
        first = m["name"] not in seen
        seen.add(m["name"])
        n = sum(1 for mm, _, _ in rows if mm is m)
        dashed = _hollow(r.get("converged"))
        unconverged |= dashed
        ax.plot(s, e, marker="o", ms=2.5, lw=0.9, ls="--" if dashed else "-", color=m["colour"], alpha=0.85,
                label=f"{m['name']} ({n} hop{'s' if n != 1 else ''})" if first else None)
    ax.axhline(0, color="0.7", lw=0.6, zorder=0)
    if unconverged:
        ax.plot([], [], ls="--", color="0.3", lw=0.9, label="not converged")
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("E − E(initial state) (eV)")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Na-vacancy migration: NEB energy profiles", fontsize=10)
    save(fig, path)
    return None


def plot_barriers(mats: list[dict], path: Path, ref: dict | None = None) -> str | None:
    """Forward barriers (eV) per material; NVPF literature band and review values with `ref`."""
    rows = [(m, [(b, r) for r in m["neb"] if (b := num(r.get("forward_barrier_eV"))) is not None])
            for m in mats]
    rows = [(m, br) for m, br in rows if br]
    if not rows:
        return "NEB results are missing for every material"
    fig, ax = figure()
    if ref and ref["range"]:
        lo, hi = ref["range"]
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, zorder=0,
                   label=f"NVPF DFT literature {lo:.2f}–{hi:.2f} eV")
    hollow_seen = review_seen = False
    values = []
    for i, (m, br) in enumerate(rows):
        b = [x for x, _ in br]
        values += b
        if len(b) >= 4:
            ax.boxplot(b, positions=[i], widths=0.5, showfliers=False, manage_ticks=False, zorder=2,
                       medianprops={"color": m["colour"]})
        for x, (v, r) in zip(i + _spread(len(b), 0.25), br, strict=True):
            hollow = _hollow(r.get("converged"))
            hollow_seen |= hollow
            ax.scatter([x], [v], s=36, zorder=3, edgecolors=m["colour"],
                       facecolors="none" if hollow else m["colour"])
        review = ref["review"].get(review_key(m)) if ref else None
        if review is not None and m["prototype"] in (None, "nvpf"):
            values.append(review)
            ax.scatter([i + 0.3], [review], marker="*", s=110, color="k", zorder=4,
                       label="review's value" if not review_seen else None)
            ax.annotate(f"{review:.3f}", (i + 0.3, review), xytext=(6, -3), textcoords="offset points",
                        fontsize=7)
            review_seen = True
    if hollow_seen:
        ax.scatter([], [], s=36, facecolors="none", edgecolors="0.2", label="NEB not converged")
    ax.set_xticks(range(len(rows)), [m["name"] for m, _ in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4 + 0.2)
    ax.set_ylabel("forward barrier (eV)")
    ax.set_ylim(min(0.0, min(values)) - 0.02, max(values + [ref["range"][1] if ref and ref["range"] else 0])
                * 1.15 + 0.05)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title("Na migration barriers per material", fontsize=10)
    save(fig, path)
    return None


PLOTS = [("entropy.png", plot_entropy, "Configurational entropy"),
         ("sqs_quality.png", plot_sqs_quality, "SQS quality"),
         ("volumes.png", plot_volumes, "Relaxed volumes"),
         ("neb_profiles.png", plot_profiles, "NEB energy profiles"),
         ("barriers.png", plot_barriers, "Migration barriers")]
