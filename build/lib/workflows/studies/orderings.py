"""Na/vacancy orderings of a disordered structure: Ewald pre-rank, MLIP relax of the best N, keep K.

    study = order_alkali(ds, "out/nvpf", OrderingOptions(calculator="chgnet", n_relax=5, n_keep=1))
    study.kept_atoms[0]          # the lowest-MLIP-energy ordering (ideal positions, labelled)

1. `rank_alkali`: every symmetry-distinct ordering of the partially occupied alkali orbits in
   the smallest supercell that holds their occupancy (`structures.orderings.rank_orderings`,
   icet enumeration + pymatgen Ewald energy); bad requests (no supercell within `max_atoms`
   holds the occupancy to `tolerance`, more than `max_orderings`) raise before anything is
   written;
2. `order_alkali`: the `n_relax` lowest-Ewald orderings relaxed at fixed cell with the MLIP,
   each in `out/orderings/<k>/` (k = Ewald rank; `calculators.relax.relax` resumes a killed
   run from its trajectory, a finished one is read back from relax.json); the `n_keep` lowest
   MLIP energies kept and written as `out/ordering-NNN.cif|extxyz` (ideal positions, the cell
   SQS and NEB build on); `out/orderings.json` (`OrderingStudy.to_json()`), written last.

A mixed site other than the ordered ones carries its mean charge in the Ewald sum and its
majority element during the MLIP relaxation (said in the notes). No plots here
(`workflows.report.orderings`). Energies eV, forces eV/Å, time s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ase import Atoms

from structures.disorder import DisorderedStructure
from structures.io import write_json, write_structure
from structures.orderings import (
    DEFAULT_MAX_ATOMS,
    DEFAULT_MAX_ORDERINGS,
    DEFAULT_TOLERANCE,
    OrderingCandidate,
    OrderingResult,
    rank_orderings,
)
from workflows.studies.disordered import DisorderedInputError, mixed_orbits, partial_alkali

MLIPS = ("chgnet", "sevenn")


@dataclass
class OrderingOptions:
    """How orderings are enumerated (`max_atoms`, `tolerance` in site fraction, `max_orderings`)
    and ranked (`n_relax` relaxed with `calculator`/`preset` to `fmax_eV_per_A` in at most
    `steps` steps at fixed cell; `n_keep` kept)."""

    calculator: str = "chgnet"
    preset: str | None = None
    n_relax: int = 5
    n_keep: int = 1
    max_atoms: int = DEFAULT_MAX_ATOMS
    tolerance: float = DEFAULT_TOLERANCE
    max_orderings: int = DEFAULT_MAX_ORDERINGS
    fmax_eV_per_A: float = 0.05
    steps: int = 300

    def check(self) -> None:
        """Refuse settings no study can run with, before any work."""
        if self.n_relax < 0 or self.n_keep < 1:
            raise DisorderedInputError(f"--n-relax must be >= 0 and --n-keep >= 1 (got {self.n_relax}, "
                                       f"{self.n_keep})")
        if self.n_relax and self.n_keep > self.n_relax:
            raise DisorderedInputError(f"--n-keep {self.n_keep} is more than --n-relax {self.n_relax}: "
                                       "only relaxed orderings can be kept")
        if self.max_orderings < 1 or self.max_atoms < 1 or self.tolerance < 0:
            raise DisorderedInputError("--max-orderings and --max-atoms must be positive, --tolerance >= 0")


@dataclass
class OrderingEntry:
    """One candidate ordering: its Ewald energy and rank (0 = lowest), and when relaxed its MLIP
    energy and rank among the relaxed ones; `structure` / `relaxed_structure` relative to out."""

    ewald_rank: int
    ewald_eV: float
    ewald_eV_per_atom: float
    n_atoms: int
    supercell_matrix: list[list[int]]
    relaxed: bool = False
    mlip_energy_eV: float | None = None
    mlip_energy_per_atom_eV: float | None = None
    mlip_rank: int | None = None
    converged: bool | None = None
    max_force_eV_per_A: float | None = None
    kept: bool = False
    structure: str | None = None
    relaxed_structure: str | None = None


@dataclass
class OrderingStudy:
    """The orderings of one structure and which were kept (`kept`: Ewald ranks, best first).

    Counts are per supercell of `n_cells` parent cells; energies eV; `kept_atoms` (not in the
    JSON) are the kept orderings, ideal positions, with `site_label` / `sublattice` arrays."""

    source: str
    formula: str
    species: str
    sites: list[str]
    n_cells: int
    n_sites: int
    n_species: int
    n_found: int
    charges: dict[str, float]
    calculator: str | None
    preset: str | None
    relax_cell: bool
    fmax_eV_per_A: float
    n_relax: int
    n_keep: int
    ewald_picks_mlip_minimum: bool | None
    kept: list[int]
    candidates: list[OrderingEntry]
    notes: list[str]
    wall_time_s: float
    kept_atoms: list[Atoms] = field(default_factory=list, repr=False, metadata={"json": False})

    def to_json(self) -> dict[str, Any]:
        """The orderings.json document (kept_atoms left out)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("json", True)}
        doc["candidates"] = [vars(c) for c in self.candidates]
        return doc


