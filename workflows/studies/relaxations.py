"""Resumable relaxations of a study: one folder per structure and calculator, read back when
it finished under the same settings, resumed from its trajectory when it was cut short.

Every study that relaxes many cells (mixing end members and SQS, Na/vacancy orderings,
desodiated states) goes through `relax_in_folder`, so a killed study redoes nothing finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ase import Atoms

from calculators.relax import RelaxationMismatchError, finished_relaxation, relax
from calculators.results import Relaxation


def calculator_name(calculator) -> str:
    """Folder name of a calculator: its name, or a ready calculator's `hecathode` name / class."""
    if isinstance(calculator, str):
        from calculators.presets import check_calculator_name

        return check_calculator_name(calculator)
    info = getattr(calculator, "hecathode", None) or {}
    return info.get("calculator", type(calculator).__name__.lower())


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
