"""A hop network (`calculators.network`) fanned out over cluster jobs: one firework per stage,
one per CI-NEB hop, the later ones added by the earlier ones as they learn what is needed.

    "M network L states"  ->  "... screen"  ->  "... hop-00", "... hop-03", ...  ->  "... join-1"
                                                  (-> more hops -> "... join-2" ...)

- states (`NetworkStatesTask`): the network cell (the structure, in a supercell long enough for
  the longest hop: `calculators.neb.network_supercell`, written once to
  `<directory>/cell.extxyz`) and its vacancy
  states (`plan_network`, folder sites/); adds the screen firework;
- screen (`NetworkScreenTask`): the states read back, every hop's estimate (`screen_network`,
  screen.json), the hops that can still set a percolation threshold (`hops_to_refine`); adds one
  hop firework per such hop and a join after them (only a join when none is left);
- hop (`NetworkHopTask`): that hop's CI-NEB between the shared endpoints (`refine_hops`,
  hop-NN/neb.json) and its network entry, hop-NN/entry.json; not run when the hops finished
  since its round was planned make it unneeded, stopped (hop-NN/stopped.json) when a hop that
  finishes while it runs does; the hops of a round start likeliest first (`_priority`);
- join (`NetworkJoinTask`): computes nothing: the entries of the finished hops read back,
  `hops_to_refine` again: more hops and another join when some are still needed, else
  `network_result` (network.json) and the percolation barriers pushed to the campaign's
  analysis (`mod_spec` `_push` of `network_results`).

Fireworks are added as FWAction *detours*: the new fireworks go between the firework that adds
them and its children, so the campaign's analysis waits for the last join (plain additions
would let it run before the hops). Every firework's spec carries the whole `network` settings
(`network_settings`: folder, calculator by name, preset, species, cutoff, screen and margin,
NEB settings, and the cell file once the states task wrote it) and runs in its own launch folder
`<directory>/launch/<step>`, so two hop jobs never share FW.json. Every task is resumable: the
vacancy states, estimates and NEBs are read back from the network folder (no force call for what
finished), and a hop with its entry.json is not run again. Energies eV, lengths Å.
"""

from __future__ import annotations

import json
from pathlib import Path

from fireworks import FiretaskBase, Firework, FWAction, Workflow, explicit_serialize

from structures.io import write_json
from workflows.fireworks.tasks import _say, _throttled

NEB_SETTINGS = ("n_images", "fmax", "steps", "optimizer", "spring")  # run_neb keywords a network takes
CELL_FILE = "cell.extxyz"
ENTRY_FILE = "entry.json"  # hop-NN/entry.json: the hop's network entry, as refine_hops left it
STOPPED_FILE = "stopped.json"  # hop-NN/stopped.json: force calls of its CI-NEBs stopped as unneeded


def network_settings(material: str, directory: str | Path, calculator: str, *, label: str = "cell",
                     index: int = 0, preset: str | None = None, species: str = "Na", cutoff: float = 5.0,
                     screen: str = "none", margin_eV: float | None = None, neb: dict | None = None,
                     relax_host: bool = True, hops_per_round: int | None = None, order: int = 0) -> dict:
    """The `network` spec entry every firework of one network carries (JSON only).

    `calculator` by name (a worker process builds it; vacancy states are read back by name).
    `margin_eV` None: the screen's default. `neb`: run_neb keywords (NEB_SETTINGS). `hops_per_round`:
    at most this many hop fireworks per round (None: every hop that can still set a threshold,
    all at once; 1 follows `run_network`'s serial order). `relax_host`: relax the cell (ions +
    cell, symmetry kept) before the vacancy states, as `run_network` does by default. `order`: the
    campaign_order of its fireworks.
    """
    from calculators.screening import check_screen, default_margin

    screen = check_screen(screen, margin_eV)
    return {"material": material, "label": label, "index": index, "directory": str(Path(directory).resolve()),
            "calculator": calculator, "preset": preset, "species": species, "cutoff": float(cutoff),
            "screen": screen, "margin_eV": default_margin(screen) if margin_eV is None else float(margin_eV),
            "neb": {k: v for k, v in (neb or {}).items() if k in NEB_SETTINGS},
            "relax_host": bool(relax_host), "hops_per_round": hops_per_round, "order": order}


def states_firework(net: dict, structure: str | Path | None = None) -> Firework:
    """The first firework of a network: on `structure` (a file), or in a campaign on the relaxed
    structure number `net["index"]` its parent relax firework pushes (`relax_results`)."""
    task = NetworkStatesTask(network=net, **({"structure": str(structure)} if structure else {}))
    return _firework(task, net, "states", "neb")


def network_workflow(structure: str | Path, net: dict) -> Workflow:
    """A workflow of one network on its own (outside a campaign): the states firework; the rest
    is added as it runs."""
    return Workflow([states_firework(net, structure)], name=f"{net['material']} network {net['label']}",
                    metadata={"hecathode_network": net["directory"]})


