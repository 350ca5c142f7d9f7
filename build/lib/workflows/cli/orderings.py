"""`hecathode orderings`: the lowest-energy Na/vacancy orderings of a disordered structure file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workflows.cli.common import (
    AsJson,
    CalcPreset,
    Calculator,
    FormulaOverride,
    MaxAtoms,
    MaxOrderings,
    NKeep,
    Normalize,
    NRelax,
    Prototype,
    Reading,
    Sites,
    _site_map,
    app,
    err,
    out,
    user_errors,
)

SHOWN = 12  # table rows: the relaxed orderings and the lowest Ewald energies up to this many


@app.command()
@user_errors
def orderings(
    structure_file: Annotated[Path, typer.Argument(
        metavar="FILE", help="disordered CIF or pymatgen JSON with partially occupied Na sites")],
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")],
    formula_override: FormulaOverride = None,
    prototype: Prototype = None,
    calculator: Calculator = "chgnet",
    preset: CalcPreset = None,
    n_relax: NRelax = 5,
    n_keep: NKeep = 1,
    max_atoms: MaxAtoms = 400,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", help="largest accepted deviation of the Na site fraction from the file's")] = 1e-6,
    max_orderings: MaxOrderings = 500,
    fmax: Annotated[float, typer.Option("--fmax", help="force criterion of the relaxations, eV/Å")] = 0.05,
    steps: Annotated[int, typer.Option("--steps", help="optimizer steps per relaxation")] = 300,
    group_reading: Reading = None,
    site: Sites = None,
    normalize: Normalize = False,
    as_json: AsJson = False,
) -> None:
    """Lowest-energy Na/vacancy orderings of a disordered structure file (Ewald, then an MLIP).

    Enumerates the orderings in the smallest supercell that holds the occupancy, ranks them by
    Ewald energy, relaxes the best --n-relax at fixed cell with -c and keeps the --n-keep
    lowest; writes orderings.json, orderings.png, ordering-NNN.cif|extxyz and orderings/<k>/
    (a rerun resumes)."""
    from workflows.report.orderings import plot_orderings
    from workflows.studies.disordered import read_source
    from workflows.studies.orderings import OrderingOptions, order_alkali, rank_alkali

    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    ds = read_source(structure_file, formula_override, prototype, options)
    opts = OrderingOptions(calculator=calculator, preset=preset, n_relax=n_relax, n_keep=n_keep,
                           max_atoms=max_atoms, tolerance=tolerance, max_orderings=max_orderings,
                           fmax_eV_per_A=fmax, steps=steps)
    ranked = rank_alkali(ds, opts)
    err.print(f"{ds.source}: {ds.formula} ({ds.spacegroup})", highlight=False)
    err.print(f"{ranked.n_found} orderings of {ranked.n_keep} {ranked.species} on {ranked.n_sites} sites "
              f"({ranked.n_cells} parent cells), Ewald-ranked in {ranked.wall_s:.1f} s", highlight=False)
    study = order_alkali(ds, out_dir, opts, ranked=ranked,
                         progress=lambda msg: err.print(msg, highlight=False))
    doc = study.to_json()
    plot_orderings(doc, out_dir / "orderings.png")
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_orderings(doc)
    err.print(f"wrote {out_dir}/orderings.json, orderings.png and {len(study.kept)} × ordering-NNN (.cif, "
              ".extxyz)")


def print_orderings(doc: dict) -> None:
    """The orderings table: Ewald and MLIP energies (meV/atom above the lowest) and ranks."""
    cands = doc["candidates"]
    relaxed = [c for c in cands if c["relaxed"]]
    e0 = min(c["ewald_eV_per_atom"] for c in cands)
    m0 = min((c["mlip_energy_per_atom_eV"] for c in relaxed), default=0.0)
    t = Table(title=f"{doc['n_found']} orderings of {doc['n_species']} {doc['species']} on {doc['n_sites']} "
              f"{'/'.join(doc['sites'])} sites of {doc['formula']} ({doc['n_cells']} parent cells, "
              f"{cands[0]['n_atoms']} atoms)", title_justify="left")
    for col in ("Ewald rank", "Ewald (meV/atom)", f"{doc['calculator'] or 'MLIP'} rank",
                f"{doc['calculator'] or 'MLIP'} (meV/atom)", "converged", "kept"):
        t.add_column(col, justify="right")
    for c in cands[:max(SHOWN, len(relaxed))]:
        mlip = "-" if not c["relaxed"] else f"{1000 * (c['mlip_energy_per_atom_eV'] - m0):.2f}"
        t.add_row(str(c["ewald_rank"]), f"{1000 * (c['ewald_eV_per_atom'] - e0):.2f}",
                  "-" if c["mlip_rank"] is None else str(c["mlip_rank"]), mlip,
                  "-" if c["converged"] is None else ("yes" if c["converged"] else "no"),
                  c["structure"] or "", style="green" if c["kept"] else "")
    out.print(t)
    if doc["ewald_picks_mlip_minimum"] is not None:
        out.print(f"Ewald {'picks' if doc['ewald_picks_mlip_minimum'] else 'does not pick'} the "
                  f"{doc['calculator']} minimum", highlight=False)
    for n in doc["notes"]:
        out.print(f"[cyan]note:[/] {n}", highlight=False)
