"""The `mixing:` and `voltage:` sections of a campaign file: validation and their fireworks.

    mixing: {calculators: [chgnet], n_sqs: 3, synthesis_temperature_K: 1173, max_atoms: 60,
             fmax: 0.05, steps: 300}          # ΔH_mix, T* (workflows.studies.mixing)
    voltage: {na: [3, 1], n_relax: 2}         # or x: [1, 0.5, 0] (workflows.studies.voltage)

Either section may stand at the top of the campaign (defaults for every material) and in a
material (overrides; `null` switches the study off for that material). A campaign-wide `mixing:`
applies to the materials with a mixing site (an ordered material has nothing to mix); one given
in a material without a mixing site is an error. fmax, steps (and relax_cell for voltage) default
to the material's `relax:` settings, calculators to the campaign's calculator, preset to the
campaign's preset when the study runs the campaign's calculator only. The voltage study runs on
the material's own cells (its structures step; a mixed material needs `sqs:`). Bad keys or
values, a Na content outside [residual, as-made Na], an end member the prototype cannot hold or
an SQS size no supercell holds fail before anything runs.

Fireworks per study (folder <campaign>/<material>/<mixing|voltage>/):
"M mixing structures" -> "M mixing relax <calc> <end-X|sqs-NNN>" per structure and calculator
-> join "M mixing" (mixing.json, mixing.png); "M voltage orderings" (after "M structures") ->
"M voltage relax <calc> <host>/na-<x>/ord-NN" per ordering and calculator (the as-made one after
"M relax <cell>", whose relaxation it may take over), and "... na-bcc" -> join "M voltage"
(voltage.json, voltage.png, strain.png). A join also runs when a relaxation failed
(`_allow_fizzled_parents`: the study is partial and says what is missing; a rerun of the campaign
retries the failed one and the join after it). The campaign's analysis depends on the joins.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from pathlib import Path

from structures.composition import assign_sublattices
from structures.errors import HecathodeInputError

STUDIES = ("mixing", "voltage")


def _error(message: str) -> HecathodeInputError:
    from workflows.fireworks.builders import CampaignError

    return CampaignError(message)


def study_defaults(study: str) -> dict:
    from workflows.studies import electrode_steps, mixing_steps

    return dict((mixing_steps if study == "mixing" else electrode_steps).SETTINGS)


# key -> (kind, minimum): "int" whole number, "num" real number, strict ">" or ">=" minimum
RULES = {"n_sqs": ("int", ">=", 1), "max_atoms": ("int", ">=", 1), "seed": ("int", ">=", 0),
         "steps": ("int", ">=", 0), "sqs_steps": ("int", ">=", 1), "sqs_runs": ("int?", ">=", 1),
         "n_relax": ("int", ">=", 1), "max_orderings": ("int", ">=", 1), "fmax": ("num", ">", 0),
         "min_width_A": ("num", ">", 0), "rattle_A": ("num", ">=", 0),
         "synthesis_temperature_K": ("num?", ">", 0)}


def _check_value(where: str, key: str, value) -> None:
    kind, op, low = RULES[key]
    if value is None and kind.endswith("?"):
        return
    whole = kind.startswith("int")
    ok_type = isinstance(value, int) if whole else isinstance(value, Real)
    if isinstance(value, bool) or not ok_type or not (value > low if op == ">" else value >= low):
        what = "a whole number" if whole else "a number"
        raise _error(f"{where}.{key}: {value!r} is not {what} {op} {low}")


def _calculators(where: str, value) -> list[str]:
    from calculators.presets import check_calculator_name

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise _error(f"{where}.calculators: give a list of calculators, e.g. [chgnet, sevenn]")
    try:
        names = [check_calculator_name(n) for n in names]
    except HecathodeInputError as err:
        raise _error(f"{where}.calculators: {err}") from None
    if len(set(names)) != len(names):
        raise _error(f"{where}.calculators: {', '.join(names)} names a calculator twice")
    return names


def _merged(study: str, m: dict, where: str, camp: dict, mat: dict) -> dict | None:
    """The study's settings of one material (campaign defaults, material overrides), or None."""
    from workflows.fireworks.builders import _check_keys

    if study in m and m[study] is None:
        return None
    if study not in m and camp.get(study) is None:
        return None
    given = {**(camp.get(study) or {}), **(m.get(study) or {})}
    _check_keys(f"{where}.{study}", given, set(study_defaults(study)))
    s = {**study_defaults(study), "fmax": mat["relax"]["fmax"], "steps": mat["relax"]["steps"], **given}
    if study == "voltage":
        s["relax_cell"] = given.get("relax_cell", mat["relax"].get("relax_cell", True))
        if not isinstance(s["relax_cell"], bool):
            raise _error(f"{where}.voltage.relax_cell: {s['relax_cell']!r} is not true or false")
    s["calculators"] = _calculators(f"{where}.{study}", given.get("calculators", [camp["calculator"]]))
    if "preset" not in given:
        s["preset"] = camp.get("preset") if s["calculators"] == [camp["calculator"]] else None
    for key in RULES.keys() & s.keys():
        _check_value(f"{where}.{study}", key, s[key])
    return s


