"""What GPAW and VASP set-ups share: initial magnetic moments and where Hubbard U applies."""

from __future__ import annotations

import numpy as np


def set_initial_magmoms(atoms, table: dict, default: float = 0.0) -> np.ndarray:
    """Give `atoms` initial moments (μB) from `table` unless it already has non-zero ones.

    Moments the caller set (for example an antiferromagnetic ±5 μB pattern) are kept.
    Returns the moments in atom order.
    """
    current = atoms.get_initial_magnetic_moments()
    if current.ndim == 1 and np.any(current != 0):
        return current
    moments = np.array([float(table.get(s, default)) for s in atoms.get_chemical_symbols()])
    atoms.set_initial_magnetic_moments(moments)
    return moments


def hubbard_u_for(atoms, settings: dict) -> dict[str, float]:
    """U (eV) per element present in `atoms`, or {} when no anion of `hubbard_u_anions` is there.

    Follows the Materials Project rule: GGA+U only for oxides and fluorides.
    """
    symbols = set(atoms.get_chemical_symbols())
    if not symbols & set(settings.get("hubbard_u_anions", [])):
        return {}
    return {el: float(u) for el, u in settings.get("hubbard_u", {}).items() if el in symbols and u}
