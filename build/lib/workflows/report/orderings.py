"""Figure of an alkali orderings study (`workflows.studies.orderings`): does the Ewald ranking
pick the MLIP's lowest ordering?"""

from __future__ import annotations

from pathlib import Path

from workflows.report.plotting import COLOURS, figure, save


def plot_orderings(doc: dict, path: str | Path) -> Path:
    """Two panels over the Ewald rank: every ordering's Ewald energy, and the relaxed ones' MLIP
    energy (meV/atom above the lowest; hollow: not converged; star: kept)."""
    fig, (ax1, ax2) = figure(ncols=2, size=(11, 4.2))
    cands = doc["candidates"]
    relaxed = [c for c in cands if c["relaxed"]]
    e0 = min(c["ewald_eV_per_atom"] for c in cands)
    ax1.plot([c["ewald_rank"] for c in cands], [1000 * (c["ewald_eV_per_atom"] - e0) for c in cands], "o",
             ms=3, color="0.6", label=f"all {len(cands)} orderings")
    ax1.plot([c["ewald_rank"] for c in relaxed], [1000 * (c["ewald_eV_per_atom"] - e0) for c in relaxed],
             "o", ms=6, color=COLOURS[0], label=f"relaxed with {doc['calculator']}" if relaxed else None)
    ax1.set_xlabel("Ewald rank (0 = lowest)")
    ax1.set_ylabel("Ewald energy above the lowest (meV/atom)")
    ax1.set_yscale("symlog", linthresh=10)  # a few close Na pairs sit eV above the rest
    if relaxed:
        ax1.legend(fontsize=8)
        _mlip_panel(ax2, doc, relaxed)
    else:
        ax2.text(0.5, 0.5, "no MLIP relaxation (--n-relax 0):\nkept the lowest Ewald energies",
                 ha="center", va="center", transform=ax2.transAxes)
        ax2.set_axis_off()
    fig.suptitle(f"{doc['formula']} ({doc['source']}): {doc['n_found']} orderings of {doc['n_species']} "
                 f"{doc['species']} on {doc['n_sites']} sites ({doc['n_cells']} parent cells)", fontsize=10)
    return save(fig, path)


def _mlip_panel(ax, doc: dict, relaxed: list[dict]) -> None:
    m0 = min(c["mlip_energy_per_atom_eV"] for c in relaxed)
    for c in relaxed:
        y = 1000 * (c["mlip_energy_per_atom_eV"] - m0)
        ax.plot(c["ewald_rank"], y, "o", ms=7, color=COLOURS[1],
                markerfacecolor=COLOURS[1] if c["converged"] else "none")
        ax.annotate(str(c["mlip_rank"]), (c["ewald_rank"], y), textcoords="offset points", xytext=(5, 4),
                    fontsize=7)
        if c["kept"]:
            ax.plot(c["ewald_rank"], y, "*", ms=16, color=COLOURS[2], markerfacecolor="none")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Ewald rank (0 = lowest)")
    ax.set_ylabel(f"{doc['calculator']} energy above the lowest (meV/atom)")
    picks = doc["ewald_picks_mlip_minimum"]
    ax.set_title(f"fixed-cell relaxation; labels: {doc['calculator']} rank; star: kept; Ewald "
                 f"{'picks' if picks else 'misses'} the {doc['calculator']} minimum", fontsize=8)
