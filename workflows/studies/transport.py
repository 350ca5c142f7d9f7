"""Na percolation barriers of K SQS hop networks as a statistic, beside the pristine prototype
(`hecathode transport`; figure: `workflows.report.transport.plot_transport`).

`transport_study("NaNi0.5Mn0.5O2", "o3", "out", calculators=("chgnet",), n_sqs=3)`:

1. every setting checked, the composition placed (`structures.composition`) and the longest Na
   hop up to `cutoff_A` found in the prototype's parent cell, before any work;
2. K SQS in `out/sqs/` (`workflows.studies.sqs_set.reuse_or_build_sqs_set`, read back on a
   rerun), by default at least 2 d + 0.5 Å wide for that hop of length d;
3. with each calculator the hop network (`calculators.network.run_network`) of the pristine
   parent cell in the SQS's supercell (`pristine_like_sqs`: cells of one size) and of every
   SQS, each in `out/<calculator>/<pristine|sqs-NNN>/`, whose
   `settings.json` records how: a network.json written with the same settings is read back, a
   killed run resumes from its files;
4. per calculator and axis a, b, c: per-SQS percolation barrier, mean ± sample std, a bootstrap
   and a Student-t 95 % interval of the mean, the SQS without a path counted apart, the pristine
   value, HE − pristine and how many SQS lie above it; hop-barrier distributions; site-energy spreads;
5. `out/transport.json` (`TransportResult.to_json()`), written last.

Energies eV, lengths Å, times s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from structures.errors import HecathodeInputError
from structures.io import read_structure, write_json
from workflows.studies.transport_stats import (  # noqa: F401  (some re-exported)
    AXES,
    BOOTSTRAP_SEED,
    MIN_FOR_INTERVAL,
    N_RESAMPLES,
    axis_statistics,
    bootstrap_interval_eV,
    finite_eV,
    hop_barriers,
    lowest_eV,
    mean_std_eV,
    pooled,
)
from workflows.summary import spread_summary

SPECIES = "Na"
DEFAULT_N_SQS = 3
DEFAULT_CUTOFF_A = 5.0
# an SQS network is P1: every hop is its own class, estimate them first; the short NEB lies
# +0.03..+0.08 eV above CI-NEB on pristine NVPF, IDPP up to +1.7 eV on concerted hops
DEFAULT_SCREEN = "short-neb"
IDENTITY_KEYS = ("calculator", "preset", "species", "cutoff_A", "cell")  # a change: another study
MLIP_NOTE = ("error scale: universal MLIPs are trained mostly near equilibrium, so saddle energies "
             "can be off by a tenth of an eV or more; differences (HE − pristine, between SQS) are "
             "more trustworthy than absolute barriers: check a decisive hop with DFT")


class TransportInputError(HecathodeInputError):
    """Bad settings of a transport study, or a folder that holds another study."""



# ------------------------------------------------------------------ typed results

@dataclass
class NetworkRun:
    """One hop network of the study: the pristine cell or one SQS, with one calculator."""

    calculator: str
    name: str  # pristine, sqs-000, ...
    folder: str  # relative to the study folder
    n_atoms_input: int  # the parent cell / the SQS
    n_atoms: int  # the cell the network ran in (a supercell where the hops needed one)
    percolation_barrier_eV: dict[str, float | None]
    site_energy_spread_eV: float | None
    n_hops: int
    n_refined: int
    converged: bool
    hop_barriers: dict  # hop_barriers(): values_eV, weights, n_screened_only
    reused: bool  # read back from a finished network.json with the same settings
    wall_time_s: float | None  # this run; None when reused


@dataclass
class TransportResult:
    """A transport study; `to_json()` is transport.json."""

    formula: str
    prototype: str
    species: str
    calculators: list[str]
    sqs: list[dict]  # name, structure (relative), n_atoms
    networks: list[NetworkRun]
    settings: dict
    notes: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0

    def runs(self, calculator: str) -> tuple[NetworkRun | None, list[NetworkRun]]:
        """(the pristine network or None, the SQS networks) of one calculator."""
        own = [n for n in self.networks if n.calculator == calculator]
        return next((n for n in own if n.name == "pristine"), None), [n for n in own if n.name != "pristine"]

    def to_json(self) -> dict:
        """The transport.json document (energies eV)."""
        return {"formula": self.formula, "prototype": self.prototype, "species": self.species,
                "calculators": self.calculators, "units": UNITS,
                "per_calculator": {c: self.calculator_block(c) for c in self.calculators},
                **({"nvpf_reference": nvpf_reference()} if self.prototype == "nvpf" else {}),
                "sqs": self.sqs, "networks": [asdict(n) for n in self.networks], "settings": self.settings,
                "notes": self.notes, "networks_run": sum(not n.reused for n in self.networks),
                "networks_reused": sum(n.reused for n in self.networks), "wall_time_s": self.wall_time_s}

    def calculator_block(self, calculator: str) -> dict:
        """Statistics of one calculator: per axis, lowest axis, site-energy spread, hop barriers."""
        pristine, sqs = self.runs(calculator)
        ref = pristine.percolation_barrier_eV if pristine else {}
        block = {"pristine": _pristine_entry(pristine),
                 "percolation_barrier_eV": {ax: axis_statistics([n.percolation_barrier_eV[ax] for n in sqs],
                                                                ref.get(ax)) for ax in AXES},
                 "lowest_percolation_barrier_eV": axis_statistics(
                     [lowest_eV(n.percolation_barrier_eV) for n in sqs],
                     lowest_eV(ref) if pristine else None),
                 "site_energy_spread_eV": {**spread_summary([n.site_energy_spread_eV for n in sqs]),
                                           "per_sqs": {n.name: n.site_energy_spread_eV for n in sqs}},
                 "hop_barriers_eV": {"pristine": pristine.hop_barriers if pristine else None,
                                     "sqs": pooled([n.hop_barriers for n in sqs])}}
        if self.prototype == "nvpf":
            block["nvpf_comparison"] = nvpf_lines(block)
        return block


UNITS = {
    "energies": "eV; percolation barriers: lowest barrier at which the hops connect the crystal along "
                "that conventional axis (structures.hops.percolation_barriers), effective barriers "
                "(saddle − lowest vacancy state)",
    "per_sqs_eV": "one value per SQS, null: no percolating path along that axis (counted in n_no_path, "
                  "left out of mean, std and interval)",
    "std_eV": "sample standard deviation over SQS (ddof 1), null below two values",
    "ci95_eV": f"percentile bootstrap 95 % interval of the mean ({N_RESAMPLES} resamples of the SQS, "
               f"seed {BOOTSTRAP_SEED}); not meaningful below {MIN_FOR_INTERVAL} values, and never wider "
               "than the values' range: with few SQS read t95_eV",
    "t95_eV": "Student-t 95 % interval of the mean (mean ± t s/√K, K - 1 degrees of freedom), null below "
              "two values",
    "n_above_pristine": "how many of the percolating SQS lie above the pristine value",
    "hop_barriers_eV": "CI-NEB effective barriers of the refined hops, weights = multiplicity",
}


def _pristine_entry(run: NetworkRun | None) -> dict | None:
    if run is None:
        return None
    return {"percolation_barrier_eV": run.percolation_barrier_eV,
            "lowest_eV": lowest_eV(run.percolation_barrier_eV),
            "site_energy_spread_eV": run.site_energy_spread_eV, "n_atoms": run.n_atoms, "folder": run.folder}


def nvpf_reference() -> dict:
    from calculators.neb import NVPF_LITERATURE_EV, NVPF_REVIEW_EV

    return {"review_eV": NVPF_REVIEW_EV, "literature_range_eV": list(NVPF_LITERATURE_EV)}


def nvpf_lines(block: dict) -> dict[str, str]:
    """The review's NVPF barriers and the DFT literature beside the computed lowest percolation
    barriers (pristine; mean over SQS)."""
    from calculators.neb import nvpf_comparison

    low = block["lowest_percolation_barrier_eV"]
    lines = {}
    if low["pristine_eV"] is not None:
        lines["pristine"] = nvpf_comparison(low["pristine_eV"], "pristine")
    if low["mean_eV"] is not None:
        lines["high-entropy"] = nvpf_comparison(low["mean_eV"], "high-entropy")
    return lines


# ------------------------------------------------------------------ inputs

@dataclass
class TransportInputs:
    """The composition's prototype, its parent cell and longest hop, and the SQS to run."""

    formula: str
    prototype: str
    parent: Atoms
    longest_hop_A: float
    sqs_doc: dict
    sqs: list[tuple[str, Atoms, str]]  # (name, atoms, file relative to the study folder)
    notes: list[str] = field(default_factory=list)


