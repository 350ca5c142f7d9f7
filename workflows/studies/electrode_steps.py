"""The voltage study (`workflows.studies.voltage`) cut into the steps a campaign runs as separate
fireworks, so that a cluster relaxes every desodiated state side by side. In a campaign the hosts
are the material's own cells (its structures step: the prototype cell, or its `sqs:` SQS), the
cells its relaxation and NEB ran on:

1. `plan`: the hosts and the Ewald-ranked orderings at every Na content (`plan_orderings`), their
   start cells, and study/plan.json (every job with its formula units, Ewald energy and search);
   a rerun reads plan.json back;
2. `relax_state`: one ordering with one calculator in study/<calculator>/<host>/na-<x>/ord-NN/
   (`relax_job`); the as-made state takes over the campaign's relaxation of the same start cell
   when that one finished under settings at least as tight (`adopt`); `relax_na_metal`: bcc Na
   in study/<calculator>/na-bcc/ (`na_metal`); all resume from their trajectory and read a
   finished run back;
3. `join`: every finished relaxation read back (nothing computed), `build_result`, and
   study/voltage.json, written atomically.

`settings` is the campaign's validated `voltage:` block (keys of `SETTINGS`). Units as in
`workflows.studies.voltage`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from calculators.results import Relaxation
from structures.composition import SiteComposition, assign_sublattices
from structures.constants import SUBLATTICE
from structures.io import read_structure, write_json
from structures.prototypes import parent_cell
from workflows.studies.relaxations import finished_relaxation
from workflows.studies.voltage import Job, VoltageResult, build_result, na_metal, plan_orderings, relax_job
from workflows.studies.voltage_states import (
    Host,
    VoltageInputError,
    cell_composition,
    is_ordered,
    na_contents,
    pristine_host,
)

# campaign key -> default; fmax/steps/relax_cell default to the campaign's relax settings (builders)
SETTINGS = {"na": None, "x": None, "calculators": None, "n_relax": 3, "max_orderings": 500, "seed": 0,
            "fmax": 0.05, "steps": 300, "relax_cell": True, "preset": None}
NA_METAL = "na-bcc"
ADOPTED = "adopted_from.json"
CAMPAIGN_NOTE = ("campaign: the hosts are the material's own cells (its structures step); every relaxation "
                 "ran as its own firework (one folder each) and the join step read them back, so "
                 "relaxations_reused counts all of them")
TOL = 1e-6


def host_names(formula: str, prototype: str, n_structures: int) -> list[str]:
    """The hosts of a campaign material: `pristine` (one species per sublattice: the parent cell)
    or its SQS sqs-000, ... (`n_structures` of them, from the material's `sqs:`)."""
    comp = assign_sublattices(formula, prototype)
    if is_ordered(comp, parent_cell(comp.prototype.name)):
        return ["pristine"]
    return [f"sqs-{i:03d}" for i in range(n_structures)]


def campaign_hosts(comp: SiteComposition, structures_json: str | Path) -> tuple[list[Host], dict]:
    """The hosts from the material's structures.json (the parent cell of an ordered composition,
    else each SQS with the composition it holds) and that document."""
    doc = json.loads(Path(structures_json).read_text())
    if is_ordered(comp, parent_cell(comp.prototype.name)):
        return [pristine_host(comp)], doc
    mixing = comp.role("mixing")[0]
    hosts = []
    for entry in doc["structures"]:
        atoms = read_structure(entry["file"])
        n_fu = float(np.sum(atoms.arrays[SUBLATTICE] == mixing.label)) / mixing.sites
        hosts.append(Host(entry["name"], atoms, n_fu, cell_composition(atoms, comp), "sqs", entry["file"]))
    return hosts, doc


def job_names(formula: str, prototype: str, settings: dict, n_structures: int = 1) -> list[str]:
    """The relaxations a voltage study may run, known before any work: per host and Na content one
    ordering at the as-made and the empty content, else `n_relax` (fewer may exist: skipped).
    Raises VoltageInputError for a Na content outside [residual Na, as-made Na]."""
    comp = assign_sublattices(formula, prototype)
    contents = na_contents(comp, settings.get("na"), settings.get("x"))
    made = float(sum(o.species.get("Na", 0.0) for o in comp.role("alkali")))
    names = []
    for host in host_names(formula, prototype, n_structures):
        for na in contents:
            n = 1 if abs(na - made) < TOL or abs(na) < TOL else settings["n_relax"]
            names += [f"{host}/na-{na:g}/ord-{rank:02d}" for rank in range(n)]
    return names


def _job_row(job: Job) -> dict:
    return {"name": job.name, "host": job.host.name, "na_per_fu": job.na_per_fu, "rank": job.rank,
            "n_fu": job.n_fu, "ewald_eV": job.ewald_eV, "search": job.search, "method": job.method,
            "n_found": job.n_found}


def plan(formula: str, prototype: str, study_dir: str | Path, settings: dict, structures_json: str | Path,
         progress: Callable[[str], None] | None = None) -> dict:
    """Hosts (from the material's structures.json), orderings and their start cells under
    `study_dir`; returns plan.json (read back when it exists: a rerun keeps the orderings the
    relaxations started from)."""
    out = Path(study_dir)
    if (out / "plan.json").is_file():
        return json.loads((out / "plan.json").read_text())
    comp = assign_sublattices(formula, prototype)
    contents = na_contents(comp, settings.get("na"), settings.get("x"))
    hosts, _ = campaign_hosts(comp, structures_json)
    jobs, orderings = plan_orderings(hosts, contents, out, n_relax=settings["n_relax"],
                                     max_orderings=settings["max_orderings"], seed=settings["seed"],
                                     progress=progress)
    doc = {"formula": formula, "prototype": comp.prototype.name, "na_per_fu": contents,
           "structures_json": str(structures_json), "jobs": [_job_row(j) for j in jobs],
           "orderings": orderings}
    write_json(out / "plan.json", doc)
    return doc


def load_plan(formula: str, prototype: str, study_dir: str | Path):
    """(composition, hosts, jobs, orderings, structures document) of a planned study (no search)."""
    out = Path(study_dir)
    doc = json.loads((out / "plan.json").read_text())
    comp = assign_sublattices(formula, prototype)
    hosts, sdoc = campaign_hosts(comp, doc["structures_json"])
    by_name = {h.name: h for h in hosts}
    jobs = [Job(by_name[r["host"]], r["na_per_fu"], r["rank"], read_structure(out / f"{r['name']}.extxyz"),
                r["n_fu"], r["ewald_eV"], r["search"], r["method"], r["n_found"]) for r in doc["jobs"]]
    return comp, hosts, jobs, doc["orderings"], sdoc


def _opts(s: dict) -> dict:
    return {"fmax": s["fmax"], "steps": s["steps"], "relax_cell": s["relax_cell"], "preset": s.get("preset"),
            "overrides": {}}


def _same_cell(a, b) -> bool:
    return (len(a) == len(b) and a.get_chemical_symbols() == b.get_chemical_symbols()
            and np.allclose(a.cell[:], b.cell[:], atol=1e-6)
            and np.allclose(a.positions, b.positions, atol=1e-6))


def adopt(job: Job, calculator: str, study_dir: str | Path, settings: dict, relax_dir: str | Path) -> bool:
    """Take over the finished relaxation in `relax_dir` (the campaign's relax step) as this as-made
    state's: same calculator, preset and cell mode, converged at least as tightly (or out of at
    least as many steps at the same criterion), same start cell (first trajectory frame). Copies
    relax.json and relax.extxyz into the state's folder with adopted_from.json; True if taken."""
    from ase.io import read

    src, folder = Path(relax_dir), Path(study_dir) / calculator / job.name
    try:
        run = Relaxation.from_json(src / "relax.json")
        start = read(src / "relax.traj", index=0)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return False
    same_run = (run.calculator == calculator and run.preset == (settings.get("preset") or "default")
                and bool(run.relax_cell) == bool(settings["relax_cell"]))
    if not same_run or not _same_cell(start, job.atoms) or finished_relaxation(
            src / "relax.json", calculator, settings["fmax"], settings["steps"]) is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("relax.extxyz", "relax.json"):  # the JSON last: it marks the run finished
        shutil.copyfile(src / name, folder / name)
    write_json(folder / ADOPTED, {"relax_dir": str(src)})
    return True


def relax_state(formula: str, prototype: str, study_dir: str | Path, settings: dict, name: str,
                calculator: str, relax_dir: str | Path | None = None,
                progress: Callable[[str], None] | None = None):
    """Relax ordering `name` (host/na-x/ord-NN) with `calculator` (the as-made state first tries to
    `adopt` the campaign's relaxation in `relax_dir`); returns its VoltageState, or None when the
    plan holds no such ordering (fewer distinct orderings than n_relax)."""
    _, _, jobs, _, _ = load_plan(formula, prototype, study_dir)
    job = next((j for j in jobs if j.name == name), None)
    if job is None:
        return None
    taken = relax_dir is not None and job.method == "as-made" and adopt(job, calculator, study_dir, settings,
                                                                        relax_dir)
    if taken and progress:
        progress(f"{calculator} {name}: the campaign's relaxation in {relax_dir} taken over")
    return relax_job(job, calculator, Path(study_dir), _opts(settings), progress)


def relax_na_metal(study_dir: str | Path, settings: dict, calculator: str,
                   progress: Callable[[str], None] | None = None) -> dict:
    """bcc Na, the voltage reference, relaxed with `calculator` and the study's settings."""
    return na_metal(calculator, Path(study_dir), _opts(settings), progress)[0]


def _finished(out: Path, calc: str, name: str, s: dict):
    """The finished Relaxation in out/<calc>/<name>/, or None."""
    return finished_relaxation(out / calc / name / "relax.json", calc, s["fmax"], s["steps"])


def _complete_hosts(hosts: list[Host], states: list, calcs: list[str], contents: list[float]) -> list[Host]:
    """Hosts with a relaxed state at every Na content for every calculator."""
    have = {(s.calculator, s.host, s.na_per_fu) for s in states}
    return [h for h in hosts if all((c, h.name, na) in have for c in calcs for na in contents)]


def join(formula: str, prototype: str, study_dir: str | Path, settings: dict) -> VoltageResult:
    """voltage.json from the finished relaxations in `study_dir` (nothing is computed). A host
    missing a content, or a calculator without its bcc Na, is left out and named in the notes;
    raises VoltageInputError when nothing is left."""
    out = Path(study_dir)
    comp, hosts, jobs, orderings, structures_doc = load_plan(formula, prototype, out)
    opts = _opts(settings)
    calcs = [c for c in settings["calculators"] if _finished(out, c, NA_METAL, settings)]
    missing = [f"{c} {NA_METAL}" for c in settings["calculators"] if c not in calcs]
    states, wall = [], 0.0
    for calc in calcs:
        for job in jobs:
            if (run := _finished(out, calc, job.name, settings)) is not None:
                states.append(relax_job(job, calc, out, opts))  # read back, not run
                wall += run.wall_time_s or 0.0
            else:
                missing.append(f"{calc} {job.name}")
    kept = _complete_hosts(hosts, states, calcs, sorted({j.na_per_fu for j in jobs}, reverse=True))
    if not kept:
        raise VoltageInputError(f"{out}: no host has a finished relaxation at every Na content with its "
                                f"bcc Na (missing: {', '.join(missing) or 'none'})")
    metals = {c: relax_na_metal(out, settings, c) for c in calcs}
    names = {h.name for h in kept}
    states = [s for s in states if s.host in names]
    result = build_result(comp, kept, states, metals, orderings, calcs, _settings_block(settings),
                          structures_doc)
    result.relaxations_reused += len(metals)
    result.notes.append(CAMPAIGN_NOTE)
    adopted = sorted({json.loads(f.read_text())["relax_dir"] for f in out.glob(f"*/*/na-*/ord-*/{ADOPTED}")})
    if adopted:
        result.notes.append("as-made states taken over from the campaign's relaxations of the same cells: "
                            + ", ".join(adopted))
    if missing:
        result.notes.append(f"not finished, left out: {', '.join(missing)}")
    dropped = [h.name for h in hosts if h.name not in names]
    if dropped:
        result.notes.append(f"hosts left out (a Na content without a relaxed state): {', '.join(dropped)}")
    result.wall_time_s = wall  # of the relaxations, as recorded when they ran
    write_json(out / "voltage.json", result.to_json())
    return result


def _settings_block(s: dict) -> dict:
    """The `settings` block of voltage.json, as `voltage_study` writes it."""
    keys = ("na", "x", "n_relax", "max_orderings", "steps", "preset", "relax_cell", "seed")
    return {**{k: s.get(k) for k in keys}, "calculator_settings": None, "fmax_eV_per_A": s["fmax"],
            "hosts": "the campaign material's cells (structures step)"}


__all__ = ["NA_METAL", "SETTINGS", "adopt", "campaign_hosts", "host_names", "job_names", "join", "load_plan",
           "plan", "relax_na_metal", "relax_state"]
