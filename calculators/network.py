"""The vacancy-hop network of a cell: shared endpoints, screening, CI-NEB where percolation
needs it.

`run_network(atoms, "chgnet", directory="run", screen="short-neb", workers=2)`, in stages that
a cluster workflow can also run as separate jobs on the same folder
(`workflows.fireworks.network_tasks`):
1. `plan_network`: every symmetry-distinct `species` hop up to `cutoff` Å (`structures.hops.
   distinct_hops`; in a P1 SQS every hop), each with its local metal environment, and the
   vacancy states: one relaxation per orbit of the sites the hops touch
   (`calculators.network_states`, folder `sites/`), shared by every hop; the relaxed site
   energies and their spread are recorded;
2. `screen_network` (`screen` idpp or short-neb, `calculators.screening`): a cheap estimate of
   every hop's barrier (`screen.json`, resumable); `none` skips it and refines every hop;
3. `hops_to_refine` / `refine_until_exact`: climbing-image NEB (`calculators.neb.run_neb`
   between the shared endpoints, folders `hop-NN/`, resumable) of only the hops that can still
   change a percolation barrier (bound and refine: see `hops_to_refine`), nearest the likely
   threshold first, the list recomputed as each hop finishes (a free worker takes the next at
   once; a running hop the list no longer holds is stopped), until the barriers are exact;
4. `network_result`: the percolation barriers, written to `network.json`.

Effective barriers are saddle energies minus the lowest clean vacancy-state energy; the
percolation barrier per axis is `structures.hops.percolation_barriers`. Independent
relaxations, estimates and NEBs run side by side in `workers` processes (one torch thread
each, `calculators.workers`). Energies eV, lengths Å, times s.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.neb import NEBInputError, _check_apart, _displacements, check_cell, run_neb
from calculators.network_states import CalculatorSpec, VacancyStates, hop_ends, relax_vacancy_states
from calculators.network_states import relax_host as relax_host_cell
from calculators.results import HopNetwork, Relaxation
from calculators.screening import MARGIN_ABOVE_EV, check_screen, default_margin, screen_hop
from calculators.workers import InFlight, JobStopped, Workers, stop_check
from structures.io import write_json

RECONSTRUCTION_A = 1.0  # an atom (other than the hopping one) that moves farther between the two
#                         endpoints makes the hop a concerted move (`reconstructed`)

# the keys of an NEB result a network hop entry keeps
HOP_KEYS = ("forward_barrier_eV", "reverse_barrier_eV", "reaction_energy_eV", "saddle", "converged",
            "endpoint_energies_eV", "force_calls", "endpoint_max_displacement_A", "wall_time_s")
_ENDPOINT_KEYS = ("use_symmetry", "rattle", "seed", "steps", "callback")


@dataclass
class NetworkPlan:
    """A network between stages: its hops (entries filled stage by stage), shared endpoints,
    energy zero, and how to run its calculations."""

    atoms: Atoms
    species: str
    cutoff_A: float
    classes: list[dict]  # structures.hops.distinct_hops
    hops: list[dict]  # one entry per class, the network.json `hops`
    ends: dict[int, tuple[Relaxation, Relaxation]]  # class -> relaxed (initial, final)
    states: VacancyStates
    e_ref: float
    spec: CalculatorSpec
    neb_run: dict  # keywords of calculators.neb.run_neb
    directory: Path | None
    progress: Callable[[str], None] | None = None
    host: dict | None = None  # the host's relaxation (None: used as given), network.json `host`
    wall_time_s: dict[str, float] = field(default_factory=dict)  # per stage, this run
    guides: dict[int, Atoms] = field(default_factory=dict)  # class -> screened saddle (no folder)

    def say(self, line: str) -> None:
        if self.progress:
            self.progress(line)


def run_network(atoms: Atoms, calculator, *, species: str = "Na", cutoff: float = 5.0,
                directory: str | Path | None = None, progress: Callable[[str], None] | None = None,
                screen: str = "none", margin_eV: float | None = None, workers: int = 1,
                **neb_kwargs) -> HopNetwork:
    """The hop network and its percolation barrier along a, b, c (see the module docstring).

    `neb_kwargs` go to `calculators.neb.run_neb` (n_images, fmax, ...; calculator settings
    too). `margin_eV` None: the method's default (`calculators.screening.DEFAULT_MARGIN_EV`).
    Endpoints in which another atom moved more than RECONSTRUCTION_A between the two states are
    flagged `reconstructed` (a concerted move); they enter percolation like any hop when both
    ends are the network's shared vacancy states (the nodes of the graph: the move connects
    exactly those two states), and are left out otherwise (`in_percolation`); hops whose
    endpoints relax into each other are recorded (`skipped`: why) and left out. `workers` > 1
    needs the calculator by name (or class).
    """
    screen = check_screen(screen, margin_eV)
    if workers > 1 and not isinstance(calculator, str | type):
        raise NEBInputError("--workers > 1 needs the calculator by name (chgnet, sevenn, ...): a "
                            "ready calculator object cannot be sent to other processes")
    margin = default_margin(screen) if margin_eV is None else margin_eV
    with Workers(workers) as pool:
        plan = plan_network(atoms, calculator, species=species, cutoff=cutoff, directory=directory,
                            progress=progress, pool=pool, **neb_kwargs)
        screen_network(plan, screen, pool)
        refine_until_exact(plan, screen, margin, pool)
    return network_result(plan, screen, margin)


def plan_network(atoms: Atoms, calculator, *, species: str = "Na", cutoff: float = 5.0,
                 directory: str | Path | None = None, progress: Callable[[str], None] | None = None,
                 pool: Workers | None = None, relax_host: bool = True, **neb_kwargs) -> NetworkPlan:
    """Stage 1: the host relaxed (`relax_host`, ions + cell, symmetry kept), the hops, their
    shared relaxed endpoints (resumed / read back from `directory`) and the energy zero."""
    from structures.hops import distinct_hops, local_environment

    t0 = time.perf_counter()
    check_cell(atoms, max((c["hop"] for c in distinct_hops(atoms, species, cutoff)), key=lambda h: h.length))
    run_dir = Path(directory) if directory is not None else None
    params = set(inspect.signature(run_neb).parameters)
    overrides = {k: v for k, v in neb_kwargs.items() if k not in params}
    neb_run = {k: v for k, v in neb_kwargs.items() if k in params}
    spec = CalculatorSpec(calculator, neb_run.pop("preset", None), overrides)
    spec.get(atoms, run_dir)  # fails early (unknown calculator, VASP) and warms this process
    fmax = neb_run.get("endpoint_fmax") or neb_run.get("fmax", 0.05)
    endpoint_run = {k: neb_run[k] for k in _ENDPOINT_KEYS if k in neb_run}
    host = None
    if relax_host:
        done = relax_host_cell(atoms, spec, run_dir, fmax, endpoint_run.get("steps", 500), progress)
        host = {"energy_eV": done.energy_eV, "converged": done.converged,
                "force_calls": (done.steps or 0) + 1,
                "volume_change_percent": round(float(100 * (done.volume_A3 / atoms.get_volume() - 1)), 3)}
        atoms = done.atoms
    classes = distinct_hops(atoms, species, cutoff)  # of the relaxed host: the cell may have grown
    check_cell(atoms, max((c["hop"] for c in classes), key=lambda h: h.length))
    states = relax_vacancy_states(atoms, [c["hop"] for c in classes], spec, fmax=fmax, directory=run_dir,
                                  progress=progress, pool=pool, **endpoint_run)
    hops, ends = [], {}
    for k, cls in enumerate(classes):
        hop = cls["hop"]
        entry = {"class": k, "multiplicity": cls["multiplicity"], "refined": False, **hop.as_dict(),
                 "environment": local_environment(atoms, hop)}
        try:
            ends[k] = _shared_ends(states, atoms, hop, entry)
        except NEBInputError as exc:
            entry["skipped"] = str(exc)
        hops.append(entry)
    plan = NetworkPlan(atoms, species, cutoff, classes, hops, ends, states, _reference_energy(hops),
                       spec, {**neb_run, "preset": spec.preset}, run_dir, progress, host=host)
    plan.wall_time_s["vacancy_states"] = time.perf_counter() - t0
    return plan


def _shared_ends(states, atoms: Atoms, hop, entry: dict):
    """The hop's relaxed endpoints from the shared states; fills endpoint energies, displacement
    and `reconstructed` in `entry`; raises NEBInputError when they relaxed into each other."""
    ini, fin, shared = hop_ends(states, atoms, hop)
    moving = hop.start - (1 if hop.end < hop.start else 0)
    _check_apart(ini.atoms, fin.atoms, moving, hop)
    shift = _displacements(ini.atoms, fin.atoms, moving)
    entry.update({"endpoint_energies_eV": [ini.energy_eV, fin.energy_eV],
                  "endpoint_max_displacement_A": shift, "reconstructed": shift > RECONSTRUCTION_A,
                  "in_percolation": shared or shift <= RECONSTRUCTION_A})
    return ini, fin


def _reference_energy(hops: list[dict]) -> float:
    """Lowest endpoint energy of the clean hops (all usable hops when none is clean)."""
    usable = [h for h in hops if "skipped" not in h]
    if not usable:
        raise NEBInputError("no hop of the network has usable endpoints")
    clean = [h for h in usable if h["in_percolation"]] or usable
    return min(min(h["endpoint_energies_eV"]) for h in clean)


def _screen_job(spec: CalculatorSpec, method: str, initial: Relaxation, final: Relaxation,
                spring: float) -> dict:
    t0 = time.perf_counter()
    doc = screen_hop(method, initial, final, spec.get(initial.atoms), spring=spring)
    return {**doc, "wall_time_s": time.perf_counter() - t0}


def screen_network(plan: NetworkPlan, screen: str, pool: Workers | None = None) -> None:
    """Stage 2: every usable hop's estimate (`screened_barrier_eV`, effective), cached in
    screen.json (the short NEB's climbing images in screen/hop-NN.extxyz: the CI-NEB bands
    start through them, `plan.guides`); with `screen` none only the entries' fields are set."""
    t0 = time.perf_counter()
    path = plan.directory / "screen.json" if plan.directory is not None else None
    cache = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    for h in plan.hops:
        h.update({"screen_estimate": None if screen == "none" else screen, "screened_barrier_eV": None,
                  "refined": h.get("refined", False)})
    todo = [h for h in plan.hops if screen != "none" and h["class"] in plan.ends
            and cache.get(str(h["class"]), {}).get("method") != screen]
    if todo:
        plan.say(f"screening ({screen}) {len(todo)} of {len(plan.hops)} hops")
    batch = (pool.n if pool is not None else 1) * 4
    for first in range(0, len(todo), batch):  # saved after each batch: a kill loses little
        part = todo[first:first + batch]
        jobs = [(plan.spec, screen, *plan.ends[h["class"]], plan.neb_run.get("spring", 0.1)) for h in part]
        for h, doc in zip(part, (pool or Workers(1)).map(_screen_job, jobs), strict=True):
            if (image := doc.pop("image")) is not None:
                _save_guide(plan, h["class"], image)
            cache[str(h["class"])] = doc
        if path is not None:
            write_json(path, cache)
        plan.say(f"screened {min(first + batch, len(todo))}/{len(todo)} hops")
    for h in plan.hops:
        doc = cache.get(str(h["class"]))
        if screen != "none" and doc is not None and h["class"] in plan.ends:
            h["screened_barrier_eV"] = doc["saddle_energy_eV"] - plan.e_ref
            h["screen_force_calls"] = doc["force_calls"]
    plan.wall_time_s["screening"] = plan.wall_time_s.get("screening", 0.0) + time.perf_counter() - t0


