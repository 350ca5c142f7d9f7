"""`hecathode relax`: relax a structure with an MLIP or DFT, or write the DFT inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from structures.errors import HecathodeInputError
from workflows.cli.common import app, err, out, user_errors

GPAW_SCRIPT = '''"""GPAW relaxation written by `hecathode relax --write-inputs`.

Serial:   python run_gpaw.py
Parallel: OMP_NUM_THREADS=1 mpiexec -n 4 gpaw python run_gpaw.py
Rerun the same command after an interruption: it resumes from relax.traj.
"""
from pathlib import Path

from calculators.relax import relax
from structures.io import read_structure

here = Path(__file__).resolve().parent
atoms = read_structure(here / "input.extxyz")
relax(atoms, "gpaw", preset={preset!r}, fmax={fmax!r}, steps={steps!r}, relax_cell={relax_cell!r},
      optimizer={optimizer!r}, prerelax={prerelax!r}, directory=here)
'''


def _write_relax_inputs(atoms, calculator: str, preset: str | None, out_dir: Path, *, fmax: float,
                        steps: int, relax_cell: bool, optimizer: str, prerelax: str | None) -> list[Path]:
    """--write-inputs: VASP input files, or a GPAW run script beside the structure."""
    from calculators import get_calculator
    from calculators.presets import resolve_settings
    from calculators.relax import check_cutoff
    from structures.io import atomic_write, write_structure

    label, settings = resolve_settings(calculator, preset)
    check_cutoff(calculator, settings.get("ecut", settings.get("encut")), relax_cell)
    if calculator == "vasp":
        from calculators.vasp_calc import write_vasp_inputs

        calc = get_calculator("vasp", preset, atoms=atoms, directory=out_dir)
        if not relax_cell:
            calc.set(isif=2)
        return write_vasp_inputs(calc, atoms, out_dir)
    if calculator == "gpaw":
        structure = write_structure(out_dir / "input.extxyz", atoms)
        text = GPAW_SCRIPT.format(preset=preset, fmax=fmax, steps=steps, relax_cell=relax_cell,
                                  optimizer=optimizer, prerelax=prerelax)
        script = atomic_write(out_dir / "run_gpaw.py", lambda tmp: Path(tmp).write_text(text))
        return [structure, script]
    raise HecathodeInputError(f"--write-inputs applies to vasp and gpaw, not {calculator} "
                              "(machine-learned potentials run directly)")


def input_cell(structure: Path, out_dir: Path, calculator: str, preset: str | None):
    """The cell to run on: the file as it is, or for a disordered CIF / pymatgen JSON its lowest
    alkali ordering or an SQS, built in OUT/disordered/ (reused on a rerun) and said in a note."""
    from structures.prototypes import load_structure
    from workflows.studies.disordered_cells import cells_from_disordered

    cells = cells_from_disordered(structure, out_dir / "disordered", calculator=calculator, preset=preset,
                                  notify=lambda msg: err.print(msg, highlight=False, soft_wrap=True))
    if cells is None:
        return load_structure(structure)
    err.print(f"[cyan]note:[/] {cells.note}", highlight=False, soft_wrap=True)
    return cells.atoms[0]


@app.command()
@user_errors
def relax(
    structure: Annotated[Path, typer.Argument(
        help="CIF, POSCAR or extxyz (site labels kept); a disordered CIF is first ordered (Na) or "
             "made an SQS (mixed sites)")],
    calculator: Annotated[str, typer.Option("--calculator", "-c",
                                            help="chgnet, sevenn, gpaw or vasp")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="run folder (resumed if it exists)")],
    preset: Annotated[str | None, typer.Option(
        help="preset in configs/calculators/<calculator>.yaml, or a YAML file of settings")] = None,
    fmax: Annotated[float, typer.Option(help="force criterion, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option(help="optimizer step budget (in total, across restarts)")] = 300,
    fixed_cell: Annotated[bool, typer.Option("--fixed-cell", help="relax ions only")] = False,
    optimizer: Annotated[str, typer.Option(help="BFGS or FIRE")] = "BFGS",
    prerelax: Annotated[str | None, typer.Option(
        help="pre-relax with chgnet (or sevenn) before the DFT relaxation")] = None,
    write_inputs: Annotated[bool, typer.Option(
        "--write-inputs", help="only write the inputs (VASP files, GPAW script) to --out")] = False,
) -> None:
    """Relax a structure (ions and cell) with CHGNet, SevenNet, GPAW or VASP; resumable."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from calculators.presets import check_calculator_name, resolve_settings
    from calculators.relax import check_cutoff
    from calculators.relax import relax as run_relax
    from calculators.vasp_calc import check_vasp_available

    name = check_calculator_name(calculator)
    atoms = input_cell(structure, out_dir, name, preset)  # CIF site labels (<label>_<n>) kept
    if write_inputs:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in _write_relax_inputs(atoms, name, preset, out_dir, fmax=fmax, steps=steps,
                                        relax_cell=not fixed_cell, optimizer=optimizer,
                                        prerelax=prerelax):
            out.print(f"wrote {path}", highlight=False, soft_wrap=True)
        if name == "gpaw":
            out.print(f"run: cd {out_dir} && OMP_NUM_THREADS=1 mpiexec -n 4 gpaw python run_gpaw.py",
                      highlight=False, soft_wrap=True)
        return

    # input errors (preset, cutoff, VASP set-up) before any display starts, so they stay one line
    label, settings = resolve_settings(name, preset)
    check_cutoff(name, settings.get("ecut", settings.get("encut")), not fixed_cell)
    if name == "vasp":
        check_vasp_available()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(f"{name}: starting", total=None)

        def show(info: dict) -> None:
            line = (f"{info['stage']} {name if info['stage'] == 'relax' else prerelax}  step "
                    f"{info['step']}  E = {info['energy_eV']:.5f} eV  max F = "
                    f"{info['fmax_eV_per_A']:.4f} eV/Å")
            if err.is_terminal:
                progress.update(task, description=line)
            else:
                err.print(line, highlight=False, soft_wrap=True)

        try:
            result = run_relax(atoms, name, fmax=fmax, steps=steps, relax_cell=not fixed_cell,
                               optimizer=optimizer, preset=preset, directory=out_dir,
                               prerelax=prerelax, callback=show)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"interrupted: {out_dir} keeps the steps done; run the same command to resume",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
    t = Table(title=f"{result.formula} relaxed with {name} ({result.preset})", title_justify="left",
              show_header=False)
    t.add_column(style="bold")
    t.add_column()
    lat = result.lattice
    t.add_row("energy", f"{result.energy_eV:.5f} eV ({result.energy_per_atom_eV:.5f} eV/atom)")
    t.add_row("volume", f"{result.volume_A3:.3f} Å³")
    t.add_row("lattice", f"a {lat['a']:.4f}  b {lat['b']:.4f}  c {lat['c']:.4f} Å; "
              f"α {lat['alpha']:.2f}  β {lat['beta']:.2f}  γ {lat['gamma']:.2f}°")
    t.add_row("max force", f"{result.max_force_eV_per_A:.4f} eV/Å (fmax {fmax:g})")
    t.add_row("steps", f"{result.steps} ({'converged' if result.converged else 'NOT converged'})"
              + (f", resumed at step {result.resumed_from_step}" if result.resumed_from_step
                 is not None else ""))
    t.add_row("wall time", f"{result.wall_time_s:.1f} s")
    out.print(t)
    out.print(f"wrote {out_dir / 'relax.json'}, {out_dir / 'relax.extxyz'}", highlight=False,
              soft_wrap=True)
