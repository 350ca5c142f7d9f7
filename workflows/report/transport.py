"""Figure of a transport study (`workflows.studies.transport`): left, the percolation barrier per
axis (each SQS a point, their mean with the Student-t 95 % interval, the pristine cell a
diamond); right, histograms of the CI-NEB hop barriers (fractions, hops weighted by their
multiplicity), pristine against all SQS, per calculator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workflows.report.plotting import COLOURS, figure, save

AXES = ("a", "b", "c", "lowest")


def plot_transport(doc: dict, path: str | Path) -> Path:
    """transport.png from a transport.json document, written to `path`."""
    fig, (left, right) = figure(ncols=2, size=(11.5, 4.4))
    for k, calc in enumerate(doc["calculators"]):
        colour = COLOURS[k % len(COLOURS)]
        offset = (k - (len(doc["calculators"]) - 1) / 2) * 0.25
        _draw_axes(left, doc["per_calculator"][calc], calc, colour, offset)
        _draw_histogram(right, doc["per_calculator"][calc]["hop_barriers_eV"], calc, colour,
                        _bins(doc), k == 0)
    left.set_xticks(range(len(AXES)), AXES)
    left.set_xlim(-0.6, len(AXES) - 0.4)
    left.set_ylabel("percolation barrier (eV)")
    left.set_title(f"{doc['formula']} ({doc['prototype']}): {len(doc['sqs'])} SQS", fontsize=9)
    left.legend(fontsize=7)
    right.set_xlabel("hop barrier, CI-NEB effective (eV)")
    right.set_ylabel("fraction of hops (× multiplicity)")
    right.set_title("hop barriers: pristine vs high-entropy", fontsize=9)
    right.legend(fontsize=7)
    return save(fig, path)


def _axis_rows(block: dict) -> list[dict]:
    return [*(block["percolation_barrier_eV"][ax] for ax in AXES[:3]), block["lowest_percolation_barrier_eV"]]


def _draw_axes(ax, block: dict, calc: str, colour: str, offset: float) -> None:
    """SQS points, mean with its interval, pristine diamond, 'no path' counts, for one calculator."""
    rng = np.random.default_rng(0)
    for x, s in enumerate(_axis_rows(block)):
        xs = x + offset
        values = [v for v in s["per_sqs_eV"] if v is not None]
        ax.scatter(xs + rng.uniform(-0.05, 0.05, len(values)), values, s=14, color=colour, alpha=0.6,
                   label=f"{calc}: SQS" if x == 0 else None)
        if s["mean_eV"] is not None:
            lo, hi = s.get("t95_eV") or s["ci95_eV"]  # Student t: with few SQS the bootstrap is too narrow
            face = colour if s["interval_meaningful"] else "white"  # open: interval not meaningful
            ax.errorbar([xs], [s["mean_eV"]], yerr=[[s["mean_eV"] - lo], [hi - s["mean_eV"]]], fmt="o",
                        color=colour, ms=7, capsize=4, mfc=face,
                        label=f"{calc}: mean, 95 % t interval" if x == 0 else None)
        if s["pristine_eV"] is not None:
            ax.scatter([xs], [s["pristine_eV"]], marker="D", s=50, color="black", facecolor="none",
                       label=f"{calc}: pristine" if x == 0 else None)
        if s["n_no_path"]:
            ax.annotate(f"{s['n_no_path']}/{s['n_sqs']}\nno path", (xs, 0.02),
                        xycoords=("data", "axes fraction"), ha="center", fontsize=6, color=colour)


def _bins(doc: dict) -> np.ndarray:
    """Common bins over every calculator's hop barriers (25 between the extremes)."""
    values = [v for c in doc["calculators"] for d in doc["per_calculator"][c]["hop_barriers_eV"].values()
              if d for v in d["values_eV"]]
    if not values:
        return np.linspace(0.0, 1.0, 26)
    lo, hi = min(values), max(values)
    return np.linspace(lo - 0.05, hi + 0.05, 26)


def _fractions(dist: dict) -> np.ndarray:
    """Weights (multiplicities) normalised to 1: cells of different size compare."""
    w = np.asarray(dist["weights"], dtype=float)
    return w / w.sum()


def _draw_histogram(ax, barriers: dict, calc: str, colour: str, bins: np.ndarray, first: bool) -> None:
    """Fractions of hops per bin: the SQS filled, the pristine cell as a dashed outline."""
    sqs = barriers["sqs"]
    if sqs["values_eV"]:
        ax.hist(sqs["values_eV"], bins=bins, weights=_fractions(sqs), color=colour, alpha=0.45,
                label=f"{calc}: SQS ({len(sqs['values_eV'])} refined hop classes)")
    ref = barriers["pristine"]
    if ref and ref["values_eV"]:
        ax.hist(ref["values_eV"], bins=bins, weights=_fractions(ref), histtype="step", lw=1.6, color=colour,
                ls="--", label=f"{calc}: pristine ({len(ref['values_eV'])} refined hop class(es))")
    if first and not sqs["values_eV"] and not (ref and ref["values_eV"]):
        ax.text(0.5, 0.5, "no refined hop", transform=ax.transAxes, ha="center")