def _guide_path(plan: NetworkPlan, k: int) -> Path | None:
    return plan.directory / "screen" / f"hop-{k:02d}.extxyz" if plan.directory is not None else None


def _save_guide(plan: NetworkPlan, k: int, image: Atoms) -> None:
    """Hop `k`'s short-NEB climbing image: screen/hop-NN.extxyz, or `plan.guides` without a folder."""
    from ase.io import write

    if (path := _guide_path(plan, k)) is None:
        plan.guides[k] = image
        return
    path.parent.mkdir(exist_ok=True)
    write(path, image)


def _guide(plan: NetworkPlan, h: dict) -> Atoms | None:
    """The image hop entry `h`'s CI-NEB band starts through (short-NEB screen only), or None."""
    from ase.io import read

    if h.get("screen_estimate") != "short-neb":
        return None
    if (path := _guide_path(plan, h["class"])) is None:
        return plan.guides.get(h["class"])
    return read(path) if path.is_file() else None


def percolation_edges(plan: NetworkPlan, value: Callable[[dict], float | None] | None = None) -> list:
    """(hop, effective barrier eV) of every member of every hop in percolation that has a value
    (`value(entry)`; default: CI-NEB where refined, else the estimate)."""
    value = value or _value
    return [(m, value(h)) for h in plan.hops if "skipped" not in h and h["in_percolation"]
            and value(h) is not None for m in plan.classes[h["class"]]["members"]]


