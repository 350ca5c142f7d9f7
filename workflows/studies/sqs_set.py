"""Build a set of SQS for a composition and write them: CIF, extxyz, sqs.json (sqs.png:
`workflows.report.sqs.plot_sqs`).

`build_sqs_set` is what `hecathode sqs` and the FireWorks SQS task call. The composition is a
formula (on a prototype's cell, a user's ordered structure or a Materials Project entry) or a
disordered structure file (CIF / pymatgen JSON, or a `DisorderedStructure`): its composition
comes from the occupancies (a `formula_override` replaces them, mapping checked) and its
parent cell is the file's own; a partially occupied alkali sublattice is either mixed in the
SQS (`alkali="sqs"`) or first ordered (`"lowest"`, the default: `workflows.studies.orderings`
writes orderings.json and the kept orderings beside the SQS, which mixes the other sites on
the lowest ordering). Every file is written atomically; `sqs.json` is written last, so its
presence means the set is complete; bad input is refused before anything is written.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition, assign_sublattices
from structures.constants import SITE_LABEL as LABEL
from structures.disorder import DisorderedStructure
from structures.entropy import classify, configurational_entropy
from structures.errors import HecathodeInputError
from structures.io import atomic_write, write_json
from structures.prototypes import from_materials_project, load_structure, parent_cell
from structures.sqs import (
    DEFAULT_MAX_ATOMS,
    DEFAULT_MIN_WIDTH,
    DEFAULT_STEPS,
    SQSQualityWarning,
    achieved_entropy,
    attach_sublattices,
    choose_supercell,
    generate_sqs,
    plan_supercells,
    sqs_quality,
)
from workflows.studies.disordered import (
    DisorderedInputError,
    alkali_plan,
    is_disordered_file,
    is_structure_file,
    mixed_orbits,
    read_source,
    require_disorder,
    sqs_parent,
)
from workflows.studies.orderings import OrderingOptions, OrderingStudy, order_alkali, rank_alkali


def resolve_parent(comp: SiteComposition, structure: str | Path | None = None,
                   site_map: dict[str, str] | None = None, mp_id: str | None = None) -> Atoms:
    """The parent cell: a user file, a Materials Project entry, or the prototype's own cell."""
    if structure is not None:
        atoms = load_structure(structure, site_map)
    elif mp_id is not None:
        atoms = from_materials_project(mp_id)
    else:
        return parent_cell(comp.prototype.name)
    return attach_sublattices(atoms, comp)


@dataclass
class SqsSource:
    """What an SQS set is built from: the composition on the parent's sublattices, the parent
    cell, notes, and the alkali orderings study when the alkali sites were ordered first."""

    composition: SiteComposition
    parent: Atoms
    notes: list[str] = field(default_factory=list)
    orderings: OrderingStudy | None = None
    checked: tuple | None = None  # (plan, option, notes) of `check_sqs` when done on this very parent
    announce: str | None = None  # the formula a structure file gave, to say once the request is checked


def disordered_source(formula: str | Path | DisorderedStructure, structure: str | Path | None = None,
                      formula_override: str | None = None) -> tuple[Path | DisorderedStructure | None,
                                                                     str | None]:
    """(the disordered structure, the formula overriding its occupancies) of an SQS request, or
    (None, None) for a formula on an ordered cell. A structure file as `formula` is the source
    (`formula_override` applies); a disordered `structure` with a formula takes the formula."""
    if isinstance(formula, DisorderedStructure) or is_structure_file(formula):
        if structure is not None:
            raise DisorderedInputError("give the structure once: as the argument or as --structure")
        return (formula if isinstance(formula, DisorderedStructure) else Path(formula)), formula_override
    if formula_override is not None:
        raise DisorderedInputError("--formula overrides the occupancies of a structure FILE argument; "
                                   "with a formula argument leave it out")
    if structure is not None and is_disordered_file(structure):
        return Path(structure), str(formula)
    return None, None


