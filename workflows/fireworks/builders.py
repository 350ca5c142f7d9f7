"""A campaign YAML becomes one FireWorks Workflow.

Campaign file (see configs/campaigns/*.yaml):

    name: nvpf_he                       # folder name and workflow name
    description: ...
    calculator: chgnet                  # chgnet | sevenn | gpaw | vasp
    preset: null                        # calculator preset (configs/calculators/<calc>.yaml)
    relax: {fmax: 0.05, steps: 300}     # calculators.relax.relax keywords (eV/Å)
    neb: {hop: Na2:Na1, n_hops: 1, n_images: 5, fmax: 0.05, steps: 500}   # or null: no NEB
    # or the whole Na hop network, fanned out over jobs (workflows.fireworks.network_tasks):
    # neb: {network: true, cutoff: 5.0, screen: short-neb, screen_margin: null, n_images: 5}
    queue: {slurm: {walltime: "02:00:00"}, pbs: {...}}  # adapter settings per queue kind
    materials:
      - {name: NVPF, formula: Na3V2(PO4)2F3, prototype: nvpf}               # ordered: the prototype cell
      - {name: HE-NVPF, formula: ..., prototype: nvpf,
         sqs: {n_structures: 1, max_atoms: 160, seed: 1},                   # disordered: SQS
         neb: {n_hops: 2}}                                                  # per-material overrides
      - {name: HE-P2, structure: he_p2.cif, sqs: {n_structures: 2}}         # a (disordered) CIF instead
                                                                            # of formula/prototype
    mixing: {n_sqs: 3, synthesis_temperature_K: 1173}   # optional studies, campaign-wide and/or per
    voltage: {na: [3, 1], n_relax: 2}                   # material (null: off); see study_builders

Fireworks, per material M: "M structures" → "M relax <s>" per structure → "M neb <s>"
(with `neb: {network: true}`: "M network <s> states", which adds the screen, one firework per
CI-NEB hop and the joins as it learns what is needed; one network per SQS);
with `mixing:` / `voltage:` one firework per relaxation of the study and a join
(`workflows.fireworks.study_builders`); then one "<campaign> analysis" after all of them. Each
firework runs in its own folder `<campaign dir>/<M>/<step>` (spec `_launch_dir`), so a rerun
resumes from its files; spec `_category` is the step kind (structures, relax, neb, join,
analysis) for FireWorks workers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from structures.errors import HecathodeInputError
from workflows.fireworks.study_builders import (
    STUDIES,
    check_mixing,
    check_voltage,
    study_defaults,
    study_fireworks,
)

TOP_KEYS = {"name", "description", "calculator", "preset", "relax", "neb", "queue", "materials", "mixing",
            "voltage"}
MATERIAL_KEYS = {"name", "formula", "prototype", "role", "sqs", "relax", "neb", "structure", "mixing",
                 "voltage"}
RELAX_KEYS = {"fmax", "steps", "relax_cell", "optimizer", "prerelax", "prerelax_fmax"}
NEB_KEYS = {"hop", "n_hops", "n_images", "fmax", "steps", "optimizer", "spring", "cutoff",
            "network", "screen", "screen_margin"}
# A campaign's networks screen with a 1-image climbing NEB by default (the CLI's default is none):
# a P1 SQS has hundreds of hops; their estimates run in one job and spare the CI-NEB jobs of the
# hops that cannot set a percolation threshold; the default margin (0.25 eV) covers the short
# NEB's measured overestimate (calculators.screening.DEFAULT_MARGIN_EV).
NETWORK_SCREEN = "short-neb"
SQS_KEYS = {"n_structures", "max_atoms", "seed", "n_steps", "n_runs", "min_width", "tolerance", "exact",
            "n_cells"}
DEFAULT_RELAX = {"fmax": 0.05, "steps": 300, "relax_cell": True}


class CampaignError(HecathodeInputError):
    """A campaign file that cannot be run."""


def _check_keys(where: str, given: dict, allowed: set[str]) -> None:
    if not isinstance(given, dict):
        raise CampaignError(f"{where} must be a mapping, got {type(given).__name__}")
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise CampaignError(f"{where}: unknown key(s) {', '.join(unknown)} "
                            f"(allowed: {', '.join(sorted(allowed))})")


def load_campaign(path: str | Path, calculator: str | None = None) -> dict:
    """Read and validate a campaign file; every material's formula is parsed now, so a bad
    input fails before anything runs. `calculator` overrides the file's."""
    from calculators.presets import check_calculator_name

    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"campaign file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CampaignError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    _check_keys(str(path), raw or {}, TOP_KEYS)
    camp = dict(raw)
    for key in ("name", "materials"):
        if not camp.get(key):
            raise CampaignError(f"{path}: '{key}' is missing")
    name = str(camp["name"])
    if not name.replace("-", "").replace("_", "").isalnum():
        raise CampaignError(f"campaign name {name!r}: use letters, digits, '-' and '_'")
    camp["calculator"] = check_calculator_name(calculator or camp.get("calculator", "chgnet"))
    camp["relax"] = {**DEFAULT_RELAX, **(camp.get("relax") or {})}
    _check_keys("relax", camp["relax"], RELAX_KEYS)
    camp["neb"] = camp.get("neb") or None
    if camp["neb"] is not None:
        _check_keys("neb", camp["neb"], NEB_KEYS)
    camp["queue"] = camp.get("queue") or {}
    for study in STUDIES:  # campaign-wide defaults; each material's settings are checked in full below
        camp[study] = camp.get(study) or None
        if camp[study] is not None:
            _check_keys(study, camp[study], set(study_defaults(study)))
    seen: set[str] = set()
    materials = [_material(m, f"materials[{k}]", camp, path.parent, seen)
                 for k, m in enumerate(camp["materials"])]
    camp["materials"] = materials
    camp["preset"] = camp.get("preset")
    camp["description"] = str(camp.get("description", ""))
    camp["fingerprint"] = fingerprint(camp)
    return camp