def hops_to_refine(plan: NetworkPlan, screen: str, margin_eV: float) -> list[dict]:
    """Stage 3a: the unrefined hops to refine next, the likeliest to matter first (empty: every
    percolation barrier is known).

    Without screening every usable hop. With it, bound and refine: each unrefined hop's barrier
    lies in [L, U], L = max(estimate - `margin_eV`, its higher endpoint: the saddle lies above
    both), U = estimate + `calculators.screening.MARGIN_ABOVE_EV`. A percolation barrier can
    only rise when a hop's barrier rises, so with every unrefined hop at L each axis has a
    lower bound T_low, at U an upper bound T_high, and the true barrier lies between. Where they
    are equal on every axis that is the percolation barrier and nothing is left to refine.
    Elsewhere only a hop whose interval overlaps [T_low, T_high] of an axis can matter there
    (one wholly below is open, one wholly above closed at every threshold in between). Of
    those, the hops that alone move a bound (this hop at U with the others at L raises T_low,
    or at L with the others at U lowers T_high) are refined; when none does alone, all of them.
    An IDPP estimate of a concerted hop (`reconstructed`) is not used: interpolating several
    moving atoms passes far above the saddle (pristine NVPF, CHGNet: up to +1.7 eV), so only
    its endpoints bound it (L) and nothing bounds it above. Order: closest first to the
    threshold the current values give (CI-NEB where refined, else the estimate), where the
    percolation barrier most likely lies."""
    from structures.hops import crystal_axes, percolation_barriers, same_threshold

    usable = [h for h in plan.hops if h["class"] in plan.ends and "skipped" not in h and not h["refined"]]
    if screen == "none":
        return usable
    axes = crystal_axes(plan.atoms)
    interval = {h["class"]: _bounds(plan, h, screen, margin_eV) for h in usable}

    def thresholds(side: int, flipped: dict | None = None) -> dict[str, float | None]:
        def value(h: dict) -> float | None:
            return _value(h) if h["refined"] else interval[h["class"]][1 - side if h is flipped else side]
        return percolation_barriers(plan.atoms, percolation_edges(plan, value), axes)

    low, high = thresholds(0), thresholds(1)
    open_axes = [x for x in low if not same_threshold(low[x], high[x])]
    overlapping = [h for h in usable if h["in_percolation"]
                   and any(_overlaps(interval[h["class"]], low[x], high[x]) for x in open_axes)]
    critical = [h for h in overlapping
                if thresholds(0, h) != low or thresholds(1, h) != high]
    likely = [t for t in percolation_barriers(plan.atoms, percolation_edges(plan), axes).values()
              if t is not None]

    def distance(h: dict) -> float:
        value = _value(h) if _value(h) is not None else interval[h["class"]][0]
        return min((abs(value - t) for t in likely), default=0.0)

    return sorted(critical or overlapping, key=distance)