def _firework(task, net: dict, step: str, category: str) -> Firework:
    folder = Path(net["directory"]) / "launch" / step
    return Firework([task], name=f"{net['material']} network {net['label']} {step}",
                    spec={"_launch_dir": str(folder), "_category": category, "campaign_order": net["order"]})


def _round(net: dict, classes: list[int], number: int) -> Workflow:
    """One hop firework per class and a join after all of them (only the join when none). A hop
    that an earlier round left unrefined (stopped or not needed then) gets a launch folder of
    its own, hop-NN-round-N: two launches never share FW_offline.json."""
    def step(k: int) -> str:
        first = f"hop-{k:02d}"
        used = (Path(net["directory"]) / "launch" / first).exists()
        return f"{first}-round-{number}" if used else first

    hops = [_firework(NetworkHopTask(network=net, hop=k), net, step(k), "neb") for k in classes]
    for rank, hop in enumerate(hops):  # `hops_to_refine` order: the likeliest to matter run first
        hop.spec["_priority"] = len(hops) - rank
    join = _firework(NetworkJoinTask(network=net, round=number), net, f"join-{number}", "join")
    return Workflow([*hops, join], links_dict={hop.fw_id: [join.fw_id] for hop in hops})


def _next(net: dict, todo: list[dict]) -> list[int]:
    """The classes of the hops the next round runs (in `hops_to_refine` order, at most hops_per_round)."""
    return [h["class"] for h in todo[:net.get("hops_per_round") or len(todo)]]


def _plan(net: dict, screened: bool = True):
    """The network's plan in this process: states read back from the folder (`plan_network`) and,
    when `screened`, the estimates (`screen_network`, screen.json; computed where missing)."""
    from calculators.network import plan_network, screen_network
    from structures.io import read_structure

    plan = plan_network(read_structure(net["structure"]), net["calculator"], species=net["species"],
                        cutoff=net["cutoff"], directory=net["directory"], progress=_say,
                        preset=net.get("preset"), relax_host=net.get("relax_host", True),
                        callback=_throttled(), **net["neb"])
    if screened:
        screen_network(plan, net["screen"])
    return plan


def _entry_file(net: dict, k: int) -> Path:
    return Path(net["directory"]) / f"hop-{k:02d}" / ENTRY_FILE


def _write_cell(path: Path, atoms) -> None:
    """The network cell as extxyz (site labels and the conventional axes kept)."""
    import numpy as np

    from structures.io import write_structure

    plain = atoms.copy()
    plain.info = {k: v for k, v in atoms.info.items() if isinstance(v, int | float | str)}
    if "conventional_cell" in atoms.info:  # the axes percolation is reported along
        plain.info["conventional_cell"] = np.asarray(atoms.info["conventional_cell"], float).reshape(-1)
    write_structure(path, plain)


@explicit_serialize
class NetworkStatesTask(FiretaskBase):
    """The network cell and its relaxed vacancy states; adds the screen firework."""

    required_params = ["network"]
    optional_params = ["structure"]

    def run_task(self, fw_spec):
        net = dict(self["network"])
        cell = Path(net["directory"]) / CELL_FILE
        if not cell.is_file():  # written once: every later task reads this very cell
            source = self.get("structure") or _relaxed_structure(fw_spec, net)
            if source is None:
                why = f"no relaxed structure #{net['index']} of {net['material']}"
                _say(f"{net['material']}: network skipped: {why}")
                return FWAction(stored_data={"skipped": why})
            self._build_cell(net, source, cell)
        net["structure"] = str(cell)
        plan = _plan(net, screened=False)
        _say(f"{net['material']}: {len(plan.hops)} hop classes, {len(plan.states.relaxed)} vacancy states")
        screen = _firework(NetworkScreenTask(network=net), net, "screen", "neb")
        return FWAction(detours=[Workflow([screen])],
                        stored_data={"n_atoms": len(plan.atoms), "n_hops": len(plan.hops),
                                     "n_vacancy_states": len(plan.states.relaxed)})

    @staticmethod
    def _build_cell(net: dict, source: str, cell: Path) -> None:
        from calculators.neb import network_supercell
        from structures.io import read_structure

        atoms = read_structure(source)
        big = network_supercell(atoms, net["species"], net["cutoff"])
        if len(big) != len(atoms):
            _say(f"{net['material']}: network in a {len(big)}-atom supercell of {Path(source).name}")
        cell.parent.mkdir(parents=True, exist_ok=True)
        _write_cell(cell, big)


def _relaxed_structure(fw_spec: dict, net: dict) -> str | None:
    """The relaxed structure the parent relax firework pushed for this material and index."""
    mine = [r for r in fw_spec.get("relax_results", [])
            if r["material"] == net["material"] and r["index"] == net["index"]]
    return mine[-1]["relaxed"] if mine else None


