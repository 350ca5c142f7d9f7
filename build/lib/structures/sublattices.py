"""Sublattice definitions of the prototype families (read from configs/prototypes/*.yaml).

A prototype declares, per formula unit, its sublattices: label, role (alkali,
mixing, complex, centre, anion, ligand), number of sites per formula unit, the
elements allowed on it, coordination and spin for ionic radii. `generic` has no
file: its sublattices are built from the composition itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import yaml

from structures.errors import PrototypeError
from structures.settings import PROTOTYPE_DIR

ROLES = ("alkali", "mixing", "complex", "centre", "anion", "ligand")


@dataclass(frozen=True)
class Sublattice:
    """One sublattice: `sites` is the number of sites per formula unit."""

    label: str
    role: str
    sites: float
    allowed: tuple[str, ...]
    full: bool = False
    configurational: bool = True
    coordination: str | None = None
    spin: str = "high"
    note: str = ""


@dataclass(frozen=True)
class Prototype:
    """A structure family with its sublattices (sites per formula unit)."""

    name: str
    family: str
    formula_unit: str
    description: str
    sublattices: tuple[Sublattice, ...]
    preference: dict[str, tuple[str, ...]] = field(default_factory=dict)
    residual_na: float = 0.0

    def sublattice(self, label: str) -> Sublattice:
        for s in self.sublattices:
            if s.label == label:
                return s
        labels = ", ".join(s.label for s in self.sublattices)
        raise PrototypeError(f"prototype {self.name!r} has no sublattice {label!r} (has {labels})")


def list_prototypes() -> list[str]:
    """Names of the prototypes that ship with hecathode, plus 'generic'."""
    return sorted(p.stem for p in PROTOTYPE_DIR.glob("*.yaml")) + ["generic"]


@cache
def get_prototype(name: str) -> Prototype:
    """Load and validate a prototype by name (case-insensitive), e.g. 'nvpf'."""
    key = name.strip().lower()
    path = PROTOTYPE_DIR / f"{key}.yaml"
    if key == "generic" or not path.is_file():
        known = ", ".join(list_prototypes())
        if key == "generic":
            raise PrototypeError("the generic prototype is built from a composition, not loaded")
        raise PrototypeError(f"unknown prototype {name!r}; known: {known}")
    return _prototype_from_dict(yaml.safe_load(path.read_text()), str(path))


def _prototype_from_dict(data: dict, source: str) -> Prototype:
    try:
        subs = []
        for s in data["sublattices"]:
            role = s["role"]
            if role not in ROLES:
                raise PrototypeError(f"{source}: role {role!r} of {s['label']!r} not in {ROLES}")
            sites = float(s["sites"])
            if sites <= 0:
                raise PrototypeError(f"{source}: sublattice {s['label']!r} needs sites > 0")
            subs.append(
                Sublattice(
                    label=str(s["label"]),
                    role=role,
                    sites=sites,
                    allowed=tuple(s["allowed"]),
                    full=bool(s.get("full", False)),
                    configurational=bool(s.get("configurational", True)),
                    coordination=s.get("coordination"),
                    spin=s.get("spin", "high"),
                    note=s.get("note", ""),
                )
            )
        labels = {s.label for s in subs}
        pref = {el: tuple(order) for el, order in (data.get("preference") or {}).items()}
        for el, order in pref.items():
            if not set(order) <= labels:
                raise PrototypeError(f"{source}: preference for {el} names unknown sublattices")
        return Prototype(
            name=data["name"],
            family=data["family"],
            formula_unit=data["formula_unit"],
            description=data.get("description", ""),
            sublattices=tuple(subs),
            preference=pref,
            residual_na=float(data.get("residual_na", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, PrototypeError):
            raise
        raise PrototypeError(f"{source}: malformed prototype file ({exc!r})") from None