def check_settings(calculators: Sequence[str], *, n_sqs: int, cutoff_A: float, screen: str,
                   screen_margin_eV: float | None, n_images: int, fmax: float, steps: int,
                   workers: int, preset: str | None = None) -> list[str]:
    """Refuse bad settings before any work; returns the calculator names (lower case)."""
    from calculators.neb import check_settings as check_neb
    from calculators.presets import check_calculator_name, resolve_settings
    from calculators.screening import check_screen
    from calculators.workers import check_workers

    names = [check_calculator_name(c) for c in calculators]
    if not names or len(set(names)) != len(names):
        raise TransportInputError(f"--calculator: give each calculator once, got "
                                  f"{', '.join(names) or 'none'}")
    if "vasp" in names:
        raise TransportInputError("VASP NEBs run on a cluster: use chgnet, sevenn or gpaw here")
    for name in names:
        resolve_settings(name, preset)  # unknown preset: CalculatorConfigError
    if n_sqs < 1:
        raise TransportInputError(f"--n-sqs must be at least 1, got {n_sqs}")
    if not cutoff_A > 0:
        raise TransportInputError(f"--cutoff must be a positive number of Å, got {cutoff_A}")
    if steps < 1:
        raise TransportInputError(f"--steps must be at least 1, got {steps}")
    check_screen(screen, screen_margin_eV)
    check_neb(n_images=n_images, fmax=fmax)
    check_workers(workers)
    return names