def _overlaps(bounds: tuple[float, float], low: float | None, high: float | None) -> bool:
    """Does the interval `bounds` meet [low, high] (high None: no upper bound)?"""
    return bounds[0] <= (float("inf") if high is None else high) + 1e-9 and bounds[1] >= low - 1e-9


def _bounds(plan: NetworkPlan, h: dict, screen: str, margin_eV: float) -> tuple[float, float]:
    """(L, U): an unrefined hop's effective barrier lies between them (see `hops_to_refine`)."""
    ends = max(h["endpoint_energies_eV"]) - plan.e_ref
    estimate = h["screened_barrier_eV"]
    if estimate is None or (screen == "idpp" and h["reconstructed"]):
        return ends, float("inf")
    return max(estimate - margin_eV, ends), max(estimate + MARGIN_ABOVE_EV[screen], ends)


def _neb_job(atoms: Atoms, hop, spec: CalculatorSpec, ends, directory: Path | None, neb_run: dict,
             guide: Atoms | None = None, stoppable: bool = False):
    """One hop's CI-NEB (in any process): (neb.json document, saddle energy eV), or the
    NEBInputError or JobStopped (`stoppable`: a STOP file in its folder), returned."""
    if stoppable and directory is not None:
        neb_run = {**neb_run, "callback": stop_check(directory, neb_run.get("callback"))}
    try:
        result = run_neb(atoms, hop, spec.get(ends[0].atoms, directory), directory=directory,
                         relaxed_ends=ends, guide=guide, **neb_run)
    except (NEBInputError, JobStopped) as exc:
        return exc
    return result.to_json(), result.saddle_energy_eV


