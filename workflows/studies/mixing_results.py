"""Mixing thermodynamics: the arithmetic (ΔH_mix, ΔS_config, T*, ΔG_mix(T)) and the typed
results of `workflows.studies.mixing`. Pure: no calculations, no files.

Units: energies eV per mixing site or meV per atom (labelled in every key), entropy in R per
mixing site (= k_B per site), temperatures K.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from ase import Atoms

from structures.entropy import R_J_PER_MOL_K, mixing_entropy
from structures.errors import HecathodeInputError
from workflows.summary import spread_summary

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
    """min/mean/max plus spread (max − min) and sample std (workflows.summary.spread_summary)."""
    return spread_summary(values, unit)


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
