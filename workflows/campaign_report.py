"""A campaign's report: `report.md` plus PNG plots, from its analysis.json (workflows.analysis).

Plots: entropy.png (ΔS_config target vs SQS, R), sqs_quality.png (mean |Warren–Cowley α|),
volumes.png (relaxed volume per host atom, Å^3), neb_profiles.png (energy vs reaction
coordinate, eV vs Å, pristine and high-entropy overlaid), barriers.png (forward barriers per
material, with the NVPF literature range and the review's values when the campaign is NVPF).
A plot without data is skipped and the report says so. Files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

from structures.io import atomic_write
from workflows.neb_run import _figure, _save

COLOURS = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown"]


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _colour(analysis: dict) -> dict[str, str]:
    return {m["name"]: COLOURS[k % len(COLOURS)] for k, m in enumerate(analysis["materials"])}


def plot_entropy(analysis: dict, path: Path) -> bool:
    mats = [m for m in analysis["materials"] if m.get("entropy")]
    if not mats:
        return False
    fig, ax = _figure()
    x = range(len(mats))
    target = [m["entropy"]["target_R"] for m in mats]
    achieved = [m["entropy"].get("achieved_R") or 0.0 for m in mats]
    ax.bar([i - 0.2 for i in x], target, 0.4, label="formula (target)", color="0.6")
    ax.bar([i + 0.2 for i in x], achieved, 0.4, label="built cell (SQS)", color="tab:blue")
    for level, name in ((1.0, "medium ≥ 1 R"), (1.5, "high ≥ 1.5 R")):
        ax.axhline(level, ls="--", lw=0.8, color="k")
        ax.text(len(mats) - 0.45, level, name, ha="right", va="bottom", fontsize=8)
    for i, m in enumerate(mats):
        ax.text(i + 0.2, achieved[i], m["entropy"].get("achieved_class") or "", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks(list(x), [m["name"] for m in mats])
    ax.set_xlim(-0.6, len(mats) - 0.4)
    ax.set_ylabel("ΔS_config (R)")
    ax.set_ylim(0, max(1.7, max(target + achieved) * 1.15))
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, path)
    return True


def plot_sqs_quality(analysis: dict, path: Path) -> bool:
    rows = [(m["name"], s) for m in analysis["materials"] for s in m.get("sqs", [])
            if s.get("mean_abs_alpha") is not None]
    if not rows:
        return False
    fig, ax = _figure()
    labels = [f"{name}\n{s['name']}" for name, s in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [s["mean_abs_alpha"] for _, s in rows], 0.4, label="SQS", color="tab:blue")
    ax.bar([i + 0.2 for i in x], [s.get("random_mean_abs_alpha") or 0 for _, s in rows], 0.4,
           label="random occupations (mean)", color="0.6")
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylabel("mean |Warren–Cowley α|, shells 1–2 (0 = random)")
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


def plot_volumes(analysis: dict, path: Path) -> bool:
    colours = _colour(analysis)
    mats = [m for m in analysis["materials"] if m.get("structures")]
    if not mats:
        return False
    fig, ax = _figure()
    for i, m in enumerate(mats):
        vols = [s["volume_per_host_atom_A3_relaxed"] for s in m["structures"]]
        ax.scatter([i] * len(vols), vols, color=colours[m["name"]], s=40, zorder=3)
        if m.get("volume_vs_pristine_pct") is not None and m["role"] != "pristine":
            ax.annotate(f"{m['volume_vs_pristine_pct']:+.2f} % vs pristine", (i, max(vols)),
                        xytext=(0, 8), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(range(len(mats)), [m["name"] for m in mats])
    ax.set_xlim(-0.6, len(mats) - 0.4)
    ax.set_ylabel("relaxed volume per host atom (Å³)")
    ax.margins(y=0.25)
    _save(fig, path)
    return True


def plot_profiles(analysis: dict, path: Path) -> bool:
    colours = _colour(analysis)
    mats = [m for m in analysis["materials"] if m.get("neb")]
    if not mats:
        return False
    fig, ax = _figure()
    for m in mats:
        for k, r in enumerate(m["neb"]):
            prof = r["profile"]
            ax.plot(prof["reaction_coordinate_A"], prof["energies_eV"], "o-", ms=3, lw=1.2,
                    color=colours[m["name"]], alpha=0.85, label=m["name"] if k == 0 else None)
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("energy relative to the initial state (eV)")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


def plot_barriers(analysis: dict, path: Path) -> bool:
    colours = _colour(analysis)
    mats = [m for m in analysis["materials"] if m.get("neb")]
    if not mats:
        return False
    fig, ax = _figure()
    ref = analysis.get("nvpf_reference")
    if ref:
        lo, hi = ref["literature_range_eV"]
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, label=f"DFT literature {lo}–{hi} eV")
    for i, m in enumerate(mats):
        b = [r["forward_barrier_eV"] for r in m["neb"]]
        ax.scatter([i] * len(b), b, color=colours[m["name"]], s=40, zorder=3)
        if ref and m["prototype"] == "nvpf":
            key = "pristine" if m["role"] == "pristine" else "high-entropy"
            ax.scatter([i], [ref["review_eV"][key]], marker="x", color="k", s=60, zorder=4,
                       label="review's value" if i == 0 else None)
    ax.set_xticks(range(len(mats)), [m["name"] for m in mats])
    ax.set_xlim(-0.6, len(mats) - 0.4)
    ax.set_ylabel("forward barrier (eV)")
    ax.set_ylim(bottom=0)
    if ref:
        ax.legend(fontsize=8)
    _save(fig, path)
    return True


PLOTS = [("entropy.png", plot_entropy, "ΔS_config per material", "no entropy (structures steps unfinished)"),
         ("sqs_quality.png", plot_sqs_quality, "SQS quality", "no SQS in this campaign"),
         ("volumes.png", plot_volumes, "Relaxed volumes", "no relaxation finished"),
         ("neb_profiles.png", plot_profiles, "NEB energy profiles", "no NEB results"),
         ("barriers.png", plot_barriers, "Migration barriers", "no NEB results")]


def _numbers(analysis: dict, calc: str) -> list[tuple]:
    """Every computed number: (material, structure, quantity, value, unit, calculator, converged)."""
    rows = []
    for m in analysis["materials"]:
        ent = m.get("entropy") or {}
        for key, label in (("target_R", "ΔS_config of the formula"), ("achieved_R", "ΔS_config of the cell")):
            if ent.get(key) is not None:
                rows.append((m["name"], "–", label, _fmt(ent[key]), "R", "–", "–"))
        for s in m.get("sqs", []):
            alpha = f"{_fmt(s['mean_abs_alpha'])} ({_fmt(s.get('random_mean_abs_alpha'))})"
            rows.append((m["name"], s["name"], "mean |α| (random)", alpha, "–", "icet", "–"))
        for s in m.get("structures", []):
            c, ok = s.get("calculator") or calc, s.get("converged")
            energy = _fmt(s.get("energy_eV_per_atom"), 4)
            rows.append((m["name"], s["name"], "energy", energy, "eV/atom", c, ok))
            rows.append((m["name"], s["name"], "volume per host atom",
                         _fmt(s["volume_per_host_atom_A3_relaxed"], 2), "Å³", c, ok))
            rows.append((m["name"], s["name"], "volume change on relaxation",
                         _fmt(s["volume_change_pct"], 2), "%", c, ok))
        if m.get("volume_vs_pristine_pct") is not None and m["role"] != "pristine":
            rows.append((m["name"], "mean", "volume vs pristine", _fmt(m["volume_vs_pristine_pct"], 2), "%",
                         calc, "–"))
        for r in m.get("neb", []):
            where = f"{r['structure']} {r['hop']} ({r['length_A']:.2f} Å)"
            for key, label in (("forward_barrier_eV", "forward barrier"),
                               ("reverse_barrier_eV", "reverse barrier"),
                               ("reaction_energy_eV", "reaction energy")):
                rows.append((m["name"], where, label, _fmt(r[key]), "eV", r["calculator"], r["converged"]))
    return [tuple(_fmt(v) if isinstance(v, bool) else v for v in row) for row in rows]


def write_report(analysis: dict, out_dir: str | Path) -> Path:
    """Write report.md and the plots into `out_dir`; returns the path of report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    calc = analysis.get("calculator", "–")
    lines = [f"# Campaign {analysis['campaign']}", "",
             f"{analysis.get('description', '')}", "",
             f"Calculator: {calc}" + (f" (preset {analysis['preset']})" if analysis.get("preset") else "")
             + f". Analysis written {analysis.get('created', '–')}.", "",
             "## Summary", "",
             "| material | formula | role | ΔS formula (R) | ΔS cell (R) | V / host atom (Å³) "
             "| ΔV vs pristine (%) | barriers min / mean / max (eV) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    missing = []
    for m in analysis["materials"]:
        ent = m.get("entropy") or {}
        s = m.get("neb_summary") or {"n": 0}
        barriers = (f"{s['min_eV']:.3f} / {s['mean_eV']:.3f} / {s['max_eV']:.3f} (n={s['n']})" if s["n"]
                    else "–")
        lines.append(f"| {m['name']} | {m['formula']} | {m['role']} | "
                     f"{_fmt(ent.get('target_R'))} {ent.get('target_class', '')} | "
                     f"{_fmt(ent.get('achieved_R'))} {ent.get('achieved_class') or ''} | "
                     f"{_fmt(m.get('mean_volume_per_host_atom_A3'), 2)} | "
                     f"{_fmt(m.get('volume_vs_pristine_pct'), 2)} | {barriers} |")
        if not m.get("structures"):
            missing.append(f"{m['name']}: no relaxed structure yet")
        if not m.get("neb"):
            missing.append(f"{m['name']}: NEB results are missing (not requested or not finished)")
    notes = list(analysis.get("notes", [])) + [f"{m['name']}: {n}" for m in analysis["materials"]
                                               for n in m.get("notes", [])]
    if notes or missing:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes + missing]
    lines += ["", "## Plots", ""]
    for name, plot, title, why_not in PLOTS:
        if plot(analysis, out / name):
            lines += [f"### {title}", "", f"![{title}]({name})", ""]
        else:
            (out / name).unlink(missing_ok=True)
            lines += [f"### {title}", "", f"Not drawn: {why_not}.", ""]
    lines += ["## Every number", "",
              "| material | structure | quantity | value | unit | calculator | converged |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in _numbers(analysis, calc)]
    text = "\n".join(lines) + "\n"
    return atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text(text))
