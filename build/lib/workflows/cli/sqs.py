"""`hecathode supercell` and `sqs`: the supercells that hold a composition, and icet SQS in one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from structures.entropy import configurational_entropy
from structures.errors import HecathodeInputError
from workflows.cli.common import (
    Alkali,
    AsJson,
    CalcPreset,
    Calculator,
    FormulaArg,
    FormulaOverride,
    MaxAtoms,
    MaxOrderings,
    MinWidth,
    MpId,
    NKeep,
    Normalize,
    NRelax,
    Prototype,
    Reading,
    SiteMapOpt,
    Sites,
    StructureFile,
    Tolerance,
    _label_map,
    _site_map,
    app,
    err,
    out,
    user_errors,
)


@app.command()
@user_errors
def supercell(
    formula: FormulaArg,
    prototype: Prototype = None,
    formula_override: FormulaOverride = None,
    max_atoms: MaxAtoms = 160,
    tolerance: Tolerance = 0.01,
    min_width: MinWidth = 8.0,
    structure: StructureFile = None,
    site_map: SiteMapOpt = None,
    mp_id: MpId = None,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    as_json: AsJson = False,
) -> None:
    """List the supercells up to --max-atoms and the composition each can hold."""
    from structures.sqs import plan_supercells, smallest_for_one_of_each
    from workflows.studies.sqs_set import resolve_source

    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    src = resolve_source(formula, prototype, Path("."), structure=structure, site_map=_label_map(site_map),
                         mp_id=mp_id, composition_options=options, formula_override=formula_override,
                         alkali="sqs")
    comp, parent = src.composition, src.parent
    plan = plan_supercells(comp, parent, max_atoms)
    if not plan.options:
        raise HecathodeInputError(f"no supercell up to {max_atoms} atoms holds one atom of each species; "
                                  f"the smallest that does has {smallest_for_one_of_each(plan)} atoms")
    if src.announce:
        err.print(src.announce, highlight=False)
    doc = {"formula": comp.formula, "prototype": comp.prototype.name, "atoms_per_parent_cell": len(parent),
           "target_site_fractions": plan.targets, "entropy_target_R": configurational_entropy(comp).total_R,
           "exact_supercell": ({"n_cells": plan.exact_n_cells, "n_atoms": plan.exact_n_cells * len(parent)}
                               if plan.exact_n_cells else None),
           "notes": src.notes + comp.notes + plan.notes,
           "supercells": _supercell_rows(comp, plan, parent, tolerance, min_width)}
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_supercells(doc, tolerance, min_width)


def _supercell_rows(comp, plan, parent, tolerance: float, min_width: float) -> list[dict]:
    """One row per supercell size; shapes and widths for those within tolerance and the 5 closest."""
    from structures.sqs import achieved_entropy, supercell_shape

    best = sorted(plan.options, key=lambda o: (round(o.max_deviation, 9), -o.n_atoms))[:5]
    for o in plan.options:
        if o.max_deviation <= tolerance or o in best:
            P, w = supercell_shape(parent, o.n_cells)
            o.matrix, o.min_width_A = P.tolist(), w
    return [{"n_cells": o.n_cells, "n_atoms": o.n_atoms, "counts": o.counts,
             "max_deviation": o.max_deviation, "exact": o.exact,
             "within_tolerance": o.max_deviation <= tolerance,
             "min_width_A": o.min_width_A, "matrix": o.matrix, "entropy_R": achieved_entropy(comp, o),
             "usable": o.min_width_A is not None and o.min_width_A >= min_width - 1e-6}
            for o in plan.options]


def _print_supercells(doc: dict, tolerance: float, min_width: float) -> None:
    t = Table(title=f"Supercells of {doc['prototype']} ({doc['atoms_per_parent_cell']} atoms per parent "
              f"cell) for {doc['formula']}", title_justify="left")
    for col in ("cells", "atoms", "counts on mixing sites", "max dev", "ΔS (R)", "width (Å)", ""):
        t.add_column(col, justify="left" if col.startswith("counts") else "right")
    for r in doc["supercells"]:
        counts = "; ".join(f"{sub}: " + " ".join(f"{sp}{n}" for sp, n in c.items())
                           for sub, c in r["counts"].items())
        width = "-" if r["min_width_A"] is None else f"{r['min_width_A']:.2f}"
        flag = "exact" if r["exact"] else ("≈" if r["within_tolerance"] else "")
        style = "green" if r["exact"] and r["usable"] else ""
        t.add_row(str(r["n_cells"]), str(r["n_atoms"]), counts, f"{r['max_deviation']:.4f}",
                  f"{r['entropy_R']:.3f}", width, flag, style=style)
    out.print(t)
    exact = doc["exact_supercell"]
    out.print(f"target ΔS_config {doc['entropy_target_R']:.3f} R; exact composition needs "
              + (f"{exact['n_cells']} parent cells ({exact['n_atoms']} atoms)" if exact else
                 "more than 100000 parent cells") + f". Widths computed for the rows within tolerance "
              f"{tolerance:g} and the 5 closest; usable rows (width ≥ {min_width:g} Å) in green.",
              highlight=False)
    for n in doc["notes"]:
        out.print(f"note: {n}", highlight=False)


@app.command()
@user_errors
def sqs(
    formula: FormulaArg,
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")],
    prototype: Prototype = None,
    formula_override: FormulaOverride = None,
    max_atoms: MaxAtoms = 160,
    n_structures: Annotated[int, typer.Option("--n-structures", help="distinct SQS to keep")] = 1,
    steps: Annotated[int, typer.Option("--steps", help="Monte Carlo steps per annealing run")] = 20000,
    seed: Annotated[int, typer.Option("--seed", help="run i uses seed*1000+i")] = 0,
    runs: Annotated[int | None, typer.Option(
        "--runs", help="independent annealing runs (default max(2K, 16))")] = None,
    n_cells: Annotated[int | None, typer.Option("--n-cells", help="force this supercell size")] = None,
    cutoffs: Annotated[str | None, typer.Option(
        "--cutoffs", help="pair[,triplet] cutoffs in Å (default: pairs to each mixing "
                          "sublattice's own 2nd shell)")] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="fail instead of building the nearest representable composition")] = False,
    tolerance: Tolerance = 0.01,
    min_width: MinWidth = 8.0,
    structure: StructureFile = None,
    site_map: SiteMapOpt = None,
    mp_id: MpId = None,
    alkali: Alkali = None,
    calculator: Calculator = "chgnet",
    preset: CalcPreset = None,
    n_relax: NRelax = 5,
    n_keep: NKeep = 1,
    max_orderings: MaxOrderings = 500,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
) -> None:
    """Build special quasirandom supercells with icet; write CIF, extxyz, sqs.json and sqs.png.

    With a disordered structure FILE, partially occupied Na sites are first ordered (--alkali
    lowest: orderings.json, orderings.png, ordering-NNN.cif) and the SQS mixes the other sites."""
    from workflows.report.sqs import plot_sqs
    from workflows.studies.orderings import OrderingOptions

    orderings = OrderingOptions(calculator=calculator, preset=preset, n_relax=n_relax, n_keep=n_keep,
                                max_atoms=max_atoms, tolerance=tolerance, max_orderings=max_orderings)
    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    doc = _run_sqs(formula, prototype, out_dir, max_atoms=max_atoms, n_structures=n_structures, n_steps=steps,
                   seed=seed, n_runs=runs, min_width=min_width, tolerance=tolerance, exact=exact,
                   n_cells=n_cells, cutoffs=_cutoffs(cutoffs), structure=structure,
                   site_map=_label_map(site_map), mp_id=mp_id, composition_options=options,
                   formula_override=formula_override, alkali=alkali, orderings=orderings,
                   notify=lambda msg: err.print(msg, highlight=False))
    plot_sqs(doc, out_dir / "sqs.png")
    if doc["parent"].get("ordering"):
        _report_orderings(out_dir)
    _print_sqs(doc, out_dir)


def _cutoffs(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise HecathodeInputError(f"--cutoffs {text!r}: expected numbers in Å, e.g. 6.0,4.0") from None


def _run_sqs(formula: str, prototype: str | None, out_dir: Path, **kwargs) -> dict:
    """build_sqs_set behind the annealing progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from workflows.studies.sqs_set import build_sqs_set

    with Progress(TextColumn("annealing (MC steps, all runs)"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("sqs", total=None)
        return build_sqs_set(formula, prototype, out_dir,
                             progress=lambda done, total: bar.update(task, completed=done, total=total),
                             **kwargs)


def _report_orderings(out_dir: Path) -> None:
    """orderings.png and the orderings table of the alkali orderings the SQS was built on."""
    from workflows.cli.orderings import print_orderings
    from workflows.report.orderings import plot_orderings

    doc = json.loads((out_dir / "orderings.json").read_text())
    plot_orderings(doc, out_dir / "orderings.png")
    print_orderings(doc)


def _print_sqs(doc: dict, out_dir: Path) -> None:
    sc = doc["supercell"]
    t = Table(title=f"SQS of {doc['formula']} on {doc['prototype']}: {sc['n_atoms']} atoms "
              f"({sc['n_cells']} parent cells, width {sc['min_width_A']:.2f} Å)", title_justify="left")
    for col in ("file", "seed", "icet score", "random score", "|Δcv|", "random |Δcv|",
                "mean |α| shells 1, 2"):
        t.add_column(col, justify="right")
    for s in doc["structures"]:
        alpha = "; ".join(f"{sub} " + ", ".join(f"{x['mean_abs_alpha']:.3f}" for x in shells)
                          for sub, shells in s["warren_cowley"].items())
        t.add_row(s["cif"], str(s["seed"]), f"{s['icet_score']:.4f}",
                  f"{s['random_score_mean']:.4f} ± {s['random_score_std']:.4f}",
                  f"{s['cv_deviation_norm']:.4f}", f"{s['random_cv_deviation_norm_mean']:.4f}", alpha)
    out.print(t)
    fmt = "; ".join
    target = fmt(f"{sub}: " + " ".join(f"{sp}{x:.4g}" for sp, x in fr.items())
                 for sub, fr in doc["target_site_fractions"].items() if len(fr) > 1)
    achieved = fmt(f"{sub}: " + " ".join(f"{sp}{x:.4g}" for sp, x in fr.items())
                   for sub, fr in doc["achieved_site_fractions"].items())
    out.print(f"target   {target}  ΔS {doc['entropy_target_R']:.3f} R ({doc['entropy_target_class']})",
              highlight=False)
    out.print(f"achieved {achieved}  ΔS {doc['entropy_achieved_R']:.3f} R ({doc['entropy_achieved_class']})"
              f"  max deviation {doc['max_deviation']:.4g}", highlight=False)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)
    err.print(f"wrote {out_dir}/sqs.json, sqs.png and {len(doc['structures'])} × (.cif, .extxyz)"
              + (", orderings.json, orderings.png" if doc["parent"].get("ordering") else ""))