@explicit_serialize
class NetworkScreenTask(FiretaskBase):
    """Every hop's estimate; adds one hop firework per hop still needed and a join."""

    required_params = ["network"]

    def run_task(self, fw_spec):
        from calculators.network import hops_to_refine

        net = self["network"]
        plan = _plan(net)
        classes = _next(net, hops_to_refine(plan, net["screen"], net["margin_eV"]))
        _say(f"{net['material']}: CI-NEB for hops {classes} of {len(plan.hops)} ({net['screen']} screen)")
        return FWAction(detours=[_round(net, classes, 1)],
                        stored_data={"screen": net["screen"], "n_hops": len(plan.hops), "to_refine": classes,
                                     "screened_barriers_eV": [h["screened_barrier_eV"] for h in plan.hops]})


@explicit_serialize
class NetworkHopTask(FiretaskBase):
    """One hop's CI-NEB between the shared endpoints; writes hop-NN/entry.json. Before it runs,
    the hops finished since its round was planned are read back: a hop they made unneeded is
    not run. While it runs it stops when asked (a STOP file); once done, it asks the running
    hops it made unneeded to stop. Both are left unrefined for a later round should one want
    them (a stopped band resumes from its files)."""

    required_params = ["network", "hop"]

    def run_task(self, fw_spec):
        from calculators.network import refine_hops
        from calculators.workers import clear_stop

        net, k = self["network"], int(self["hop"])
        path = _entry_file(net, k)
        if path.is_file():  # done before a kill or a rerun: nothing to compute
            return _hop_action(json.loads(path.read_text()))
        plan = _plan(net)
        _read_entries(plan, net)
        if k not in _needed(plan, net):
            _say(f"{net['material']}: hop {k + 1}: the hops finished since make it unneeded: not run")
            return FWAction(stored_data={"class": k, "not_needed": True})
        entry = plan.hops[k]
        clear_stop(path.parent)
        refine_hops(plan, [entry], stoppable=True)
        if not entry["refined"]:
            write_json(path.with_name(STOPPED_FILE), {"stopped_force_calls": entry["stopped_force_calls"]})
            _say(f"{net['material']}: hop {k + 1} no longer needed: stopped")
            return FWAction(stored_data={"class": k, "stopped_force_calls": entry["stopped_force_calls"]})
        write_json(path, entry)
        _stop_unneeded(plan, net)
        return _hop_action(entry)


def _needed(plan, net: dict) -> set[int]:
    from calculators.network import hops_to_refine

    return {h["class"] for h in hops_to_refine(plan, net["screen"], net["margin_eV"])}


def _stop_unneeded(plan, net: dict) -> None:
    """A STOP file in the folder of every unrefined hop that has one (it may be running) and
    that percolation no longer needs."""
    from calculators.workers import request_stop

    needed = _needed(plan, net)
    for h in plan.hops:
        folder = _entry_file(net, h["class"]).parent
        if not h["refined"] and h["class"] not in needed and folder.is_dir():
            request_stop(folder)


def _hop_action(entry: dict) -> FWAction:
    keys = ("class", "effective_barrier_eV", "forward_barrier_eV", "converged", "force_calls", "skipped")
    return FWAction(stored_data={k: entry[k] for k in keys if k in entry})


@explicit_serialize
class NetworkJoinTask(FiretaskBase):
    """The finished hops read back (no force call); another round when hops are still needed,
    else network.json and the percolation barriers for the analysis."""

    required_params = ["network", "round"]

    def run_task(self, fw_spec):
        from calculators.network import hops_to_refine, network_result

        net, number = self["network"], int(self["round"])
        plan = _plan(net)
        done = _read_entries(plan, net)
        todo = _next(net, hops_to_refine(plan, net["screen"], net["margin_eV"]))
        if todo:
            _say(f"{net['material']}: round {number + 1}: CI-NEB for hops {todo}")
            return FWAction(detours=[_round(net, todo, number + 1)],
                            stored_data={"round": number, "refined": done, "to_refine": todo})
        result = network_result(plan, net["screen"], net["margin_eV"])
        _say(f"{net['material']}: percolation barriers {result.percolation_barrier_eV} eV")
        entry = {"material": net["material"], "index": net["index"], "structure": net["label"],
                 "json": str(Path(net["directory"]) / "network.json")}
        return FWAction(mod_spec=[{"_push": {"network_results": entry}}],
                        stored_data={"round": number, "refined": done,
                                     "percolation_barrier_eV": result.percolation_barrier_eV,
                                     "converged": result.converged, "force_calls": result.force_calls})


def _read_entries(plan, net: dict) -> list[int]:
    """Fill the plan's hop entries from the hop-NN/entry.json the hop jobs wrote; their classes.
    The refinement time is the hop jobs' NEB time."""
    done = []
    for h in plan.hops:
        path = _entry_file(net, h["class"])
        if path.is_file():  # it holds the calls of earlier stopped runs too
            h.update(json.loads(path.read_text()))
            done.append(h["class"])
        elif path.with_name(STOPPED_FILE).is_file():
            h.update(json.loads(path.with_name(STOPPED_FILE).read_text()))
    plan.wall_time_s["refinement"] = sum(h.get("wall_time_s", 0.0) for h in plan.hops if h.get("refined"))
    return done
