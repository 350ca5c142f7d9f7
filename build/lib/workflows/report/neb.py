"""Figures of a Na-migration study (`workflows.studies.neb_study`): energy profiles, barriers per
local environment beside the pristine hop, and the hop network with its percolation barriers.
Each takes the study's neb.json document. Energies eV, lengths Å."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calculators.neb import NVPF_LITERATURE_EV
from workflows.report.plotting import figure, save


def plot_profiles(doc: dict, path: Path) -> None:
    """Energy along the band for every hop and calculator (eV vs reaction coordinate Å)."""
    fig, ax = figure()
    for name, res in doc["results"].items():
        for k, r in enumerate(res["hops"]):
            s, e = r["reaction_coordinate_A"], r["image_energies_eV"]
            ax.plot(s, e, "o-", ms=4, label=f"{name} {r['hop']['start_label']}→{r['hop']['end_label']} #{k}"
                    f" ({r['forward_barrier_eV']:.3f} eV{'' if r['converged'] else ', NOT converged'})")
    if "pristine" in doc:
        r = doc["pristine"]["result"]
        ax.plot(r["reaction_coordinate_A"], r["image_energies_eV"], "k--", lw=2,
                label=f"pristine {doc['pristine']['prototype']} ({r['forward_barrier_eV']:.3f} eV)")
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("E − E(initial) (eV)")
    ax.legend(fontsize=6)
    ax.set_title(f"Na vacancy hops, {doc['prototype'] or doc['structure']}", fontsize=10)
    save(fig, path)


def plot_barriers(doc: dict, path: Path) -> None:
    """Barrier of every hop per calculator (high-entropy environments) beside the pristine one."""
    fig, ax = figure()
    for c, (name, res) in enumerate(doc["results"].items()):
        b = [r["forward_barrier_eV"] for r in res["hops"]]
        env = [",".join(f"{el}{n}" for el, n in r["hop"]["environment"].items()) for r in res["hops"]]
        ax.scatter(np.full(len(b), c) + np.linspace(-0.15, 0.15, len(b)), b, label=name, zorder=3)
        for x, y, t in zip(np.full(len(b), c) + np.linspace(-0.15, 0.15, len(b)), b, env, strict=True):
            ax.annotate(t, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    if "pristine" in doc:
        ax.axhline(doc["pristine"]["result"]["forward_barrier_eV"], color="k", ls="--",
                   label=f"pristine {doc['pristine']['prototype']}")
    if doc.get("nvpf_reference"):
        lo, hi = doc["nvpf_reference"]["literature_range_eV"]
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, label="DFT literature (NVPF)")
    ax.set_xticks(range(len(doc["results"])), list(doc["results"]))
    ax.set_ylabel("forward barrier (eV)")
    ax.legend(fontsize=7)
    ax.set_title(f"{doc.get('material', '')} hops: local metal environment at each path", fontsize=10)
    save(fig, path)


def plot_network(doc: dict, path: Path) -> None:
    """Effective barrier of every distinct hop vs its length, with the percolation barriers."""
    fig, ax = figure()
    for name, net in doc["results"].items():
        done = [h for h in net["hops"] if "effective_barrier_eV" in h]
        ax.scatter([h["length_A"] for h in done], [h["effective_barrier_eV"] for h in done], label=name,
                   zorder=3)
        for h in done:
            ax.annotate(f"{h['start_label']}–{h['end_label']}", (h["length_A"], h["effective_barrier_eV"]),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
        by_energy: dict[float, list[str]] = {}
        for axis, e in net["percolation_barrier_eV"].items():
            if e is not None:
                by_energy.setdefault(round(e, 6), []).append(axis)
        for e, axes in by_energy.items():
            ax.axhline(e, ls=":", lw=1, color="gray")
            ax.annotate(f"{name}: percolates along {', '.join(axes)} at {e:.3f} eV", (0.01, e), fontsize=7,
                        xycoords=("axes fraction", "data"), xytext=(0, 3), textcoords="offset points")
        blocked = [a for a, e in net["percolation_barrier_eV"].items() if e is None]
        if blocked:
            ax.annotate(f"{name}: no path along {', '.join(blocked)} with hops ≤ {net['cutoff_A']:g} Å",
                        (0.01, 0.02), xycoords="axes fraction", fontsize=7)
    if doc["prototype"] == "nvpf":
        ax.axhspan(*NVPF_LITERATURE_EV, color="tab:green", alpha=0.15, label="DFT literature")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("hop length (Å)")
    ax.set_ylabel("saddle energy − lowest endpoint (eV)")
    ax.legend(fontsize=7)
    ax.set_title(f"Na hop network, {doc['prototype'] or doc['structure']}", fontsize=10)
    save(fig, path)


def plot_study(doc: dict, out_dir: str | Path) -> list[Path]:
    """The figures of one neb.json: network.png for a network, else neb.png (and barriers.png
    when there are several hops or a pristine reference)."""
    out = Path(out_dir)
    if any("percolation_barrier_eV" in r for r in doc["results"].values()):
        plot_network(doc, out / "network.png")
        return [out / "network.png"]
    plot_profiles(doc, out / "neb.png")
    written = [out / "neb.png"]
    if doc.get("pristine") or any(len(r["hops"]) > 1 for r in doc["results"].values()):
        plot_barriers(doc, out / "barriers.png")
        written.append(out / "barriers.png")
    return written
