"""Na-migration studies as `hecathode neb` runs them: one hop, several hops, or the hop
network, with one or two calculators (figures: `workflows.report.neb.plot_study`).

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
)
from calculators.network import run_network
from calculators.screening import check_screen
from calculators.vasp_calc import write_vasp_neb
from structures.hops import DEFAULT_CUTOFF, distinct_hops, diverse_hops, find_hops, parse_hop
from structures.io import write_json
from structures.prototypes import load_structure, parent_cell
from workflows.summary import min_mean_max


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


def study(prototype: str | None, structure: str | Path | None, out_dir: str | Path, *,
          hop: str | None = None, network: bool = False, n_hops: int = 1, calculators: list[str],
          cutoff: float = DEFAULT_CUTOFF, pristine: str | None = None, write_inputs: bool = False,
          progress: Callable[[str], None] | None = None, callback=None, screen: str = "none",
          screen_margin_eV: float | None = None, workers: int = 1, **neb_kwargs) -> dict:
    """Run the requested NEBs and write neb.json in `out_dir`; returns neb.json's document.

    Stages: load the cell -> the hop network (`network`) or the hops of `hop` with each
    calculator -> the two calculators compared, the pristine reference, notes -> neb.json.
    `neb_kwargs` go to `calculators.neb.run_neb`; `screen` (idpp, short-neb, none),
    `screen_margin_eV` (None: the method's default) and `workers` to
    `calculators.network.run_network`. Energies eV, lengths Å.
    """
    from structures.errors import HecathodeInputError

    if (hop is None) == (not network):
        raise HecathodeInputError("give exactly one of --hop FROM:TO and --network")
    check_settings(**neb_kwargs)
    check_screen(screen, screen_margin_eV)
    out = Path(out_dir)
    atoms, proto = load_cell(prototype, structure)
    doc: dict = {"prototype": proto, "structure": str(structure) if structure else None,
                 "calculators": calculators, "results": {}, "notes": []}
    if write_inputs:
        return _write_inputs(atoms, hop, out, cutoff, neb_kwargs)
    neb_run = {"callback": callback, **neb_kwargs}  # what each run_neb gets
    if network:
        _network_study(doc, atoms, out, cutoff, progress,
                       {**neb_run, "screen": screen, "margin_eV": screen_margin_eV, "workers": workers})
    else:
        _hop_study(doc, atoms, out, hop, n_hops, cutoff, pristine, progress, neb_run)
    write_json(out / "neb.json", doc)
    return doc


def _network_study(doc: dict, atoms: Atoms, out: Path, cutoff: float, progress, neb_run: dict) -> None:
    """The hop network with each calculator, in a supercell long enough for the longest hop."""
    from calculators.neb import longest_hop_A

    d_max = longest_hop_A(atoms, "Na", cutoff)
    cell = neb_supercell(atoms, d_max)
    if len(cell) != len(atoms):
        doc["notes"].append(f"network run in a {len(cell)}-atom supercell so that the longest hop "
                            f"({d_max:.2f} Å) stays clear of its periodic images")
    for name in doc["calculators"]:
        net = run_network(cell, name, cutoff=cutoff, directory=out / name, progress=progress, **neb_run)
        doc["results"][name] = net.to_json()
        if doc["prototype"] == "nvpf":
            perc = [v for v in net.percolation_barrier_eV.values() if v is not None]
            if perc:
                doc["notes"].append(f"{name}: lowest percolation barrier " + nvpf_comparison(min(perc)))


def _hop_study(doc: dict, atoms: Atoms, out: Path, hop: str, n_hops: int, cutoff: float,
               pristine: str | None, progress, neb_run: dict) -> None:
    """`n_hops` hops of the `hop` label pair with each calculator, compared with each other and
    with the same hop in the `pristine` prototype."""
    start, end = parse_hop(hop, atoms)
    first = find_hops(atoms, start, end, cutoff)[0]
    cell = neb_supercell(atoms, first.length)
    if len(cell) != len(atoms):
        doc["notes"].append(f"hop run in a {len(cell)}-atom supercell so that the hopping atom stays "
                            "clear of its vacancy's periodic images")
    disordered = is_disordered(cell)
    hops = select_hops(cell, hop, n_hops, cutoff, pristine=not disordered)
    doc["material"] = "high-entropy" if disordered else "pristine"
    for name in doc["calculators"]:
        rows = _run_hops(cell, hops, name, out / name, progress, neb_run)
        doc["results"][name] = {"hops": rows,
                                "summary": min_mean_max(r["forward_barrier_eV"] for r in rows)}
    if len(doc["calculators"]) == 2:
        _compare_calculators(doc)
    if pristine:
        ref_cell = neb_supercell(parent_cell(pristine), first.length)
        ref_hop = select_hops(ref_cell, hop, 1, cutoff, pristine=True)[0]
        ref = run_neb(ref_cell, ref_hop, doc["calculators"][0],
                      directory=out / doc["calculators"][0] / "pristine", **neb_run)
        doc["pristine"] = {"prototype": pristine, "calculator": doc["calculators"][0],
                           "result": ref.to_json()}
    _add_notes(doc, hop, pristine)


def _run_hops(cell: Atoms, hops: list, name: str, folder: Path, progress, neb_run: dict) -> list[dict]:
    """neb.json documents of `hops` with calculator `name`, in folder/hop-NN."""
    rows = []
    for k, h in enumerate(hops):
        if progress:
            progress(f"{name}: hop {k + 1}/{len(hops)} {h.name} ({h.length:.2f} Å)")
        res = run_neb(cell, h, name, directory=folder / f"hop-{k:02d}", **neb_run)
        rows.append(res.to_json())
    return rows


def _compare_calculators(doc: dict) -> None:
    """Per-hop barrier differences of the two calculators: an estimate of the MLIP uncertainty."""
    a, b = doc["calculators"]
    diffs = [ra["forward_barrier_eV"] - rb["forward_barrier_eV"]
             for ra, rb in zip(doc["results"][a]["hops"], doc["results"][b]["hops"], strict=True)]
    doc["mlip_difference_eV"] = {"pair": [a, b], "per_hop": diffs,
                                 "max_abs": float(np.max(np.abs(diffs)))}
    spread = doc["mlip_difference_eV"]["max_abs"]
    doc["notes"].append(f"{a} vs {b}: barriers differ by up to {spread:.3f} eV (the spread of two "
                        "universal potentials: an estimate of the MLIP uncertainty)")


def _add_notes(doc: dict, hop: str, pristine: str | None) -> None:
    """NVPF barriers beside the literature; hops whose band maximum is an endpoint."""
    if doc["prototype"] == "nvpf" or (pristine or "").lower() == "nvpf":
        for name in doc["calculators"]:
            s = doc["results"][name]["summary"]
            best = s["min_eV"] if s["n"] else 0.0
            doc["notes"].append(f"{name}: {doc['material']} {hop} " + nvpf_comparison(best, doc["material"]))
        doc["nvpf_reference"] = {"review_eV": NVPF_REVIEW_EV, "literature_range_eV": list(NVPF_LITERATURE_EV)}
    for name in doc["calculators"]:
        for r in doc["results"][name]["hops"]:
            if r["saddle"] == "endpoint":
                doc["notes"].append(f"{name}: {r['hop']['start_label']}->{r['hop']['end_label']} has its "
                                    "maximum at an endpoint (no interior saddle)")
                break


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
    ends = [relax(x, "chgnet", fmax=0.05, relax_cell=False).atoms for x in (initial, final)]
    n_images = kw.get("n_images", 5)
    written = write_vasp_neb(ends[0], ends[1], n_images, out / "vasp-neb", kw.get("preset"))
    doc = {"vasp_neb": str(out / "vasp-neb"), "files": [str(p) for p in written], "hop": h.as_dict(),
           "notes": ["endpoints pre-relaxed with CHGNet at fixed cell; images by IDPP; LCLIMB/IOPT "
                     "need VTST"]}
    write_json(out / "neb.json", doc)
    return doc
