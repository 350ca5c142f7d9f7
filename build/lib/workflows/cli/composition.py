"""`hecathode entropy`, `check` and `dataset`: a composition's entropy and design rules, and
the review's table of compositions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from structures.composition import SiteComposition
from structures.entropy import R_J_PER_MOL_K, configurational_entropy
from structures.review import CAPACITY_SLACK, evaluate_entry, load_dataset, review_notes
from structures.rules import check_composition, ion_name, load_redox
from workflows.cli.common import (
    AsJson,
    FormulaArg,
    FormulaOverride,
    Normalize,
    PerFU,
    Prototype,
    Reading,
    Sites,
    Vacancies,
    _composition,
    app,
    err,
    out,
    user_errors,
)


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
    formula: FormulaArg,
    prototype: Prototype = None,
    formula_override: FormulaOverride = None,
    per_formula_unit: PerFU = False,
    include_vacancies: Vacancies = False,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    as_json: AsJson = False,
) -> None:
    """Configurational entropy per sublattice and total (R, J/mol/K) and its class.

    Of a formula, or of a structure file's occupancies (CIF, pymatgen JSON)."""
    comp = _composition(formula, prototype, group_reading, site, normalize, formula_override)
    doc = entropy_document(comp, include_vacancies, per_formula_unit)
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_entropy(doc)


@app.command()
@user_errors
def check(
    formula: FormulaArg,
    prototype: Prototype = None,
    formula_override: FormulaOverride = None,
    include_vacancies: Vacancies = False,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    redox: Annotated[Path | None, typer.Option(
        help="redox table (same shape as configs/rules/redox.yaml)")] = None,
    as_json: AsJson = False,
) -> None:
    """Design rules: oxidation states, charge balance, size mismatch, redox pairs, capacity."""
    comp = _composition(formula, prototype, group_reading, site, normalize, formula_override)
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
    from workflows.report.dataset import plot_dataset, write_dataset_csv

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
