"""The vacancy-hop network of a cell: shared endpoints, screening, CI-NEB where percolation
needs it.

`run_network(atoms, "chgnet", directory="run", screen="short-neb")`, in four stages:
1. hops: every symmetry-distinct `species` hop up to `cutoff` Å (`structures.hops.
   distinct_hops`; in a P1 SQS every hop), each with its local metal environment;
2. vacancy states: one relaxation per orbit of the sites the hops touch
   (`calculators.network_states`), shared by every hop (folder `sites/`); the relaxed site
   energies and their spread are recorded;
3. screening (`screen` idpp or short-neb, `calculators.screening`): a cheap estimate of every
   hop's barrier (`screen.json`, resumable); `none` skips it and refines every hop;
4. refinement: climbing-image NEB (`calculators.neb.run_neb` with the shared endpoints, folders
   `hop-NN/`, resumable) of the lowest unrefined hop whose estimate is at most the highest
   finite percolation threshold + `margin_eV`, thresholds recomputed after each, until no
   such hop is left: every axis's threshold is then set by converged CI-NEB hops.

Effective barriers are saddle energies minus the lowest clean vacancy-state energy; the
percolation barrier per axis is `structures.hops.percolation_barriers`. The result, a
`calculators.results.HopNetwork`, is written atomically to `network.json`. Energies eV,
lengths Å.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.neb import NEBInputError, _check_apart, _displacements, _neb_calculator, check_cell, run_neb
from calculators.network_states import hop_ends, relax_vacancy_states
from calculators.results import HopNetwork
from calculators.screening import DEFAULT_MARGIN_EV, check_screen, screen_hop
from structures.io import write_json

RECONSTRUCTION_A = 1.0  # an endpoint atom (other than the hopping one) that moved farther has
#                         relaxed into another site: the endpoint is not the state the hop assumed

# the keys of an NEB result a network hop entry keeps
HOP_KEYS = ("forward_barrier_eV", "reverse_barrier_eV", "reaction_energy_eV", "saddle", "converged",
            "endpoint_energies_eV", "force_calls", "endpoint_max_displacement_A")
_ENDPOINT_KEYS = ("use_symmetry", "rattle", "seed", "steps", "callback")


def run_network(atoms: Atoms, calculator, *, species: str = "Na", cutoff: float = 5.0,
                directory: str | Path | None = None, progress: Callable[[str], None] | None = None,
                screen: str = "none", margin_eV: float = DEFAULT_MARGIN_EV, **neb_kwargs) -> HopNetwork:
    """The hop network and its percolation barrier along a, b, c (see the module docstring).

    `neb_kwargs` go to `calculators.neb.run_neb` (n_images, fmax, ...; calculator settings
    too). Endpoints in which another atom moved more than RECONSTRUCTION_A between the two
    states are flagged `reconstructed` and neither set the energy zero nor enter percolation;
    hops whose endpoints relax into each other are recorded (`skipped`: why) and left out.
    """
    from structures.hops import distinct_hops, local_environment

    screen = check_screen(screen, margin_eV)
    classes = distinct_hops(atoms, species, cutoff)
    check_cell(atoms, max((c["hop"] for c in classes), key=lambda h: h.length))
    run_dir = Path(directory) if directory is not None else None
    params = set(inspect.signature(run_neb).parameters)
    overrides = {k: v for k, v in neb_kwargs.items() if k not in params}
    calc, _, _ = _neb_calculator(calculator, neb_kwargs.get("preset"), atoms, run_dir, overrides)
    neb_run = {k: v for k, v in neb_kwargs.items() if k in params}
    fmax = neb_run.get("endpoint_fmax") or neb_run.get("fmax", 0.05)
    endpoint_run = {k: neb_run[k] for k in _ENDPOINT_KEYS if k in neb_run}
    states = relax_vacancy_states(atoms, [c["hop"] for c in classes], calc, fmax=fmax, directory=run_dir,
                                  progress=progress, **endpoint_run)
    hops, ends = [], {}
    for k, cls in enumerate(classes):
        hop = cls["hop"]
        entry = {"class": k, "multiplicity": cls["multiplicity"], **hop.as_dict(),
                 "environment": local_environment(atoms, hop)}
        try:
            ends[k] = _shared_ends(states, atoms, hop, entry)
        except NEBInputError as exc:
            entry["skipped"] = str(exc)
        hops.append(entry)
    e_ref = _reference_energy(hops)
    _screen(hops, ends, screen, calc, e_ref, run_dir, progress, neb_run.get("spring", 0.1))
    edges = _refine(atoms, classes, hops, ends, calc, e_ref, margin_eV, run_dir, progress, neb_run)
    return _result(atoms, species, cutoff, e_ref, hops, edges, states, screen, margin_eV, run_dir)


def _shared_ends(states, atoms: Atoms, hop, entry: dict):
    """The hop's relaxed endpoints from the shared states; fills endpoint energies, displacement
    and `reconstructed` in `entry`; raises NEBInputError when they relaxed into each other."""
    ini, fin = hop_ends(states, atoms, hop)
    moving = hop.start - (1 if hop.end < hop.start else 0)
    _check_apart(ini.atoms, fin.atoms, moving, hop)
    shift = _displacements(ini.atoms, fin.atoms, moving)
    entry.update({"endpoint_energies_eV": [ini.energy_eV, fin.energy_eV],
                  "endpoint_max_displacement_A": shift, "reconstructed": shift > RECONSTRUCTION_A})
    return ini, fin


def _reference_energy(hops: list[dict]) -> float:
    """Lowest endpoint energy of the clean hops (all usable hops when none is clean)."""
    usable = [h for h in hops if "skipped" not in h]
    if not usable:
        raise NEBInputError("no hop of the network has usable endpoints")
    clean = [h for h in usable if not h["reconstructed"]] or usable
    return min(min(h["endpoint_energies_eV"]) for h in clean)


def _screen(hops: list[dict], ends: dict, screen: str, calc, e_ref: float, run_dir: Path | None,
            progress, spring: float) -> None:
    """Every usable hop's estimate (`screened_barrier_eV`, effective), cached in screen.json."""
    path = run_dir / "screen.json" if run_dir is not None else None
    cache = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    for h in hops:
        h.update({"screen_estimate": None if screen == "none" else screen, "screened_barrier_eV": None,
                  "refined": False})
        if screen == "none" or h["class"] not in ends:
            continue
        key = str(h["class"])
        if cache.get(key, {}).get("method") != screen:
            if progress:
                progress(f"screen ({screen}) hop {h['class'] + 1}/{len(hops)}")
            cache[key] = screen_hop(screen, *ends[h["class"]], calc, spring=spring)
            if path is not None:
                write_json(path, cache)
        h["screened_barrier_eV"] = cache[key]["saddle_energy_eV"] - e_ref
        h["screen_force_calls"] = cache[key]["force_calls"]