def longest_hop_A(atoms: Atoms, cutoff_A: float, what: str) -> float:
    """Length of the longest Na hop up to `cutoff_A` in `atoms`; refuses a cell with none."""
    from calculators.neb import NEBInputError
    from calculators.neb import longest_hop_A as longest

    try:
        return longest(atoms, SPECIES, cutoff_A)
    except NEBInputError:
        raise TransportInputError(f"no {SPECIES}–{SPECIES} hop up to --cutoff {cutoff_A:g} Å in {what}: "
                                  "raise --cutoff above the nearest Na–Na distance") from None


def prepare(formula: str, prototype: str | None, out: Path, *, n_sqs: int, seed: int, max_atoms: int,
            min_width_A: float | None, sqs_steps: int, sqs_runs: int | None, cutoff_A: float,
            composition_options: dict | None, progress: Callable[[str], None] | None) -> TransportInputs:
    """Composition, parent cell and its longest hop (checked first), then the SQS set in out/sqs."""
    from structures.composition import assign_sublattices
    from structures.hops import required_image_distance
    from structures.prototypes import parent_cell
    from workflows.studies.sqs_set import reuse_or_build_sqs_set

    options = composition_options or {}
    comp = assign_sublattices(formula, prototype, **options)
    proto = comp.prototype.name
    parent = parent_cell(proto)
    d_max = longest_hop_A(parent, cutoff_A, f"the {proto} parent cell")
    width = round(required_image_distance(d_max), 3) if min_width_A is None else min_width_A
    request = {"formula": formula, "prototype": proto, "n_sqs": n_sqs, "seed": seed, "max_atoms": max_atoms,
               "min_width_A": width, "sqs_steps": sqs_steps, "sqs_runs": sqs_runs,
               "composition_options": options}
    doc = reuse_or_build_sqs_set(out / "sqs", request, progress, error=TransportInputError)
    sqs = [(Path(e["extxyz"]).stem, read_structure(out / "sqs" / e["extxyz"]), f"sqs/{e['extxyz']}")
           for e in doc["structures"]]
    notes = list(dict.fromkeys(comp.notes + comp.warnings + doc.get("notes", [])))
    return TransportInputs(comp.formula, proto, parent, d_max, doc, sqs, notes)


# ------------------------------------------------------------------ one network (resumable)

def network_cell(atoms: Atoms, cutoff_A: float, what: str) -> Atoms:
    """`atoms`, or the supercell in which its longest hop stays clear of its periodic images."""
    from calculators.neb import neb_supercell

    return neb_supercell(atoms, longest_hop_A(atoms, cutoff_A, what))


def pristine_like_sqs(parent: Atoms, sqs_doc: dict) -> Atoms:
    """The parent cell in the SQS supercell (`sqs_doc["supercell"]["matrix"]`), so the pristine
    and the high-entropy networks are computed in cells of one size: pristine NVPF with CHGNet
    gives a 0.460 eV in its 72-atom cell and 0.366 eV in the 144-atom cell of the SQS (b 0.129
    vs 0.136 eV): the finite-size part would otherwise be read as an effect of the dopants."""
    from ase.build import make_supercell

    matrix = (sqs_doc.get("supercell") or {}).get("matrix")
    if matrix is None:
        return parent
    cell = make_supercell(parent, np.asarray(matrix))
    cell.info.update(parent.info)
    return cell


