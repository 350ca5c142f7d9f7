"""Typed results of the calculators: a relaxation, an NEB hop, a hop network.

Each result is a small dataclass whose field names carry their units (`_eV`, `_A` for Å,
`_A3` for Å^3, `_GPa`, `_muB`, `_s`). The structures are fields (`Relaxation.atoms`,
`NebHop.images`), never keys to pop. `to_json()` gives exactly the dict written to
relax.json, neb.json or network.json (the keys those files have always had; structures
left out), and `from_json(path_or_dict)` reads one back, re-reading the structures from the
files written beside the JSON where they exist (else None).

    from calculators.results import Relaxation, NebHop
    run = Relaxation.from_json("run/relax.json")     # run.atoms: run/relax.extxyz
    hop = NebHop.from_json("neb/chgnet/hop-00/neb.json")   # hop.images: the last band
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ase import Atoms


def band_name(n_images: int) -> str:
    """File of an NEB band trajectory (all images, step after step) for `n_images` interior images."""
    return f"band-{n_images}images.traj"


def _structure_field():
    """A field holding structures: not part of the JSON, not compared, not printed."""
    return field(default=None, repr=False, compare=False, metadata={"json": False})


def _load(source: str | Path | dict) -> tuple[dict, Path | None]:
    """(the JSON document, the file it came from or None)."""
    if isinstance(source, dict):
        return dict(source), None
    path = Path(source)
    return json.loads(path.read_text()), path


class _JsonResult:
    """to_json / construction from a JSON document, shared by the result classes."""

    def to_json(self) -> dict[str, Any]:
        """The JSON document of this result (structures left out), keys in file order."""
        doc = {}
        for f in fields(self):
            if f.metadata.get("json", True):
                value = getattr(self, f.name)
                doc[f.name] = value.to_json() if isinstance(value, _JsonResult) else value
        return doc

    @classmethod
    def _from_doc(cls, doc: dict, **structures):
        """An instance from a document's known keys (unknown keys are ignored)."""
        known = {f.name for f in fields(cls) if f.metadata.get("json", True)}
        return cls(**{k: v for k, v in doc.items() if k in known}, **structures)


@dataclass(kw_only=True)
class Relaxation(_JsonResult):
    """One relaxation, as `calculators.relax.relax` returns it and writes `<stem>.json`.

    Energies eV, forces eV/Å, stress GPa, volume Å^3, lattice lengths Å and angles degrees,
    magnetic moments μB, wall time s (of this run). `atoms` is the relaxed structure (site
    labels kept; written as `<stem>.extxyz` beside the JSON).
    """

    calculator: str
    preset: str | None = None
    formula: str
    natoms: int
    energy_eV: float
    energy_per_atom_eV: float
    volume_A3: float
    lattice: dict  # a, b, c (Å), alpha, beta, gamma (degrees), matrix (3 × 3, Å)
    max_force_eV_per_A: float
    max_stress_GPa: float | None = None  # None for calculators without stress
    magnetic_moments_muB: list[float] | None = None  # None when the calculator gave none
    fmax_eV_per_A: float | None = None  # the force criterion
    relax_cell: bool | None = None
    optimizer: str | None = None  # BFGS, FIRE or "VASP IBRION 2"
    steps: int | None = None  # optimizer steps in total, across restarts
    steps_this_run: int | None = None
    resumed_from_step: int | None = None  # None when not resumed
    converged: bool = False
    wall_time_s: float | None = None
    trajectory: str | None = None  # the .traj file written step by step
    structure: str | None = None  # the final extxyz
    prerelax: Relaxation | None = None  # the MLIP pre-relaxation, when one ran
    settings: dict | None = None  # the calculator settings (hecathode calculators)
    kpoints: list[int] | None = None  # the DFT k-point grid
    atoms: Atoms | None = _structure_field()

    @classmethod
    def from_json(cls, source: str | Path | dict) -> Relaxation:
        """A relaxation from relax.json (or its dict); `atoms` from the extxyz beside it or named
        in `structure`, None if neither exists."""
        doc, path = _load(source)
        pre = doc.get("prerelax")
        doc["prerelax"] = cls.from_json(pre) if isinstance(pre, dict) else None
        candidates = [path.with_suffix(".extxyz")] if path is not None else []
        if doc.get("structure"):
            candidates.append(Path(doc["structure"]))
        return cls._from_doc(doc, atoms=_first_structure(candidates))