def _material(m: dict, where: str, camp: dict, base: Path, seen: set[str]) -> dict:
    """One validated material: its composition (formula, or structure file), SQS, relax and NEB
    settings merged with the campaign's."""
    _check_keys(where, m, MATERIAL_KEYS)
    for key in ("name",) if m.get("structure") else ("name", "formula", "prototype"):
        if not m.get(key):
            raise CampaignError(f"{where}: '{key}' is missing (or give structure: FILE)")
    if m["name"] in seen:
        raise CampaignError(f"{where}: material name {m['name']!r} is used twice")
    if not str(m["name"]).replace("-", "").replace("_", "").isalnum():
        raise CampaignError(f"{where}: name {m['name']!r}: use letters, digits, '-' and '_'")
    seen.add(m["name"])
    mat = {"name": m["name"], **_composition_source(m, where, base),
           "sqs": m.get("sqs") or None,
           "role": m.get("role") or ("high-entropy" if m.get("sqs") else "pristine")}
    if mat["sqs"]:
        _check_keys(f"{where}.sqs", mat["sqs"], SQS_KEYS)
        if "structure" not in mat:  # a structure file's cells are checked when they are built
            _check_sqs_size(mat, where)
    mat["relax"] = {**camp["relax"], **(m.get("relax") or {})}
    _check_keys(f"{where}.relax", mat["relax"], RELAX_KEYS)
    neb = m.get("neb", {})  # null: no NEB for this material; a mapping overrides the campaign's
    no_neb = neb is None or (camp["neb"] is None and not neb)
    mat["neb"] = None if no_neb else {**(camp["neb"] or {}), **neb}
    if mat["neb"] is not None:
        _check_keys(f"{where}.neb", mat["neb"], NEB_KEYS)
        _check_neb(mat["neb"], f"{where}.neb")
    for study, check in (("mixing", check_mixing), ("voltage", check_voltage)):
        if (settings := check(m, where, camp, mat)) is not None:  # absent: the fingerprint stays as before
            mat[study] = settings
    return mat