def refine_hops(plan: NetworkPlan, hops: list[dict], pool: Workers | None = None,
                stoppable: bool = False) -> None:
    """Stage 3b: CI-NEB of `hops` between their shared endpoints (side by side in `pool`);
    their numbers go into the entries. A finished hop-NN/neb.json is read back. `stoppable`:
    each NEB watches its folder for a STOP file (`calculators.workers.request_stop`)."""
    t0 = time.perf_counter()
    side_by_side = pool is not None and pool.n > 1 and len(hops) > 1
    runner = pool if side_by_side else Workers(1)
    results = runner.map(_neb_job, [(*_neb_args(plan, h, side_by_side), stoppable) for h in hops])
    for h, result in zip(hops, results, strict=True):
        _record(plan, h, result)
    plan.wall_time_s["refinement"] = plan.wall_time_s.get("refinement", 0.0) + time.perf_counter() - t0


def refine_until_exact(plan: NetworkPlan, screen: str, margin_eV: float, pool: Workers | None = None) -> None:
    """Stage 3 in one run: `hops_to_refine`, then CI-NEB, a free worker taking the next hop as
    soon as another finishes (the list recomputed, hops in flight not given out twice), until
    no hop can change a threshold and none runs. A running hop the list no longer holds (with
    several workers one may start that the serial order would have found unnecessary) is asked
    to stop (with a folder; its band is kept for a resume) and its force calls are counted."""
    t0 = time.perf_counter()
    flight = InFlight(pool or Workers(1), (lambda h: _hop_dir(plan, h)) if plan.directory else None)
    while True:
        todo = hops_to_refine(plan, screen, margin_eV)
        needed, flying = {h["class"] for h in todo}, {h["class"] for h in flight.items()}
        for h in flight.items():
            if h["class"] not in needed:
                flight.stop(h)
        for h in [h for h in todo if h["class"] not in flying][:flight.free()]:
            flight.start(h, _neb_job, *_neb_args(plan, h, flight.pool.n > 1), flight.stoppable)
        if not flight.jobs:
            break
        for h, result in flight.finished():
            _record(plan, h, result)
            if isinstance(result, JobStopped):
                plan.say(f"hop {h['class'] + 1} no longer needed: stopped after {result.force_calls} calls")
                continue
            barrier = f"{h['effective_barrier_eV']:.3f} eV" if "skipped" not in h else "skipped"
            plan.say(f"hop {h['class'] + 1} refined: {barrier} ({sum(x['refined'] for x in plan.hops)} "
                     f"refined; before it, {len(todo)} could still change a percolation barrier)")
    plan.wall_time_s["refinement"] = plan.wall_time_s.get("refinement", 0.0) + time.perf_counter() - t0


