"""`hecathode neb`: Na vacancy-hop barriers by climbing-image NEB (one hop, several, a network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from structures.errors import HecathodeInputError
from workflows.cli.common import Prototype, app, err, out, user_errors


@app.command()
@user_errors
def neb(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="run folder (resumed if it exists)")],
    prototype: Prototype = None,
    structure: Annotated[Path | None, typer.Option(
        "--structure", help="cell from a file (e.g. an SQS extxyz; site labels kept); a disordered CIF "
                            "is first ordered (Na) or made an SQS (mixed sites)")] = None,
    hop: Annotated[str | None, typer.Option("--hop", help="vacancy hop FROM:TO, e.g. Na2:Na1")] = None,
    network: Annotated[bool, typer.Option(
        "--network", help="every symmetry-distinct Na hop up to --cutoff, and percolation")] = False,
    n_hops: Annotated[int, typer.Option(
        "--n-hops", help="distinct hops (pristine) or hops in different local environments (SQS)")] = 1,
    calculator: Annotated[str, typer.Option(
        "--calculator", "-c", help="chgnet, sevenn, gpaw or vasp; 'chgnet,sevenn' runs both side by side")]
        = "chgnet",
    preset: Annotated[str | None, typer.Option(help="calculator preset")] = None,
    images: Annotated[int, typer.Option("--images", help="interior images")] = 5,
    fmax: Annotated[float, typer.Option(help="NEB force criterion, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option(help="NEB optimizer steps")] = 500,
    optimizer: Annotated[str, typer.Option(help="FIRE, BFGS or ODE")] = "FIRE",
    dynamic: Annotated[bool, typer.Option(
        "--dynamic/--no-dynamic", help="DyNEB: skip images already below fmax (FIRE, BFGS)")] = True,
    spring: Annotated[float, typer.Option(help="spring constant, eV/Å²")] = 0.1,
    cutoff: Annotated[float, typer.Option(help="longest hop, Å")] = 5.0,
    pristine: Annotated[str | None, typer.Option(
        help="also run the same hop in this pristine prototype and plot both")] = None,
    screen: Annotated[str, typer.Option(
        "--screen", help="--network: estimate every hop (idpp: energy maximum along the IDPP path; "
                         "short-neb: 1 climbing image, fmax 0.2), CI-NEB only the hops percolation "
                         "needs; none: CI-NEB every hop")] = "none",
    screen_margin: Annotated[float | None, typer.Option(
        "--screen-margin", help="how far below its estimate a hop's CI-NEB barrier may lie, eV "
                                "(default: idpp 0.6, short-neb 0.25: the estimates mostly lie above CI-NEB)")]
        = None,
    workers: Annotated[int, typer.Option(
        "--workers", help="--network: relaxations and hops side by side in this many processes, one "
                          "torch thread each (up to the cores)")] = 1,
    write_inputs: Annotated[bool, typer.Option(
        "--write-inputs", help="write a VASP NEB folder (00…0N) instead of running")] = False,
) -> None:
    """Na vacancy-hop barriers by climbing-image NEB: one hop, several, or the hop network."""
    from calculators.presets import check_calculator_name
    from workflows.report.neb import plot_study
    from workflows.studies.neb_study import study

    names = [check_calculator_name(c.strip()) for c in calculator.split(",") if c.strip()]
    if not names or len(names) > 2:
        raise HecathodeInputError(f"--calculator {calculator!r}: give one or two calculators")
    if "vasp" in names and not write_inputs:
        raise HecathodeInputError("VASP NEBs run on the cluster: add --write-inputs to write the folder")

    def show(info: dict) -> None:
        if info["stage"] == "neb":
            err.print(f"  NEB step {info['step']}  max F = {info['fmax_eV_per_A']:.4f} eV/Å  "
                      f"E_max = {info['energy_eV']:.4f} eV", highlight=False)
        elif info["step"] % 10 == 0:
            err.print(f"  {info['stage']} endpoint step {info['step']}  max F = "
                      f"{info['fmax_eV_per_A']:.4f} eV/Å", highlight=False)

    structure, note = _ordered_structure(structure, out_dir, names[0], preset)
    try:
        doc = study(prototype, structure, out_dir, hop=hop, network=network, n_hops=n_hops,
                    calculators=names, cutoff=cutoff, pristine=pristine, write_inputs=write_inputs,
                    progress=lambda line: err.print(line, highlight=False), callback=show,
                    n_images=images, fmax=fmax, steps=steps, optimizer=optimizer, spring=spring,
                    dynamic=dynamic, preset=preset, screen=screen, screen_margin_eV=screen_margin,
                    workers=workers)
    except KeyboardInterrupt:
        err.print(f"interrupted: {out_dir} keeps the finished steps; run the same command to resume",
                  highlight=False)
        raise typer.Exit(130) from None
    if not write_inputs:
        plot_study(doc, out_dir)
    _print_neb({**doc, "notes": [*([note] if note else []), *doc.get("notes", [])]}, out_dir)


def _ordered_structure(structure: Path | None, out_dir: Path, calculator: str,
                       preset: str | None) -> tuple[Path | None, str | None]:
    """A disordered CIF becomes its lowest alkali ordering or an SQS (built in OUT/disordered/,
    reused on a rerun), said in a note; any other file (or none) is used as it is."""
    from workflows.studies.disordered_cells import cells_from_disordered

    if structure is None:
        return None, None
    cells = cells_from_disordered(structure, out_dir / "disordered", calculator=calculator, preset=preset,
                                  notify=lambda msg: err.print(msg, highlight=False))
    if cells is None:
        return structure, None
    err.print(f"[cyan]note:[/] {cells.note}", highlight=False)
    return cells.files[0], cells.note


def _print_neb(doc: dict, out_dir: Path) -> None:
    if "vasp_neb" in doc:
        out.print(f"wrote VASP NEB folder {doc['vasp_neb']} ({len(doc['files'])} files)", highlight=False)
        return
    for name, res in doc["results"].items():
        if "percolation_barrier_eV" in res:
            t = Table(title=f"{name}: Na hop network ({res['n_atoms']} atoms)", title_justify="left")
            for col in ("hop", "length Å", "mult.", "forward eV", "reverse eV", "effective eV", "saddle"):
                t.add_column(col, justify="right")
            for h in res["hops"]:
                if "skipped" in h:
                    t.add_row(f"{h['start_label']}→{h['end_label']}", f"{h['length_A']:.2f}",
                              str(h["multiplicity"]), "-", "-", "-", h["skipped"][:40])
                    continue
                if not h.get("refined", True):
                    t.add_row(f"{h['start_label']}→{h['end_label']}", f"{h['length_A']:.2f}",
                              str(h["multiplicity"]), "-", "-", f"≈{h['screened_barrier_eV']:.3f}",
                              f"screened ({h['screen_estimate']}) only")
                    continue
                t.add_row(f"{h['start_label']}→{h['end_label']}", f"{h['length_A']:.2f}",
                          str(h["multiplicity"]), f"{h['forward_barrier_eV']:.3f}",
                          f"{h['reverse_barrier_eV']:.3f}", f"{h['effective_barrier_eV']:.3f}",
                          h["saddle"] + ("" if h["converged"] else " (NOT converged)")
                          + (" concerted" if h.get("reconstructed") else "")
                          + ("" if h.get("in_percolation", True) else " (not in percolation)"))
            out.print(t)
            perc = ", ".join(f"{k}: {'none' if v is None else f'{v:.3f} eV'}"
                             for k, v in res["percolation_barrier_eV"].items())
            out.print(f"percolation barrier along {perc}", highlight=False)
            if res.get("host"):
                change = res["host"]["volume_change_percent"]
                out.print(f"host relaxed first (ions + cell): volume {change:+.2f} %", highlight=False)
            calls = res.get("force_calls") or {}
            out.print(f"{res.get('n_refined', len(res['hops']))}/{len(res['hops'])} hops refined by CI-NEB "
                      f"(screen: {res.get('screen', 'none')}); site-energy spread "
                      f"{res.get('site_energy_spread_eV') or 0.0:.3f} eV; force calls {calls.get('total')}",
                      highlight=False)
            continue
        t = Table(title=f"{name}: {doc.get('material', '')} Na hops", title_justify="left")
        for col in ("hop", "length Å", "forward eV", "reverse eV", "ΔE eV", "saddle", "max F",
                    "metals near path"):
            t.add_column(col, justify="right")
        for r in res["hops"]:
            h = r["hop"]
            env = " ".join(f"{el}{n}" for el, n in h["environment"].items())
            t.add_row(f"{h['start_label']}→{h['end_label']}", f"{h['length_A']:.2f}",
                      f"{r['forward_barrier_eV']:.3f}", f"{r['reverse_barrier_eV']:.3f}",
                      f"{r['reaction_energy_eV']:.3f}", r["saddle"],
                      f"{r['max_force_eV_per_A']:.3f}" + ("" if r["converged"] else " NOT conv."), env)
        out.print(t)
        s = res["summary"]
        if s["n"] > 1:
            out.print(f"{name}: {s['n']} hops, barrier min {s['min_eV']:.3f} / mean {s['mean_eV']:.3f} / "
                      f"max {s['max_eV']:.3f} eV", highlight=False)
    if "pristine" in doc:
        r = doc["pristine"]["result"]
        out.print(f"pristine {doc['pristine']['prototype']}: {r['forward_barrier_eV']:.3f} eV",
                  highlight=False)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)
    err.print(f"wrote {out_dir}/neb.json and plots", highlight=False)