def resolve_source(formula: str | Path | DisorderedStructure, prototype: str | None, out_dir: Path, *,
                   structure: str | Path | None = None, site_map: dict[str, str] | None = None,
                   mp_id: str | None = None, composition_options: dict | None = None,
                   formula_override: str | None = None, alkali: str | None = None,
                   orderings: OrderingOptions | None = None, check_sqs: Callable | None = None,
                   notify: Callable[[str], None] | None = None) -> SqsSource:
    """The composition and parent cell of an SQS request (see the module docstring). With
    alkali orderings, `check_sqs(comp, parent)` is called on the lowest-Ewald ordering before
    any MLIP work, so a request the SQS step would refuse fails before anything is written."""
    source, override = disordered_source(formula, structure, formula_override)
    if source is None:
        if alkali == "lowest":
            raise DisorderedInputError("--alkali lowest orders the alkali sites of a disordered structure: "
                                       "give a CIF (as the argument or --structure)")
        comp = assign_sublattices(str(formula), prototype, **(composition_options or {}))
        return SqsSource(comp, resolve_parent(comp, structure, site_map, mp_id))
    if site_map or mp_id:
        raise DisorderedInputError("--site-map and --mp-id go with a formula, not a disordered structure")
    ds = read_source(source, override, prototype, composition_options)
    require_disorder(ds)
    how = f"--formula {override} on its framework" if override else "from its occupancies"
    announce = f"{ds.source}: formula {ds.formula} ({how}; {ds.spacegroup})"
    mode, sites, notes = alkali_plan(ds, alkali)
    if mode != "lowest":
        dp = sqs_parent(ds)
        return SqsSource(dp.composition, dp.parent, notes + dp.notes, announce=announce)
    return _ordered_source(ds, sites, out_dir, orderings, notes, check_sqs,
                           lambda msg: notify(msg) if notify else None, announce)


def _ordered_source(ds: DisorderedStructure, sites: tuple[str, ...], out_dir: Path,
                    options: OrderingOptions | None, notes: list[str], check_sqs: Callable | None,
                    notify: Callable[[str], None], announce: str) -> SqsSource:
    """Order the alkali sites first (Ewald, MLIP), then the SQS mixes the rest on the kept ordering."""
    if not mixed_orbits(ds, exclude=sites):
        raise DisorderedInputError(
            f"only the alkali sites ({', '.join(sites)}) of {ds.source} are disordered: after ordering "
            f"them nothing is left to mix; run `hecathode orderings {ds.source}` for the orderings, or "
            "--alkali sqs for a Na/vacancy SQS")
    options = options or OrderingOptions()
    ranked = rank_alkali(ds, options)
    checked = None
    if check_sqs is not None:
        trial = sqs_parent(ds, ranked.best.atoms)
        checked = check_sqs(trial.composition, trial.parent)
    notify(announce)
    study = order_alkali(ds, out_dir, options, ranked=ranked, progress=notify)
    dp = sqs_parent(ds, study.kept_atoms[0])
    best = study.candidates[study.kept[0]]
    notes = notes + study.notes + [
        f"SQS built on {best.structure} (Ewald rank {best.ewald_rank}"
        + (f", {study.calculator} rank {best.mlip_rank}" if best.mlip_rank is not None else "")
        + f" of {study.n_found} orderings; orderings.json)"]
    return SqsSource(dp.composition, dp.parent, notes, study, checked if study.kept[0] == 0 else None)


