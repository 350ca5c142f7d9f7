"""The mixing study (`workflows.studies.mixing`) cut into the steps a campaign runs as separate
fireworks, so that a cluster relaxes every end member and SQS side by side:

1. `plan`: end members and the SQS set in the study folder (`prepare`; a rerun reads the SQS
   back);
2. `relax_cell`: one structure with one calculator in study/<calculator>/<name>/ (`relax_one`:
   resumes from its trajectory, reads a finished run back);
3. `join`: every finished relaxation read back (nothing computed), `build_result`, and
   study/mixing.json, written atomically.

The folder is laid out as `hecathode mixing --out STUDY` lays it out, so the command run on the
same folder with the same settings reuses every relaxation. `settings` is the campaign's
validated `mixing:` block (keys of `SETTINGS`). Units as in `workflows.studies.mixing`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from structures.composition import assign_sublattices
from structures.end_members import end_members
from structures.io import write_json
from structures.prototypes import parent_cell
from workflows.studies.mixing import (
    Energy,
    MixingInputError,
    MixingInputs,
    MixingResult,
    build_result,
    prepare,
    read_energy,
    relax_one,
    study_settings,
)

# campaign key -> default; fmax/steps default to the campaign's relax settings (builders)
SETTINGS = {"calculators": None, "n_sqs": 3, "synthesis_temperature_K": None, "max_atoms": 160,
            "min_width_A": 6.0, "seed": 0, "fmax": 0.05, "steps": 300, "sqs_steps": 20000, "sqs_runs": None,
            "rattle_A": 0.02, "preset": None}
PREPARE_KEYS = ("n_sqs", "seed", "max_atoms", "min_width_A", "sqs_steps", "sqs_runs", "rattle_A")
CAMPAIGN_NOTE = ("campaign: every relaxation ran as its own firework (one folder each); the join step "
                 "read them back, so relaxations_reused counts all of them")


def cell_names(formula: str, prototype: str, n_sqs: int) -> list[str]:
    """The structures a mixing study relaxes, end members first, then the SQS (sqs-000, ...).
    Raises NoMixingSiteError / EndMemberError for a composition the study cannot treat."""
    comp = assign_sublattices(formula, prototype)
    members = end_members(comp, parent_cell(comp.prototype.name))
    return [m.name for m in members] + [f"sqs-{i:03d}" for i in range(n_sqs)]


def plan(formula: str, prototype: str, study_dir: str | Path, settings: dict,
         progress: Callable[[str], None] | None = None) -> MixingInputs:
    """End members and SQS written under `study_dir` (the SQS read back when already built)."""
    return prepare(formula, prototype, study_dir, progress=progress,
                   **{k: settings[k] for k in PREPARE_KEYS if k in settings})


def relax_cell(formula: str, prototype: str, study_dir: str | Path, settings: dict, name: str,
               calculator: str, progress: Callable[[str], None] | None = None) -> Energy | None:
    """Relax structure `name` (end-M or sqs-NNN) with `calculator`; None when the plan holds no
    such structure (fewer distinct SQS than asked for)."""
    inputs = plan(formula, prototype, study_dir, settings)
    cell = next((c for c in inputs.cells if c.name == name), None)
    if cell is None:
        return None
    return relax_one(cell, calculator, Path(study_dir), fmax=settings["fmax"], steps=settings["steps"],
                     preset=settings.get("preset"), progress=progress)


def _complete(inputs: MixingInputs, energies: list[Energy]) -> tuple[list[Energy], list[str]]:
    """Energies an SQS row can be built from: an SQS counts only with all its end members."""
    kept, dropped = [], []
    counts = {c.name: c.counts for c in inputs.cells}
    for e in energies:
        ends = {x.element for x in energies if x.calculator == e.calculator and x.role == "end_member"}
        if e.role == "sqs" and not set(counts[e.name]) <= ends:
            dropped.append(f"{e.calculator} {e.name}")
            continue
        kept.append(e)
    return kept, dropped


def join(formula: str, prototype: str, study_dir: str | Path, settings: dict) -> MixingResult:
    """mixing.json from the finished relaxations in `study_dir` (nothing is computed). Missing
    relaxations are left out and named in the notes; raises MixingInputError when no SQS has a
    finished relaxation with all its end members."""
    out = Path(study_dir)
    inputs = plan(formula, prototype, out, settings)
    calculators = list(settings["calculators"])
    energies, missing = [], []
    for calc in calculators:
        for cell in inputs.cells:
            e = read_energy(cell, calc, out, fmax=settings["fmax"], steps=settings["steps"])
            (energies if e is not None else missing).append(e if e is not None else f"{calc} {cell.name}")
    energies, unusable = _complete(inputs, energies)
    names = [c for c in calculators if any(e.calculator == c and e.role == "sqs" for e in energies)]
    if not names:
        raise MixingInputError(f"{out}: no SQS relaxation finished together with its end members "
                               f"(missing: {', '.join(missing) or 'none'})")
    block = study_settings(fmax=settings["fmax"], steps=settings["steps"], preset=settings.get("preset"),
                           **{k: settings[k] for k in PREPARE_KEYS})
    result = build_result(inputs, energies, names, settings.get("synthesis_temperature_K"), block)
    result.notes.append(CAMPAIGN_NOTE)
    if missing:
        result.notes.append(f"not finished, left out: {', '.join(missing)}")
    if unusable:
        result.notes.append(f"left out for want of an end-member energy: {', '.join(unusable)}")
    result.wall_time_s = sum(e.wall_time_s or 0.0 for e in energies)
    write_json(out / "mixing.json", result.to_json())
    return result


__all__ = ["SETTINGS", "cell_names", "join", "plan", "relax_cell"]
