"""Na-migration studies as `hecathode neb` runs them: one hop, several hops, or the hop
network, with one or two calculators, and their plots.

Folder layout under `out`: `<calculator>/hop-NN/` per NEB (endpoint and band
trajectories, `neb.json`), `<calculator>/network.json` for `--network`, and at the top
`neb.json` (all results and the summary) and `neb.png` (energy profiles), plus
`network.png` / `barriers.png` where they apply. Energies eV, lengths Å.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.neb import (
    NVPF_LITERATURE_EV,
    NVPF_REVIEW_EV,
    check_settings,
    neb_supercell,
    nvpf_comparison,
    run_neb,
    run_network,
    write_vasp_neb,
)
from structures.hops import DEFAULT_CUTOFF, distinct_hops, diverse_hops, find_hops, parse_hop
from structures.io import write_json
from structures.prototypes import load_structure, parent_cell


def load_cell(prototype: str | None, structure: str | Path | None) -> tuple[Atoms, str | None]:
    """The cell to study and the prototype it belongs to (None if unknown)."""
    if structure is not None:
        atoms = load_structure(structure)
        return atoms, atoms.info.get("prototype", prototype)
    if prototype is None:
        from structures.errors import HecathodeInputError

        raise HecathodeInputError("give --prototype P or --structure FILE")
    return parent_cell(prototype), prototype.lower()


def select_hops(atoms: Atoms, spec: str, n_hops: int, cutoff: float, pristine: bool):
    """The hops to run (after the cell has been made large enough): the nearest one; with
    n_hops > 1 the symmetry-distinct ones of that label pair (pristine) or hops covering
    different local environments (SQS)."""
    start, end = parse_hop(spec, atoms)
    if n_hops <= 1:
        return [find_hops(atoms, start, end, cutoff)[0]]
    if pristine:
        species = atoms.get_chemical_symbols()[list(atoms.arrays["site_label"]).index(start)]
        classes = [c for c in distinct_hops(atoms, species, cutoff)
                   if {c["hop"].start_label, c["hop"].end_label} == {start, end}]
        return [c["hop"] for c in classes[:n_hops]]
    return diverse_hops(atoms, start, end, n_hops, cutoff)


def is_disordered(atoms: Atoms) -> bool:
    """More than one element on one site label (an SQS rather than a pristine cell)."""
    labels = atoms.arrays.get("site_label")
    if labels is None:
        return False
    symbols = np.array(atoms.get_chemical_symbols())
    return any(len(set(symbols[labels == lab])) > 1 for lab in set(labels))


def summary(barriers: list[float]) -> dict:
    b = np.array(barriers, dtype=float)
    return {"n": int(len(b)), "min_eV": float(b.min()), "mean_eV": float(b.mean()),
            "max_eV": float(b.max())} if len(b) else {"n": 0}


def study(prototype: str | None, structure: str | Path | None, out_dir: str | Path, *,
          hop: str | None = None, network: bool = False, n_hops: int = 1, calculators: list[str],
          cutoff: float = DEFAULT_CUTOFF, pristine: str | None = None, write_inputs: bool = False,
          progress: Callable[[str], None] | None = None, callback=None, **neb_kwargs) -> dict:
    """Run the requested NEBs and write neb.json / plots in `out_dir`; returns neb.json."""
    from structures.errors import HecathodeInputError

    if (hop is None) == (not network):
        raise HecathodeInputError("give exactly one of --hop FROM:TO and --network")
    check_settings(**neb_kwargs)
    out = Path(out_dir)
    atoms, proto = load_cell(prototype, structure)
    doc: dict = {"prototype": proto, "structure": str(structure) if structure else None,
                 "calculators": calculators, "results": {}, "notes": []}
    if write_inputs:
        return _write_inputs(atoms, hop, out, cutoff, neb_kwargs)
    if network:
        d_max = max(c["hop"].length for c in distinct_hops(atoms, "Na", cutoff))
        cell = neb_supercell(atoms, d_max)
        if len(cell) != len(atoms):
            doc["notes"].append(f"network run in a {len(cell)}-atom supercell so that the longest hop "
                                f"({d_max:.2f} Å) stays clear of its periodic images")
        for name in calculators:
            net = run_network(cell, name, cutoff=cutoff, directory=out / name, progress=progress,
                              callback=callback, **neb_kwargs)
            doc["results"][name] = net
            if proto == "nvpf":
                perc = [v for v in net["percolation_barrier_eV"].values() if v is not None]
                if perc:
                    doc["notes"].append(f"{name}: lowest percolation barrier " + nvpf_comparison(min(perc)))
        write_json(out / "neb.json", doc)
        plot_network(doc, out / "network.png")
        return doc

    start, end = parse_hop(hop, atoms)
    first = find_hops(atoms, start, end, cutoff)[0]
    cell = neb_supercell(atoms, first.length)
    if len(cell) != len(atoms):
        doc["notes"].append(f"hop run in a {len(cell)}-atom supercell so that the hopping atom stays "
                            "clear of its vacancy's periodic images")
    disordered = is_disordered(cell)
    hops = select_hops(cell, hop, n_hops, cutoff, pristine=not disordered)
    doc["material"] = "high-entropy" if disordered else "pristine"
    for name in calculators:
        rows = []
        for k, h in enumerate(hops):
            if progress:
                progress(f"{name}: hop {k + 1}/{len(hops)} {h.name} ({h.length:.2f} Å)")
            res = run_neb(cell, h, name, directory=out / name / f"hop-{k:02d}", callback=callback,
                          **neb_kwargs)
            res.pop("images", None)
            rows.append(res)
        doc["results"][name] = {"hops": rows,
                                "summary": summary([r["forward_barrier_eV"] for r in rows])}
    if len(calculators) == 2:
        a, b = calculators
        diffs = [ra["forward_barrier_eV"] - rb["forward_barrier_eV"]
                 for ra, rb in zip(doc["results"][a]["hops"], doc["results"][b]["hops"], strict=True)]
        doc["mlip_difference_eV"] = {"pair": [a, b], "per_hop": diffs,
                                     "max_abs": float(np.max(np.abs(diffs)))}
        spread = doc["mlip_difference_eV"]["max_abs"]
        doc["notes"].append(f"{a} vs {b}: barriers differ by up to {spread:.3f} eV (the spread of two "
                            "universal potentials: an estimate of the MLIP uncertainty)")
    if pristine:
        ref_cell = neb_supercell(parent_cell(pristine), first.length)
        ref_hops = select_hops(ref_cell, hop, 1, cutoff, pristine=True)
        ref = run_neb(ref_cell, ref_hops[0], calculators[0],
                      directory=out / calculators[0] / "pristine", callback=callback, **neb_kwargs)
        ref.pop("images", None)
        doc["pristine"] = {"prototype": pristine, "calculator": calculators[0], "result": ref}
    if proto == "nvpf" or (pristine or "").lower() == "nvpf":
        for name in calculators:
            s = doc["results"][name]["summary"]
            best = s["min_eV"] if s["n"] else 0.0
            doc["notes"].append(f"{name}: {doc['material']} {hop} " + nvpf_comparison(best, doc["material"]))
        doc["nvpf_reference"] = {"review_eV": NVPF_REVIEW_EV, "literature_range_eV": list(NVPF_LITERATURE_EV)}
    for name in calculators:
        for r in doc["results"][name]["hops"]:
            if r["saddle"] == "endpoint":
                doc["notes"].append(f"{name}: {r['hop']['start_label']}->{r['hop']['end_label']} has its "
                                    "maximum at an endpoint (no interior saddle)")
                break
    write_json(out / "neb.json", doc)
    plot_profiles(doc, out / "neb.png")
    if len(hops) > 1 or pristine:
        plot_barriers(doc, out / "barriers.png")
    return doc


def _write_inputs(atoms: Atoms, hop: str | None, out: Path, cutoff: float, kw: dict) -> dict:
    """VASP NEB folder from CHGNet-relaxed endpoints (no VASP needed to write it)."""
    from calculators.neb import endpoints
    from calculators.relax import relax
    from structures.errors import HecathodeInputError

    if hop is None:
        raise HecathodeInputError("--write-inputs needs --hop FROM:TO")
    start, end = parse_hop(hop, atoms)
    first = find_hops(atoms, start, end, cutoff)[0]
    cell = neb_supercell(atoms, first.length)
    h = find_hops(cell, start, end, cutoff)[0]
    initial, final, _ = endpoints(cell, h)
    ends = [relax(x, "chgnet", fmax=0.05, relax_cell=False)["atoms"] for x in (initial, final)]
    n_images = kw.get("n_images", 5)
    written = write_vasp_neb(ends[0], ends[1], n_images, out / "vasp-neb", kw.get("preset"))
    doc = {"vasp_neb": str(out / "vasp-neb"), "files": [str(p) for p in written], "hop": h.as_dict(),
           "notes": ["endpoints pre-relaxed with CHGNet at fixed cell; images by IDPP; LCLIMB/IOPT "
                     "need VTST"]}
    write_json(out / "neb.json", doc)
    return doc


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.5, 4.2))


def _save(fig, path: Path) -> None:
    """Write the figure atomically as PNG and free it."""
    import matplotlib.pyplot as plt

    from structures.io import atomic_write

    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))
    plt.close(fig)


def plot_profiles(doc: dict, path: Path) -> None:
    """Energy along the band for every hop and calculator (eV vs reaction coordinate Å)."""
    fig, ax = _figure()
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
    _save(fig, path)


def plot_barriers(doc: dict, path: Path) -> None:
    """Barrier of every hop per calculator (high-entropy environments) beside the pristine one."""
    fig, ax = _figure()
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
    _save(fig, path)


def plot_network(doc: dict, path: Path) -> None:
    """Effective barrier of every distinct hop vs its length, with the percolation barriers."""
    fig, ax = _figure()
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
    _save(fig, path)
