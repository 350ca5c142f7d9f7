"""Resumable relaxation: ASE optimizer (BFGS or FIRE), FrechetCellFilter when the cell relaxes.

`relax(atoms, "chgnet", trajectory="run/relax.traj")` writes every step to the trajectory as it
goes; run it again after a Ctrl-C or a killed job and it continues from the last frame written
(with a fresh optimizer: the Hessian is not kept). When it ends it writes, atomically,
`<stem>.json` (the summary returned) and `<stem>.extxyz` (the final structure with its site
labels; ASE trajectories do not keep custom per-atom arrays) beside the trajectory.

VASP relaxes with its own optimizer (IBRION 2, ISIF 3, or ISIF 2 with a fixed cell); a rerun
starts from the CONTCAR left in the run directory.

Units: energies eV, forces eV/Å, stress GPa, volumes Å^3, lengths Å, angles degrees, time s.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator

from calculators import get_calculator
from calculators.gpaw_calc import MIN_ECUT_CELL_RELAX
from calculators.presets import resolve_settings
from structures.errors import HecathodeInputError
from structures.io import SITE_LABEL, ensure_site_labels, write_json, write_structure

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


def read_frames(path: str | Path) -> list[Atoms]:
    """Frames of an ASE trajectory, stopping quietly at a frame cut short by a kill."""
    from ase.io.trajectory import Trajectory

    frames: list[Atoms] = []
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return frames
    try:
        with Trajectory(str(path)) as traj:
            for i in range(len(traj)):
                frames.append(traj[i])
    except Exception:  # a truncated last frame: keep what could be read
        pass
    return frames


def _rewrite(path: Path, frames: list[Atoms]) -> None:
    """Write `frames` as the trajectory at `path`, atomically."""
    from ase.io.trajectory import Trajectory

    from structures.io import atomic_write

    def write(tmp: str) -> None:
        with Trajectory(tmp, "w") as traj:
            for frame in frames:
                traj.write(frame)

    if _is_master():
        atomic_write(path, write)
    from ase.parallel import barrier

    barrier()


def _is_master() -> bool:
    """True on MPI rank 0 (and in serial runs)."""
    from ase.parallel import world

    return world.rank == 0


def _lattice(atoms: Atoms) -> dict:
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    return {"a": a, "b": b, "c": c, "alpha": alpha, "beta": beta, "gamma": gamma,
            "matrix": atoms.cell.array.tolist()}


def _max_force(atoms: Atoms) -> float:
    forces = atoms.get_forces()
    return float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0


def _summary(atoms: Atoms, name: str, preset: str | None, **extra) -> dict:
    energy = float(atoms.get_potential_energy())
    doc = {
        "calculator": name, "preset": preset,
        "formula": atoms.get_chemical_formula(mode="metal"), "natoms": len(atoms),
        "energy_eV": energy, "energy_per_atom_eV": energy / len(atoms),
        "volume_A3": float(atoms.get_volume()), "lattice": _lattice(atoms),
        "max_force_eV_per_A": _max_force(atoms),
    }
    try:
        stress = atoms.get_stress(voigt=True)
        doc["max_stress_GPa"] = float(np.abs(stress).max() / units.GPa)
    except Exception:  # calculators without stress
        doc["max_stress_GPa"] = None
    try:  # only what the last evaluation gave: asking a calculator without moments for them
        #   would repeat the whole calculation (an EMT test caught one wasted call per relax)
        moments = atoms.calc.get_property("magmoms", atoms, allow_calculation=False)
    except Exception:
        moments = None
    doc["magnetic_moments_muB"] = None if moments is None else [float(m) for m in np.atleast_1d(moments)]
    doc.update(extra)
    return doc


def _final_atoms(work: Atoms) -> Atoms:
    """A copy of `work` (site labels and all arrays kept) holding its results."""
    final = work.copy()
    results = {k: v for k, v in work.calc.results.items()
               if k in ("energy", "free_energy", "forces", "stress", "magmom", "magmoms")}
    final.calc = SinglePointCalculator(final, **results)
    return final


def _outputs(trajectory, directory) -> tuple[Path | None, Path | None, Path | None]:
    if trajectory is None and directory is None:
        return None, None, None
    traj = Path(trajectory) if trajectory is not None else Path(directory) / "relax.traj"
    base = Path(directory) if directory is not None else traj.parent
    return traj, base / f"{traj.stem}.json", base / f"{traj.stem}.extxyz"


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
) -> dict:
    """Relax ions (and the cell unless `relax_cell=False`) until max force < `fmax` eV/Å.

    calculator: a name (chgnet, sevenn, gpaw, vasp; built with `preset` and `overrides` for these
        atoms) or a ready ASE calculator.
    steps: the optimizer step budget in total, counting steps done before a restart.
    trajectory: ASE .traj written step by step and resumed from; with `directory` alone it is
        `directory/relax.traj`. The summary JSON and final extxyz go beside it. Without both,
        nothing is written.
    prerelax: "chgnet" or "sevenn" to pre-relax with that potential first (its own
        `prerelax.traj` in the same folder; `prerelax_fmax` eV/Å), skipped when resuming.
    callback: called after every step with {"stage", "step", "energy_eV", "fmax_eV_per_A"}.

    Returns the summary: energy_eV, energy_per_atom_eV, volume_A3, lattice (Å, degrees),
    max_force_eV_per_A, max_stress_GPa, steps, converged, wall_time_s (this run), calculator,
    preset, ... and "atoms": the relaxed structure (a copy, site labels kept). The input
    `atoms` is not modified.
    """
    t0 = time.perf_counter()
    if not (isinstance(fmax, int | float) and fmax > 0):
        raise RelaxInputError(f"fmax must be a positive number of eV/Å, got {fmax!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise RelaxInputError(f"steps must be a non-negative integer, got {steps!r}")
    opt_name = str(optimizer).upper()
    if opt_name not in OPTIMIZERS:
        raise RelaxInputError(f"unknown optimizer {optimizer!r} (allowed: {', '.join(OPTIMIZERS)})")
    if prerelax is not None and prerelax not in PRERELAX:
        raise RelaxInputError(f"unknown prerelax {prerelax!r} (allowed: {', '.join(PRERELAX)})")

    work = atoms.copy()
    ensure_site_labels(work)
    traj_path, json_path, xyz_path = _outputs(trajectory, directory)
    run_dir = Path(directory) if directory is not None else (traj_path.parent if traj_path else None)

    # name and preset of the calculator; refuse a low cutoff before any work is done
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

        check_vasp_available()  # before any pre-relaxation is spent

    frames = read_frames(traj_path) if traj_path else []
    if frames:
        last = frames[-1]
        if last.get_chemical_symbols() != work.get_chemical_symbols():
            raise RelaxInputError(
                f"trajectory {traj_path} belongs to another structure ({last.get_chemical_formula()}"
                f" vs {work.get_chemical_formula()}); remove it or write to another folder")
        work.set_cell(last.cell, scale_atoms=False)
        work.positions = last.positions
        _rewrite(traj_path, frames)  # drops a frame cut short by a kill before appending
    done_before = max(len(frames) - 1, 0)

    pre_doc = None
    pre_json = traj_path.parent / "prerelax.json" if traj_path else None
    if prerelax and frames and pre_json is not None and pre_json.is_file():
        pre_doc = json.loads(pre_json.read_text())  # done before the interruption
    if prerelax and not frames and name != prerelax:
        pre_traj = traj_path.parent / "prerelax.traj" if traj_path else None
        pre_doc = relax(work, prerelax, fmax=prerelax_fmax, steps=steps, relax_cell=relax_cell,
                        trajectory=pre_traj, optimizer=opt_name, directory=None,
                        callback=(lambda info: callback({**info, "stage": "prerelax"}))
                        if callback else None)
        pre_atoms = pre_doc.pop("atoms")
        work.set_cell(pre_atoms.cell, scale_atoms=False)
        work.positions = pre_atoms.positions

    if isinstance(calculator, str):
        calc = get_calculator(name, preset if preset != "default" else None, atoms=work,
                              directory=run_dir, **overrides)
    else:
        calc = calculator
    work.calc = calc

    if name == "vasp":
        return _relax_vasp(work, calc, relax_cell, run_dir, json_path, xyz_path, preset, t0, pre_doc)

    converged, done_now = _optimize(work, opt_name, fmax, steps - done_before, relax_cell,
                                    traj_path, resumed=bool(frames), first_step=done_before,
                                    callback=callback)
    doc = _summary(work, name, preset, fmax_eV_per_A=fmax, relax_cell=relax_cell,
                   optimizer=opt_name, steps=done_before + done_now, steps_this_run=done_now,
                   resumed_from_step=done_before if frames else None, converged=converged,
                   wall_time_s=time.perf_counter() - t0,
                   trajectory=str(traj_path) if traj_path else None,
                   structure=str(xyz_path) if xyz_path else None, prerelax=pre_doc)
    return _finish(doc, work, json_path, xyz_path)


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


def _finish(doc: dict, work: Atoms, json_path, xyz_path) -> dict:
    info = getattr(work.calc, "hecathode", None)
    doc["settings"] = info["settings"] if info else None
    doc["kpoints"] = _kpoints(work.calc)
    final = _final_atoms(work)
    if _is_master():  # under MPI (gpaw python) every rank has the result; one writes it
        if xyz_path is not None:
            write_structure(xyz_path, final)
        if json_path is not None:
            write_json(json_path, doc)
    doc["atoms"] = final
    return doc


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


def _relax_vasp(work, calc, relax_cell, run_dir, json_path, xyz_path, preset, t0, pre_doc) -> dict:
    """VASP's own relaxation (IBRION/ISIF from the preset), restarted from CONTCAR if present."""
    from ase.io import read

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
    except Exception:
        n_ionic = None
    nsw = calc.int_params["nsw"] or 0
    doc = _summary(work, "vasp", preset, relax_cell=relax_cell, optimizer="VASP IBRION 2",
                   steps=n_ionic, steps_this_run=n_ionic, resumed_from_step=None,
                   converged=bool(n_ionic is not None and n_ionic < nsw),
                   wall_time_s=time.perf_counter() - t0, trajectory=None,
                   structure=str(xyz_path) if xyz_path else None, prerelax=pre_doc)
    doc["fmax_eV_per_A"] = abs(calc.exp_params.get("ediffg") or 0.0)
    return _finish(doc, work, json_path, xyz_path)


__all__ = ["relax", "read_frames", "RelaxInputError", "CutoffTooLowError", "SITE_LABEL"]
