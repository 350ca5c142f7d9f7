"""Files: atomic writes (temporary file in the same folder, then rename) and structure I/O.

Structures travel as `ase.Atoms` with site labels in `atoms.arrays["site_label"]`; extended XYZ
keeps that array, ASE trajectories and CIF/POSCAR do not.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from structures.constants import SITE_LABEL
from structures.errors import HecathodeInputError


class StructureFileError(HecathodeInputError):
    """A structure file that is missing or cannot be read."""


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path), then rename tmp_path onto path (same folder, so atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, doc: object) -> Path:
    """Write `doc` as indented JSON, atomically (numpy scalars and arrays become plain numbers)."""

    def default(obj):
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    text = json.dumps(doc, indent=2, ensure_ascii=False, default=default) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def ensure_site_labels(atoms) -> None:
    """Give `atoms` a `site_label` array (the chemical symbols) when it has none."""
    if SITE_LABEL not in atoms.arrays:
        atoms.new_array(SITE_LABEL, np.array(atoms.get_chemical_symbols(), dtype="U16"))


def read_structure(path: str | Path):
    """Read one structure (POSCAR/CONTCAR, extxyz, ASE trajectory: last frame) with ase.io.read.

    User files go through `structures.prototypes.load_structure`, which reads CIFs with their
    site labels (and refuses partial occupancy) and calls this for every other format.

    The returned `ase.Atoms` always has `arrays["site_label"]`: kept from an extxyz file that
    has it, otherwise the chemical symbols. Raises StructureFileError naming the file.
    """
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"structure file not found: {path}")
    try:
        atoms = read(path)
    except Exception as exc:  # ASE raises many types for unreadable files
        raise StructureFileError(f"cannot read structure file {path}: {exc}".splitlines()[0]) from None
    if isinstance(atoms, list):  # pragma: no cover - read() without index returns one frame
        atoms = atoms[-1]
    if len(atoms) == 0:
        raise StructureFileError(f"structure file {path} has no atoms")
    ensure_site_labels(atoms)
    return atoms


def write_structure(path: str | Path, atoms) -> Path:
    """Write `atoms` atomically as extended XYZ (keeps site labels, cell, energy, forces)."""
    from ase.io import write

    return atomic_write(path, lambda tmp: write(tmp, atoms, format="extxyz"))