def _check_neb(neb: dict, where: str) -> None:
    """One hop NEB (hop: FROM:TO) or the hop network (network: true and its screen settings)."""
    network = neb.get("network", False)
    if not isinstance(network, bool):
        raise CampaignError(f"{where}.network: {network!r} is not true or false")
    if not network:
        extra = [k for k in ("screen", "screen_margin") if neb.get(k) is not None]
        if extra:
            raise CampaignError(f"{where}: {', '.join(extra)} only with network: true")
        hop = str(neb.get("hop", ""))
        if hop.count(":") != 1 or not all(hop.split(":")):
            raise CampaignError(f"{where}.hop {hop!r}: write FROM:TO with site labels, e.g. Na2:Na1")
        return
    given = [k for k in ("hop", "n_hops") if neb.get(k) is not None]
    if given:
        raise CampaignError(f"{where}: network: true runs every hop; drop {', '.join(given)} (null "
                            "overrides the campaign's)")
    for key, positive in (("cutoff", True), ("screen_margin", False)):
        value = neb.get(key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and (value > 0 if positive else value >= 0)):
            raise CampaignError(f"{where}.{key}: {value!r} is not a number {'>' if positive else '>='} 0")
    from calculators.neb import check_settings
    from calculators.screening import check_screen

    try:
        check_screen(neb.get("screen", NETWORK_SCREEN))
        check_settings(**{k: neb[k] for k in ("n_images", "fmax", "spring", "optimizer") if k in neb})
    except HecathodeInputError as err:
        raise CampaignError(f"{where}: {err}") from None


def _network(mat: dict, index: int, label: str, base: Path, calc: str, preset, order: int) -> dict:
    """The `network` spec of material `mat`'s cell `label` (workflows.fireworks.network_tasks)."""
    from structures.hops import DEFAULT_CUTOFF
    from workflows.fireworks.network_tasks import network_settings

    neb = mat["neb"]
    return network_settings(mat["name"], base / f"network-{label}", calc, label=label, index=index,
                            preset=preset, cutoff=neb.get("cutoff", DEFAULT_CUTOFF),
                            screen=neb.get("screen", NETWORK_SCREEN), margin_eV=neb.get("screen_margin"),
                            neb=neb, order=order)


def _composition_source(m: dict, where: str, base: Path) -> dict:
    """formula and prototype of a material: as written, or from `structure: FILE` (a CIF or pymatgen
    JSON, relative to the campaign file; its occupancies give the formula unless `formula`
    overrides them, the sublattice mapping checked). Bad input fails now, before anything runs."""
    from structures.composition import assign_sublattices
    from workflows.studies.disordered import file_composition

    try:
        if not m.get("structure"):
            assign_sublattices(m["formula"], m["prototype"])
            return {"formula": m["formula"], "prototype": str(m["prototype"]).lower()}
        path = Path(m["structure"]).expanduser()
        path = path if path.is_absolute() else (base / path).resolve()
        comp = file_composition(path, m.get("formula"), m.get("prototype"))
    except HecathodeInputError as err:
        raise CampaignError(f"{where} ({m['name']}): {err}") from None
    source = {"formula": comp.formula, "prototype": comp.prototype.name, "structure": str(path)}
    if m.get("formula"):
        source["formula_override"] = m["formula"]
    return source


def _check_sqs_size(mat: dict, where: str) -> None:
    """Choose the SQS supercell now (cheap), so that a size that cannot work fails before any run."""
    from structures.composition import assign_sublattices
    from structures.prototypes import parent_cell
    from structures.sqs import DEFAULT_MAX_ATOMS, DEFAULT_MIN_WIDTH, choose_supercell, plan_supercells

    s = mat["sqs"]
    comp = assign_sublattices(mat["formula"], mat["prototype"])
    parent = parent_cell(mat["prototype"])
    try:
        plan = plan_supercells(comp, parent, s.get("max_atoms", DEFAULT_MAX_ATOMS))
        choose_supercell(plan, parent, s.get("min_width", DEFAULT_MIN_WIDTH), s.get("tolerance", 0.01),
                         s.get("exact", False), s.get("n_cells"))
    except HecathodeInputError as err:
        raise CampaignError(f"{where}.sqs ({mat['name']}): {err}") from None