def rank_alkali(ds: DisorderedStructure, options: OrderingOptions) -> OrderingResult:
    """Every symmetry-distinct ordering of the partially occupied alkali orbits of `ds`, ranked by
    Ewald energy; raises (nothing written) when none can be enumerated as asked."""
    options.check()
    element, sites = partial_alkali(ds)
    if not sites:
        raise DisorderedInputError(f"{ds.source} has no partially occupied alkali site to order")
    return rank_orderings(ds, sites, species=element, max_atoms=options.max_atoms,
                          tolerance=options.tolerance, max_orderings=options.max_orderings)


def order_alkali(ds: DisorderedStructure, out_dir: str | Path, options: OrderingOptions | None = None, *,
                 ranked: OrderingResult | None = None,
                 progress: Callable[[str], None] | None = None) -> OrderingStudy:
    """Rank (or take `ranked`), relax the best `n_relax`, keep the `n_keep` lowest; write
    out/orderings/<k>/, out/ordering-NNN.cif|extxyz and out/orderings.json (last)."""
    t0 = time.perf_counter()
    options = options or OrderingOptions()
    ranked = ranked or rank_alkali(ds, options)
    out = Path(out_dir)
    entries = [_entry(c) for c in ranked.candidates]
    chosen = ranked.candidates[:options.n_relax]
    relaxations = _relax_all(chosen, out, options, progress)
    for entry, run in zip(entries, relaxations, strict=False):
        _record(entry, run, out)
    order = _mlip_order(entries[:len(relaxations)]) if relaxations else list(range(len(entries)))
    for rank, k in enumerate(order if relaxations else ()):
        entries[k].mlip_rank = rank
    kept = order[:options.n_keep]
    kept_atoms = [_write_kept(ranked.candidates[k], entries[k], j, out, ds, options.calculator)
                  for j, k in enumerate(kept)]
    study = OrderingStudy(
        ds.source, ds.formula, ranked.species, list(ranked.sites), ranked.n_cells, ranked.n_sites,
        ranked.n_keep, ranked.n_found, ranked.charges, options.calculator if relaxations else None,
        options.preset if relaxations else None, False, options.fmax_eV_per_A, len(relaxations),
        options.n_keep, (order[0] == 0) if relaxations else None, kept, entries,
        ranked.notes + _notes(ds, ranked, entries, relaxations, options), 0.0, kept_atoms)
    study.wall_time_s = time.perf_counter() - t0
    write_json(out / "orderings.json", study.to_json())
    return study


def _entry(c: OrderingCandidate) -> OrderingEntry:
    return OrderingEntry(c.index, c.ewald_eV, c.ewald_eV_per_atom, len(c.atoms), c.supercell_matrix)


def _plain(atoms: Atoms) -> Atoms:
    """The candidate as a relaxation input: labels kept, info reduced to numbers and strings."""
    work = atoms.copy()
    work.info = {k: v for k, v in atoms.info.items() if isinstance(v, int | float | str)}
    return work


def _relax_all(chosen: list[OrderingCandidate], out: Path, options: OrderingOptions,
               progress: Callable[[str], None] | None) -> list:
    """Relax each candidate at fixed cell in out/orderings/<k>/; finished runs are read back."""
    from calculators.relax import relax
    from calculators.results import Relaxation

    for cand in chosen:  # a folder left by another request is refused before any work
        _same_ordering(cand, out / "orderings" / str(cand.index))
    calc, runs = None, []
    for i, cand in enumerate(chosen):
        folder = out / "orderings" / str(cand.index)
        done = folder / "relax.json"
        if done.is_file():
            runs.append(_finished(Relaxation.from_json(done), done, options))
            continue
        if progress:
            progress(f"ordering {cand.index} ({i + 1}/{len(chosen)}): fixed-cell relax with "
                     f"{options.calculator}, {len(cand.atoms)} atoms")
        if calc is None:
            calc = _calculator(options)
        write_structure(folder / "ordering.extxyz", _plain(cand.atoms))
        runs.append(relax(_plain(cand.atoms), calc, fmax=options.fmax_eV_per_A, steps=options.steps,
                          relax_cell=False, directory=folder, preset=options.preset))
    return runs