def build_sqs_set(formula: str | Path | DisorderedStructure, prototype: str | None, out_dir: str | Path, *,
                  max_atoms: int = DEFAULT_MAX_ATOMS, n_structures: int = 1, n_steps: int = DEFAULT_STEPS,
                  seed: int = 0, n_runs: int | None = None, min_width: float = DEFAULT_MIN_WIDTH,
                  tolerance: float = 0.01, exact: bool = False, n_cells: int | None = None,
                  cutoffs: list[float] | None = None, structure: str | Path | None = None,
                  site_map: dict[str, str] | None = None, mp_id: str | None = None,
                  composition_options: dict | None = None, n_random: int = 50,
                  progress: Callable[[int, int], None] | None = None, formula_override: str | None = None,
                  alkali: str | None = None, orderings: OrderingOptions | None = None,
                  notify: Callable[[str], None] | None = None) -> dict:
    """Generate `n_structures` SQS and write them to `out_dir`; returns the sqs.json document.

    formula: a composition, or a disordered structure (file path or DisorderedStructure), see
    the module docstring for `formula_override`, `alkali` and `orderings` (the ordering study's
    options; default: `max_atoms` and `tolerance` as here, CHGNet, 5 relaxed, 1 kept).
    Lengths in Å, entropies in R, compositions as site fractions.
    """
    out = Path(out_dir)

    def check(comp: SiteComposition, parent: Atoms):
        plan = plan_supercells(comp, parent, max_atoms)
        return plan, *choose_supercell(plan, parent, min_width, tolerance, exact, n_cells)

    if orderings is None:
        orderings = OrderingOptions(max_atoms=max_atoms, tolerance=tolerance)
    src = resolve_source(formula, prototype, out, structure=structure, site_map=site_map, mp_id=mp_id,
                         composition_options=composition_options, formula_override=formula_override,
                         alkali=alkali, orderings=orderings, check_sqs=check, notify=notify)
    plan, option, choice_notes = src.checked or check(src.composition, src.parent)
    if src.announce and notify:
        notify(src.announce)
    structures, context = generate_sqs(src.composition, src.parent, option, n_structures=n_structures,
                                       n_runs=n_runs, n_steps=n_steps, seed=seed, cutoffs=cutoffs,
                                       progress=progress)
    entries, quality_notes = _write_structures(structures, context, out, n_random, seed)
    doc = _document(src, plan, option, context, entries, seed)
    doc["notes"] = src.notes + doc["notes"] + choice_notes + quality_notes + _shortfall(
        doc, len(structures), n_structures, context["n_runs"])
    atomic_write(out / "sqs.json", lambda tmp: Path(tmp).write_text(
        json.dumps(doc, indent=2, ensure_ascii=False, default=_jsonable)))
    return doc


def _write_structures(structures: list[Atoms], context: dict, out: Path, n_random: int,
                      seed: int) -> tuple[list[dict], list[str]]:
    """sqs-NNN.cif|extxyz and each one's quality entry; quality warnings become notes."""
    out.mkdir(parents=True, exist_ok=True)
    entries, quality_notes = [], []
    for k, atoms in enumerate(structures):
        stem = f"sqs-{k:03d}"
        write_structure_files(atoms, out / stem)
        with warnings.catch_warnings():  # said once, as a note, below
            warnings.simplefilter("ignore", SQSQualityWarning)
            quality = sqs_quality(context, k, n_random=n_random, seed=seed)
        quality_notes += [f"{stem}: {n}" for n in quality.get("quality_notes", [])]
        entries.append({"cif": f"{stem}.cif", "extxyz": f"{stem}.extxyz", "seed": atoms.info["seed"],
                        "n_atoms": len(atoms), "vacancies": atoms.info["vacancies"], **quality})
    return entries, quality_notes


def _document(src: SqsSource, plan, option, context: dict, entries: list[dict], seed: int) -> dict:
    """The sqs.json document (its keys are the same for every kind of input)."""
    import icet

    comp, parent = src.composition, src.parent
    s_target = configurational_entropy(comp).total_R
    s_achieved = achieved_entropy(comp, option)
    return {
        "formula": comp.formula,
        "prototype": comp.prototype.name,
        "parent": parent.info.get("provenance", {}),
        "notes": comp.notes + comp.warnings + plan.notes,
        "target_site_fractions": plan.targets,
        "achieved_site_fractions": option.fractions(),
        "achieved_counts": option.counts,
        "max_deviation": option.max_deviation,
        "exact": option.exact,
        "entropy_target_R": s_target,
        "entropy_target_class": classify(s_target),
        "entropy_achieved_R": s_achieved,
        "entropy_achieved_class": classify(s_achieved),
        "exact_supercell": ({"n_cells": plan.exact_n_cells, "n_atoms": plan.exact_n_cells * len(parent)}
                            if plan.exact_n_cells else None),
        "supercell": {"n_cells": option.n_cells, "matrix": option.matrix, "n_atoms": option.n_atoms,
                      "min_width_A": option.min_width_A},
        "cutoffs_A": context["cutoffs"],
        "active_sublattices": context["active"],
        "n_runs": context["n_runs"],
        "n_steps": context["n_steps"],
        "seed": seed,
        "distinct_structures_found": context["distinct_found"],
        "icet_version": icet.__version__,
        "structures": entries,
    }


