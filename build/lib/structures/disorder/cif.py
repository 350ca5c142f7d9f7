"""Read a disordered crystal: a CIF (with or without symmetry operations; pymatgen's CIF
reader parses it and gives the operations that expand the asymmetric unit), a pymatgen
Structure JSON file, or a pymatgen Structure (e.g. a Materials Project entry).

Atoms of different elements closer than `position_tol` Å share a position and form one mixed
site whose label joins the CIF labels with '+' (e.g. 'M1Ni+M1Mn'); an occupancy sum below 1
means vacancies. Each symmetry-distinct orbit (pymatgen SpacegroupAnalyzer on the disordered
structure) becomes a `DisorderedSublattice` with a role (alkali, mixing, centre, anion,
complex, ligand) and the oxidation-state hints of type symbols such as Mn3+ or O2-.

Bad input raises `DisorderError` with a one-line message. Lengths in Å.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from structures.constants import ALKALI
from structures.disorder.model import (
    CONTACT_MIN,
    FULL,
    OCCUPANCY_SLACK,
    POSITION_TOL,
    SYMPREC,
    DisorderedStructure,
    DisorderedSublattice,
    DisorderError,
)
from structures.formula import ELEMENTS

if TYPE_CHECKING:
    from pymatgen.core import Lattice, Structure

SNAP_TOL = 1e-4  # occupancies this close to a fraction with denominator <= 24 are read as it
CENTRES = frozenset({"P", "Si", "S", "As", "B", "Ge"})
ANIONS = frozenset({"O", "F", "Cl", "Br", "I", "S", "Se", "Te", "N", "H"})
_CELL_KEYS = tuple(f"_cell_length_{x}" for x in "abc") + tuple(f"_cell_angle_{x}" for x in
                                                                ("alpha", "beta", "gamma"))


@dataclass
class _Row:
    label: str
    element: str
    xyz: tuple[float, float, float]
    occupancy: float
    charge: float | None


def read_disordered(path: str | Path, *, position_tol: float = POSITION_TOL,
                    symprec: float = SYMPREC) -> DisorderedStructure:
    """Read a disordered CIF or pymatgen Structure JSON file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DisorderError(f"structure file not found: {path}")
    if path.suffix.lower() == ".json":
        return from_structure(_read_json(path), source=path.name, position_tol=position_tol,
                              symprec=symprec)
    if path.suffix.lower() != ".cif":
        raise DisorderError(f"{path.name}: a disordered structure must be a CIF or pymatgen JSON file")
    lattice, ops, rows, notes = _cif_rows(path)
    positions, site_rows = _expand(lattice, ops, rows, position_tol)
    return _build(lattice, positions, site_rows, rows, path.name, notes, symprec)


def from_structure(structure: Structure, source: str = "pymatgen Structure", *,
                   position_tol: float = POSITION_TOL, symprec: float = SYMPREC) -> DisorderedStructure:
    """A pymatgen Structure (ordered or disordered) as a DisorderedStructure.

    Site labels come from `site.label` (pymatgen's, or the element); oxidation states on
    the species become hints.
    """
    rows = []
    for site in structure:
        label = site.label if site.label and site.label != site.species_string else None
        for sp, occ in site.species.items():
            el = getattr(sp, "symbol", None) or str(sp)
            charge = getattr(sp, "oxi_state", None)
            rows.append(_Row(label or el, _element(el, label or el, source), tuple(site.frac_coords),
                             _occupancy(str(occ), label or el, source, []), charge))
    from pymatgen.core.operations import SymmOp

    identity = [SymmOp.from_xyz_str("x, y, z")]
    positions, site_rows = _expand(structure.lattice, identity, rows, position_tol)
    return _build(structure.lattice, positions, site_rows, rows, source, [], symprec)


