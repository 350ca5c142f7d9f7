"""Resumable relaxation: ASE optimizer (BFGS or FIRE), FrechetCellFilter when the cell relaxes.

`relax(atoms, "chgnet", trajectory="run/relax.traj")` writes every step to the trajectory as it
goes; run it again after a Ctrl-C or a killed job and it continues from the last frame written
(with a fresh optimizer: the Hessian is not kept). A trajectory that cannot be read is an error
(UnreadableTrajectoryError), never overwritten. When it ends it writes, atomically,
`<stem>.json` (the summary returned, `Relaxation.to_json()`) and `<stem>.extxyz` (the final
structure with its site labels; ASE trajectories do not keep custom per-atom arrays) beside
the trajectory.

Stages: check settings -> identify the calculator -> resume from the trajectory -> pre-relax
-> optimize -> summarise and write.

VASP relaxes with its own optimizer (IBRION 2, ISIF 3, or ISIF 2 with a fixed cell); a rerun
starts from the CONTCAR left in the run directory.

Units: energies eV, forces eV/Å, stress GPa, volumes Å^3, lengths Å, angles degrees, time s.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator

from calculators import get_calculator
from calculators.gpaw_calc import MIN_ECUT_CELL_RELAX
from calculators.presets import resolve_settings
from calculators.results import Relaxation
from calculators.trajectory import UnreadableTrajectoryError, is_master, read_frames, rewrite
from structures.constants import SITE_LABEL
from structures.errors import HecathodeInputError
from structures.io import ensure_site_labels, write_json, write_structure

OPTIMIZERS = ("BFGS", "FIRE")
PRERELAX = ("chgnet", "sevenn")


class RelaxInputError(HecathodeInputError):
    """Bad relaxation settings, or a trajectory that belongs to another structure."""


class CutoffTooLowError(HecathodeInputError):
    """A plane-wave cutoff too low for a cell relaxation."""


def check_cutoff(name: str, ecut: float | None, relax_cell: bool) -> None:
    if relax_cell and ecut is not None and ecut < MIN_ECUT_CELL_RELAX:
        raise CutoffTooLowError(
            f"{name} cutoff {ecut:g} eV is too low for a cell relaxation: the stress needs "
            f">= {MIN_ECUT_CELL_RELAX:g} eV (at 300 eV NaF's stress is off by ~160 GPa and its cell "
            "collapses); raise the cutoff or keep the cell fixed")


def _cutoff_of(calc) -> float | None:
    """Plane-wave cutoff (eV) of a GPAW or VASP calculator, None for others."""
    info = getattr(calc, "hecathode", None)
    if info:
        return info["settings"].get("ecut", info["settings"].get("encut"))
    mode = getattr(calc, "parameters", {}).get("mode")
    ecut = getattr(mode, "ecut", None) or (mode.get("ecut") if isinstance(mode, dict) else None)
    return ecut if ecut is not None else getattr(calc, "parameters", {}).get("encut")


@dataclass(frozen=True)
class _Paths:
    """Where a relaxation writes: trajectory, summary JSON, final extxyz (all None: nothing)."""

    traj: Path | None
    json: Path | None
    xyz: Path | None
    run_dir: Path | None  # where GPAW logs and VASP runs


def _outputs(trajectory, directory) -> _Paths:
    if trajectory is None and directory is None:
        return _Paths(None, None, None, None)
    traj = Path(trajectory) if trajectory is not None else Path(directory) / "relax.traj"
    base = Path(directory) if directory is not None else traj.parent
    return _Paths(traj, base / f"{traj.stem}.json", base / f"{traj.stem}.extxyz",
                  Path(directory) if directory is not None else traj.parent)


def _lattice(atoms: Atoms) -> dict:
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    return {"a": a, "b": b, "c": c, "alpha": alpha, "beta": beta, "gamma": gamma,
            "matrix": atoms.cell.array.tolist()}


def _max_force(atoms: Atoms) -> float:
    forces = atoms.get_forces()
    return float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0


def _kpoints(calc) -> list[int] | None:
    """The k-point grid a DFT calculator uses (None for the potentials)."""
    kpts = getattr(calc, "parameters", {}).get("kpts")
    if isinstance(kpts, dict):
        kpts = kpts.get("size")
    if kpts is None and hasattr(calc, "input_params"):
        kpts = calc.input_params.get("kpts")
    try:
        return [int(n) for n in kpts]
    except (TypeError, ValueError):
        return None


def relax(
    atoms: Atoms,
    calculator,
    fmax: float = 0.05,
    steps: int = 300,
    relax_cell: bool = True,
    trajectory: str | Path | None = None,
    optimizer: str = "BFGS",
    *,
    preset: str | None = None,
    directory: str | Path | None = None,
    prerelax: str | None = None,
    prerelax_fmax: float = 0.1,
    callback: Callable[[dict], None] | None = None,
    **overrides,
) -> Relaxation:
    """Relax ions (and the cell unless `relax_cell=False`) until max force < `fmax` eV/Å.

    calculator: a name (chgnet, sevenn, gpaw, vasp; built with `preset` and `overrides` for these
        atoms) or a ready ASE calculator.
    steps: the optimizer step budget in total, counting steps done before a restart.
    trajectory: ASE .traj written step by step and resumed from; with `directory` alone it is
        `directory/relax.traj`. The summary JSON and final extxyz go beside it. Without both,
        nothing is written. An unreadable trajectory raises UnreadableTrajectoryError.
    prerelax: "chgnet" or "sevenn" to pre-relax with that potential first (its own
        `prerelax.traj` in the same folder; `prerelax_fmax` eV/Å), skipped when resuming.
    callback: called after every step with {"stage", "step", "energy_eV", "fmax_eV_per_A"}.

    Returns a `calculators.results.Relaxation`: energy_eV, energy_per_atom_eV, volume_A3, lattice
    (Å, degrees), max_force_eV_per_A, max_stress_GPa, steps, converged, wall_time_s (this run),
    calculator, preset, ... and `atoms`, the relaxed structure (a copy, site labels kept). The
    input `atoms` is not modified.
    """
    t0 = time.perf_counter()
    opt_name = _check_settings(fmax, steps, optimizer, prerelax)
    work = atoms.copy()
    ensure_site_labels(work)
    paths = _outputs(trajectory, directory)
    name, preset = _identify(calculator, preset, relax_cell, overrides)

    frames = _resume(work, paths.traj)
    done_before = max(len(frames) - 1, 0)
    pre = _prerelax(work, prerelax, name, paths.traj, resumed=bool(frames), fmax=prerelax_fmax,
                    steps=steps, relax_cell=relax_cell, optimizer=opt_name, callback=callback)

    if isinstance(calculator, str):
        work.calc = get_calculator(name, preset if preset != "default" else None, atoms=work,
                                   directory=paths.run_dir, **overrides)
    else:
        work.calc = calculator
    if name == "vasp":
        return _relax_vasp(work, relax_cell, paths, preset, t0, pre)

    converged, done_now = _optimize(work, opt_name, fmax, steps - done_before, relax_cell,
                                    paths.traj, resumed=bool(frames), first_step=done_before,
                                    callback=callback)
    result = _summary(work, name, preset, fmax_eV_per_A=fmax, relax_cell=relax_cell,
                      optimizer=opt_name, steps=done_before + done_now, steps_this_run=done_now,
                      resumed_from_step=done_before if frames else None, converged=converged,
                      wall_time_s=time.perf_counter() - t0,
                      trajectory=str(paths.traj) if paths.traj else None,
                      structure=str(paths.xyz) if paths.xyz else None, prerelax=pre)
    return _finish(result, work, paths)


def _check_settings(fmax, steps, optimizer, prerelax) -> str:
    """Refuse bad settings before any work; returns the optimizer name in capitals."""
    if not (isinstance(fmax, int | float) and fmax > 0):
        raise RelaxInputError(f"fmax must be a positive number of eV/Å, got {fmax!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise RelaxInputError(f"steps must be a non-negative integer, got {steps!r}")
    opt_name = str(optimizer).upper()
    if opt_name not in OPTIMIZERS:
        raise RelaxInputError(f"unknown optimizer {optimizer!r} (allowed: {', '.join(OPTIMIZERS)})")
    if prerelax is not None and prerelax not in PRERELAX:
        raise RelaxInputError(f"unknown prerelax {prerelax!r} (allowed: {', '.join(PRERELAX)})")
    return opt_name


def _identify(calculator, preset: str | None, relax_cell: bool, overrides: dict) -> tuple[str, str | None]:
    """(name, preset label) of the calculator; refuses a low cutoff, or VASP missing, before any
    work (a pre-relaxation included) is spent."""
    if isinstance(calculator, str):
        from calculators.presets import check_calculator_name

        name = check_calculator_name(calculator)
        preset, settings = resolve_settings(name, preset, **overrides)
        check_cutoff(name, settings.get("ecut", settings.get("encut")), relax_cell)
    else:
        info = getattr(calculator, "hecathode", None) or {}
        name = info.get("calculator", type(calculator).__name__.lower())
        preset = info.get("preset", preset)
        check_cutoff(name, _cutoff_of(calculator), relax_cell)
    if name == "vasp":
        from calculators.vasp_calc import check_vasp_available

        check_vasp_available()
    return name, preset


def _resume(work: Atoms, traj_path: Path | None) -> list[Atoms]:
    """The frames already in the trajectory; `work` moved to the last one (cell and positions)."""
    frames = read_frames(traj_path) if traj_path else []
    if frames:
        last = frames[-1]
        if last.get_chemical_symbols() != work.get_chemical_symbols():
            raise RelaxInputError(
                f"trajectory {traj_path} belongs to another structure ({last.get_chemical_formula()}"
                f" vs {work.get_chemical_formula()}); remove it or write to another folder")
        work.set_cell(last.cell, scale_atoms=False)
        work.positions = last.positions
        rewrite(traj_path, frames)  # drops a frame cut short by a kill before appending
    return frames


def _prerelax(work: Atoms, prerelax: str | None, name: str, traj_path: Path | None, *,
              resumed: bool, fmax: float, steps: int, relax_cell: bool, optimizer: str,
              callback: Callable[[dict], None] | None) -> Relaxation | None:
    """The MLIP pre-relaxation (`work` moved to its result), or the one done before an
    interruption when resuming; None without one."""
    if not prerelax:
        return None
    pre_json = traj_path.parent / "prerelax.json" if traj_path else None
    if resumed:
        return Relaxation.from_json(pre_json) if pre_json is not None and pre_json.is_file() else None
    if name == prerelax:
        return None
    pre = relax(work, prerelax, fmax=fmax, steps=steps, relax_cell=relax_cell,
                trajectory=traj_path.parent / "prerelax.traj" if traj_path else None,
                optimizer=optimizer, directory=None,
                callback=(lambda info: callback({**info, "stage": "prerelax"})) if callback else None)
    work.set_cell(pre.atoms.cell, scale_atoms=False)
    work.positions = pre.atoms.positions
    return pre


def _optimize(work: Atoms, opt_name: str, fmax: float, steps: int, relax_cell: bool,
              traj_path: Path | None, resumed: bool, first_step: int,
              callback: Callable[[dict], None] | None) -> tuple[bool, int]:
    """Run the optimizer; append every new frame to the trajectory. Returns (converged, steps)."""
    from ase.filters import FrechetCellFilter
    from ase.io.trajectory import Trajectory
    from ase.optimize import BFGS, FIRE

    target = FrechetCellFilter(work) if relax_cell else work
    opt = (BFGS if opt_name == "BFGS" else FIRE)(target, logfile=None)
    traj = None
    if traj_path is not None:
        traj_path.parent.mkdir(parents=True, exist_ok=True)
        traj = Trajectory(str(traj_path), "a" if resumed else "w", work,
                          properties=["energy", "forces", "stress"] if relax_cell
                          else ["energy", "forces"])
    converged, n = False, -1
    warnings.filterwarnings("ignore", message="logm result may be inaccurate")  # FrechetCellFilter
    try:
        for is_converged in opt.irun(fmax=fmax, steps=max(steps, 0)):
            converged = is_converged
            n += 1
            if traj is not None and not (resumed and n == 0):
                traj.write()
            if callback is not None:
                callback({"stage": "relax", "step": first_step + n,
                          "energy_eV": float(work.get_potential_energy()),
                          "fmax_eV_per_A": _max_force(work)})
    finally:
        if traj is not None:
            traj.close()
    return bool(converged), max(n, 0)


def _summary(atoms: Atoms, name: str, preset: str | None, **run) -> Relaxation:
    """The Relaxation of `atoms` (with its calculator's last results) and the run's facts."""
    energy = float(atoms.get_potential_energy())
    volume, lattice, max_force = float(atoms.get_volume()), _lattice(atoms), _max_force(atoms)
    try:
        max_stress = float(np.abs(atoms.get_stress(voigt=True)).max() / units.GPa)
    except NotImplementedError:  # calculators without stress (ASE's PropertyNotImplementedError)
        max_stress = None
    try:  # only what the last evaluation gave: asking a calculator without moments for them
        #   would repeat the whole calculation (an EMT test caught one wasted call per relax)
        moments = atoms.calc.get_property("magmoms", atoms, allow_calculation=False)
    except NotImplementedError:  # a calculator that has no moments at all
        moments = None
    info = getattr(atoms.calc, "hecathode", None)
    return Relaxation(
        calculator=name, preset=preset, formula=atoms.get_chemical_formula(mode="metal"),
        natoms=len(atoms), energy_eV=energy, energy_per_atom_eV=energy / len(atoms),
        volume_A3=volume, lattice=lattice, max_force_eV_per_A=max_force, max_stress_GPa=max_stress,
        magnetic_moments_muB=None if moments is None else [float(m) for m in np.atleast_1d(moments)],
        settings=info["settings"] if info else None, kpoints=_kpoints(atoms.calc), **run)


def _final_atoms(work: Atoms) -> Atoms:
    """A copy of `work` (site labels and all arrays kept) holding its results."""
    final = work.copy()
    results = {k: v for k, v in work.calc.results.items()
               if k in ("energy", "free_energy", "forces", "stress", "magmom", "magmoms")}
    final.calc = SinglePointCalculator(final, **results)
    return final


def _finish(result: Relaxation, work: Atoms, paths: _Paths) -> Relaxation:
    """Attach the final structure; write it and the summary (rank 0 under MPI)."""
    result.atoms = _final_atoms(work)
    if is_master():  # under MPI (gpaw python) every rank has the result; one writes it
        if paths.xyz is not None:
            write_structure(paths.xyz, result.atoms)
        if paths.json is not None:
            write_json(paths.json, result.to_json())
    return result


def _relax_vasp(work: Atoms, relax_cell: bool, paths: _Paths, preset: str | None, t0: float,
                pre: Relaxation | None) -> Relaxation:
    """VASP's own relaxation (IBRION/ISIF from the preset), restarted from CONTCAR if present."""
    from ase.io import ParseError, read

    calc = work.calc
    calc.set(isif=calc.int_params["isif"] if relax_cell else 2)
    contcar = Path(calc.directory) / "CONTCAR"
    resumed = contcar.is_file() and contcar.stat().st_size > 0
    if resumed:
        previous = read(contcar, format="vasp")
        if previous.get_chemical_symbols() == work.get_chemical_symbols():
            work.set_cell(previous.cell, scale_atoms=False)
            work.positions = previous.positions
        else:  # CONTCAR of ASE's sorted order: map back through ase-sort.dat
            resumed = False
    work.get_potential_energy()  # runs VASP; ASE reads CONTCAR back into `work`
    try:
        n_ionic = len(read(Path(calc.directory) / "OUTCAR", index=":"))
    except (OSError, ParseError, ValueError, IndexError):  # no OUTCAR, or one VASP cut short
        n_ionic = None
    nsw = calc.int_params["nsw"] or 0
    result = _summary(work, "vasp", preset, fmax_eV_per_A=abs(calc.exp_params.get("ediffg") or 0.0),
                      relax_cell=relax_cell, optimizer="VASP IBRION 2", steps=n_ionic,
                      steps_this_run=n_ionic, resumed_from_step=None,
                      converged=bool(n_ionic is not None and n_ionic < nsw),
                      wall_time_s=time.perf_counter() - t0, trajectory=None,
                      structure=str(paths.xyz) if paths.xyz else None, prerelax=pre)
    return _finish(result, work, paths)


__all__ = ["relax", "read_frames", "Relaxation", "RelaxInputError", "CutoffTooLowError",
           "UnreadableTrajectoryError", "SITE_LABEL"]


class RelaxationMismatchError(HecathodeInputError):
    """A run folder holds a relaxation made with another calculator or preset."""


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