def _shortfall(doc: dict, n_found: int, n_structures: int, n_runs: int) -> list[str]:
    """Notes on an SQS whose entropy class differs from the target's, or too few distinct SQS."""
    notes = []
    s_target, s_achieved = doc["entropy_target_R"], doc["entropy_achieved_R"]
    if classify(s_achieved) != classify(s_target):
        notes.append(f"the SQS holds ΔS_config {s_achieved:.3f} R ({classify(s_achieved)}), not the "
                     f"target's {s_target:.3f} R ({classify(s_target)}): energies and barriers "
                     "computed on it describe the SQS composition")
    if n_found < n_structures:
        notes.append(f"only {n_found} distinct SQS found in {n_runs} runs "
                     f"(asked for {n_structures}); the supercell may allow few distinct orderings")
    return notes


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_structure_files(atoms: Atoms, stem: Path) -> None:
    """stem.extxyz (all per-atom arrays, site labels included) and stem.cif.

    CIF labels must be unique, so the CIF's _atom_site_label is `<site_label>_<n>`
    (n counts from 1 per label); `structures.prototypes.load_structure` strips `_<n>`.
    """
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter

    plain = atoms.copy()
    plain.info = {k: v for k, v in atoms.info.items() if isinstance(v, int | float | str)}
    if "conventional_cell" in atoms.info:  # the crystal axes percolation is reported along
        plain.info["conventional_cell"] = np.asarray(atoms.info["conventional_cell"], float).reshape(-1)
    atomic_write(stem.with_suffix(".extxyz"), lambda tmp: write(tmp, plain, format="extxyz"))
    struct = AseAtomsAdaptor.get_structure(plain)
    seen: dict[str, int] = {}
    for site, label in zip(struct, atoms.arrays[LABEL], strict=True):
        seen[str(label)] = seen.get(str(label), 0) + 1
        site.label = f"{label}_{seen[str(label)]}"
    struct.remove_site_property("site_label")
    atomic_write(stem.with_suffix(".cif"),
                 lambda tmp: CifWriter(struct, refine_struct=False).write_file(tmp))


def reuse_or_build_sqs_set(sqs_dir: Path, request: dict, progress: Callable[[str], None] | None = None,
                           error: type[HecathodeInputError] = HecathodeInputError) -> dict:
    """The SQS set (sqs.json document) in `sqs_dir`: read back when it was built with the same
    `request` (formula, prototype, n_sqs, seed, max_atoms, min_width_A, sqs_steps, optional
    sqs_runs, composition_options; kept in request.json), else annealed now. A folder built with
    other settings raises `error` naming what changed: the relaxations beside it belong to those."""
    req_path, doc_path = sqs_dir / "request.json", sqs_dir / "sqs.json"
    if req_path.is_file() and doc_path.is_file():
        old = json.loads(req_path.read_text())
        if old != json.loads(json.dumps(request)):
            changed = ", ".join(f"{k} {old.get(k)!r} -> {v!r}" for k, v in request.items() if old.get(k) != v)
            raise error(f"{sqs_dir} holds SQS built with other settings ({changed}); the "
                        "relaxations beside it belong to those: use another --out")
        doc = json.loads(doc_path.read_text())
        if progress:
            progress(f"SQS: reusing {len(doc['structures'])} in {sqs_dir}")
        return doc
    if progress:
        progress(f"SQS: annealing {request['n_sqs']} SQS of {request['formula']} (icet) in {sqs_dir}")
    doc = build_sqs_set(request["formula"], request["prototype"], sqs_dir, max_atoms=request["max_atoms"],
                        n_structures=request["n_sqs"], n_steps=request["sqs_steps"], seed=request["seed"],
                        n_runs=request.get("sqs_runs"), min_width=request["min_width_A"],
                        composition_options=request["composition_options"])
    write_json(req_path, request)
    return doc
