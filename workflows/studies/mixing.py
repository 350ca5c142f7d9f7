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

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.relax import relax
from calculators.results import Relaxation
from structures.composition import VACANCY, SiteComposition, assign_sublattices
from structures.constants import SUBLATTICE
from structures.end_members import EndMember, end_members, valence_notes
from structures.entropy import R_J_PER_MOL_K, configurational_entropy, mixing_entropy
from structures.errors import HecathodeInputError
from structures.io import read_structure, write_json, write_structure
from structures.prototypes import parent_cell
from structures.sqs import DEFAULT_MAX_ATOMS, DEFAULT_STEPS
from workflows.summary import min_mean_max

AVOGADRO_PER_MOL = 6.02214076e23  # exact (SI 2019)
ELEMENTARY_CHARGE_C = 1.602176634e-19  # exact (SI 2019): 1 eV in J
K_B_EV_PER_K = R_J_PER_MOL_K / (AVOGADRO_PER_MOL * ELEMENTARY_CHARGE_C)  # 8.617333262e-5
DEFAULT_N_SQS = 3
DEFAULT_MIN_WIDTH_A = 6.0  # no hop to keep from its image here (the NEB's 8 Å): pair shells only
DEFAULT_RATTLE_A = 0.02  # end members start off their symmetric positions (Jahn-Teller etc.)
MLIPS = ("chgnet", "sevenn")
MLIP_NOTE = (
    "error scale: universal MLIPs (CHGNet, SevenNet-0) reproduce PBE(+U) energies to typically "
    "tens of meV/atom on formation energies; a mixing enthalpy is a difference of similar "
    "structures, so part of that error cancels, but a |ΔH_mix| of a few to ~20 meV/atom is "
    "within it: trust the sign only where both potentials agree beyond their SQS spread, and "
    "check a small cell with DFT (GPAW/VASP)")
ISOSTRUCTURAL_NOTE = (
    "ΔH_mix is relative to isostructural end members (each M in the {proto} parent cell, "
    "relaxed ions + cell), the mixing-enthalpy convention; where an end member's ground state "
    "has another structure, ΔH_mix against the ground states is larger by that structural energy")


class MixingInputError(HecathodeInputError):
    """Bad settings of a mixing study, or an output folder that holds another study."""


# ------------------------------------------------------------------ arithmetic (pure)

def mixing_enthalpy_eV(e_sqs_eV: float, counts: Mapping[str, int],
                       end_member_eV_per_site: Mapping[str, float]) -> float:
    """E(SQS) − Σ_i n_i e_i (eV per SQS cell): n_i mixing sites of species i in the SQS, e_i the
    end member's energy per mixing site (eV)."""
    missing = sorted(set(counts) - set(end_member_eV_per_site))
    if missing:
        raise ValueError(f"no end-member energy for {', '.join(missing)}")
    return float(e_sqs_eV - sum(n * end_member_eV_per_site[el] for el, n in counts.items()))


def config_entropy_R(counts: Mapping[str, int]) -> float:
    """-Σ x ln x (R per mixing site = k_B per site) of the site fractions x_i = n_i / Σ n."""
    total = sum(counts.values())
    return mixing_entropy([n / total for n in counts.values()])


def crossover_temperature_K(dH_eV_per_site: float, dS_R: float) -> float | None:
    """T* = ΔH_mix / ΔS_config (K) with ΔH in eV per mixing site and ΔS in k_B per site; None
    where ΔH_mix <= 0 (enthalpy already favours mixing) or ΔS_config = 0."""
    if dH_eV_per_site <= 0 or dS_R <= 0:
        return None
    return dH_eV_per_site / (K_B_EV_PER_K * dS_R)


def gibbs_mixing_eV_per_site(dH_eV_per_site: float, dS_R: float, T_K):
    """ΔG_mix(T) = ΔH_mix − T ΔS_config (eV per mixing site); T_K a number or an array."""
    return dH_eV_per_site - np.asarray(T_K, dtype=float) * K_B_EV_PER_K * dS_R