def _neb_args(plan: NetworkPlan, h: dict, side_by_side: bool) -> tuple:
    """`_neb_job`'s arguments for hop entry `h` (no callback when it runs in another process)."""
    plan.say(f"CI-NEB hop {h['class'] + 1}/{len(plan.hops)}: {h['start_label']}->{h['end_label']}, "
             f"{h['length_A']:.2f} Å")
    neb_run = {k: v for k, v in plan.neb_run.items() if not (side_by_side and k == "callback")}
    return (plan.atoms, plan.classes[h["class"]]["hop"], plan.spec, plan.ends[h["class"]],
            _hop_dir(plan, h) if plan.directory else None, neb_run, _guide(plan, h))


def _hop_dir(plan: NetworkPlan, h: dict) -> Path:
    return plan.directory / f"hop-{h['class']:02d}"


def _record(plan: NetworkPlan, h: dict, result) -> None:
    """A CI-NEB's end (`_neb_job`'s result) into its hop entry: stopped (left unrefined, its
    calls in `stopped_force_calls`), skipped (NEBInputError) or refined."""
    if isinstance(result, JobStopped):
        h["stopped_force_calls"] = h.get("stopped_force_calls", 0) + result.force_calls
        return
    h["refined"] = True
    if isinstance(result, NEBInputError):
        h["skipped"] = str(result)
        return
    doc, saddle_eV = result
    h.update({key: doc[key] for key in HOP_KEYS})
    h["saddle_energy_eV"] = saddle_eV
    h["effective_barrier_eV"] = saddle_eV - plan.e_ref


def _value(h: dict) -> float | None:
    """A hop's effective barrier as it stands: CI-NEB when refined, else the estimate (None: none)."""
    if "skipped" in h:
        return None
    return h["effective_barrier_eV"] if h["refined"] else h["screened_barrier_eV"]


def network_result(plan: NetworkPlan, screen: str, margin_eV: float) -> HopNetwork:
    """Stage 4: the HopNetwork (percolation from the final barriers), written to network.json."""
    from structures.hops import crystal_axes, percolation_barriers

    hops = plan.hops
    if screen == "none" and not any(h.get("refined") and "skipped" not in h for h in hops):
        raise NEBInputError("no hop of the network gave a barrier")
    axes = crystal_axes(plan.atoms)
    site_energies = plan.states.site_energies_eV()
    calls = {"host": plan.host["force_calls"] if plan.host is not None else 0,
             "vacancy_states": plan.states.calls[0],
             "screening": sum(h.get("screen_force_calls", 0) for h in hops),
             "refinement": sum(h.get("force_calls", 0) for h in hops if h.get("refined")),
             "stopped_hops": sum(h.get("stopped_force_calls", 0) for h in hops)}
    result = HopNetwork(
        species=plan.species, cutoff_A=plan.cutoff_A, n_atoms=len(plan.atoms),
        reference_energy_eV=plan.e_ref, hops=hops,
        percolation_barrier_eV=percolation_barriers(plan.atoms, percolation_edges(plan), axes),
        axes_A=np.round(axes, 4).tolist(),
        converged=all(h.get("converged", True) for h in hops if h.get("refined")),
        site_energies_eV=site_energies, site_energy_spread_eV=max(site_energies.values()),
        screen=screen, screen_margin_eV=margin_eV, screen_margin_above_eV=MARGIN_ABOVE_EV[screen],
        n_refined=sum(bool(h.get("refined")) for h in hops),
        force_calls={**calls, "total": sum(calls.values())},
        host=plan.host,
        wall_time_s={k: round(v, 2) for k, v in plan.wall_time_s.items()})
    if plan.directory is not None:
        write_json(plan.directory / "network.json", result.to_json())
    return result