def fingerprint(campaign: dict) -> str:
    """A hash of what the campaign computes (the queue settings and description excluded)."""
    core = {k: campaign[k] for k in ("name", "calculator", "preset", "materials")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def build_workflow(campaign: dict, campaign_dir: str | Path):
    """The FireWorks Workflow of a validated campaign (see module docstring)."""
    from fireworks import Firework, Workflow

    from workflows.fireworks.network_tasks import states_firework
    from workflows.fireworks.tasks import AnalysisTask, NebTask, RelaxTask, StructuresTask

    root = Path(campaign_dir).resolve()
    calc, preset = campaign["calculator"], campaign["preset"]
    fws, links, everything = [], {}, []

    def firework(task, name: str, category: str, folder: Path, to_analysis: bool = True, **spec) -> Firework:
        fw = Firework([task], name=name, spec={"_launch_dir": str(folder), "_category": category,
                                               "campaign_order": len(fws), **spec})
        fws.append(fw)
        if to_analysis:
            everything.append(fw)
        return fw

    def study_step(task, name: str, category: str, folder: Path, **spec) -> Firework:
        return firework(task, name, category, folder, to_analysis=False, **spec)

    for mat in campaign["materials"]:
        base = root / mat["name"]
        n = int(mat["sqs"].get("n_structures", 1)) if mat["sqs"] else 1
        keys = ("name", "formula", "prototype", "sqs", "structure", "formula_override")
        task = StructuresTask(material={k: mat[k] for k in keys if k in mat})
        build = firework(task, f"{mat['name']} structures", "structures", base / "structures")
        links[build] = []
        relaxes = {}
        for i in range(n):
            label = f"sqs-{i:03d}" if mat["sqs"] else "cell"
            relax = firework(RelaxTask(material=mat["name"], index=i, calculator=calc, preset=preset,
                                       settings=mat["relax"]),
                             f"{mat['name']} relax {label}", "relax", base / f"relax-{label}")
            links[build].append(relax)
            relaxes[label] = relax
            if mat["neb"] and mat["neb"].get("network"):  # the states firework adds the rest
                nfw = states_firework(_network(mat, i, label, base, calc, preset, len(fws)))
                fws.append(nfw)
                everything.append(nfw)
                links[relax] = [nfw]
            elif mat["neb"]:
                neb = {k: v for k, v in mat["neb"].items() if k not in ("hop", "n_hops")}
                nfw = firework(NebTask(material=mat["name"], index=i, calculator=calc, preset=preset,
                                       hop=mat["neb"]["hop"], n_hops=int(mat["neb"].get("n_hops", 1)),
                                       settings=neb),
                               f"{mat['name']} neb {label}", "neb", base / f"neb-{label}")
                links[relax] = [nfw]
        everything += study_fireworks(mat, root, study_step, links,  # mixing, voltage: joins only
                                      {"structures": build, "relax": relaxes})
    summary = {k: campaign[k] for k in ("name", "description", "calculator", "preset")}
    summary["materials"] = [{**{k: m[k] for k in ("name", "formula", "prototype", "role")},
                             **{s: True for s in STUDIES if m.get(s)},
                             **({"network": True} if (m["neb"] or {}).get("network") else {})}
                            for m in campaign["materials"]]
    analysis = Firework([AnalysisTask(campaign=summary)], name=f"{campaign['name']} analysis",
                        spec={"_launch_dir": str(root / "analysis"), "_category": "analysis",
                              "campaign_order": len(fws)})
    for fw in everything:
        links.setdefault(fw, []).append(analysis)
    fws.append(analysis)
    return Workflow(fws, links_dict=links, name=campaign["name"],
                    metadata={"hecathode_campaign": campaign["name"],
                              "hecathode_fingerprint": campaign["fingerprint"]})
