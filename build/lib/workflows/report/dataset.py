"""Tables and plots: the review dataset (ΔS_config vs retention, theoretical vs reported capacity).

Files are written atomically (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from structures.io import atomic_write
from workflows.report.plotting import figure, save

DATASET_COLUMNS = [
    "table", "ref", "family", "formula", "prototype", "reading", "elements_on_mixing_site",
    "entropy_R", "entropy_class", "theoretical_capacity_mAh_g", "reported_capacity_mAh_g",
    "reported_over_theoretical", "capacity_exception", "retention_percent", "retention_cycles",
    "charge_balanced",
]
FAMILY_STYLE = {
    "layered oxide": ("tab:blue", "o"),
    "Prussian blue analogue": ("tab:green", "s"),
    "polyanion": ("tab:red", "^"),
}


def write_dataset_csv(rows: list[dict], path: str | Path) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DATASET_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    return atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


def plot_dataset(rows: list[dict], path: str | Path) -> Path:
    """Two panels: retention vs ΔS_config per family; reported vs theoretical capacity."""
    fig, (ax1, ax2) = figure(ncols=2, size=(12, 5))
    ax1.axvspan(0, 1.0, color="0.93", zorder=0)
    ax1.axvspan(1.0, 1.5, color="0.86", zorder=0)
    for x, label in ((0.5, "low"), (1.25, "medium"), (1.85, "high")):
        ax1.text(x, 101.5, label, ha="center", fontsize=9, color="0.35")
    for family, (color, marker) in FAMILY_STYLE.items():
        sel = [r for r in rows if r["family"] == family and r["retention_percent"] is not None]
        if not sel:
            continue
        sizes = [20 + 25 * math.log10(r["retention_cycles"] or 10) for r in sel]
        ax1.scatter([r["entropy_R"] for r in sel], [r["retention_percent"] for r in sel],
                    s=sizes, c=color, marker=marker, label=family, edgecolors="k", linewidths=0.5)
        for r in sel:
            ax1.annotate(str(r["ref"]), (r["entropy_R"], r["retention_percent"]), fontsize=7,
                         xytext=(3, 3), textcoords="offset points")
        ok = [r for r in sel if not r["capacity_exception"]]
        ex = [r for r in sel if r["capacity_exception"]]
        ax2.scatter([r["theoretical_capacity_mAh_g"] for r in ok],
                    [r["reported_capacity_mAh_g"] for r in ok], c=color, marker=marker,
                    edgecolors="k", linewidths=0.5, label=family)
        ax2.scatter([r["theoretical_capacity_mAh_g"] for r in ex],
                    [r["reported_capacity_mAh_g"] for r in ex], facecolors="none",
                    edgecolors=color, marker=marker, linewidths=1.2)
        for r in sel:
            ax2.annotate(str(r["ref"]), (r["theoretical_capacity_mAh_g"],
                                         r["reported_capacity_mAh_g"]),
                         fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax1.set_xlim(0, max(2.4, max(r["entropy_R"] for r in rows) + 0.1))
    ax1.set_ylim(55, 104)
    ax1.set_xlabel("ΔS_config (R), review eq. (2)")
    ax1.set_ylabel("capacity retention (%) as reported")
    ax1.set_title("Retention vs configurational entropy\n(marker size ~ log cycles; number = ref.)",
                  fontsize=10)
    ax1.legend(fontsize=8, loc="lower left")
    top = max(max(r["theoretical_capacity_mAh_g"], r["reported_capacity_mAh_g"]) for r in rows)
    ax2.plot([0, top * 1.05], [0, top * 1.05], "k--", lw=0.8, label="reported = theoretical")
    ax2.set_xlim(0, top * 1.05)
    ax2.set_ylim(0, top * 1.05)
    ax2.set_xlabel("theoretical capacity (mA h g⁻¹), hecathode default couples")
    ax2.set_ylabel("reported initial capacity (mA h g⁻¹)")
    ax2.set_title("Reported vs theoretical capacity\n(open: listed exception, e.g. anionic redox)",
                  fontsize=10)
    ax2.legend(fontsize=8, loc="lower right")
    return save(fig, path)