@dataclass(kw_only=True)
class NebHop(_JsonResult):
    """One climbing-image NEB of a vacancy hop, as `calculators.neb.run_neb` returns it and writes
    neb.json. Energies eV (image energies relative to the initial state), forces eV/Å, lengths
    Å, spring eV/Å², time s. `images` is the last band (endpoints included)."""

    hop: dict  # structures.hops.Hop.as_dict() (indices, labels, length_A, ...) + environment
    calculator: str
    preset: str | None = None
    forward_barrier_eV: float
    reverse_barrier_eV: float
    reaction_energy_eV: float
    saddle: str  # "interior", or "endpoint" when the band's maximum is an endpoint
    maximum_image: int
    image_energies_eV: list[float]
    reaction_coordinate_A: list[float]
    max_force_eV_per_A: float
    fmax_eV_per_A: float
    converged: bool
    n_images: int  # interior images
    spring_eV_per_A2: float
    optimizer: str
    climbing_image: bool
    neb_steps: int
    resumed: bool
    guided: bool = False  # the first band went through a screened saddle (calculators.band)
    force_calls: int  # band and endpoint relaxations together
    band_force_calls: int
    endpoint_energies_eV: list[float]  # absolute, [initial, final]
    endpoint_relax_steps: list[int | None]
    final_from_symmetry: bool  # final state mapped from the relaxed initial one
    moving_index: int  # the hopping atom in the endpoint cells
    endpoint_max_displacement_A: float | None = None  # largest move of another atom between ends
    n_atoms: int
    wall_time_s: float
    notes: list[str] = field(default_factory=list)
    images: list[Atoms] | None = _structure_field()

    @property
    def saddle_energy_eV(self) -> float:
        """Absolute energy of the band's maximum (initial energy + forward barrier)."""
        return self.endpoint_energies_eV[0] + self.forward_barrier_eV

    @classmethod
    def from_json(cls, source: str | Path | dict) -> NebHop:
        """An NEB result from neb.json (or its dict); `images` the last complete band of the
        band trajectory beside it, None without one."""
        from calculators.trajectory import read_frames

        doc, path = _load(source)
        images = None
        if path is not None:
            n_total = doc["n_images"] + 2
            frames = read_frames(path.parent / band_name(doc["n_images"]))
            images = frames[-n_total:] if len(frames) >= n_total else None
        return cls._from_doc(doc, images=images)


@dataclass(kw_only=True)
class HopNetwork(_JsonResult):
    """Every symmetry-distinct vacancy hop of a cell and the percolation barriers, as
    `calculators.network.run_network` returns it and writes network.json. Energies eV,
    lengths Å.

    `hops`: one dict per hop class: class, multiplicity, the hop (indices, labels, length_A,
    ...), environment, and either `skipped` (why) or endpoint energies and displacement,
    `reconstructed` (a concerted move), `in_percolation`, `screen_estimate` (idpp, short-neb or
    None), `screened_barrier_eV`
    (effective, None without screening), `refined`; refined hops add forward/reverse/effective
    barriers, reaction and saddle energy, saddle, converged and their band's force calls;
    screened-only hops have no `effective_barrier_eV`.
    """

    species: str
    cutoff_A: float
    n_atoms: int
    reference_energy_eV: float  # lowest clean endpoint energy: the effective barriers' zero
    hops: list[dict]
    percolation_barrier_eV: dict[str, float | None]  # per axis a, b, c; None: no path
    axes_A: list[list[float]]
    converged: bool
    site_energies_eV: dict[str, float] | None = None  # relaxed vacancy state per site, rel. lowest
    site_energy_spread_eV: float | None = None  # highest - lowest of site_energies_eV
    screen: str = "none"  # the barrier estimate of the screening: idpp, short-neb or none
    screen_margin_eV: float | None = None  # CI-NEB taken to lie at most this far below an estimate
    screen_margin_above_eV: float | None = None  # ... and at most this far above it
    n_refined: int | None = None  # hops refined by CI-NEB (the others: screened only)
    force_calls: dict[str, int] | None = None  # vacancy_states, screening, refinement, total
    wall_time_s: dict[str, float] | None = None  # per stage, of the run that wrote the file
    host: dict | None = None  # the host relaxed first (ions + cell): energy, volume change %, calls

    @classmethod
    def from_json(cls, source: str | Path | dict) -> HopNetwork:
        """A hop network from network.json (or its dict)."""
        return cls._from_doc(_load(source)[0])


def _first_structure(candidates: list[Path]) -> Atoms | None:
    from structures.io import read_structure

    for path in candidates:
        if path.is_file():
            return read_structure(path)
    return None


__all__ = ["HopNetwork", "NebHop", "Relaxation", "band_name"]