def network_settings(calculator: str, cell_name: str, n_atoms: int, *, cutoff_A: float, screen: str,
                     screen_margin_eV: float | None, n_images: int, fmax: float, steps: int,
                     preset: str | None) -> dict:
    """What a network folder's settings.json records (a network.json is reused only under these)."""
    return {"calculator": calculator, "preset": preset, "species": SPECIES, "cutoff_A": cutoff_A,
            "cell": {"name": cell_name, "n_atoms": n_atoms}, "screen": screen,
            "screen_margin_eV": screen_margin_eV, "n_images": n_images, "fmax_eV_per_A": fmax, "steps": steps}


def finished_network(folder: Path, settings: dict) -> dict | None:
    """The network.json document in `folder` when written with `settings`, else None. A folder
    recorded with another calculator, preset, cutoff or cell raises TransportInputError."""
    path, done = folder / "settings.json", folder / "network.json"
    if not path.is_file():
        return None
    old = json.loads(path.read_text())
    changed = [f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in IDENTITY_KEYS if old.get(k) != settings[k]]
    if changed:
        raise TransportInputError(f"{folder} holds a network of another study ({', '.join(changed)}): "
                                  "use another --out")
    if old == settings and done.is_file():
        return json.loads(done.read_text())
    return None


def run_one(name: str, atoms: Atoms, calculator: str, out: Path, options: dict,
            progress: Callable[[str], None] | None) -> NetworkRun:
    """The hop network of one cell with one calculator in out/<calculator>/<name>/, or read back."""
    folder = out / calculator / name
    settings = network_settings(calculator, name, len(atoms), **{k: options[k] for k in _SETTING_KEYS})
    doc = finished_network(folder, settings)
    if doc is not None:
        if progress:
            progress(f"{calculator} {name}: finished before, reusing {folder / 'network.json'}")
        return _network_run(name, calculator, folder.relative_to(out), len(atoms), doc, None)
    t0 = time.perf_counter()
    doc = _compute(name, atoms, calculator, folder, settings, options, progress)
    return _network_run(name, calculator, folder.relative_to(out), len(atoms), doc, time.perf_counter() - t0)


_SETTING_KEYS = ("cutoff_A", "screen", "screen_margin_eV", "n_images", "fmax", "steps", "preset")


def _compute(name: str, atoms: Atoms, calculator: str, folder: Path, settings: dict, options: dict,
             progress: Callable[[str], None] | None) -> dict:
    """Run (or resume) the network; settings.json is written first, network.json by run_network."""
    from calculators.network import run_network

    cell = network_cell(atoms, options["cutoff_A"], name)
    write_json(folder / "settings.json", settings)
    if progress:
        progress(f"{calculator} {name}: hop network of {len(cell)} atoms in {folder}")
    say = (lambda line: progress(f"{calculator} {name}: {line}")) if progress else None
    net = run_network(cell, calculator, species=SPECIES, cutoff=options["cutoff_A"], directory=folder,
                      progress=say, screen=options["screen"], margin_eV=options["screen_margin_eV"],
                      workers=options["workers"], n_images=options["n_images"], fmax=options["fmax"],
                      steps=options["steps"], preset=options["preset"])
    return net.to_json()


def _network_run(name: str, calculator: str, folder: Path, n_input: int, doc: dict,
                 wall_s: float | None) -> NetworkRun:
    """The NetworkRun of a network.json document (`wall_s` None: read back)."""
    return NetworkRun(calculator=calculator, name=name, folder=str(folder), n_atoms_input=n_input,
                      n_atoms=doc["n_atoms"], percolation_barrier_eV=doc["percolation_barrier_eV"],
                      site_energy_spread_eV=doc.get("site_energy_spread_eV"), n_hops=len(doc["hops"]),
                      n_refined=doc.get("n_refined") or sum(bool(h.get("refined")) for h in doc["hops"]),
                      converged=bool(doc["converged"]), hop_barriers=hop_barriers(doc),
                      reused=wall_s is None, wall_time_s=wall_s)


# ------------------------------------------------------------------ the study

