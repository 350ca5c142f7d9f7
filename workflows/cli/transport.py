"""`hecathode transport`: Na percolation barriers over K SQS hop networks as a statistic, beside
the pristine prototype."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workflows.cli.common import Normalize, Prototype, Reading, Sites, _site_map, app, err, out, user_errors


@app.command()
@user_errors
def transport(
    formula: Annotated[str, typer.Argument(help="composition as printed in papers")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="study folder (resumed if it exists)")],
    prototype: Prototype = None,
    calculator: Annotated[str, typer.Option(
        "--calculator", "-c", help="chgnet, sevenn or gpaw; 'chgnet,sevenn' runs both side by side")]
        = "chgnet",
    preset: Annotated[str | None, typer.Option(help="calculator preset")] = None,
    n_sqs: Annotated[int, typer.Option("--n-sqs", help="SQS whose networks make the statistic (K)")] = 3,
    cutoff: Annotated[float, typer.Option(help="longest Na hop, Å")] = 5.0,
    screen: Annotated[str, typer.Option(
        "--screen", help="idpp, short-neb or none: estimate every hop first, CI-NEB only the hops "
                         "percolation needs (none: CI-NEB every hop)")] = "short-neb",
    screen_margin: Annotated[float | None, typer.Option(
        "--screen-margin", help="how far below its estimate a hop's CI-NEB barrier may lie, eV "
                                "(default: the method's)")] = None,
    images: Annotated[int, typer.Option("--images", help="interior NEB images")] = 5,
    fmax: Annotated[float, typer.Option(help="NEB and vacancy-state force criterion, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option(help="NEB optimizer steps")] = 500,
    workers: Annotated[int, typer.Option(
        "--workers", help="processes running independent relaxations and NEBs side by side")] = 1,
    max_atoms: Annotated[int, typer.Option("--max-atoms", help="largest SQS supercell (atoms)")] = 160,
    min_width: Annotated[float | None, typer.Option(
        "--min-width", help="smallest perpendicular width of the SQS, Å (default 2 × longest hop + 0.5)")]
        = None,
    seed: Annotated[int, typer.Option("--seed", help="SQS annealing seed")] = 0,
    sqs_steps: Annotated[int, typer.Option("--sqs-steps", help="Monte Carlo steps per annealing run")]
        = 20000,
    sqs_runs: Annotated[int | None, typer.Option(
        "--sqs-runs", help="independent annealing runs (default max(2K, 16))")] = None,
    no_pristine: Annotated[bool, typer.Option(
        "--no-pristine", help="skip the network of the pristine prototype cell")] = False,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
) -> None:
    """Percolation barriers along a, b, c of K SQS hop networks (mean ± std, bootstrap 95 % interval,
    SQS without a path counted apart) beside the pristine prototype; writes transport.json and
    transport.png; a rerun recomputes no finished network."""
    from workflows.report.transport import plot_transport
    from workflows.studies.transport import transport_study

    names = [c.strip() for c in calculator.split(",") if c.strip()]
    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    try:
        result = transport_study(
            formula, prototype, out_dir, calculators=names, n_sqs=n_sqs, cutoff_A=cutoff, screen=screen,
            screen_margin_eV=screen_margin, n_images=images, fmax=fmax, steps=steps, preset=preset,
            workers=workers, pristine=not no_pristine, max_atoms=max_atoms, min_width_A=min_width, seed=seed,
            sqs_steps=sqs_steps, sqs_runs=sqs_runs, composition_options=options,
            progress=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        err.print(f"interrupted: {out_dir} keeps the finished networks and steps; run the same command "
                  "to resume", highlight=False)
        raise typer.Exit(130) from None
    doc = result.to_json()
    plot_transport(doc, out_dir / "transport.png")
    _print_transport(doc)
    err.print(f"wrote {out_dir}/transport.json and transport.png ({doc['networks_run']} networks run, "
              f"{doc['networks_reused']} reused, {doc['wall_time_s']:.0f} s)", highlight=False)


def _eV(x: float | None) -> str:
    return "none" if x is None else f"{x:.3f}"


def _print_transport(doc: dict) -> None:
    """Per calculator: one row per network, then one row per axis with the statistics; notes."""
    for calc in doc["calculators"]:
        _print_networks(doc, calc)
        _print_statistics(doc, calc)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)


def _print_networks(doc: dict, calc: str) -> None:
    t = Table(title=f"{calc}: Na hop networks of {doc['formula']} ({doc['prototype']})", title_justify="left")
    for col in ("cell", "atoms", "a (eV)", "b (eV)", "c (eV)", "site spread (eV)", "refined/hops", ""):
        t.add_column(col, justify="left" if col == "cell" else "right")
    for n in (r for r in doc["networks"] if r["calculator"] == calc):
        p = n["percolation_barrier_eV"]
        t.add_row(n["name"], str(n["n_atoms"]), _eV(p["a"]), _eV(p["b"]), _eV(p["c"]),
                  _eV(n["site_energy_spread_eV"]), f"{n['n_refined']}/{n['n_hops']}",
                  ("reused" if n["reused"] else f"{n['wall_time_s']:.0f} s")
                  + ("" if n["converged"] else ", NOT converged"))
    out.print(t)


def _print_statistics(doc: dict, calc: str) -> None:
    block = doc["per_calculator"][calc]
    t = Table(title=f"{calc}: percolation barrier over {len(doc['sqs'])} SQS (eV)", title_justify="left")
    for col in ("axis", "pristine", "mean ± std", "95% of mean: bootstrap", "Student t", "no path",
                "HE − pristine", "SQS above"):
        t.add_column(col, justify="left" if col == "axis" else "right")
    rows = {**block["percolation_barrier_eV"], "lowest": block["lowest_percolation_barrier_eV"]}
    for ax, s in rows.items():
        std = "" if s["std_eV"] is None else f" ± {s['std_eV']:.3f}"
        ci = "-" if s["ci95_eV"] is None else f"{s['ci95_eV'][0]:.3f} – {s['ci95_eV'][1]:.3f}"
        ci += "" if s["interval_meaningful"] or s["ci95_eV"] is None else " (K<3: not meaningful)"
        diff = s["he_minus_pristine_eV"]
        t95 = "-" if s["t95_eV"] is None else f"{s['t95_eV'][0]:.3f} – {s['t95_eV'][1]:.3f}"
        above = "-" if s["n_above_pristine"] is None else f"{s['n_above_pristine']}/{s['n_percolating']}"
        t.add_row(ax, _eV(s["pristine_eV"]), _eV(s["mean_eV"]) + std, ci, t95,
                  f"{s['n_no_path']}/{s['n_sqs']}", "-" if diff is None else f"{diff:+.3f}", above)
    out.print(t)
    for material, line in block.get("nvpf_comparison", {}).items():
        out.print(f"{calc} NVPF ({material}): {line}", highlight=False)
