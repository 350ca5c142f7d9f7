"""Resumable relaxations of a study: one folder per structure and calculator, read back when
it finished under the same settings, resumed from its trajectory when it was cut short.

Every study that relaxes many cells (mixing end members and SQS, Na/vacancy orderings,
desodiated states) goes through `relax_in_folder`, so a killed study redoes nothing finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from ase import Atoms

from calculators.relax import relax
from calculators.results import Relaxation
from structures.errors import HecathodeInputError


class RelaxationMismatchError(HecathodeInputError):
    """A run folder holds a relaxation made with another calculator or preset."""


def calculator_name(calculator) -> str:
    """Folder name of a calculator: its name, or a ready calculator's `hecathode` name / class."""
    if isinstance(calculator, str):
        from calculators.presets import check_calculator_name

        return check_calculator_name(calculator)
    info = getattr(calculator, "hecathode", None) or {}
    return info.get("calculator", type(calculator).__name__.lower())


def finished_relaxation(path: Path, calculator: str, fmax: float, steps: int) -> Relaxation | None:
    """The relaxation in `path` (relax.json) if it finished under these settings, else None.

    Finished: converged at a force criterion at least as tight as `fmax` (eV/Å), or ran out of a
    step budget of at least `steps` at the same `fmax` (kept, flagged unconverged).
    """
    if not path.is_file():
        return None
    try:
        run = Relaxation.from_json(path)
    except (ValueError, KeyError, TypeError):  # a file cut short or from elsewhere: run again
        return None
    if run.calculator != calculator:
        raise RelaxationMismatchError(f"{path} was relaxed with {run.calculator}, not {calculator}: "
                                      "use another --out")
    crit = run.fmax_eV_per_A if run.fmax_eV_per_A is not None else math.inf
    if run.atoms is None:
        return None
    if run.converged and crit <= fmax * (1 + 1e-9):
        return run
    if not run.converged and math.isclose(crit, fmax) and (run.steps or 0) >= steps:
        return run
    return None


def _check_preset(run: Relaxation, name: str, preset: str | None, folder: Path) -> None:
    from calculators.presets import resolve_settings

    label = resolve_settings(name, preset)[0]
    if run.preset != label:
        raise RelaxationMismatchError(f"{folder} was relaxed with {name} preset {run.preset!r}, not "
                                      f"{label!r}: use another --out")


def relax_in_folder(atoms: Atoms, calculator, folder: Path, *, fmax: float, steps: int,
                    relax_cell: bool = True, preset: str | None = None, label: str = "",
                    progress: Callable[[str], None] | None = None, check_preset: bool = True,
                    **calculator_settings) -> tuple[Relaxation, bool]:
    """Relax `atoms` in `folder` (relax.traj/json/extxyz), or read the finished run back.

    Returns (the relaxation, whether it was reused). `label` names the structure in progress
    lines (one every 25 optimizer steps); `calculator_settings` override the preset's.
    """
    name = calculator_name(calculator)
    run = finished_relaxation(folder / "relax.json", name, fmax, steps)
    if run is not None:
        if isinstance(calculator, str) and check_preset:
            _check_preset(run, name, preset, folder)
        return run, True
    if progress:
        progress(f"{name} {label}: relaxing {len(atoms)} atoms ({'ions + cell' if relax_cell else 'ions'})")

    def step(info: dict) -> None:
        if progress and info["step"] and info["step"] % 25 == 0:
            progress(f"  {name} {label} step {info['step']}  E = {info['energy_eV']:.4f} eV  "
                     f"max F = {info['fmax_eV_per_A']:.3f} eV/Å")

    run = relax(atoms, calculator, fmax=fmax, steps=steps, relax_cell=relax_cell, preset=preset,
                directory=folder, callback=step, **calculator_settings)
    return run, False