def transport_study(formula: str, prototype: str | None, out_dir: str | Path, *,
                    calculators: Sequence[str] = ("chgnet",), n_sqs: int = DEFAULT_N_SQS,
                    cutoff_A: float = DEFAULT_CUTOFF_A, screen: str = DEFAULT_SCREEN,
                    screen_margin_eV: float | None = None, n_images: int = 5, fmax: float = 0.05,
                    steps: int = 500, preset: str | None = None, workers: int = 1, pristine: bool = True,
                    max_atoms: int | None = None, min_width_A: float | None = None, seed: int = 0,
                    sqs_steps: int | None = None, sqs_runs: int | None = None,
                    composition_options: dict | None = None,
                    progress: Callable[[str], None] | None = None) -> TransportResult:
    """Percolation barriers of `n_sqs` SQS and of the pristine parent cell with each calculator;
    writes out_dir/transport.json (see the module docstring).

    screen, screen_margin_eV (None: the method's default), n_images, fmax (eV/Å), steps, preset,
    workers: `calculators.network.run_network`. max_atoms, min_width_A (None: 2 d + 0.5 Å for
    the longest hop d), seed, sqs_steps, sqs_runs: the SQS set. A rerun with the same settings
    recomputes nothing finished (`networks_reused`).
    """
    from calculators.screening import default_margin
    from structures.sqs import DEFAULT_MAX_ATOMS, DEFAULT_STEPS

    t0 = time.perf_counter()
    names = check_settings(calculators, n_sqs=n_sqs, cutoff_A=cutoff_A, screen=screen,
                           screen_margin_eV=screen_margin_eV, n_images=n_images, fmax=fmax, steps=steps,
                           workers=workers, preset=preset)
    out = Path(out_dir)
    inputs = prepare(formula, prototype, out, n_sqs=n_sqs, seed=seed,
                     max_atoms=max_atoms or DEFAULT_MAX_ATOMS, min_width_A=min_width_A,
                     sqs_steps=sqs_steps or DEFAULT_STEPS, sqs_runs=sqs_runs,
                     cutoff_A=cutoff_A, composition_options=composition_options, progress=progress)
    margin_eV = default_margin(screen) if screen_margin_eV is None else screen_margin_eV
    options = {"cutoff_A": cutoff_A, "screen": screen.lower(), "screen_margin_eV": margin_eV,
               "n_images": n_images, "fmax": fmax, "steps": steps, "preset": preset, "workers": workers}
    cells = ([("pristine", pristine_like_sqs(inputs.parent, inputs.sqs_doc))] if pristine else []) + \
        [(n, a) for n, a, _ in inputs.sqs]
    networks = [run_one(name, atoms, calc, out, options, progress) for calc in names for name, atoms in cells]
    settings = {**{k: v for k, v in options.items() if k != "workers"}, "pristine": pristine,
                "n_sqs": n_sqs, "seed": seed,
                "sqs": {k: inputs.sqs_doc.get(k) for k in ("supercell", "n_runs", "n_steps")},
                "n_resamples": N_RESAMPLES, "bootstrap_seed": BOOTSTRAP_SEED}
    result = build_result(inputs, names, networks, settings)
    result.wall_time_s = time.perf_counter() - t0
    write_json(out / "transport.json", result.to_json())
    return result


def build_result(inputs: TransportInputs, calculators: list[str], networks: list[NetworkRun],
                 settings: dict) -> TransportResult:
    """The TransportResult of the networks (no calculation here)."""
    result = TransportResult(
        formula=inputs.formula, prototype=inputs.prototype, species=SPECIES, calculators=calculators,
        sqs=[{"name": n, "structure": f, "n_atoms": len(a)} for n, a, f in inputs.sqs], networks=networks,
        settings=settings)
    result.notes = inputs.notes + study_notes(result)
    return result


def study_notes(result: TransportResult) -> list[str]:
    """Supercells, unconverged bands, axes without a path, few SQS, screening bias, error scale."""
    notes = [f"{n.calculator} {n.name}: network run in a {n.n_atoms}-atom supercell of the "
             f"{n.n_atoms_input}-atom cell so that the longest hop stays clear of its periodic images"
             for n in result.networks if n.n_atoms != n.n_atoms_input]
    notes += [f"{n.calculator} {n.name}: some CI-NEB bands NOT converged (see {n.folder}/network.json); "
              "raise --steps and run again to continue them" for n in result.networks if not n.converged]
    for calc in result.calculators:
        block = result.calculator_block(calc)
        for ax, s in block["percolation_barrier_eV"].items():
            if s["n_no_path"]:
                notes.append(f"{calc}: {s['n_no_path']} of {s['n_sqs']} SQS have no percolating path along "
                             f"{ax} up to --cutoff (counted apart, not averaged)")
        if 0 < block["lowest_percolation_barrier_eV"]["n_percolating"] < MIN_FOR_INTERVAL:
            notes.append(f"{calc}: fewer than {MIN_FOR_INTERVAL} percolating SQS: the bootstrap interval "
                         "is not meaningful (raise --n-sqs)")
    if result.settings["screen"] != "none":
        notes.append(f"screening ({result.settings['screen']}): only hops that can set a percolation "
                     "threshold are refined by CI-NEB, so the hop-barrier histogram holds the low end of "
                     "each network (n_screened_only counts the rest)")
    notes.append(MLIP_NOTE)
    return notes