def check_mixing(m: dict, where: str, camp: dict, mat: dict) -> dict | None:
    """Validated `mixing:` settings of material `m` (raw) / `mat` (validated so far), or None."""
    from structures.end_members import NoMixingSiteError
    from workflows.studies.mixing_steps import cell_names

    if ("mixing" in m and m["mixing"] is None) or ("mixing" not in m and camp.get("mixing") is None):
        return None
    try:
        cell_names(mat["formula"], mat["prototype"], 0)  # end members: the composition's check
    except NoMixingSiteError as err:
        if "mixing" not in m:
            return None  # a campaign-wide default: an ordered material has nothing to mix
        raise _error(f"{where}.mixing ({mat['name']}): {err}") from None
    except HecathodeInputError as err:
        raise _error(f"{where}.mixing ({mat['name']}): {err}") from None
    s = _merged("mixing", m, where, camp, mat)
    _check_sqs_size(mat, s, f"{where}.mixing")
    return s


def check_voltage(m: dict, where: str, camp: dict, mat: dict) -> dict | None:
    """Validated `voltage:` settings of material `m` / `mat`, or None."""
    from workflows.studies.electrode_steps import job_names

    s = _merged("voltage", m, where, camp, mat)
    if s is None:
        return None
    if mat.get("structure"):
        raise _error(f"{where}.voltage ({mat['name']}): not available for a structure file yet; give "
                     "formula and prototype")
    for key in ("na", "x"):
        v = s[key]
        numbers = isinstance(v, list) and all(isinstance(a, Real) and not isinstance(a, bool) for a in v)
        if v is not None and not numbers:
            raise _error(f"{where}.voltage.{key}: {v!r} is not a list of numbers")
    try:
        names = job_names(mat["formula"], mat["prototype"], s, n_structures(mat))
    except HecathodeInputError as err:
        raise _error(f"{where}.voltage ({mat['name']}): {err}") from None
    if not mat.get("sqs") and not names[0].startswith("pristine"):
        raise _error(f"{where}.voltage ({mat['name']}): {mat['formula']} is mixed: give the material 'sqs:' "
                     "settings (the voltage study runs on the material's SQS)")
    if mat.get("sqs"):
        _check_whole_na(mat, sorted({float(n.split("/")[1][3:]) for n in names}), f"{where}.voltage")
    return s


def _check_whole_na(mat: dict, contents: list[float], where: str) -> None:
    """Every Na content must be a whole number of Na in the material's SQS cell."""
    from structures.prototypes import parent_cell
    from structures.sqs import DEFAULT_MAX_ATOMS, DEFAULT_MIN_WIDTH, choose_supercell, plan_supercells

    s = mat["sqs"]
    parent = parent_cell(mat["prototype"])
    plan = plan_supercells(assign_sublattices(mat["formula"], mat["prototype"]), parent,
                           s.get("max_atoms", DEFAULT_MAX_ATOMS))
    option, _ = choose_supercell(plan, parent, s.get("min_width", DEFAULT_MIN_WIDTH),
                                 s.get("tolerance", 0.01), s.get("exact", False), s.get("n_cells"))
    n_fu = option.n_cells * float(parent.info.get("formula_units", 1))
    for na in contents:
        if abs(na * n_fu - round(na * n_fu)) > 1e-6:
            raise _error(f"{where} ({mat['name']}): Na{na:g} is {na * n_fu:g} Na in the "
                         f"{option.n_atoms}-atom SQS ({n_fu:g} formula units), not a whole number; choose "
                         "contents in steps of "
                         f"{1 / n_fu:g} or another SQS size")


def n_structures(mat: dict) -> int:
    """Cells the material's structures step builds (SQS asked for, or the one prototype cell)."""
    return int(mat["sqs"].get("n_structures", 1)) if mat.get("sqs") else 1


