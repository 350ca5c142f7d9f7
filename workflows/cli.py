"""The `hecathode` command line: entropy, check, dataset, supercell, sqs, neb, relax; campaign,
status and report live in workflows.cli_campaign.

Bad input prints one line `error: ...` on stderr and exits with code 2.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from structures.composition import SiteComposition, assign_sublattices
from structures.entropy import R_J_PER_MOL_K, configurational_entropy
from structures.errors import HecathodeInputError
from structures.review import CAPACITY_SLACK, evaluate_entry, load_dataset, review_notes
from structures.rules import check_composition, ion_name, load_redox

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Design high-entropy cathodes for sodium-ion batteries.")
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 400)

Prototype = Annotated[str | None, typer.Option(
    "--prototype", "-p", help="o3, p2, pba, nvpf, nasicon, nfpp or generic; inferred if omitted")]
Reading = Annotated[str | None, typer.Option(
    "--group-reading", help="force a grouped-dopant coefficient: total or per-element")]
Sites = Annotated[list[str] | None, typer.Option(
    "--site", help="explicit placement ELEMENT=SUBLATTICE, e.g. --site Ca=Na (repeatable)")]
Normalize = Annotated[bool, typer.Option(
    "--normalize", help="rescale an over-full sublattice instead of failing")]
Vacancies = Annotated[bool, typer.Option(
    "--include-vacancies", help="count vacancies (□ and unfilled sites) as a species")]
PerFU = Annotated[bool, typer.Option(
    "--per-formula-unit", help="weight each sublattice by its sites per formula unit")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def user_errors(func):
    """Turn input errors into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HecathodeInputError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except OSError as exc:
            err.print(f"[bold red]error:[/] {exc.strerror}: {exc.filename}", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _site_map(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise HecathodeInputError(f"--site {pair!r}: expected ELEMENT=SUBLATTICE")
        el, label = (x.strip() for x in pair.split("=", 1))
        mapping[el] = label
    return mapping


def _composition(formula, prototype, group_reading, site, normalize) -> SiteComposition:
    return assign_sublattices(formula, prototype, group_reading=group_reading,
                              site_map=_site_map(site), normalize=normalize)


def entropy_document(comp: SiteComposition, include_vacancies: bool, per_formula_unit: bool) -> dict:
    """The JSON document of `hecathode entropy` (keys documented in README)."""
    s = configurational_entropy(comp, include_vacancies, per_formula_unit)
    subs = {}
    for label, occ in comp.sublattices.items():
        subs[label] = {
            "species": occ.site_fractions(),
            "sites_per_formula_unit": occ.sites,
            "entropy_R": s.per_sublattice_R.get(label, 0.0),
            "role": occ.sublattice.role,
        }
    return {
        "formula": comp.formula,
        "prototype": comp.prototype.name,
        "reading": comp.reading,
        "sublattices": subs,
        "entropy_R": s.total_R,
        "entropy_J_per_mol_K": s.total_R * R_J_PER_MOL_K,
        "entropy_class": s.entropy_class,
        "entropy_convention": s.convention,
        "include_vacancies": include_vacancies,
        "water_per_formula_unit": comp.water_per_formula_unit,
        "notes": comp.notes + review_notes(comp, s),
        "warnings": list(comp.warnings),
    }


def _print_entropy(doc: dict) -> None:
    t = Table(title=f"{doc['formula']}  ({doc['prototype']})", title_justify="left")
    for col in ("sublattice", "sites/f.u.", "species (site fraction)", "ΔS (R)"):
        t.add_column(col, justify="right" if col != "species (site fraction)" else "left")
    for label, sub in doc["sublattices"].items():
        species = ", ".join(f"{el} {x:.4g}" for el, x in sub["species"].items())
        t.add_row(label, f"{sub['sites_per_formula_unit']:g}", species, f"{sub['entropy_R']:.3f}")
    out.print(t)
    out.print(f"ΔS_config = [bold]{doc['entropy_R']:.3f} R[/] = "
              f"{doc['entropy_J_per_mol_K']:.2f} J mol⁻¹ K⁻¹ -> [bold]{doc['entropy_class']}[/]"
              f" entropy  ({doc['entropy_convention']})", highlight=False)
    if doc["water_per_formula_unit"]:
        out.print(f"hydrate water: {doc['water_per_formula_unit']:g} H2O per f.u. "
                  "(not on a framework sublattice)")
    for n in doc["notes"]:
        out.print(f"[cyan]note:[/] {n}", highlight=False)
    for w in doc["warnings"]:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)


@app.command()
@user_errors
def entropy(
    formula: Annotated[str, typer.Argument(help="composition as printed, e.g. 'NaNi0.5Mn0.5O2'")],
    prototype: Prototype = None,
    per_formula_unit: PerFU = False,
    include_vacancies: Vacancies = False,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    as_json: AsJson = False,
) -> None:
    """Configurational entropy per sublattice and total (R, J/mol/K) and its class."""
    comp = _composition(formula, prototype, group_reading, site, normalize)
    doc = entropy_document(comp, include_vacancies, per_formula_unit)
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_entropy(doc)


@app.command()
@user_errors
def check(
    formula: Annotated[str, typer.Argument(help="composition as printed")],
    prototype: Prototype = None,
    include_vacancies: Vacancies = False,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    redox: Annotated[Path | None, typer.Option(
        help="redox table (same shape as configs/rules/redox.yaml)")] = None,
    as_json: AsJson = False,
) -> None:
    """Design rules: oxidation states, charge balance, size mismatch, redox pairs, capacity."""
    comp = _composition(formula, prototype, group_reading, site, normalize)
    doc = entropy_document(comp, include_vacancies, False)
    rules = check_composition(comp, load_redox(redox) if redox else None)
    rules["warnings"] = doc.pop("warnings") + rules["warnings"]
    doc.update(rules)
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    warnings = doc.pop("warnings")
    _print_entropy({**doc, "warnings": []})
    t = Table(title="design rules", title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    states = "; ".join(
        f"{label}: " + ", ".join(ion_name(el, q) for el, q in st.items())
        for label, st in doc["oxidation_states"].items()
        if comp.sublattices[label].sublattice.role in ("mixing", "complex")
    )
    t.add_row("oxidation states", states)
    t.add_row("charge balanced", str(doc["charge_balanced"]))
    for label, sm in doc["size_mismatch"].items():
        t.add_row(f"size mismatch δ ({label})",
                  f"{sm['delta']:.1%} (r̄ = {sm['mean_radius_A']:.3f} Å, CN {sm['coordination']})")
    for label, chi in doc["electronegativity_spread"].items():
        t.add_row(f"Δχ Pauling ({label})",
                  f"{chi['delta_pauling']:.3f} (range {chi['range_pauling']:.2f})")
    t.add_row("redox conflicts", "; ".join(doc["redox_conflicts"]) or "none")
    cap = doc["capacity"]
    t.add_row("theoretical capacity",
              f"{doc['theoretical_capacity_mAh_g']:.1f} mA h g⁻¹ "
              f"({cap['electrons_per_formula_unit']:.3g} e⁻/f.u., limited by {cap['limited_by']};"
              f" M = {cap['molar_mass_g_mol']:.2f} g/mol)")
    t.add_row("active couples", ", ".join(f"{k}: {v:.3g} e⁻" for k, v in cap["couples"].items())
              or "none")
    t.add_row("redox-inactive share of mixing site",
              f"{doc['inactive_fraction']:.1%} ({', '.join(doc['inactive_species']) or '-'})")
    out.print(t)
    for w in warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)


@app.command()
@user_errors
def dataset(
    csv: Annotated[Path | None, typer.Option(help="write the table as CSV")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a PNG: retention vs ΔS, capacity")] = None,
    as_json: AsJson = False,
) -> None:
    """The review's Tables 1-3: ΔS_config, class, theoretical vs reported capacity."""
    from workflows.report import plot_dataset, write_dataset_csv

    entries = load_dataset()
    rows = []
    with out.status("evaluating the review's compositions") as status:
        for i, e in enumerate(entries, 1):
            status.update(f"[{i}/{len(entries)}] {e['formula']}")
            rows.append(evaluate_entry(e))
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        t = Table(title="High-entropy Na-ion cathodes of the review (Chem. Sci. 16, 17058)",
                  title_justify="left")
        for col in ("ref", "formula", "proto", "ΔS (R)", "class", "Q theo", "Q rep", "rep/theo",
                    "retention"):
            t.add_column(col, justify="left" if col in ("formula", "class", "retention") else "right",
                         no_wrap=col == "formula")
        for r in rows:
            ratio = r["reported_over_theoretical"]
            flag = "" if ratio <= 1 + CAPACITY_SLACK else (" *" if r["capacity_exception"] else " !")
            cls = r["entropy_class"]
            style = {"high": "green", "medium": "yellow", "low": "red"}[cls]
            t.add_row(str(r["ref"]), r["formula"], r["prototype"], f"{r['entropy_R']:.3f}",
                      f"[{style}]{cls}[/]", f"{r['theoretical_capacity_mAh_g']:.1f}",
                      f"{r['reported_capacity_mAh_g']:.1f}", f"{ratio:.2f}{flag}",
                      f"{r['retention_percent']}% / {r['retention_cycles']}")
        out.print(t)
        n_not_high = sum(r["entropy_class"] != "high" for r in rows)
        out.print(f"{n_not_high} of {len(rows)} 'high-entropy' compositions are below 1.5 R by "
                  "the review's own criterion. Q in mA h g⁻¹; * = reported above theoretical, "
                  "reason listed in the dataset (capacity_exception).", highlight=False)
    if csv:
        write_dataset_csv(rows, csv)
        err.print(f"wrote {csv}")
    if plot:
        plot_dataset(rows, plot)
        err.print(f"wrote {plot}")


MaxAtoms = Annotated[int, typer.Option("--max-atoms", help="largest supercell to consider (atoms)")]
MinWidth = Annotated[float, typer.Option(
    "--min-width", help="smallest perpendicular width of the supercell, Å (NEB needs ≥ 8)")]
Tolerance = Annotated[float, typer.Option(
    "--tolerance", help="largest accepted deviation of a site fraction from the target")]
StructureFile = Annotated[Path | None, typer.Option(
    "--structure", help="parent cell from a CIF/POSCAR/extxyz file instead of the built-in prototype")]
SiteMapOpt = Annotated[list[str] | None, typer.Option(
    "--site-map", help="rename labels of --structure: OLD=NEW, OLD a CIF label or element (repeatable)")]
MpId = Annotated[str | None, typer.Option(
    "--mp-id", help="parent cell from the Materials Project (needs MP_API_KEY and network)")]


def _label_map(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise HecathodeInputError(f"--site-map {pair!r}: expected OLD=NEW, e.g. V=TM")
        old, new = (x.strip() for x in pair.split("=", 1))
        mapping[old] = new
    return mapping


@app.command()
@user_errors
def supercell(
    formula: Annotated[str, typer.Argument(help="composition as printed in papers")],
    prototype: Prototype = None,
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
    from structures.sqs import achieved_entropy, plan_supercells, smallest_for_one_of_each, supercell_shape
    from workflows.sqs_run import resolve_parent

    comp = _composition(formula, prototype, group_reading, site, normalize)
    parent = resolve_parent(comp, structure, _label_map(site_map), mp_id)
    plan = plan_supercells(comp, parent, max_atoms)
    if not plan.options:
        raise HecathodeInputError(f"no supercell up to {max_atoms} atoms holds one atom of each species; "
                                  f"the smallest that does has {smallest_for_one_of_each(plan)} atoms")
    best = sorted(plan.options, key=lambda o: (round(o.max_deviation, 9), -o.n_atoms))[:5]
    for o in plan.options:
        if o.max_deviation <= tolerance or o in best:
            P, w = supercell_shape(parent, o.n_cells)
            o.matrix, o.min_width_A = P.tolist(), w
    rows = [{"n_cells": o.n_cells, "n_atoms": o.n_atoms, "counts": o.counts,
             "max_deviation": o.max_deviation, "exact": o.exact,
             "within_tolerance": o.max_deviation <= tolerance,
             "min_width_A": o.min_width_A, "matrix": o.matrix, "entropy_R": achieved_entropy(comp, o),
             "usable": o.min_width_A is not None and o.min_width_A >= min_width - 1e-6}
            for o in plan.options]
    doc = {"formula": comp.formula, "prototype": comp.prototype.name, "atoms_per_parent_cell": len(parent),
           "target_site_fractions": plan.targets, "entropy_target_R": configurational_entropy(comp).total_R,
           "exact_supercell": ({"n_cells": plan.exact_n_cells, "n_atoms": plan.exact_n_cells * len(parent)}
                               if plan.exact_n_cells else None),
           "notes": comp.notes + plan.notes, "supercells": rows}
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    t = Table(title=f"Supercells of {comp.prototype.name} ({len(parent)} atoms per parent cell) for "
              f"{comp.formula}", title_justify="left")
    for col in ("cells", "atoms", "counts on mixing sites", "max dev", "ΔS (R)", "width (Å)", ""):
        t.add_column(col, justify="left" if col.startswith("counts") else "right")
    for r in rows:
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
    formula: Annotated[str, typer.Argument(help="composition as printed in papers")],
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")],
    prototype: Prototype = None,
    max_atoms: MaxAtoms = 160,
    n_structures: Annotated[int, typer.Option("--n-structures", help="distinct SQS to keep")] = 1,
    steps: Annotated[int, typer.Option("--steps", help="Monte Carlo steps per annealing run")] = 20000,
    seed: Annotated[int, typer.Option("--seed", help="run i uses seed*1000+i")] = 0,
    runs: Annotated[int | None, typer.Option(
        "--runs", help="independent annealing runs (default max(2K, 16))")] = None,
    n_cells: Annotated[int | None, typer.Option("--n-cells", help="force this supercell size")] = None,
    cutoffs: Annotated[str | None, typer.Option(
        "--cutoffs", help="pair[,triplet] cutoffs in Å (default: pairs to the 2nd neighbour shell)")] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="fail instead of building the nearest representable composition")] = False,
    tolerance: Tolerance = 0.01,
    min_width: MinWidth = 8.0,
    structure: StructureFile = None,
    site_map: SiteMapOpt = None,
    mp_id: MpId = None,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
) -> None:
    """Build special quasirandom supercells with icet; write CIF, extxyz, sqs.json and sqs.png."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from workflows.sqs_run import build_sqs_set

    cut = None
    if cutoffs:
        try:
            cut = [float(x) for x in cutoffs.split(",")]
        except ValueError:
            raise HecathodeInputError(f"--cutoffs {cutoffs!r}: expected numbers in Å, e.g. 6.0,4.0") from None
    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    with Progress(TextColumn("annealing (MC steps, all runs)"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("sqs", total=None)
        doc = build_sqs_set(formula, prototype, out_dir, max_atoms=max_atoms, n_structures=n_structures,
                            n_steps=steps, seed=seed, n_runs=runs, min_width=min_width, tolerance=tolerance,
                            exact=exact, n_cells=n_cells, cutoffs=cut, structure=structure,
                            site_map=_label_map(site_map), mp_id=mp_id, composition_options=options,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
    _print_sqs(doc, out_dir)


@app.command()
@user_errors
def neb(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="run folder (resumed if it exists)")],
    prototype: Prototype = None,
    structure: Annotated[Path | None, typer.Option(
        "--structure", help="cell from a file (e.g. an SQS extxyz; site labels kept)")] = None,
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
    write_inputs: Annotated[bool, typer.Option(
        "--write-inputs", help="write a VASP NEB folder (00…0N) instead of running")] = False,
) -> None:
    """Na vacancy-hop barriers by climbing-image NEB: one hop, several, or the hop network."""
    from calculators.presets import check_calculator_name
    from workflows.neb_run import study

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

    try:
        doc = study(prototype, structure, out_dir, hop=hop, network=network, n_hops=n_hops,
                    calculators=names, cutoff=cutoff, pristine=pristine, write_inputs=write_inputs,
                    progress=lambda line: err.print(line, highlight=False), callback=show,
                    n_images=images, fmax=fmax, steps=steps, optimizer=optimizer, spring=spring,
                    dynamic=dynamic, preset=preset)
    except KeyboardInterrupt:
        err.print(f"interrupted: {out_dir} keeps the finished steps; run the same command to resume",
                  highlight=False)
        raise typer.Exit(130) from None
    _print_neb(doc, out_dir)


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
                t.add_row(f"{h['start_label']}→{h['end_label']}", f"{h['length_A']:.2f}",
                          str(h["multiplicity"]), f"{h['forward_barrier_eV']:.3f}",
                          f"{h['reverse_barrier_eV']:.3f}", f"{h['effective_barrier_eV']:.3f}",
                          h["saddle"] + ("" if h["converged"] else " (NOT converged)")
                          + (" reconstructed" if h.get("reconstructed") else ""))
            out.print(t)
            perc = ", ".join(f"{k}: {'none' if v is None else f'{v:.3f} eV'}"
                             for k, v in res["percolation_barrier_eV"].items())
            out.print(f"percolation barrier along {perc}", highlight=False)
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
    err.print(f"wrote {out_dir}/sqs.json, sqs.png and {len(doc['structures'])} × (.cif, .extxyz)")


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


@app.command()
@user_errors
def relax(
    structure: Annotated[Path, typer.Argument(help="CIF, POSCAR or extxyz (site labels kept)")],
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
    from structures.prototypes import load_structure

    name = check_calculator_name(calculator)
    atoms = load_structure(structure)  # CIF site labels (hecathode's <label>_<n>) kept
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
            doc = run_relax(atoms, name, fmax=fmax, steps=steps, relax_cell=not fixed_cell,
                            optimizer=optimizer, preset=preset, directory=out_dir,
                            prerelax=prerelax, callback=show)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"interrupted: {out_dir} keeps the steps done; run the same command to resume",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
    t = Table(title=f"{doc['formula']} relaxed with {name} ({doc['preset']})", title_justify="left",
              show_header=False)
    t.add_column(style="bold")
    t.add_column()
    lat = doc["lattice"]
    t.add_row("energy", f"{doc['energy_eV']:.5f} eV ({doc['energy_per_atom_eV']:.5f} eV/atom)")
    t.add_row("volume", f"{doc['volume_A3']:.3f} Å³")
    t.add_row("lattice", f"a {lat['a']:.4f}  b {lat['b']:.4f}  c {lat['c']:.4f} Å; "
              f"α {lat['alpha']:.2f}  β {lat['beta']:.2f}  γ {lat['gamma']:.2f}°")
    t.add_row("max force", f"{doc['max_force_eV_per_A']:.4f} eV/Å (fmax {fmax:g})")
    t.add_row("steps", f"{doc['steps']} ({'converged' if doc['converged'] else 'NOT converged'})"
              + (f", resumed at step {doc['resumed_from_step']}" if doc.get("resumed_from_step")
                 is not None else ""))
    t.add_row("wall time", f"{doc['wall_time_s']:.1f} s")
    out.print(t)
    out.print(f"wrote {out_dir / 'relax.json'}, {out_dir / 'relax.extxyz'}", highlight=False,
              soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    import workflows.cli_campaign  # noqa: F401  (registers campaign, status, report)

    app(prog_name="hecathode")


if __name__ == "__main__":
    sys.exit(main())
