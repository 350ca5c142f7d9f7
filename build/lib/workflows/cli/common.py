"""What every `hecathode` command shares: the Typer app, the two consoles, the one-line error
wrapper (input errors -> `error: ...` on stderr, exit code 2) and the common options."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from structures.composition import SiteComposition, assign_sublattices
from structures.errors import HecathodeInputError

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
FormulaArg = Annotated[str, typer.Argument(
    metavar="FORMULA|FILE",
    help="composition as printed, e.g. 'NaNi0.5Mn0.5O2', or a structure file (CIF, pymatgen JSON) whose "
         "occupancies give it")]
FormulaOverride = Annotated[str | None, typer.Option(
    "--formula", help="with a structure FILE: this composition on the file's framework instead of its "
                      "occupancies (sublattice mapping checked)")]


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


def _composition(formula, prototype, group_reading, site, normalize,
                 override: str | None = None) -> SiteComposition:
    """The composition of a formula argument, or of a structure FILE argument (CIF, pymatgen
    JSON: from its occupancies, or `override` (--formula) on its framework), which is then
    said on stderr."""
    from workflows.studies.disordered import file_composition, is_structure_file

    options = {"group_reading": group_reading, "site_map": _site_map(site), "normalize": normalize}
    if not is_structure_file(formula):
        if override is not None:
            raise HecathodeInputError("--formula overrides the occupancies of a structure FILE argument; "
                                      "with a formula argument leave it out")
        return assign_sublattices(formula, prototype, **options)
    comp = file_composition(formula, override, prototype, options)
    how = f"--formula {override} on its framework" if override else "from its occupancies"
    err.print(f"{Path(formula).name}: formula {comp.formula} ({how}; sublattices of "
              f"{comp.prototype.name})", highlight=False, soft_wrap=True)
    return comp


MaxAtoms = Annotated[int, typer.Option("--max-atoms", help="largest supercell to consider (atoms)")]
MinWidth = Annotated[float, typer.Option(
    "--min-width", help="smallest perpendicular width of the supercell, Å (NEB needs ≥ 8)")]
Tolerance = Annotated[float, typer.Option(
    "--tolerance", help="largest accepted deviation of a site fraction from the target")]
StructureFile = Annotated[Path | None, typer.Option(
    "--structure", help="parent cell from a CIF/POSCAR/extxyz file instead of the built-in prototype; a "
                        "disordered CIF takes the formula argument as its composition")]
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


Alkali = Annotated[str | None, typer.Option(
    "--alkali", help="partially occupied alkali sites of a structure file: lowest (Ewald-ranked orderings "
                     "relaxed with -c, the default) or sqs (Na/vacancy mixed in the SQS)")]
Calculator = Annotated[str, typer.Option(
    "--calculator", "-c", help="MLIP that ranks the orderings: chgnet or sevenn")]
CalcPreset = Annotated[str | None, typer.Option("--preset", help="calculator preset (configs/calculators)")]
NRelax = Annotated[int, typer.Option(
    "--n-relax", help="lowest-Ewald orderings relaxed (fixed cell) with the MLIP; 0: rank by Ewald only")]
NKeep = Annotated[int, typer.Option("--n-keep", help="lowest-energy orderings kept")]
MaxOrderings = Annotated[int, typer.Option(
    "--max-orderings", help="refuse to enumerate more symmetry-distinct orderings than this")]
