"""A disordered structure (a CIF or pymatgen JSON with partial occupancies) in place of a formula.

What every study and command that takes a composition does with such a file:

- `is_structure_file`: whether a command's argument names a structure file (an existing
  file, or a name ending in .cif / .json) rather than a formula;
- `read_source`: the `DisorderedStructure` of the file; with `formula`, the file's framework
  at the formula's composition (`structures.disorder.override_composition`, the sublattice
  mapping checked, written back into the occupancies with `with_composition`);
- `file_composition`: the composition per formula unit on the matching built-in prototype,
  what `entropy` and `check` report (equal to the entropy of the equivalent formula);
- `alkali_plan`: which partially occupied alkali orbits are ordered (`--alkali lowest`, the
  default when the alkali sites hold fewer atoms than sites) or left to the SQS
  (`--alkali sqs`);
- `sqs_parent`: the composition and parent cell an SQS is built on when the alkali sites
  are not ordered (the partially occupied alkali orbits of one element pooled, as icet needs).

Occupancies are site fractions (0-1), amounts per formula unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from structures.composition import SiteComposition
from structures.disorder import (
    FULL,
    DisorderedStructure,
    DisorderError,
    alkali_merge,
    override_composition,
    parent_atoms,
    read_disordered,
    site_composition,
    with_composition,
)
from structures.errors import HecathodeInputError

STRUCTURE_SUFFIXES = (".cif", ".json")
ALKALI_MODES = ("lowest", "sqs")


class DisorderedInputError(HecathodeInputError):
    """A disordered structure given where it cannot be used, or with options that contradict it."""


def is_structure_file(argument: str | Path) -> bool:
    """True when `argument` names a structure file: a Path, an existing file, or a name ending in
    .cif or .json (a missing one is then reported as missing, not parsed as a formula)."""
    if isinstance(argument, Path):
        return True
    text = str(argument).strip()
    if text.lower().endswith(STRUCTURE_SUFFIXES):
        return True
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a formula too long or odd for a file name
        return False


def read_source(path: str | Path | DisorderedStructure, formula: str | None = None,
                prototype: str | None = None, composition_options: dict | None = None) -> DisorderedStructure:
    """The disordered structure in `path` (or `path` itself when already read); with `formula`,
    its occupancies replaced by the formula's (placed on `prototype`'s sublattices, default the
    one the file matches, then split over the file's orbits keeping each orbit's share of the
    atoms)."""
    ds = path if isinstance(path, DisorderedStructure) else read_disordered(path)
    if formula is None:
        return ds
    comp = override_composition(ds, formula, prototype or "auto", orbit_level=True,
                                **(composition_options or {}))
    return with_composition(ds, comp)


def file_composition(path: str | Path, formula: str | None = None, prototype: str | None = None,
                     composition_options: dict | None = None) -> SiteComposition:
    """The composition per formula unit of a structure file, on the built-in prototype it matches
    (`prototype` forces one; none matching: one sublattice per orbit), or `formula` on the file's
    framework with the sublattice mapping checked. The notes say where it came from."""
    ds = read_disordered(path)
    if formula is not None:
        comp = override_composition(ds, formula, prototype or "auto", **(composition_options or {}))
    else:
        comp = site_composition(ds, prototype or "auto")
        comp.notes.insert(0, f"formula {comp.formula} derived from the occupancies of {ds.source} "
                             f"({ds.spacegroup}, Z = {ds.formula_units})")
    comp.notes.extend(ds.notes)
    return comp


def is_disordered_file(path: str | Path) -> bool:
    """True for a CIF / pymatgen JSON with a mixed or partially occupied site (other formats and
    ordered files: False; a CIF that cannot be read as a disordered structure: its DisorderError)."""
    path = Path(path)
    if path.suffix.lower() not in STRUCTURE_SUFFIXES:
        return False
    return bool(read_disordered(path).partial())


def partial_alkali(ds: DisorderedStructure) -> tuple[str, tuple[str, ...]]:
    """(element, orbit labels) of the partially occupied alkali orbits holding one element, e.g.
    ('Na', ('Naf', 'Nae')); ('', ()) when there are none. Mixed alkali sites (Na/K) are not
    orderings but SQS sites, so they are left out."""
    orbits = [(label, sub) for label, sub in ds.sublattices.items()
              if sub.role == "alkali" and len(sub.species) == 1 and sub.occupancy < FULL]
    elements = sorted({next(iter(sub.species)) for _, sub in orbits})
    if len(elements) > 1:
        raise DisorderedInputError(f"{ds.source}: partially occupied alkali sites of {', '.join(elements)} "
                                   "(orderings are enumerated for one element at a time); use --alkali sqs")
    return (elements[0], tuple(label for label, _ in orbits)) if orbits else ("", ())


def alkali_plan(ds: DisorderedStructure, requested: str | None) -> tuple[str, tuple[str, ...], list[str]]:
    """('lowest' | 'sqs' | 'none', the alkali orbits to order, notes). Default: 'lowest' when an
    alkali site holds fewer atoms than sites."""
    if requested is not None and requested not in ALKALI_MODES:
        raise DisorderedInputError(f"--alkali {requested!r}: expected one of {', '.join(ALKALI_MODES)}")
    element, sites = partial_alkali(ds)
    if not sites:
        note = f"--alkali {requested}: no partially occupied alkali site in {ds.source}"
        return "none", (), [note] if requested else []
    mode = requested or "lowest"
    what = f"{element} over {', '.join(sites)}"
    if mode == "lowest":
        return mode, sites, [f"{what}: lowest-energy orderings (Ewald pre-rank, MLIP relax), not SQS"
                             + ("" if requested else " (default; --alkali sqs to mix them in the SQS)")]
    return mode, sites, [f"{what}: {element}/vacancy disorder in the SQS (--alkali sqs)"]


def mixed_orbits(ds: DisorderedStructure, exclude: tuple[str, ...] = ()) -> list[str]:
    """Labels of the mixed or partially occupied orbits other than `exclude`."""
    return [label for label in ds.partial() if label not in exclude]


@dataclass
class DisorderedParent:
    """What an SQS of a disordered structure is built on: the per-orbit composition and the
    parent cell (every position present, or an ordered alkali cell), with notes."""

    ds: DisorderedStructure
    composition: SiteComposition
    parent: Atoms
    notes: list[str] = field(default_factory=list)


def sqs_parent(ds: DisorderedStructure, ordered: Atoms | None = None) -> DisorderedParent:
    """The composition (one sublattice per orbit, alkali orbits of one element pooled) and the
    parent: `ordered` (an alkali ordering of `ds`, e.g. from `workflows.studies.orderings`) or
    the file's primitive cell with every position present."""
    merge = alkali_merge(ds)
    comp = site_composition(ds, prototype=None, merge=merge)
    comp.notes.extend(ds.notes)
    parent = ordered if ordered is not None else parent_atoms(ds, sublattice_of=merge)
    notes = [f"pooled {', '.join(sorted(set(merge)))} into one sublattice for the SQS"] if merge and \
        ordered is None else []
    return DisorderedParent(ds, comp, parent, notes)


def require_disorder(ds: DisorderedStructure) -> None:
    """Refuse a structure file with nothing disordered where a disordered one is needed."""
    if not ds.partial():
        raise DisorderError(f"{ds.source} has no mixed or partially occupied site: it is ordered "
                            "(use it as --structure with a formula, or relax it directly)")