def _refine(atoms: Atoms, classes: list[dict], hops: list[dict], ends: dict, calc, e_ref: float,
            margin_eV: float, run_dir: Path | None, progress, neb_run: dict) -> list:
    """CI-NEB of the hops that can set a percolation threshold (all of them without screening),
    lowest estimate first; returns the percolation edges (hop, effective barrier eV)."""
    from structures.hops import percolation_barriers

    usable = [h for h in hops if h["class"] in ends]
    while True:
        edges = [(m, _value(h)) for h in usable if not h["reconstructed"] and _value(h) is not None
                 for m in classes[h["class"]]["members"]]
        finite = [v for v in percolation_barriers(atoms, edges).values() if v is not None]
        limit = max(finite) + margin_eV if finite else float("inf")
        todo = [h for h in usable if not h["refined"] and "skipped" not in h
                and (_value(h) is None or _value(h) <= limit + 1e-9)]
        if not todo:
            return edges
        h = min(todo, key=lambda x: -np.inf if _value(x) is None else _value(x))
        if progress:
            progress(f"CI-NEB hop {h['class'] + 1}/{len(hops)}: {h['start_label']}->{h['end_label']}, "
                     f"{h['length_A']:.2f} Å")
        _neb_entry(atoms, h, classes[h["class"]]["hop"], ends[h["class"]], calc, e_ref,
                   run_dir / f"hop-{h['class']:02d}" if run_dir else None, neb_run)


def _value(h: dict) -> float | None:
    """A hop's effective barrier as it stands: CI-NEB when refined, else the estimate (None: none)."""
    if "skipped" in h:
        return None
    return h["effective_barrier_eV"] if h["refined"] else h["screened_barrier_eV"]


def _neb_entry(atoms: Atoms, h: dict, hop, ends, calc, e_ref: float, directory: Path | None,
               neb_run: dict) -> None:
    """Run the hop's CI-NEB between its shared endpoints and put its numbers in `h`."""
    h["refined"] = True
    try:
        result = run_neb(atoms, hop, calc, directory=directory, relaxed_ends=ends, **neb_run)
    except NEBInputError as exc:
        h["skipped"] = str(exc)
        return
    doc = result.to_json()
    h.update({key: doc[key] for key in HOP_KEYS})
    h["saddle_energy_eV"] = result.saddle_energy_eV
    h["effective_barrier_eV"] = result.saddle_energy_eV - e_ref


def _result(atoms: Atoms, species: str, cutoff: float, e_ref: float, hops: list[dict], edges: list,
            states, screen: str, margin_eV: float, run_dir: Path | None) -> HopNetwork:
    """The HopNetwork (percolation from the final edges), written to network.json."""
    from structures.hops import crystal_axes, percolation_barriers

    if not any(h.get("refined") and "skipped" not in h for h in hops):
        raise NEBInputError("no hop of the network gave a barrier")
    axes = crystal_axes(atoms)
    site_energies = states.site_energies_eV()
    calls = {"vacancy_states": states.calls[0],
             "screening": sum(h.get("screen_force_calls", 0) for h in hops),
             "refinement": sum(h.get("force_calls", 0) for h in hops if h.get("refined"))}
    result = HopNetwork(
        species=species, cutoff_A=cutoff, n_atoms=len(atoms), reference_energy_eV=e_ref, hops=hops,
        percolation_barrier_eV=percolation_barriers(atoms, edges, axes),
        axes_A=np.round(axes, 4).tolist(),
        converged=all(h.get("converged", True) for h in hops if h.get("refined")),
        site_energies_eV=site_energies, site_energy_spread_eV=max(site_energies.values()),
        screen=screen, screen_margin_eV=margin_eV, n_refined=sum(bool(h.get("refined")) for h in hops),
        force_calls={**calls, "total": sum(calls.values())})
    if run_dir is not None:
        write_json(run_dir / "network.json", result.to_json())
    return result
