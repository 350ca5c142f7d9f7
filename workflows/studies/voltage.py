"""Voltage and strain on desodiation (review §3.3 "zero strain"; Tables 1–3 voltages), with the
pristine material beside the high-entropy one (figures: `workflows.report.voltage`).

`voltage_study("Na3V2(PO4)2F3", "nvpf", "out", na=[3, 1])`:

1. hosts: the prototype's parent cell for a single-species composition, else K SQS
   (`voltage_states`); Na contents checked against [residual Na, as-made Na];
2. at each Na content the Na/vacancy orderings pre-ranked by Ewald energy (every
   symmetry-distinct one in a pristine cell, an Ewald search in a P1 SQS) and the best
   `n_relax` written to out/<host>/na-<x>/ord-NN.extxyz with out/<host>/na-<x>/orderings.json;
3. each relaxed (ions + cell) with each calculator in its own folder
   out/<calculator>/<host>/na-<x>/ord-NN/ (relax.traj/json/extxyz), and bcc Na in
   out/<calculator>/na-bcc/; a finished relax.json is read back, a killed run resumes from its
   trajectory (`calculators.relax.relax`);
4. per host and calculator the hull of E(Na_x) (`voltage_hull`: pymatgen InsertionElectrode)
   gives the voltage steps, the average voltage between the end contents and the states
   above the hull with their energy above it; geometry per state (`voltage_geometry`);
5. out/voltage.json (`VoltageResult.to_json()`), atomically and last. With `pristine=` the
   pristine composition runs first in out/pristine/ and `comparison` sets them side by side.

Units: energies eV, voltages V vs Na+/Na, Na contents per formula unit, lengths Å, volumes
Å^3, changes percent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from ase.build import bulk

from calculators.results import Relaxation
from structures.composition import assign_sublattices
from structures.io import write_json, write_structure
from structures.orderings import DEFAULT_MAX_ORDERINGS
from structures.prototypes import parent_cell
from structures.sqs import DEFAULT_STEPS
from workflows.studies.relaxations import calculator_name, relax_in_folder
from workflows.studies.voltage_analysis import build_electrodes, compare_studies, study_notes, summaries
from workflows.studies.voltage_geometry import state_geometry
from workflows.studies.voltage_states import (
    Host,
    VoltageInputError,
    desodiated,
    is_ordered,
    na_contents,
    pristine_host,
    sqs_hosts,
    tm_oxidation_state,
)

DEFAULT_N_RELAX = 3
DEFAULT_N_SQS = 3
DEFAULT_MIN_WIDTH_A = 6.0  # pair shells only (no hop to keep from its image, as in mixing)
DEFAULT_MAX_ATOMS = 160
NA_BCC_A = 4.23  # Å, start of the bcc Na reference (experiment ~4.23 Å at low T); relaxed


@dataclass
class Job:
    """One ordering to relax: host, Na content, rank (0 = lowest Ewald) and its start cell."""

    host: Host
    na_per_fu: float
    rank: int
    atoms: object  # ase.Atoms, the ordered start cell
    n_fu: float
    ewald_eV: float | None
    search: str
    method: str
    n_found: int

    @property
    def name(self) -> str:
        return f"{self.host.name}/na-{self.na_per_fu:g}/ord-{self.rank:02d}"


@dataclass
class VoltageState:
    """One relaxed ordering (paths relative to the study folder)."""

    name: str
    host: str
    na_per_fu: float
    x_fraction: float  # of the host's as-made Na
    ordering: int  # rank by Ewald energy (0 = lowest)
    ewald_eV: float | None  # None for the as-made cell
    search: str  # what produced the ordering
    method: str
    n_orderings_found: int
    calculator: str
    preset: str | None
    energy_eV: float
    energy_per_fu_eV: float
    n_atoms: int
    n_fu: float
    converged: bool
    max_force_eV_per_A: float
    fmax_eV_per_A: float | None
    steps: int | None
    structure: str
    start_structure: str
    relax_json: str
    reused: bool
    wall_time_s: float | None
    geometry: dict = field(default_factory=dict)
    lowest_at_content: bool = False
    on_hull: bool = False
    e_above_hull_eV_per_fu: float | None = None
    atoms: object = field(default=None, repr=False, compare=False)  # relaxed ase.Atoms, not in JSON

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "atoms"}


@dataclass
class VoltageResult:
    """A voltage study; `to_json()` is voltage.json."""

    formula: str
    prototype: str
    hosts: list[dict]
    calculators: list[str]
    na_per_fu: list[float]
    states: list[VoltageState]
    electrodes: list[dict]
    na_metal: dict[str, dict]
    orderings: list[dict]
    settings: dict
    notes: list[str] = field(default_factory=list)
    comparison: dict | None = None
    relaxations_run: int = 0
    relaxations_reused: int = 0
    wall_time_s: float = 0.0

    def to_json(self) -> dict:
        doc = {"formula": self.formula, "prototype": self.prototype, "calculators": self.calculators,
               "na_per_fu": self.na_per_fu, "hosts": self.hosts, "units": UNITS}
        doc.update(summaries(self.electrodes, self.calculators))
        doc.update(electrodes=self.electrodes, states=[s.to_json() for s in self.states],
                   na_metal=self.na_metal, orderings=self.orderings, comparison=self.comparison,
                   settings=self.settings, notes=self.notes, relaxations_run=self.relaxations_run,
                   relaxations_reused=self.relaxations_reused, wall_time_s=self.wall_time_s)
        return doc


UNITS = {"energy": "eV", "voltage": "V vs Na+/Na", "na_per_fu": "Na per formula unit",
         "x_fraction": "Na / as-made Na", "lengths": "Å", "volumes": "Å^3",
         "volume_change_percent": "100 (V_desodiated − V_sodiated) / V_sodiated, per host atom",
         "lattice_change_percent": "conventional cell lengths, desodiated vs sodiated end state",
         "top level": "first calculator, mean over hosts (SQS); per calculator in *_summary"}


# ------------------------------------------------------------------ plan (no energies)

def plan_orderings(hosts: Sequence[Host], contents: Sequence[float], out: Path, *, n_relax: int | None,
                   max_orderings: int, seed: int,
                   progress: Callable[[str], None] | None = None) -> tuple[list[Job], list[dict]]:
    """The orderings to relax at every content of every host; start cells written under `out`.
    Every content is searched before anything is written or said, so a refusal comes first."""
    found_all = [(host, desodiated(host, na, n_relax=n_relax, seed=seed, max_orderings=max_orderings))
                 for host in hosts for na in contents]
    jobs, summary = [], []
    for host, found in found_all:
        if host.kind == "pristine":
            write_structure(out / host.start_structure, host.atoms)
        rows = []
        for rank, (cand, n_fu) in enumerate(zip(found.candidates, found.n_fu, strict=True)):
            ewald = None if np.isnan(cand.ewald_eV) else cand.ewald_eV
            job = Job(host, found.na_per_fu, rank, cand.atoms, n_fu, ewald, cand.search, found.method,
                      found.n_found)
            write_structure(out / f"{job.name}.extxyz", cand.atoms)
            jobs.append(job)
            rows.append({"ordering": rank, "ewald_eV": ewald, "search": cand.search,
                         "n_atoms": len(cand.atoms), "start_structure": f"{job.name}.extxyz"})
        block = {"host": host.name, "na_per_fu": found.na_per_fu, "method": found.method,
                 "n_found": found.n_found, "n_relaxed": len(rows), "search_wall_s": found.wall_s,
                 "candidates": rows}
        write_json(out / host.name / f"na-{found.na_per_fu:g}" / "orderings.json", block)
        summary.append(block)
        if progress:
            progress(f"{host.name} Na{found.na_per_fu:g}: {found.n_found} orderings/states "
                     f"({found.method}); relaxing {len(rows)}")
    return jobs, summary


# ------------------------------------------------------------------ relaxations (resumable)

def _relax_once(atoms, calculator, folder: Path, label: str, opts: dict,
                progress: Callable[[str], None] | None) -> tuple[Relaxation, bool]:
    """Relax in `folder` or read back a finished relax.json; returns (result, reused)."""
    run, reused = relax_in_folder(atoms, calculator, folder, fmax=opts["fmax"], steps=opts["steps"],
                                  relax_cell=opts["relax_cell"], preset=opts["preset"], label=label,
                                  progress=progress, check_preset=False, **opts["overrides"])
    if progress and not reused:
        progress(f"{calculator_name(calculator)} {label}: E = {run.energy_eV:.4f} eV, "
                 f"{'converged' if run.converged else 'NOT converged'} in {run.steps} steps, "
                 f"{run.wall_time_s:.1f} s")
    return run, reused


def relax_job(job: Job, calculator, out: Path, opts: dict,
              progress: Callable[[str], None] | None = None) -> VoltageState:
    """Relax one ordering in out/<calculator>/<host>/na-<x>/ord-NN and measure its geometry."""
    name = calculator_name(calculator)
    folder = out / name / job.name
    run, reused = _relax_once(job.atoms, calculator, folder, job.name, opts, progress)
    conventional = job.host.atoms.info.get("conventional_cell")
    geometry = state_geometry(run.atoms, job.atoms.cell[:], conventional)
    rel = folder.relative_to(out)
    return VoltageState(
        name=job.name, host=job.host.name, na_per_fu=job.na_per_fu,
        x_fraction=job.na_per_fu / job.host.na_per_fu, ordering=job.rank, ewald_eV=job.ewald_eV,
        search=job.search, method=job.method, n_orderings_found=job.n_found, calculator=name,
        preset=run.preset, energy_eV=run.energy_eV, energy_per_fu_eV=run.energy_eV / job.n_fu,
        n_atoms=run.natoms, n_fu=job.n_fu, converged=run.converged,
        max_force_eV_per_A=run.max_force_eV_per_A, fmax_eV_per_A=run.fmax_eV_per_A, steps=run.steps,
        structure=str(rel / "relax.extxyz"), start_structure=f"{job.name}.extxyz",
        relax_json=str(rel / "relax.json"), reused=reused, wall_time_s=None if reused else run.wall_time_s,
        geometry=geometry, atoms=run.atoms)


def na_metal(calculator, out: Path, opts: dict,
             progress: Callable[[str], None] | None = None) -> tuple[dict, object, bool]:
    """bcc Na relaxed with the same calculator and settings in out/<calculator>/na-bcc/."""
    name = calculator_name(calculator)
    folder = out / name / "na-bcc"
    run, reused = _relax_once(bulk("Na", "bcc", a=NA_BCC_A), calculator, folder, "na-bcc", opts, progress)
    doc = {"calculator": name, "preset": run.preset, "energy_per_atom_eV": run.energy_per_atom_eV,
           "converged": run.converged, "lattice_constant_A": float((2 * run.volume_A3) ** (1 / 3)),
           "relax_json": str(folder.relative_to(out) / "relax.json"), "reused": reused}
    return doc, run.atoms, reused


# ------------------------------------------------------------------ the study

def _hosts(comp, out: Path, request: dict, progress) -> tuple[list[Host], dict | None]:
    if is_ordered(comp, parent_cell(comp.prototype.name)):
        return [pristine_host(comp)], None
    return sqs_hosts(comp, out, request, progress)


def _check_settings(calculators: Sequence, n_sqs: int, n_relax: int | None, max_orderings: int,
                    fmax: float, steps: int) -> list[str]:
    names = [calculator_name(c) for c in calculators]
    if not names or len(set(names)) != len(names):
        raise VoltageInputError(f"give each calculator once, got {', '.join(names) or 'none'}")
    if n_sqs < 1:
        raise VoltageInputError(f"--n-sqs must be at least 1, got {n_sqs}")
    if n_relax is not None and n_relax < 1:
        raise VoltageInputError(f"--n-relax must be at least 1, got {n_relax}")
    if max_orderings < 1:
        raise VoltageInputError(f"--max-orderings must be at least 1, got {max_orderings}")
    if not fmax > 0 or steps < 0:
        raise VoltageInputError(f"--fmax must be > 0 eV/Å and --steps >= 0, got {fmax}, {steps}")
    return names


def voltage_study(formula: str, prototype: str | None, out_dir: str | Path, *,
                  na: Sequence[float] | None = None, x: Sequence[float] | None = None,
                  calculators: Sequence = ("chgnet",), n_sqs: int = DEFAULT_N_SQS,
                  n_relax: int | None = DEFAULT_N_RELAX, max_orderings: int = DEFAULT_MAX_ORDERINGS,
                  fmax: float = 0.05, steps: int = 300, preset: str | None = None, relax_cell: bool = True,
                  calculator_settings: dict | None = None, seed: int = 0,
                  max_atoms: int = DEFAULT_MAX_ATOMS, min_width_A: float = DEFAULT_MIN_WIDTH_A,
                  sqs_steps: int = DEFAULT_STEPS, composition_options: dict | None = None,
                  pristine: str | None = None,
                  progress: Callable[[str], None] | None = None) -> VoltageResult:
    """Voltage profile, average voltage and strain of `formula` between the Na contents `na`
    (per formula unit) or `x` (fractions of the as-made Na); writes out_dir/voltage.json.

    calculators: names (chgnet, sevenn, gpaw, vasp; with `preset` and `calculator_settings`
        overrides) or ready ASE calculators. n_relax: orderings relaxed per content, lowest
        Ewald first (None: every ordering found, i.e. no pre-ranking). max_orderings: refuse
        more symmetry-distinct orderings than this. fmax (eV/Å), steps, relax_cell: relaxation.
    n_sqs, seed, max_atoms, min_width_A, sqs_steps: the SQS set of a mixed composition.
    pristine: a single-species composition run first in out_dir/pristine with the same contents.
    A rerun with the same settings redoes no finished relaxation (`relaxations_reused`).
    """
    t0 = time.perf_counter()
    names = _check_settings(calculators, n_sqs, n_relax, max_orderings, fmax, steps)
    options = composition_options or {}
    comp = assign_sublattices(formula, prototype, **options)
    contents = na_contents(comp, na, x)
    out = Path(out_dir)
    same = {"na": na, "x": x, "calculators": calculators, "n_relax": n_relax, "max_orderings": max_orderings,
            "fmax": fmax, "steps": steps, "preset": preset, "relax_cell": relax_cell,
            "calculator_settings": calculator_settings, "seed": seed}
    pristine_doc = (voltage_study(pristine, comp.prototype.name, out / "pristine", **same,
                                  progress=progress).to_json() if pristine is not None else None)
    settings = {**{k: v for k, v in same.items() if k not in ("calculators", "fmax")}, "fmax_eV_per_A": fmax,
                "n_sqs": n_sqs, "max_atoms": max_atoms, "min_width_A": min_width_A, "sqs_steps": sqs_steps}
    request = {"formula": formula, "prototype": comp.prototype.name, "n_sqs": n_sqs, "seed": seed,
               "max_atoms": max_atoms, "min_width_A": min_width_A, "sqs_steps": sqs_steps,
               "composition_options": options}
    hosts, sqs_doc = _hosts(comp, out, request, progress)
    jobs, orderings = plan_orderings(hosts, contents, out, n_relax=n_relax, max_orderings=max_orderings,
                                     seed=seed, progress=progress)
    opts = {"fmax": fmax, "steps": steps, "relax_cell": relax_cell, "preset": preset,
            "overrides": calculator_settings or {}}
    states = [relax_job(job, calc, out, opts, progress) for calc in calculators for job in jobs]
    metals = [na_metal(calc, out, opts, progress) for calc in calculators]
    result = build_result(comp, hosts, states, {m[0]["calculator"]: m[0] for m in metals}, orderings,
                          names, settings, sqs_doc)
    result.relaxations_reused += sum(m[2] for m in metals)
    result.relaxations_run += sum(not m[2] for m in metals)
    if pristine_doc is not None:
        result.comparison = compare_studies(result.to_json(), pristine_doc)
    result.wall_time_s = time.perf_counter() - t0
    write_json(out / "voltage.json", result.to_json())
    return result


def _same_amounts(a, b, tol: float = 1e-6) -> bool:
    """Whether two compositions hold the same atoms per formula unit."""
    x, y = a.element_amounts(), b.element_amounts()
    return set(x) == set(y) and all(abs(x[el] - y[el]) < tol for el in x)


def build_result(comp, hosts: Sequence[Host], states: list[VoltageState], metals: dict[str, dict],
                 orderings: list[dict], calculators: list[str], settings: dict,
                 sqs_doc: dict | None) -> VoltageResult:
    """The VoltageResult of relaxed states (no calculation here: a campaign's join step)."""
    electrodes = build_electrodes(states, metals, calculators, [h.name for h in hosts])
    result = VoltageResult(
        formula=comp.formula, prototype=comp.prototype.name,
        hosts=[{"name": h.name, "kind": h.kind, "formula": h.composition.formula,
                "formula_matches": _same_amounts(h.composition, comp), "n_atoms": len(h.atoms),
                "n_fu": h.n_fu, "na_per_fu": h.na_per_fu, "start_structure": h.start_structure,
                "tm_oxidation_state": {f"{na:g}": tm_oxidation_state(h, na)
                                       for na in sorted({s.na_per_fu for s in states}, reverse=True)}}
               for h in hosts],
        calculators=calculators, na_per_fu=sorted({s.na_per_fu for s in states}, reverse=True),
        states=states, electrodes=electrodes, na_metal=metals, orderings=orderings, settings=settings,
        relaxations_run=sum(not s.reused for s in states), relaxations_reused=sum(s.reused for s in states))
    result.notes = study_notes(comp, result, sqs_doc)
    return result


__all__ = ["Job", "VoltageResult", "VoltageState", "build_result", "na_metal", "plan_orderings",
           "relax_job", "voltage_study"]