def _read_json(path: Path) -> Structure:
    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_file(path)
    except Exception as exc:  # noqa: BLE001 - pymatgen raises many types for bad files
        raise DisorderError(f"cannot read {path.name} as a pymatgen Structure: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _cif_rows(path: Path) -> tuple[Lattice, list, list[_Row], list[str]]:
    """Lattice, symmetry operations and asymmetric-unit rows of the first CIF block with atoms."""
    from pymatgen.io.cif import CifFile, CifParser

    text = path.read_text(errors="replace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = [b for b in CifFile.from_str(text).data.values()
                      if "_atom_site_fract_x" in b.data or "_atom_site_label" in b.data]
            parser = CifParser.from_str(text)
    except Exception as exc:  # noqa: BLE001 - malformed CIF syntax
        raise DisorderError(f"cannot read CIF {path.name}: {_first_line(exc)}") from None
    if not blocks:
        raise DisorderError(f"{path.name} has no atom sites (_atom_site_fract_x/y/z)")
    block, notes = blocks[0], []
    if len(blocks) > 1:
        notes.append(f"{path.name} has {len(blocks)} data blocks with atoms; read the first")
    lattice = _cif_lattice(block, path.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops = parser.get_symops(block)
    if len(ops) == 1:
        notes.append(f"{path.name} gives no symmetry operations: read as P1, orbits found by symmetry "
                     "analysis")
    return lattice, ops, _atom_rows(block, path.name, notes), notes


def _cif_lattice(block, name: str) -> Lattice:
    from pymatgen.core import Lattice
    from pymatgen.io.cif import str2float

    missing = [k for k in _CELL_KEYS if k not in block.data]
    if missing:
        raise DisorderError(f"{name} has no cell: missing {', '.join(missing)}")
    try:
        values = [str2float(block.data[k]) for k in _CELL_KEYS]
    except (TypeError, ValueError):
        raise DisorderError(f"{name}: unreadable cell parameters "
                            f"{[block.data[k] for k in _CELL_KEYS]}") from None
    if min(values[:3]) <= 0 or not all(0 < a < 180 for a in values[3:]):
        raise DisorderError(f"{name}: cell parameters {values} do not describe a cell")
    return Lattice.from_parameters(*values)


def _atom_rows(block, name: str, notes: list[str]) -> list[_Row]:
    from pymatgen.io.cif import str2float

    data = block.data
    labels = _column(data, "_atom_site_label") or _column(data, "_atom_site_type_symbol")
    types = _column(data, "_atom_site_type_symbol") or labels
    occs = _column(data, "_atom_site_occupancy") or ["1"] * len(labels)
    xyz = [_column(data, f"_atom_site_fract_{c}") for c in "xyz"]
    if not all(xyz) or not labels:
        raise DisorderError(f"{name}: atom sites need _atom_site_fract_x/y/z")
    oxi = _atom_type_charges(data)
    rows = []
    for i, label in enumerate(labels):
        try:
            coords = tuple(str2float(c[i]) for c in xyz)
        except (TypeError, ValueError):
            raise DisorderError(f"{name}: site {label!r} has no fractional coordinates") from None
        occ = _occupancy(occs[i], label, name, notes)
        if occ == 0:
            continue
        typed = types is not labels
        element = _element(types[i], label, name, strict=typed)
        charge = _charge(types[i]) if typed else None
        rows.append(_Row(label, element, coords, occ, oxi.get(types[i], charge)))
    if not rows:
        raise DisorderError(f"{name}: no site has a nonzero occupancy")
    return rows


def _column(data: dict, key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _atom_type_charges(data: dict) -> dict[str, float]:
    """Type symbol -> charge from an `_atom_type_oxidation_number` loop, if the CIF has one."""
    symbols, numbers = _column(data, "_atom_type_symbol"), _column(data, "_atom_type_oxidation_number")
    if not symbols or not numbers:
        return {}
    out = {}
    for s, n in zip(symbols, numbers, strict=False):
        try:
            out[s] = float(n)
        except ValueError:
            continue
    return out


def _occupancy(text: str, label: str, name: str, notes: list[str]) -> float:
    """An occupancy from the file; near-exact simple fractions (0.666667 -> 2/3) are snapped."""
    text = str(text).strip()
    if text in ("?", ".", ""):
        raise DisorderError(f"{name}: site {label!r} has a missing occupancy ({text or 'empty'!r})")
    try:
        value = float(re.sub(r"\(\d+\)$", "", text))
    except ValueError:
        raise DisorderError(f"{name}: site {label!r} has an unreadable occupancy {text!r}") from None
    if value < 0 or not math.isfinite(value):
        raise DisorderError(f"{name}: site {label!r} has a negative occupancy {text}")
    frac = Fraction(value).limit_denominator(24)
    if abs(float(frac) - value) < SNAP_TOL:
        if float(frac) != value:
            notes.append(f"occupancy {text} of {label} read as {frac}")
        return float(frac)
    return value


def _element(symbol: str, label: str, name: str, strict: bool = True) -> str:
    """The element of a CIF type symbol ('Mn3+', 'O2-', 'Na') or, not strict, of a label ('Na1', 'Oa')."""
    s = str(symbol).strip()
    two = s[:2].title()
    if len(s) >= 2 and s[1].isalpha() and two in ELEMENTS:
        return two
    one = s[:1].upper()
    if one in ELEMENTS and (not strict or len(s) < 2 or not s[1].isalpha() or s[1].isupper()):
        return one
    raise DisorderError(f"{name}: unknown element symbol {symbol!r} (site {label!r})")


def _charge(symbol: str) -> float | None:
    """Charge of a type symbol such as 'Mn3+', 'O2-', 'Na+' or 'Na1+'; None without a sign."""
    m = re.search(r"(\d*)([+-])(\d*)$", str(symbol).strip())
    if not m:
        return None
    digits = m.group(1) or m.group(3) or "1"
    return float(digits) * (1 if m.group(2) == "+" else -1)


def _expand(lattice, ops, rows: list[_Row], tol: float) -> tuple[np.ndarray, list[list[int]]]:
    """Apply the symmetry operations, then group images closer than `tol` Å into positions.

    Returns the fractional coordinates of the positions and, for each, the rows on it.
    """
    images, owner = [], []
    for k, row in enumerate(rows):
        for op in ops:
            images.append(np.mod(op.operate(row.xyz), 1.0))
            owner.append(k)
    frac = np.array(images)
    dist = lattice.get_all_distances(frac, frac)
    group = -np.ones(len(frac), dtype=int)
    positions, site_rows = [], []
    for i in range(len(frac)):
        if group[i] >= 0:
            continue
        members = np.flatnonzero((dist[i] < tol) & (group < 0))
        group[members] = len(positions)
        positions.append(frac[i])
        site_rows.append(sorted({owner[j] for j in members}))
    return np.array(positions), site_rows


def _build(lattice, positions: np.ndarray, site_rows: list[list[int]], rows: list[_Row], source: str,
           notes: list[str], symprec: float) -> DisorderedStructure:
    from pymatgen.core import Composition, Structure

    species, labels = [], []
    for members in site_rows:
        sp: dict[str, float] = {}
        for k in members:
            sp[rows[k].element] = sp.get(rows[k].element, 0.0) + rows[k].occupancy
        species.append(sp)
        labels.append("+".join(dict.fromkeys(rows[k].label for k in members)))
    _check_occupancy(species, labels, source, notes)
    _check_contacts(lattice, positions, species, labels, source)
    struct = Structure(lattice, [Composition(sp) for sp in species], positions,
                       site_properties={"cif_label": labels})
    orbits, spacegroup = _orbits(struct, labels, symprec)
    subs = _sublattices(struct, orbits, species, labels, site_rows, rows)
    for sub in subs.values():
        for i in sub.indices:
            struct[i].label = sub.label
    z = reduce(math.gcd, [s.multiplicity for s in subs.values()])
    return DisorderedStructure(struct, subs, z, source, spacegroup, notes)


def _check_occupancy(species: list[dict[str, float]], labels: list[str], source: str,
                     notes: list[str]) -> None:
    """Refuse a position holding more than 1 + OCCUPANCY_SLACK atoms; scale a smaller excess to 1."""
    for sp, label in zip(species, labels, strict=True):
        total = sum(sp.values())
        if total > 1 + OCCUPANCY_SLACK:
            detail = " + ".join(f"{el} {x:.4g}" for el, x in sp.items())
            raise DisorderError(f"{source}: occupancies on position {label} sum to {total:.4g} "
                                f"({detail}), above 1")
        if total > 1:
            for el in sp:
                sp[el] /= total
            note = f"occupancies on {label} sum to {total:.4g}: scaled to 1"
            if note not in notes:
                notes.append(note)


def _check_contacts(lattice, positions: np.ndarray, species: list[dict[str, float]], labels: list[str],
                    source: str) -> None:
    full = [i for i, sp in enumerate(species) if sum(sp.values()) >= FULL]
    if len(full) < 2:
        return
    dist = lattice.get_all_distances(positions[full], positions[full])
    np.fill_diagonal(dist, np.inf)
    i, j = np.unravel_index(np.argmin(dist), dist.shape)
    if dist[i, j] < CONTACT_MIN:
        raise DisorderError(f"{source}: fully occupied sites {labels[full[i]]} and {labels[full[j]]} are "
                            f"{dist[i, j]:.3f} Å apart (< {CONTACT_MIN} Å)")


def _orbits(struct, labels: list[str], symprec: float) -> tuple[list[list[int]], str]:
    """Symmetry-distinct orbits (SpacegroupAnalyzer); by CIF label when symmetry analysis fails."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sga = SpacegroupAnalyzer(struct, symprec=symprec)
        orbits = sga.get_symmetrized_structure().equivalent_indices
        spacegroup = f"{sga.get_space_group_symbol()} ({sga.get_space_group_number()})"
    except Exception:  # noqa: BLE001 - spglib finds no symmetry for some inputs
        by_label: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_label.setdefault(label, []).append(i)
        orbits, spacegroup = list(by_label.values()), "unknown"
    return sorted((sorted(o) for o in orbits), key=lambda o: o[0]), spacegroup


def _sublattices(struct, orbits: list[list[int]], species: list[dict[str, float]], labels: list[str],
                 site_rows: list[list[int]], rows: list[_Row]) -> dict[str, DisorderedSublattice]:
    out: dict[str, DisorderedSublattice] = {}
    for orbit in orbits:
        cif_labels = tuple(dict.fromkeys(labels[i] for i in orbit))
        label = _orbit_label(cif_labels, out)
        hints = {rows[k].element: rows[k].charge for i in orbit for k in site_rows[i]
                 if rows[k].charge is not None}
        sp = species[orbit[0]]
        out[label] = DisorderedSublattice(label, dict(sp), len(orbit), _role(struct, orbit[0], sp),
                                          cif_labels, tuple(orbit), hints)
    return out


def _orbit_label(cif_labels: tuple[str, ...], taken: Mapping[str, object]) -> str:
    """'Na2', 'M1Ni+M1Mn' (a mixed site) or, for an orbit listed atom by atom (a P1 file), the
    common stem of its labels ('Na2_1'..'Na2_8' -> 'Na2'); made unique with '#2', '#3' ..."""
    label = "+".join(cif_labels)
    if len(cif_labels) > 3:
        stems = {re.sub(r"[_-]?\d+$", "", lab) for lab in cif_labels}
        label = stems.pop() if len(stems) == 1 else f"{cif_labels[0]}..{cif_labels[-1]}"
    base, k = label, 2
    while label in taken:
        label, k = f"{base}#{k}", k + 1
    return label


def _role(struct, index: int, species: dict[str, float]) -> str:
    """alkali, centre, anion, ligand (cyanide C/N), complex (C-coordinated metal) or mixing."""
    els = set(species)
    if els <= ALKALI:
        return "alkali"
    neighbours = struct.get_neighbors(struct[index], 2.3)
    near = {str(e) for n in neighbours for e in n.species.elements}
    if els <= {"C", "N"} and any(n.nn_distance < 1.3 and {str(e) for e in n.species.elements} & {"C", "N"}
                                 for n in neighbours):
        return "ligand"
    if els <= CENTRES and "O" in near:
        return "centre"
    if els <= ANIONS:
        return "anion"
    closest = min(neighbours, key=lambda n: n.nn_distance, default=None)
    if closest is not None and {str(e) for e in closest.species.elements} == {"C"}:
        return "complex"
    return "mixing"
