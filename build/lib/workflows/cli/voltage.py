"""`hecathode voltage`: voltage profile and strain on desodiation from Na/vacancy orderings
relaxed with a potential, pristine beside high-entropy."""

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


def _numbers(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise HecathodeInputError(f"{option} {text!r}: expected numbers separated by commas, "
                                  "e.g. 3,2,1") from None


def _n_relax(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise HecathodeInputError(f"--n-relax {text!r}: expected a whole number or 'all'") from None


@app.command()
@user_errors
def voltage(
    formula: Annotated[str, typer.Argument(help="composition as printed in papers")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="study folder (resumed if it exists)")],
    prototype: Prototype = None,
    na: Annotated[str | None, typer.Option("--na", help="Na per formula unit, e.g. 3,2,1")] = None,
    x: Annotated[str | None, typer.Option("--x", help="fractions of the as-made Na, e.g. 1,0.5,0")] = None,
    calculator: Annotated[str, typer.Option(
        "--calculator", "-c", help="chgnet, sevenn, gpaw or vasp; 'chgnet,sevenn' runs both")] = "chgnet",
    preset: Annotated[str | None, typer.Option(help="calculator preset")] = None,
    n_sqs: Annotated[int, typer.Option("--n-sqs", help="SQS of a mixed composition (K)")] = 3,
    n_relax: Annotated[str, typer.Option(
        "--n-relax", help="orderings relaxed per Na content, lowest Ewald first; 'all': no pre-ranking")
    ] = "3",
    max_orderings: Annotated[int, typer.Option(
        "--max-orderings", help="refuse more symmetry-distinct orderings than this")] = 500,
    pristine: Annotated[str | None, typer.Option(
        "--pristine", help="pristine composition to run beside, e.g. Na3V2(PO4)2F3")] = None,
    fmax: Annotated[float, typer.Option(help="relaxation force criterion, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option(help="relaxation step budget per structure")] = 300,
    fixed_cell: Annotated[bool, typer.Option("--fixed-cell", help="relax ions only")] = False,
    seed: Annotated[int, typer.Option("--seed", help="SQS annealing and ordering search seed")] = 0,
    max_atoms: MaxAtoms = 160,
    min_width: Annotated[float, typer.Option("--min-width", help="smallest SQS cell width, Å")] = 6.0,
    sqs_steps: Annotated[int, typer.Option("--sqs-steps", help="Monte Carlo steps per SQS run")] = 20000,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
) -> None:
    """Voltage steps from the hull of E(Na_x) (pymatgen InsertionElectrode, bcc Na reference),
    average voltage, volume and lattice change between the end contents; writes voltage.json,
    voltage.png and strain.png; a rerun redoes no finished relaxation."""
    from calculators.presets import check_calculator_name
    from workflows.report.voltage import plot_strain, plot_voltage
    from workflows.studies.voltage import voltage_study

    names = [check_calculator_name(c.strip()) for c in calculator.split(",") if c.strip()]
    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    try:
        result = voltage_study(formula, prototype, out_dir, na=_numbers(na, "--na"), x=_numbers(x, "--x"),
                               calculators=names, n_sqs=n_sqs, n_relax=_n_relax(n_relax),
                               max_orderings=max_orderings, fmax=fmax, steps=steps, preset=preset,
                               relax_cell=not fixed_cell, seed=seed, max_atoms=max_atoms,
                               min_width_A=min_width, sqs_steps=sqs_steps, composition_options=options,
                               pristine=pristine,
                               progress=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        err.print(f"interrupted: {out_dir} keeps the finished relaxations; run the same command to "
                  "resume", highlight=False)
        raise typer.Exit(130) from None
    doc = result.to_json()
    plot_voltage(doc, out_dir / "voltage.png")
    plot_strain(doc, out_dir / "strain.png")
    _print_voltage(doc)
    err.print(f"wrote {out_dir}/voltage.json, voltage.png and strain.png ({doc['relaxations_run']} "
              f"relaxations run, {doc['relaxations_reused']} reused, {doc['wall_time_s']:.0f} s)",
              highlight=False)


def _electrode_table(doc: dict, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("calculator", "host", "⟨V⟩ (V)", "steps: Na range -> V", "ΔV/host atom (%)",
                "Δa, Δb, Δc (%)", "converged"):
        left = col in ("calculator", "host", "steps: Na range -> V")
        t.add_column(col, justify="left" if left else "right")
    for e in doc["electrodes"]:
        steps = "; ".join(f"{s['na_high_per_fu']:g}->{s['na_low_per_fu']:g}: {s['voltage_V']:.2f}"
                          for s in sorted(e["voltage_steps"], key=lambda s: -s["na_high_per_fu"]))
        lat = ", ".join(f"{e['lattice_change_percent'][k]:+.2f}" for k in ("a", "b", "c"))
        t.add_row(e["calculator"], e["host"], f"{e['average_voltage_V']:.3f}", steps,
                  f"{e['volume_change_percent']:+.2f}", lat, "yes" if e["converged"] else "NO")
    return t


def _print_voltage(doc: dict) -> None:
    """Per host and calculator, the mean ± spread over SQS, the comparison, above-hull states, notes."""
    out.print(_electrode_table(doc, f"Voltage of {doc['formula']} on {doc['prototype']} "
                                    f"(Na {', '.join(f'{n:g}' for n in doc['na_per_fu'])} per f.u.)"))
    for calc, s in doc["average_voltage_summary"].items():
        v = doc["volume_change_summary"][calc]
        out.print(f"{calc}: ⟨V⟩ {s['mean_V']:.3f} V (spread {s['spread_V']:.3f} over {s['n']} host(s)), "
                  f"ΔV {v['mean_percent']:+.2f}% (spread {v['spread_percent']:.2f})", highlight=False)
    comp = doc.get("comparison")
    if comp:
        out.print(_electrode_table({"electrodes": comp["pristine"]["electrodes"]},
                                   f"Pristine {comp['pristine']['formula']} (same Na contents)"))
        for calc, d in comp["difference_he_minus_pristine"].items():
            out.print(f"{calc}: HE − pristine ⟨V⟩ {d['average_voltage_V']:+.3f} V (HE SQS spread "
                      f"{d['he_sqs_spread_V']:.3f}), ΔV {d['volume_change_percent']:+.2f}% (spread "
                      f"{d['he_sqs_spread_percent']:.2f})", highlight=False)
    if doc["above_hull"]:
        lowest = sorted(doc["above_hull"], key=lambda a: a["e_above_hull_eV_per_fu"])[:4]
        out.print(f"{len(doc['above_hull'])} states above the hull (voltage.json above_hull), lowest: "
                  + "; ".join(f"{a['calculator']} {a['name']} +{a['e_above_hull_eV_per_fu'] * 1000:.0f} "
                              "meV/f.u." for a in lowest), highlight=False)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)