def _check_sqs_size(mat: dict, s: dict, where: str) -> None:
    """An SQS size (max_atoms, min_width_A) no supercell holds fails now (mixed compositions)."""
    from structures.prototypes import parent_cell
    from structures.sqs import choose_supercell, plan_supercells
    from workflows.studies.voltage_states import is_ordered

    comp = assign_sublattices(mat["formula"], mat["prototype"])
    parent = parent_cell(comp.prototype.name)
    if is_ordered(comp, parent):
        return
    try:
        plan = plan_supercells(comp, parent, s["max_atoms"])
        choose_supercell(plan, parent, s["min_width_A"], 0.01, False, None)
    except HecathodeInputError as err:
        raise _error(f"{where} ({mat['name']}): {err}") from None


def job_list(study: str, mat: dict) -> list[str]:
    """The relaxations of one study, before any work: structures (mixing) or orderings (voltage)."""
    if study == "mixing":
        from workflows.studies.mixing_steps import cell_names

        return cell_names(mat["formula"], mat["prototype"], mat["mixing"]["n_sqs"])
    from workflows.studies.electrode_steps import NA_METAL, job_names

    return [*job_names(mat["formula"], mat["prototype"], mat["voltage"], n_structures(mat)), NA_METAL]


def _relax_dir(study: str, mat: dict, root: Path, job: str) -> dict:
    """{"relax_dir": the material's relax folder} for a voltage relaxation of an as-made host (it may
    take that relaxation over), else {}."""
    host, _, rest = job.partition("/")
    if study != "voltage" or not rest:
        return {}
    alkali = assign_sublattices(mat["formula"], mat["prototype"]).role("alkali")
    made = float(sum(o.species.get("Na", 0.0) for o in alkali))
    if abs(float(rest.split("/")[0].removeprefix("na-")) - made) > 1e-6:
        return {}
    return {"relax_dir": str(root / mat["name"] / f"relax-{'cell' if host == 'pristine' else host}")}


def _plan(study: str, mat: dict, root: Path, add: Callable, common: dict):
    from workflows.fireworks import study_tasks as t

    folder = Path(common["study_dir"]) / "plan"
    if study == "mixing":
        return add(t.MixingPlanTask(**common), f"{mat['name']} mixing structures", "structures", folder)
    cells = root / mat["name"] / "structures" / "structures.json"
    return add(t.VoltagePlanTask(**common, structures_json=str(cells)), f"{mat['name']} voltage orderings",
               "structures", folder)


def study_fireworks(mat: dict, root: Path, add: Callable, links: dict, parents: dict) -> list:
    """Plan -> one relaxation per structure and calculator -> join, per study of `mat`; `add(task,
    name, category, folder)` makes a Firework; `parents`: the material's "structures" firework and
    its "relax" fireworks by label (cell, sqs-NNN): the voltage plan needs the first, an as-made
    state the second. Returns the joins (the analysis' parents)."""
    from workflows.fireworks import study_tasks as t

    joins = []
    for study in (s for s in STUDIES if mat.get(s)):
        folder = root / mat["name"] / study
        common = {"material": mat["name"], "formula": mat["formula"], "prototype": mat["prototype"],
                  "study_dir": str(folder), "settings": mat[study]}
        relax_task, join_task, key = ((t.MixingRelaxTask, t.MixingJoinTask, "structure") if study == "mixing"
                                      else (t.VoltageRelaxTask, t.VoltageJoinTask, "state"))
        plan = _plan(study, mat, root, add, common)
        if study == "voltage":
            links.setdefault(parents["structures"], []).append(plan)
        links[plan] = []
        for calc in mat[study]["calculators"]:
            for job in job_list(study, mat):
                extra = _relax_dir(study, mat, root, job)
                fw = add(relax_task(**common, **{key: job, "calculator": calc}, **extra),
                         f"{mat['name']} {study} relax {calc} {job}", "relax", folder / calc / job)
                links[plan].append(fw)
                if extra:  # after the material's relaxation of the same cell
                    label = Path(extra["relax_dir"]).name.removeprefix("relax-")
                    links.setdefault(parents["relax"][label], []).append(fw)
        # a failed relaxation leaves the study partial, not blocked: the join reads what finished
        join = add(join_task(**common), f"{mat['name']} {study}", "join", folder / "join",
                   _allow_fizzled_parents=True)
        for fw in links[plan]:
            links[fw] = [join]
        joins.append(join)
    return joins
