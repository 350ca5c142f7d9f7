"""Parent cells of the prototype families, with a site label on every atom.

A prototype's YAML (configs/prototypes/NAME.yaml) has a `cell:` section: space group,
cell parameters (Å, degrees), the asymmetric unit (label, sublattice, element,
fractional xyz, occupancy) and its provenance. `parent_cell` expands it with ASE and
returns `ase.Atoms` with two per-atom string arrays:

- `atoms.arrays["site_label"]`: crystallographic label, e.g. Na1, Na2, TM, P, O, F;
- `atoms.arrays["sublattice"]`: the sublattice of `structures.composition`, e.g. Na, TM.

Partially occupied sites are replaced by their documented ordered variant (the
positions listed under `cell.ordered.keep`). Every cell is a MODEL built from
literature facts; its provenance is in `atoms.info["provenance"]`.

User structures (CIF, POSCAR, extxyz) and Materials Project entries get the same
arrays from `load_structure` / `from_materials_project`.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml
from ase import Atoms
from ase.spacegroup import crystal

from structures.errors import PrototypeError
from structures.sublattices import PROTOTYPE_DIR, get_prototype

LABEL = "site_label"
SUBLATTICE = "sublattice"
POSITION_TOL = 2e-3  # fractional coordinates, for matching the ordered-variant positions


def _cell_spec(name: str) -> dict:
    proto = get_prototype(name)  # validates the name
    path = PROTOTYPE_DIR / f"{proto.name}.yaml"
    spec = (yaml.safe_load(path.read_text()) or {}).get("cell")
    if not spec:
        raise PrototypeError(
            f"prototype {proto.name!r} ships no parent cell (no deposited structure could be "
            "established); pass a structure file (--structure FILE) or a Materials Project id (--mp-id)")
    for key in ("spacegroup", "cellpar", "sites"):
        if key not in spec:
            raise PrototypeError(f"{path}: cell section lacks {key!r}")
    return spec


def cell_provenance(name: str) -> dict:
    """Where the parent cell of prototype `name` comes from: source, doi, what was modelled."""
    spec = _cell_spec(name)
    return {"prototype": get_prototype(name).name, "source": " ".join(str(spec.get("source", "")).split()),
            "doi": spec.get("doi"), "modelled": " ".join(str(spec.get("modelled", "")).split()),
            "spacegroup": spec["spacegroup"], "model": True}


def _number(x: float | str) -> float:
    """A coordinate from YAML: a number or an exact fraction written as a string, e.g. '1/3'."""
    return float(Fraction(x)) if isinstance(x, str) else float(x)


def parent_cell(name: str) -> Atoms:
    """The ordered parent cell of a prototype, with `site_label` and `sublattice` arrays.

    Lengths in Å. Partially occupied sites keep only the positions of the ordered
    variant; `atoms.info` holds `prototype`, `provenance` and `formula_units`.
    """
    spec = _cell_spec(name)
    sites = spec["sites"]
    atoms = crystal(
        [s["element"] for s in sites],
        [tuple(_number(x) for x in s["xyz"]) for s in sites],
        spacegroup=spec["spacegroup"],
        cellpar=spec["cellpar"],
        primitive_cell=bool(spec.get("primitive", False)),
        onduplicates="error",
    )
    kinds = atoms.arrays.pop("spacegroup_kinds")
    atoms.arrays[LABEL] = np.array([sites[k]["label"] for k in kinds], dtype=object).astype(str)
    atoms.arrays[SUBLATTICE] = np.array([sites[k]["sublattice"] for k in kinds]).astype(str)
    keep = (spec.get("ordered") or {}).get("keep") or {}
    drop: list[int] = []
    scaled = atoms.get_scaled_positions(wrap=True)
    for k, site in enumerate(sites):
        if float(site.get("occupancy", 1.0)) >= 1.0:
            continue
        wanted = np.array(keep.get(site["label"], []), dtype=float).reshape(-1, 3) % 1.0
        if len(wanted) == 0:
            raise PrototypeError(f"prototype {name!r}: partially occupied site {site['label']!r} "
                                 "has no ordered variant (cell.ordered.keep)")
        members = np.flatnonzero(kinds == k)
        kept = []
        for i in members:
            d = scaled[i] - wanted
            d -= np.round(d)
            if np.any(np.all(np.abs(d) < POSITION_TOL, axis=1)):
                kept.append(i)
        expected = round(len(members) * float(site["occupancy"]))
        if len(kept) != expected:
            raise PrototypeError(f"prototype {name!r}: ordered variant keeps {len(kept)} of "
                                 f"{len(members)} {site['label']} sites, expected {expected}")
        drop += [i for i in members if i not in kept]
    del atoms[drop]
    proto = get_prototype(name)
    mixing = next(s for s in proto.sublattices if s.role == "mixing")
    n_mixing = int(np.sum(atoms.arrays[SUBLATTICE] == mixing.label))
    conventional = crystal([s["element"] for s in sites][:1], [(0, 0, 0)], spacegroup=spec["spacegroup"],
                           cellpar=spec["cellpar"]).cell[:]
    atoms.info.update(prototype=proto.name, formula_units=n_mixing / mixing.sites,
                      provenance=cell_provenance(name),
                      conventional_cell=np.round(conventional, 6).reshape(-1).tolist())
    return atoms


def load_structure(path: str | Path, site_map: dict[str, str] | None = None) -> Atoms:
    """Read a user structure (CIF, POSCAR, extxyz ...) and give every atom a site label.

    Labels come from the file (extxyz `site_label` array, CIF `_atom_site_label`) or
    else the element symbol; `site_map` renames labels or elements, e.g. {"V": "TM"}.
    Partially occupied CIFs are refused: order them first (one line says so).
    """
    from structures.io import ensure_site_labels, read_structure

    path = Path(path)
    if not path.is_file():
        raise PrototypeError(f"structure file not found: {path}")
    atoms = _read_cif(path) if path.suffix.lower() == ".cif" else read_structure(path)
    ensure_site_labels(atoms)
    labels = [str(x) for x in atoms.arrays[LABEL]]
    if site_map:
        known = set(labels) | set(atoms.get_chemical_symbols())
        unknown = sorted(set(site_map) - known)
        if unknown:
            raise PrototypeError(f"--site-map names {', '.join(unknown)}, not a label or element of "
                                 f"{path.name} (labels: {', '.join(sorted(set(labels)))})")
        symbols = atoms.get_chemical_symbols()
        labels = [site_map.get(lab, site_map.get(el, lab)) for lab, el in zip(labels, symbols, strict=True)]
    atoms.arrays[LABEL] = np.array(labels).astype(str)
    atoms.info["provenance"] = {"source": f"user file {path.name}", "model": False}
    return atoms


_CIF_SERIAL = re.compile(r"_\d+$")  # hecathode writes unique CIF labels as <site_label>_<n>


def _read_cif(path: Path) -> Atoms:
    import warnings

    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            struct = Structure.from_file(path)
    except Exception as exc:
        raise PrototypeError(f"cannot read CIF {str(path)!r}: {exc}") from None
    if not struct.is_ordered:
        partial = sorted({s.label or s.species_string for s in struct if not s.is_ordered})
        raise PrototypeError(f"{path.name} has partially occupied sites ({', '.join(partial[:4])}"
                             f"{', ...' if len(partial) > 4 else ''}): a disordered structure, read by "
                             "structures.disorder.read_disordered; build its SQS or Na ordering "
                             "(structures.orderings) or order it first")
    labels = [_CIF_SERIAL.sub("", s.label) if s.label else s.specie.symbol for s in struct]
    atoms = AseAtomsAdaptor.get_atoms(struct)
    for key in list(atoms.arrays):
        if key not in ("numbers", "positions"):
            del atoms.arrays[key]
    atoms.arrays[LABEL] = np.array(labels).astype(str)
    return atoms


MP_ENDPOINT_ENV = "MP_API_ENDPOINT"  # another server with the Materials Project API (mirror, replay)


def from_materials_project(mp_id: str, api_key: str | None = None, endpoint: str | None = None) -> Atoms:
    """Fetch a structure by Materials Project id with the mp-api client (needs an API key).

    `endpoint`: base URL of the API (default $MP_API_ENDPOINT, else mp-api's own,
    https://api.materialsproject.org); any server implementing the same routes works,
    e.g. the local replay server of the tests. Fails at once with one line when there is
    no key, no connection, an error status or no such material.
    """
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise PrototypeError(f"Materials Project id {mp_id!r} needs an API key: set MP_API_KEY "
                             "(https://materialsproject.org/api) or pass a structure file")
    mp_id = mp_id.strip()
    if not re.fullmatch(r"mp-\d+", mp_id):
        raise PrototypeError(f"{mp_id!r} is not a Materials Project id like mp-694937")
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(_mp_structure(mp_id, key, endpoint or os.environ.get(MP_ENDPOINT_ENV)))
    atoms.arrays[LABEL] = np.array(atoms.get_chemical_symbols()).astype(str)
    atoms.info["provenance"] = {"source": f"Materials Project {mp_id}", "model": False}
    return atoms


def _mp_structure(mp_id: str, key: str, endpoint: str | None):
    """The final structure of `mp_id` (pymatgen Structure) from the API at `endpoint`."""
    where = f" at {endpoint}" if endpoint else ""
    try:
        from mp_api.client import MPRester

        with MPRester(key, endpoint=endpoint or None, mute_progress_bars=True) as mpr:
            struct = mpr.get_structure_by_material_id(mp_id)
    except Exception as exc:  # network, authentication, error status
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise PrototypeError(f"Materials Project query for {mp_id}{where} failed: {msg[:300]}") from None
    if struct is None:
        raise PrototypeError(f"Materials Project{where} has no material {mp_id}")
    return struct


def label_counts(atoms: Atoms) -> dict[str, int]:
    """Number of atoms per site label."""
    labels, counts = np.unique(atoms.arrays[LABEL], return_counts=True)
    return {str(k): int(v) for k, v in zip(labels, counts, strict=True)}