def summary(values: Sequence[float | None], unit: str) -> dict:
    """min/mean/max (workflows.summary) plus spread (max − min) and sample std (ddof 1)."""
    out = min_mean_max(values, unit)
    v = [x for x in values if x is not None and np.isfinite(x)]
    if v:
        out[f"spread_{unit}"] = float(max(v) - min(v))
        out[f"std_{unit}"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return out


# ------------------------------------------------------------------ typed results

@dataclass
class MixingCell:
    """One structure to relax: an end member or an SQS, its start file and mixing-site counts."""

    name: str  # end-Ni, sqs-000
    role: str  # "end_member" or "sqs"
    atoms: Atoms
    start_structure: str  # relative to the study folder
    counts: dict[str, int]  # mixing sites per species

    @property
    def n_mixing_sites(self) -> int:
        return sum(self.counts.values())


@dataclass
class Energy:
    """One relaxed energy with what produced it (paths relative to the study folder)."""

    name: str
    role: str
    element: str | None  # the end member's species; None for an SQS
    calculator: str
    preset: str | None
    energy_eV: float
    energy_per_mixing_site_eV: float
    n_atoms: int
    n_mixing_sites: int
    converged: bool
    max_force_eV_per_A: float
    fmax_eV_per_A: float | None
    steps: int | None
    structure: str  # relaxed structure (extxyz)
    start_structure: str
    relax_json: str
    reused: bool  # read back from a finished relax.json, not run now
    wall_time_s: float | None


@dataclass
class SqsMixing:
    """ΔH_mix, ΔS_config and T* of one SQS with one calculator."""

    sqs: str
    calculator: str
    counts: dict[str, int]
    site_fractions: dict[str, float]
    n_atoms: int
    n_mixing_sites: int
    dH_mix_eV_per_mixing_site: float
    dH_mix_meV_per_atom: float
    dS_config_R: float
    T_star_K: float | None
    converged: bool  # the SQS and every end member it is measured against


@dataclass
class MixingResult:
    """A mixing study; `to_json()` is mixing.json."""

    formula: str
    prototype: str
    mixing_sublattice: str
    calculators: list[str]
    target_site_fractions: dict[str, float]
    dS_config_target_R: float
    end_members: list[dict]
    sqs: list[dict]
    energies: list[Energy]
    per_sqs: list[SqsMixing]
    synthesis_temperature_K: float | None
    settings: dict
    notes: list[str] = field(default_factory=list)
    relaxations_run: int = 0
    relaxations_reused: int = 0
    wall_time_s: float = 0.0

    def rows(self, calculator: str | None = None) -> list[SqsMixing]:
        return [r for r in self.per_sqs if calculator in (None, r.calculator)]

    def to_json(self) -> dict:
        """The mixing.json document (see the module docstring for units)."""
        doc = {"formula": self.formula, "prototype": self.prototype,
               "mixing_sublattice": self.mixing_sublattice, "calculators": self.calculators,
               "units": UNITS}
        for key, unit in (("dH_mix_meV_per_atom", "meV_per_atom"),
                          ("dH_mix_eV_per_mixing_site", "eV_per_mixing_site"), ("dS_config_R", "R")):
            doc[key] = self._quantity(key, unit)
        doc["dS_config_R"]["target_R"] = self.dS_config_target_R
        doc["T_star_K"] = self._t_star()
        doc["potential_uncertainty"] = potential_uncertainty(self)
        doc["synthesis_temperature_K"] = self.synthesis_temperature_K
        doc["target_site_fractions"] = self.target_site_fractions
        doc["per_sqs"] = [asdict(r) for r in self.per_sqs]
        doc["energies"] = [asdict(e) for e in self.energies]
        doc.update(end_members=self.end_members, sqs=self.sqs, settings=self.settings,
                   notes=self.notes, relaxations_run=self.relaxations_run,
                   relaxations_reused=self.relaxations_reused, wall_time_s=self.wall_time_s)
        return doc

    def _quantity(self, key: str, unit: str) -> dict:
        block = summary([getattr(r, key) for r in self.per_sqs], unit)
        block["per_calculator"] = {}
        for calc in self.calculators:
            rows = self.rows(calc)
            block["per_calculator"][calc] = {**summary([getattr(r, key) for r in rows], unit),
                                             "per_sqs": {r.sqs: getattr(r, key) for r in rows}}
        return block

    def _t_star(self) -> dict:
        block = self._t_star_of(self.per_sqs)
        block["per_calculator"] = {c: {**self._t_star_of(self.rows(c)),
                                       "per_sqs": {r.sqs: r.T_star_K for r in self.rows(c)}}
                                   for c in self.calculators}
        return block

    def _t_star_of(self, rows: list[SqsMixing]) -> dict:
        """T* of the mean ΔH_mix and mean ΔS_config, per-SQS T* summary, synthesis verdict."""
        dh = float(np.mean([r.dH_mix_eV_per_mixing_site for r in rows]))
        ds = float(np.mean([r.dS_config_R for r in rows]))
        t_star = crossover_temperature_K(dh, ds)
        per = [r.T_star_K for r in rows]
        return {"value_K": t_star, "defined": t_star is not None, **summary(per, "K"),
                "undefined_sqs": sum(t is None for t in per),
                **judge_synthesis(t_star, per, dh, self.synthesis_temperature_K)}


UNITS = {
    "dH_mix_meV_per_atom": "meV per atom of the SQS cell",
    "dH_mix_eV_per_mixing_site": "eV per mixing-sublattice site",
    "dS_config_R": "R per mixing site (= k_B per site), -Σ x ln x of the SQS's site fractions",
    "T_star_K": "K, ΔH_mix (eV/site) / (k_B ΔS_config); value_K from the mean ΔH_mix; null where "
                "ΔH_mix <= 0",
    "top level": "pooled over every SQS and potential; per_calculator: over that potential's SQS",
    "spread": "max − min",
    "std": "sample standard deviation (ddof 1)",
    "k_B_eV_per_K": K_B_EV_PER_K,
}


def judge_synthesis(t_star_K: float | None, per_sqs_K: list[float | None], dH_eV_per_site: float,
                    synthesis_K: float | None) -> dict:
    """Whether T* lies below the synthesis temperature, and the sentence that says so.

    `per_sqs_K`: the per-SQS T*, None where that SQS's ΔH_mix <= 0 (stable at any T); the
    sentence says when they do not all fall on the same side as `t_star_K`.
    """
    if dH_eV_per_site <= 0:
        return {"T_star_below_synthesis": None, "verdict": (
            f"ΔH_mix = {dH_eV_per_site * 1000:.1f} meV/site ≤ 0: enthalpy already favours mixing, "
            "T* not defined (no entropy stabilisation needed)")}
    if synthesis_K is None:
        return {"T_star_below_synthesis": None,
                "verdict": "not judged: no synthesis temperature given"}
    below = t_star_K < synthesis_K
    every = all((t is None or t < synthesis_K) == below for t in per_sqs_K)  # None: ΔH <= 0
    side = "below" if below else "above"
    what = ("entropy stabilises the solid solution at synthesis" if below
            else "ΔS_config alone does not stabilise the solid solution at synthesis")
    tail = "" if every else " (not for every SQS: the per-SQS T* straddle it)"
    return {"T_star_below_synthesis": below,
            "verdict": f"T* {t_star_K:.0f} K is {side} the synthesis temperature {synthesis_K:g} K: "
                       f"{what}{tail}"}


def potential_uncertainty(result: MixingResult) -> dict | None:
    """With two or more calculators: the difference of their mean ΔH_mix (last − first), also
    per SQS, as the potential's uncertainty; None with one calculator."""
    if len(result.calculators) < 2:
        return None
    first, last = result.calculators[0], result.calculators[-1]
    out: dict = {"between": f"{last} - {first}"}
    for key in ("dH_mix_meV_per_atom", "dH_mix_eV_per_mixing_site"):
        a = {r.sqs: getattr(r, key) for r in result.rows(first)}
        b = {r.sqs: getattr(r, key) for r in result.rows(last)}
        per = {s: b[s] - a[s] for s in a if s in b}
        out[key] = {"mean_difference": float(np.mean(list(b.values())) - np.mean(list(a.values()))),
                    "per_sqs": per, "max_abs_difference": float(max(abs(x) for x in per.values()))}
    return out


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
    from workflows.studies.sqs_set import build_sqs_set

    req_path, doc_path = sqs_dir / "request.json", sqs_dir / "sqs.json"
    if req_path.is_file() and doc_path.is_file():
        old = json.loads(req_path.read_text())
        if old != json.loads(json.dumps(request)):
            changed = ", ".join(f"{k} {old.get(k)!r} -> {v!r}" for k, v in request.items() if old.get(k) != v)
            raise MixingInputError(f"{sqs_dir} holds SQS built with other settings ({changed}); the "
                                   "relaxations beside it belong to those: use another --out")
        if progress:
            progress(f"SQS: reusing {len(json.loads(doc_path.read_text())['structures'])} in {sqs_dir}")
        return json.loads(doc_path.read_text())
    if progress:
        progress(f"SQS: annealing {request['n_sqs']} SQS of {request['formula']} (icet) in {sqs_dir}")
    doc = build_sqs_set(request["formula"], request["prototype"], sqs_dir, max_atoms=request["max_atoms"],
                        n_structures=request["n_sqs"], n_steps=request["sqs_steps"], seed=request["seed"],
                        n_runs=request["sqs_runs"], min_width=request["min_width_A"],
                        composition_options=request["composition_options"])
    write_json(req_path, request)
    return doc


# ------------------------------------------------------------------ relaxations (resumable)

def calculator_name(calculator) -> str:
    """Folder name of a calculator: its name, or a ready calculator's `hecathode` name / class."""
    if isinstance(calculator, str):
        from calculators.presets import check_calculator_name

        return check_calculator_name(calculator)
    info = getattr(calculator, "hecathode", None) or {}
    return info.get("calculator", type(calculator).__name__.lower())


def finished_relaxation(path: Path, calculator: str, fmax: float, steps: int) -> Relaxation | None:
    """The relaxation in `path` (relax.json) if it finished under these settings, else None.

    Finished: converged at a force criterion at least as tight as `fmax`, or ran out of a step
    budget of at least `steps` at the same `fmax` (kept, flagged unconverged).
    """
    if not path.is_file():
        return None
    try:
        run = Relaxation.from_json(path)
    except (ValueError, KeyError, TypeError):  # a file cut short or from elsewhere: run again
        return None
    if run.calculator != calculator:
        raise MixingInputError(f"{path} was relaxed with {run.calculator}, not {calculator}: use "
                               "another --out")
    crit = run.fmax_eV_per_A if run.fmax_eV_per_A is not None else math.inf
    if run.atoms is None:
        return None
    if run.converged and crit <= fmax * (1 + 1e-9):
        return run
    if not run.converged and math.isclose(crit, fmax) and (run.steps or 0) >= steps:
        return run
    return None


def relax_one(cell: MixingCell, calculator, out_dir: Path, *, fmax: float, steps: int,
              preset: str | None = None, progress: Callable[[str], None] | None = None) -> Energy:
    """Relax one structure (ions + cell) in out_dir/<calculator>/<name>/, or read it back."""
    name = calculator_name(calculator)
    folder = out_dir / name / cell.name
    run = finished_relaxation(folder / "relax.json", name, fmax, steps)
    reused = run is not None
    if run is not None and isinstance(calculator, str):
        from calculators.presets import resolve_settings

        label = resolve_settings(name, preset)[0]
        if run.preset != label:
            raise MixingInputError(f"{folder} was relaxed with {name} preset {run.preset!r}, not "
                                   f"{label!r}: use another --out")
    if run is None:
        if progress:
            progress(f"{name} {cell.name}: relaxing {len(cell.atoms)} atoms (ions + cell)")

        def step(info: dict) -> None:
            if progress and info["step"] and info["step"] % 25 == 0:
                progress(f"  {name} {cell.name} step {info['step']}  E = {info['energy_eV']:.4f} eV  "
                         f"max F = {info['fmax_eV_per_A']:.3f} eV/Å")

        run = relax(cell.atoms, calculator, fmax=fmax, steps=steps, relax_cell=True, preset=preset,
                    directory=folder, callback=step)
    if progress:
        progress(f"{name} {cell.name}: E = {run.energy_eV:.4f} eV, "
                 f"{'converged' if run.converged else 'NOT converged'} in {run.steps} steps"
                 + (" (finished before: reused)" if reused else f", {run.wall_time_s:.1f} s"))
    return _energy(cell, run, name, folder.relative_to(out_dir), reused)


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
    names = _check_settings(calculators, synthesis_temperature_K, fmax, steps, preset)
    out = Path(out_dir)
    inputs = prepare(formula, prototype, out, n_sqs=n_sqs, seed=seed, max_atoms=max_atoms,
                     min_width_A=min_width_A, sqs_steps=sqs_steps, sqs_runs=sqs_runs, rattle_A=rattle_A,
                     composition_options=composition_options, progress=progress)
    energies = [relax_one(cell, calc, out, fmax=fmax, steps=steps, preset=preset, progress=progress)
                for calc in calculators for cell in inputs.cells]
    settings = {"fmax_eV_per_A": fmax, "steps": steps, "relax": "ions + cell, BFGS, FrechetCellFilter",
                "preset": preset, "n_sqs": n_sqs, "seed": seed, "max_atoms": max_atoms,
                "min_width_A": min_width_A, "sqs_steps": sqs_steps, "sqs_runs": sqs_runs,
                "rattle_A": rattle_A}
    result = build_result(inputs, energies, names, synthesis_temperature_K, settings)
    result.wall_time_s = time.perf_counter() - t0
    write_json(out / "mixing.json", result.to_json())
    return result


def _check_settings(calculators: Sequence, synthesis_K: float | None, fmax: float, steps: int,
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
