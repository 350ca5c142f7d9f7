"""Mixing thermodynamics of a composition (review §2, eq. 4; Rost et al., Nat. Commun. 6, 8485
(2015)): ΔH_mix from K SQS and the end members, ΔS_config of the composition the SQS hold,
ΔG_mix(T) = ΔH_mix − TΔS_config and the crossover temperature T* = ΔH_mix/ΔS_config
(figure: `workflows.report.mixing.plot_mixing`).

`mixing_study("NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2", "o3", "out", calculators=("chgnet", "sevenn"))`:

1. `prepare`: end members (`structures.end_members`: the parent cell with the mixing
   sublattice filled by each species in turn), written to `out/end_members/end-M.extxyz`, and
   K SQS (`workflows.studies.sqs_set.build_sqs_set`) in `out/sqs/`;
2. every structure relaxed (ions + cell) with every calculator in its own folder
   `out/<calculator>/<end-M|sqs-NNN>/` (relax.traj, relax.json, relax.extxyz). A folder whose
   relax.json says the relaxation finished is read back, not redone; a killed one resumes
   from its trajectory (`calculators.relax.relax`);
3. `analyse`: per SQS and calculator ΔH_mix = E(SQS) − Σ_i n_i e_i, with n_i the mixing sites
   of species i in that SQS and e_i the end member's energy per mixing site; per mixing site
   (eV) and per atom of the SQS (meV/atom); ΔS_config of the SQS's achieved site fractions;
   T*. Means, spreads (max − min) and standard deviations over SQS, per calculator and over all;
4. `out/mixing.json` (`MixingResult.to_json()`), written atomically and last.

Units: energies eV per mixing site or meV per atom (labelled in every key), entropy in R per
mixing site (= k_B per site: -Σ x ln x on the mixing sublattice), temperatures K.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.results import Relaxation
from structures.composition import VACANCY, SiteComposition, assign_sublattices
from structures.constants import SUBLATTICE
from structures.end_members import EndMember, end_members, valence_notes
from structures.entropy import configurational_entropy
from structures.io import read_structure, write_json, write_structure
from structures.prototypes import parent_cell
from structures.sqs import DEFAULT_MAX_ATOMS, DEFAULT_STEPS
from workflows.studies.mixing_results import (  # noqa: F401  (part of the mixing API)
    DEFAULT_MIN_WIDTH_A,
    DEFAULT_N_SQS,
    DEFAULT_RATTLE_A,
    ISOSTRUCTURAL_NOTE,
    MLIP_NOTE,
    MLIPS,
    Energy,
    MixingCell,
    MixingInputError,
    MixingResult,
    SqsMixing,
    config_entropy_R,
    crossover_temperature_K,
    mixing_enthalpy_eV,
    potential_uncertainty,
    summary,
)
from workflows.studies.relaxations import calculator_name, finished_relaxation, relax_in_folder

# ------------------------------------------------------------------ inputs: end members + SQS

@dataclass
class MixingInputs:
    """The composition placed on its sublattices, and every structure the study relaxes."""

    comp: SiteComposition
    mixing_sublattice: str
    end_members: list[EndMember]
    cells: list[MixingCell]  # end members first, then the SQS
    sqs_doc: dict  # out/sqs/sqs.json


def mixing_counts(atoms: Atoms, sublattice: str, order: Sequence[str] | None = None) -> dict[str, int]:
    """Species -> number of sites of `sublattice` it holds in `atoms` (needs the sublattice array),
    species in `order` first."""
    if SUBLATTICE not in atoms.arrays:
        raise MixingInputError(f"structure {atoms.get_chemical_formula()} has no sublattice array")
    symbols = np.array(atoms.get_chemical_symbols())[atoms.arrays[SUBLATTICE] == sublattice]
    present = dict.fromkeys(order or []) | dict.fromkeys(symbols.tolist())
    return {el: int(np.sum(symbols == el)) for el in present if np.any(symbols == el)}


def prepare(formula: str, prototype: str | None, out_dir: str | Path, *, n_sqs: int = DEFAULT_N_SQS,
            seed: int = 0, max_atoms: int = DEFAULT_MAX_ATOMS, min_width_A: float = DEFAULT_MIN_WIDTH_A,
            sqs_steps: int = DEFAULT_STEPS, sqs_runs: int | None = None,
            rattle_A: float = DEFAULT_RATTLE_A, composition_options: dict | None = None,
            progress: Callable[[str], None] | None = None) -> MixingInputs:
    """End members (checked before any work) and the SQS set, written under `out_dir`.

    Raises NoMixingSiteError / EndMemberError (structures.end_members) for a composition the
    study cannot treat, MixingInputError for bad settings or an `out_dir/sqs` built otherwise.
    """
    if n_sqs < 1:
        raise MixingInputError(f"--n-sqs must be at least 1, got {n_sqs}")
    if rattle_A < 0:
        raise MixingInputError(f"rattle must be >= 0 Å, got {rattle_A}")
    options = composition_options or {}
    comp = assign_sublattices(formula, prototype, **options)
    members = end_members(comp, parent_cell(comp.prototype.name))
    label = members[0].sublattice
    out = Path(out_dir)
    cells = []
    for k, m in enumerate(members):
        atoms = m.atoms.copy()
        if rattle_A > 0:
            atoms.rattle(rattle_A, seed=seed * 1000 + k)
        start = Path("end_members") / f"{m.name}.extxyz"
        write_structure(out / start, atoms)
        cells.append(MixingCell(m.name, "end_member", atoms, str(start), {m.element: m.n_mixing_sites}))
    request = {"formula": formula, "prototype": comp.prototype.name, "n_sqs": n_sqs, "seed": seed,
               "max_atoms": max_atoms, "min_width_A": min_width_A, "sqs_steps": sqs_steps,
               "sqs_runs": sqs_runs, "composition_options": options}
    doc = _sqs_set(out / "sqs", request, progress)
    for entry in doc["structures"]:
        atoms = read_structure(out / "sqs" / entry["extxyz"])
        name = Path(entry["extxyz"]).stem
        counts = mixing_counts(atoms, label, [m.element for m in members])
        cells.append(MixingCell(name, "sqs", atoms, f"sqs/{entry['extxyz']}", counts))
    return MixingInputs(comp, label, members, cells, doc)


def _sqs_set(sqs_dir: Path, request: dict, progress: Callable[[str], None] | None) -> dict:
    """The SQS set in `sqs_dir`: read back when built with the same request, else built."""
    from workflows.studies.sqs_set import reuse_or_build_sqs_set

    return reuse_or_build_sqs_set(sqs_dir, request, progress, error=MixingInputError)


# ------------------------------------------------------------------ relaxations (resumable)

def relax_one(cell: MixingCell, calculator, out_dir: Path, *, fmax: float, steps: int,
              preset: str | None = None, progress: Callable[[str], None] | None = None) -> Energy:
    """Relax one structure (ions + cell) in out_dir/<calculator>/<name>/, or read it back."""
    name = calculator_name(calculator)
    folder = out_dir / name / cell.name
    run, reused = relax_in_folder(cell.atoms, calculator, folder, fmax=fmax, steps=steps, preset=preset,
                                  label=cell.name, progress=progress)
    if progress:
        progress(f"{name} {cell.name}: E = {run.energy_eV:.4f} eV, "
                 f"{'converged' if run.converged else 'NOT converged'} in {run.steps} steps"
                 + (" (finished before: reused)" if reused else f", {run.wall_time_s:.1f} s"))
    return _energy(cell, run, name, folder.relative_to(out_dir), reused)


def read_energy(cell: MixingCell, calculator: str, out_dir: Path, *, fmax: float,
                steps: int) -> Energy | None:
    """The finished relaxation of `cell` in out_dir/<calculator>/<name>/ as an Energy (reused, with
    the wall time it took), or None when it has not finished under these settings (nothing is
    computed: a campaign's join step)."""
    name = calculator_name(calculator)
    folder = out_dir / name / cell.name
    run = finished_relaxation(folder / "relax.json", name, fmax, steps)
    if run is None:
        return None
    energy = _energy(cell, run, name, folder.relative_to(out_dir), True)
    energy.wall_time_s = run.wall_time_s  # as recorded when it ran
    return energy


def _energy(cell: MixingCell, run: Relaxation, name: str, folder: Path, reused: bool) -> Energy:
    return Energy(name=cell.name, role=cell.role,
                  element=next(iter(cell.counts)) if cell.role == "end_member" else None,
                  calculator=name, preset=run.preset, energy_eV=run.energy_eV,
                  energy_per_mixing_site_eV=run.energy_eV / cell.n_mixing_sites, n_atoms=run.natoms,
                  n_mixing_sites=cell.n_mixing_sites, converged=run.converged,
                  max_force_eV_per_A=run.max_force_eV_per_A, fmax_eV_per_A=run.fmax_eV_per_A,
                  steps=run.steps, structure=str(folder / "relax.extxyz"),
                  start_structure=cell.start_structure, relax_json=str(folder / "relax.json"),
                  reused=reused, wall_time_s=None if reused else run.wall_time_s)


# ------------------------------------------------------------------ analysis

def analyse_sqs(cells: Sequence[MixingCell], energies: Sequence[Energy]) -> list[SqsMixing]:
    """ΔH_mix, ΔS_config and T* of every SQS with every calculator that relaxed it and its end members."""
    rows = []
    by_calc: dict[str, list[Energy]] = {}
    for e in energies:
        by_calc.setdefault(e.calculator, []).append(e)
    counts = {c.name: c.counts for c in cells}
    for calc, es in by_calc.items():
        ends = {e.element: e for e in es if e.role == "end_member"}
        for e in (x for x in es if x.role == "sqs"):
            n = counts[e.name]
            dh_cell = mixing_enthalpy_eV(e.energy_eV, n, {el: ends[el].energy_per_mixing_site_eV
                                                         for el in n if el in ends})
            ds = config_entropy_R(n)
            dh_site = dh_cell / e.n_mixing_sites
            rows.append(SqsMixing(
                sqs=e.name, calculator=calc, counts=dict(n),
                site_fractions={el: k / e.n_mixing_sites for el, k in n.items()},
                n_atoms=e.n_atoms, n_mixing_sites=e.n_mixing_sites,
                dH_mix_eV_per_mixing_site=dh_site, dH_mix_meV_per_atom=1000 * dh_cell / e.n_atoms,
                dS_config_R=ds, T_star_K=crossover_temperature_K(dh_site, ds),
                converged=e.converged and all(ends[el].converged for el in n)))
    return rows


# ------------------------------------------------------------------ the study

def mixing_study(formula: str, prototype: str | None, out_dir: str | Path, *,
                 calculators: Sequence = ("chgnet",), n_sqs: int = DEFAULT_N_SQS,
                 synthesis_temperature_K: float | None = None, max_atoms: int = DEFAULT_MAX_ATOMS,
                 min_width_A: float = DEFAULT_MIN_WIDTH_A, seed: int = 0, fmax: float = 0.05,
                 steps: int = 300, preset: str | None = None, sqs_steps: int = DEFAULT_STEPS,
                 sqs_runs: int | None = None, rattle_A: float = DEFAULT_RATTLE_A,
                 composition_options: dict | None = None,
                 progress: Callable[[str], None] | None = None) -> MixingResult:
    """ΔH_mix, ΔS_config, ΔG_mix(T) and T* of `formula` on `prototype`; writes out_dir/mixing.json.

    calculators: names (chgnet, sevenn, gpaw, vasp; `preset` applies to each) or ready ASE
        calculators; each relaxes every end member and SQS in out_dir/<name>/.
    fmax (eV/Å), steps: the relaxation criterion and step budget (ions + cell, BFGS).
    max_atoms, min_width_A, seed, sqs_steps, sqs_runs: the SQS set (`build_sqs_set`).
    rattle_A: Gaussian displacement (Å) of the end members' start positions, so that a
        symmetry-lowering distortion can develop.
    progress: called with one line of text per stage and every 25 optimizer steps.
    A rerun with the same settings redoes no finished relaxation (`relaxations_reused`).
    """
    t0 = time.perf_counter()
    names = check_settings(calculators, synthesis_temperature_K, fmax, steps, preset)
    out = Path(out_dir)
    inputs = prepare(formula, prototype, out, n_sqs=n_sqs, seed=seed, max_atoms=max_atoms,
                     min_width_A=min_width_A, sqs_steps=sqs_steps, sqs_runs=sqs_runs, rattle_A=rattle_A,
                     composition_options=composition_options, progress=progress)
    energies = [relax_one(cell, calc, out, fmax=fmax, steps=steps, preset=preset, progress=progress)
                for calc in calculators for cell in inputs.cells]
    settings = study_settings(fmax=fmax, steps=steps, preset=preset, n_sqs=n_sqs, seed=seed,
                              max_atoms=max_atoms, min_width_A=min_width_A, sqs_steps=sqs_steps,
                              sqs_runs=sqs_runs, rattle_A=rattle_A)
    result = build_result(inputs, energies, names, synthesis_temperature_K, settings)
    result.wall_time_s = time.perf_counter() - t0
    write_json(out / "mixing.json", result.to_json())
    return result


def study_settings(*, fmax: float, steps: int, preset: str | None, n_sqs: int, seed: int, max_atoms: int,
                   min_width_A: float, sqs_steps: int, sqs_runs: int | None, rattle_A: float) -> dict:
    """The `settings` block of mixing.json."""
    return {"fmax_eV_per_A": fmax, "steps": steps, "relax": "ions + cell, BFGS, FrechetCellFilter",
            "preset": preset, "n_sqs": n_sqs, "seed": seed, "max_atoms": max_atoms,
            "min_width_A": min_width_A, "sqs_steps": sqs_steps, "sqs_runs": sqs_runs, "rattle_A": rattle_A}


def check_settings(calculators: Sequence, synthesis_K: float | None, fmax: float, steps: int,
                    preset: str | None) -> list[str]:
    """Refuse bad settings before any SQS or relaxation; returns the calculator names."""
    from calculators.presets import resolve_settings

    names = [calculator_name(c) for c in calculators]
    if not names:
        raise MixingInputError("give at least one calculator")
    if len(set(names)) != len(names):
        raise MixingInputError(f"calculator given twice: {', '.join(names)}")
    for c, name in zip(calculators, names, strict=True):
        if isinstance(c, str):
            resolve_settings(name, preset)  # unknown preset: CalculatorConfigError
    if synthesis_K is not None and not synthesis_K > 0:
        raise MixingInputError(f"--synthesis-temperature must be a positive number of K, got {synthesis_K}")
    if not fmax > 0:
        raise MixingInputError(f"--fmax must be a positive number of eV/Å, got {fmax}")
    if steps < 0:
        raise MixingInputError(f"--steps must be >= 0, got {steps}")
    return names


def build_result(inputs: MixingInputs, energies: list[Energy], calculators: list[str],
                 synthesis_K: float | None, settings: dict) -> MixingResult:
    """The MixingResult of relaxed energies (no calculation here: the join step of a campaign)."""
    comp, label = inputs.comp, inputs.mixing_sublattice
    ends = inputs.cells[:len(inputs.end_members)]
    target = {el: x for el, x in comp.sublattices[label].site_fractions().items() if el != VACANCY}
    total = sum(target.values())
    target = {el: x / total for el, x in target.items()}
    result = MixingResult(
        formula=comp.formula, prototype=comp.prototype.name, mixing_sublattice=label,
        calculators=calculators, target_site_fractions=target,
        dS_config_target_R=configurational_entropy(comp).per_sublattice_R[label],
        end_members=[{"name": m.name, "element": m.element, "formula": m.formula,
                      "n_atoms": len(m.atoms), "n_mixing_sites": m.n_mixing_sites,
                      "start_structure": c.start_structure}
                     for m, c in zip(inputs.end_members, ends, strict=True)],
        sqs=[{"name": c.name, "start_structure": c.start_structure, "n_atoms": len(c.atoms),
              "counts": c.counts} for c in inputs.cells if c.role == "sqs"],
        energies=energies, per_sqs=analyse_sqs(inputs.cells, energies),
        synthesis_temperature_K=synthesis_K, settings=settings,
        relaxations_run=sum(not e.reused for e in energies),
        relaxations_reused=sum(e.reused for e in energies))
    result.notes = study_notes(inputs, result)
    return result


def study_notes(inputs: MixingInputs, result: MixingResult) -> list[str]:
    """What a reader must know: composition reading, SQS vs formula, convergence, error scale."""
    doc = inputs.sqs_doc
    notes = list(dict.fromkeys(inputs.comp.notes + inputs.comp.warnings + doc.get("notes", [])))
    quality = [n for s in doc["structures"] for n in s.get("quality_notes", [])]
    notes += [q for q in dict.fromkeys(quality) if not any(q in n for n in notes)]  # unless noted
    notes += _composition_notes(result)
    notes += valence_notes(inputs.comp, inputs.end_members)
    notes.append(ISOSTRUCTURAL_NOTE.format(proto=result.prototype))
    if result.settings.get("rattle_A"):
        notes.append(f"end members start with their atoms displaced by {result.settings['rattle_A']:g} Å "
                     "(Gaussian, seeded) so a symmetry-lowering distortion can develop; the SQS start "
                     "from the ideal sites (their occupation already breaks the symmetry)")
    for e in result.energies:
        if not e.converged:
            notes.append(f"{e.calculator} {e.name} NOT converged (max force {e.max_force_eV_per_A:.3f} "
                         f"eV/Å after {e.steps} steps): ΔH_mix using it is flagged converged=false; "
                         "raise --steps and run again to continue it")
    for calc in result.calculators:
        rows = result.rows(calc)
        dh = float(np.mean([r.dH_mix_meV_per_atom for r in rows]))
        if dh <= 0:
            notes.append(f"{calc}: mean ΔH_mix {dh:.1f} meV/atom ≤ 0: enthalpy already favours mixing, "
                         "T* not defined")
    if any(c in MLIPS for c in result.calculators):
        notes.append(MLIP_NOTE)
    pu = potential_uncertainty(result)
    if pu:
        d = pu["dH_mix_meV_per_atom"]
        notes.append(f"potential uncertainty: {pu['between']} differ by {d['mean_difference']:+.1f} meV/atom "
                     f"in mean ΔH_mix (up to {d['max_abs_difference']:.1f} meV/atom on one SQS)")
    return notes


def _composition_notes(result: MixingResult) -> list[str]:
    """Where the SQS hold another composition than the formula (achieved vs target ΔS_config)."""
    notes = []
    seen = set()
    for r in result.per_sqs:
        dev = max(abs(r.site_fractions.get(el, 0.0) - x) for el, x in result.target_site_fractions.items())
        key = tuple(sorted(r.counts.items()))
        if dev > 1e-6 and key not in seen:
            seen.add(key)
            held = " ".join(f"{el}{x:.4g}" for el, x in r.site_fractions.items())
            want = " ".join(f"{el}{x:.4g}" for el, x in result.target_site_fractions.items())
            notes.append(f"{r.sqs} holds {result.mixing_sublattice}: {held} "
                         f"(ΔS_config {r.dS_config_R:.3f} R), not the formula's {want} "
                         f"({result.dS_config_target_R:.3f} R): ΔH_mix, ΔS_config and T* describe the "
                         "SQS composition")
    return notes