def _same_ordering(cand: OrderingCandidate, folder: Path) -> None:
    """Refuse a folder whose ordering.extxyz (the ordering relaxed there) is not this candidate."""
    import numpy as np

    from structures.io import read_structure

    path = folder / "ordering.extxyz"
    if not path.is_file():
        return
    old = read_structure(path)
    same = (old.get_chemical_symbols() == cand.atoms.get_chemical_symbols()
            and np.allclose(old.cell[:], cand.atoms.cell[:], atol=1e-4)
            and np.allclose(old.positions, cand.atoms.positions, atol=1e-4))
    if not same:
        raise DisorderedInputError(f"{folder} holds another ordering (from another structure or other "
                                   "settings): use another --out or remove it")


def _finished(run, path: Path, options: OrderingOptions):
    """A relaxation read back on resume, refused when it was made with another calculator."""
    if run.calculator != options.calculator or run.relax_cell:
        raise DisorderedInputError(f"{path} holds a {'cell' if run.relax_cell else 'fixed-cell'} relaxation "
                                   f"with {run.calculator}, not a fixed-cell one with {options.calculator}: "
                                   "use another --out")
    return run


def _calculator(options: OrderingOptions):
    """One MLIP for all candidates (loaded once); other calculators by name, built per structure."""
    if options.calculator in MLIPS:
        from calculators import get_calculator

        return get_calculator(options.calculator, options.preset)
    return options.calculator


def _record(entry: OrderingEntry, run, out: Path) -> None:
    entry.relaxed = True
    entry.mlip_energy_eV = float(run.energy_eV)
    entry.mlip_energy_per_atom_eV = float(run.energy_eV) / entry.n_atoms
    entry.converged = bool(run.converged)
    entry.max_force_eV_per_A = float(run.max_force_eV_per_A)
    entry.relaxed_structure = f"orderings/{entry.ewald_rank}/relax.extxyz"
    if not (out / entry.relaxed_structure).is_file():
        entry.relaxed_structure = None


def _mlip_order(relaxed: list[OrderingEntry]) -> list[int]:
    """Indices of the relaxed entries, lowest MLIP energy first (Ewald rank breaks ties)."""
    return sorted(range(len(relaxed)), key=lambda k: (relaxed[k].mlip_energy_eV, k))


def _write_kept(cand: OrderingCandidate, entry: OrderingEntry, j: int, out: Path,
                ds: DisorderedStructure, calculator: str) -> Atoms:
    from workflows.studies.sqs_set import write_structure_files

    atoms = _plain(cand.atoms)
    atoms.info.update(ewald_rank=entry.ewald_rank, ewald_eV=entry.ewald_eV)
    if entry.mlip_rank is not None:
        atoms.info["mlip_rank"] = entry.mlip_rank
    stem = f"ordering-{j:03d}"
    write_structure_files(atoms, out / stem)
    entry.kept, entry.structure = True, f"{stem}.cif"
    how = f"Ewald rank {entry.ewald_rank}"
    if entry.mlip_rank is not None:
        how += f", {calculator} rank {entry.mlip_rank}"
    atoms.info["provenance"] = {"source": f"user file {ds.source}", "model": False, "ordering": how}
    return atoms


def _notes(ds: DisorderedStructure, ranked: OrderingResult, entries: list[OrderingEntry], relaxations: list,
           options: OrderingOptions) -> list[str]:
    notes = []
    others = mixed_orbits(ds, exclude=ranked.sites)
    if others and relaxations:
        notes.append(f"mixed site(s) {', '.join(others)}: mean charge in the Ewald sum, majority element "
                     "during the MLIP relaxation (the ranking is of the alkali orderings on that host)")
    if not relaxations:
        notes.append("no MLIP relaxation (--n-relax 0): kept the lowest Ewald energies")
    unconverged = [e.ewald_rank for e in entries if e.relaxed and not e.converged]
    if unconverged:
        notes.append(f"ordering(s) {', '.join(map(str, unconverged))} did not reach fmax "
                     f"{options.fmax_eV_per_A:g} eV/Å in {options.steps} steps; rerun with more --steps "
                     "resumes them")
    if relaxations and len(relaxations) < len(entries):
        notes.append(f"relaxed the {len(relaxations)} lowest-Ewald of {len(entries)} orderings")
    return notes
