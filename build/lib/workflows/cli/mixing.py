"""`hecathode mixing`: mixing enthalpy from SQS and end members, ΔS_config, ΔG_mix(T) and T*."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from structures.errors import HecathodeInputError
from workflows.cli.common import (
    MaxAtoms,
    Normalize,
    Prototype,
    Reading,
    Sites,
    _site_map,
    app,
    err,
    out,
    user_errors,
)


@app.command()
@user_errors
def mixing(
    formula: Annotated[str, typer.Argument(help="composition as printed in papers")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="study folder (resumed if it exists)")],
    prototype: Prototype = None,
    calculator: Annotated[str, typer.Option(
        "--calculator", "-c", help="chgnet, sevenn, gpaw or vasp; 'chgnet,sevenn' runs both side by side")]
        = "chgnet",
    preset: Annotated[str | None, typer.Option(help="calculator preset")] = None,
    n_sqs: Annotated[int, typer.Option("--n-sqs", help="SQS to relax (K)")] = 3,
    synthesis_temperature: Annotated[float | None, typer.Option(
        "--synthesis-temperature", help="K; judge whether T* lies below it (default: not judged)")] = None,
    max_atoms: MaxAtoms = 160,
    min_width: Annotated[float, typer.Option(
        "--min-width", help="smallest perpendicular width of the SQS cell, Å")] = 6.0,
    seed: Annotated[int, typer.Option("--seed", help="SQS annealing seed (and end-member rattle)")] = 0,
    fmax: Annotated[float, typer.Option(help="relaxation force criterion, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option(help="relaxation step budget per structure (ions + cell)")] = 300,
    sqs_steps: Annotated[int, typer.Option("--sqs-steps", help="Monte Carlo steps per annealing run")]
        = 20000,
    sqs_runs: Annotated[int | None, typer.Option(
        "--sqs-runs", help="independent annealing runs (default max(2K, 16))")] = None,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
) -> None:
    """Mixing enthalpy over K SQS vs the end members, ΔS_config, ΔG_mix(T) and the crossover T*;
    writes mixing.json and mixing.png; a rerun redoes no finished relaxation."""
    from calculators.presets import check_calculator_name
    from workflows.report.mixing import plot_mixing
    from workflows.studies.mixing import mixing_study

    names = [check_calculator_name(c.strip()) for c in calculator.split(",") if c.strip()]
    if not names:
        raise HecathodeInputError(f"--calculator {calculator!r}: give at least one calculator")
    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    try:
        result = mixing_study(formula, prototype, out_dir, calculators=names, n_sqs=n_sqs,
                              synthesis_temperature_K=synthesis_temperature, max_atoms=max_atoms,
                              min_width_A=min_width, seed=seed, fmax=fmax, steps=steps, preset=preset,
                              sqs_steps=sqs_steps, sqs_runs=sqs_runs, composition_options=options,
                              progress=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        err.print(f"interrupted: {out_dir} keeps the finished relaxations; run the same command to "
                  "resume", highlight=False)
        raise typer.Exit(130) from None
    doc = result.to_json()
    plot_mixing(doc, out_dir / "mixing.png")
    _print_mixing(doc)
    err.print(f"wrote {out_dir}/mixing.json and mixing.png ({doc['relaxations_run']} relaxations run, "
              f"{doc['relaxations_reused']} reused, {doc['wall_time_s']:.0f} s)", highlight=False)


def _print_mixing(doc: dict) -> None:
    """One row per SQS and calculator, one summary row per calculator, then ΔS, T* and notes."""
    t = Table(title=f"Mixing of {doc['formula']} on {doc['prototype']} ({doc['mixing_sublattice']} "
              "sublattice)", title_justify="left")
    for col in ("calculator", "SQS", "atoms", "ΔH_mix (meV/atom)", "ΔH_mix (eV/site)", "ΔS (R/site)",
                "T* (K)", "converged"):
        t.add_column(col, justify="left" if col in ("calculator", "SQS") else "right")
    for r in doc["per_sqs"]:
        t.add_row(r["calculator"], r["sqs"], str(r["n_atoms"]), f"{r['dH_mix_meV_per_atom']:.2f}",
                  f"{r['dH_mix_eV_per_mixing_site']:.4f}", f"{r['dS_config_R']:.3f}",
                  _kelvin(r["T_star_K"]), "yes" if r["converged"] else "NO")
    for calc in doc["calculators"]:
        a = doc["dH_mix_meV_per_atom"]["per_calculator"][calc]
        s = doc["dH_mix_eV_per_mixing_site"]["per_calculator"][calc]
        ds = doc["dS_config_R"]["per_calculator"][calc]
        t.add_row(calc, "mean ± std (spread)", "",
                  f"{a['mean_meV_per_atom']:.2f} ± {a['std_meV_per_atom']:.2f} "
                  f"({a['spread_meV_per_atom']:.2f})", f"{s['mean_eV_per_mixing_site']:.4f}",
                  f"{ds['mean_R']:.3f}",
                  _kelvin(doc["T_star_K"]["per_calculator"][calc]["value_K"]), "", style="bold")
    out.print(t)
    ds = doc["dS_config_R"]
    out.print(f"ΔS_config {ds['mean_R']:.3f} R per site achieved (formula: {ds['target_R']:.3f} R)",
              highlight=False)
    pu = doc["potential_uncertainty"]
    if pu:
        d = pu["dH_mix_meV_per_atom"]
        out.print(f"potential uncertainty ({pu['between']}): {d['mean_difference']:+.2f} meV/atom in "
                  "the mean", highlight=False)
    for calc in doc["calculators"]:
        out.print(f"{calc}: {doc['T_star_K']['per_calculator'][calc]['verdict']}", highlight=False)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)


def _kelvin(t: float | None) -> str:
    return "-" if t is None else f"{t:.0f}"
