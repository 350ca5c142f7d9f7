"""FireTasks of a campaign: build structures, relax, NEB, analysis (the mixing and voltage
steps are in `workflows.fireworks.study_tasks`).

Each task is thin: it calls the plain functions of `structures` / `calculators` /
`workflows.studies.neb_study` in its launch directory (set per firework through `_launch_dir`, so a
rerun after a crash resumes from the files already there), writes its result JSON there, and
reports through `FWAction`: `mod_spec` `_push` hands children what they need (paths and key
numbers), `stored_data` keeps the key numbers in the LaunchPad. Energies eV, lengths Å,
volumes Å^3, entropies R.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from fireworks import FiretaskBase, FWAction, explicit_serialize

from structures.analysis import volume_per_host_atom
from structures.io import write_json


def _say(line: str) -> None:
    """Progress line on stdout (the runner's console locally, the job's output file on a queue)."""
    print(f"    {line}", flush=True)


def _throttled(every_s: float = 10.0):
    """A relax/NEB callback printing at most one line every `every_s` seconds."""
    last = [0.0]

    def show(info: dict) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            _say(f"{info['stage']} step {info['step']}: max F {info['fmax_eV_per_A']:.3f} eV/Å")
    return show


@explicit_serialize
class StructuresTask(FiretaskBase):
    """The cells of one material: the prototype cell (ordered material) or `sqs.n_structures`
    SQS of the composition (`workflows.studies.sqs_set.build_sqs_set`); for `structure: FILE`
    its alkali ordering(s) or SQS (`workflows.studies.disordered_cells.structures_document`).
    Writes structures.json."""

    required_params = ["material"]

    def run_task(self, fw_spec):
        from structures.composition import assign_sublattices
        from structures.entropy import classify, configurational_entropy
        from structures.prototypes import parent_cell
        from workflows.report.sqs import plot_sqs
        from workflows.studies.sqs_set import build_sqs_set, write_structure_files

        mat = self["material"]
        here = Path.cwd()
        done = here / "structures.json"
        if done.exists():  # rerun after a crash: the cells are already built
            doc = json.loads(done.read_text())
        elif mat.get("structure"):
            doc = _structure_file_cells(mat, here)
            write_json(done, doc)
        else:
            comp = assign_sublattices(mat["formula"], mat["prototype"])
            s_target = configurational_entropy(comp).total_R
            doc = {"material": mat["name"], "formula": mat["formula"], "prototype": mat["prototype"],
                   "entropy_target_R": s_target, "entropy_target_class": classify(s_target)}
            if mat.get("sqs"):
                _say(f"{mat['name']}: SQS of {mat['formula']}")
                sqs = build_sqs_set(mat["formula"], mat["prototype"], here, **mat["sqs"])
                plot_sqs(sqs, here / "sqs.png")
                doc["entropy_achieved_R"] = sqs["entropy_achieved_R"]
                doc["entropy_achieved_class"] = sqs["entropy_achieved_class"]
                doc["notes"] = sqs["notes"]
                doc["structures"] = [{"name": Path(e["extxyz"]).stem, "file": str(here / e["extxyz"]),
                                      "n_atoms": e["n_atoms"], "quality": e} for e in sqs["structures"]]
            else:
                atoms = parent_cell(mat["prototype"])
                write_structure_files(atoms, here / "cell")
                doc["entropy_achieved_R"] = s_target
                doc["entropy_achieved_class"] = classify(s_target)
                doc["notes"] = []
                doc["structures"] = [{"name": "cell", "file": str(here / "cell.extxyz"),
                                      "n_atoms": len(atoms)}]
            write_json(done, doc)
        files = [s["file"] for s in doc["structures"]]
        return FWAction(update_spec={"structure_files": files},
                        mod_spec=[{"_push": {"structures_results": {"material": mat["name"],
                                                                    "json": str(done)}}}],
                        stored_data={"n_structures": len(files), "entropy_target_R": doc["entropy_target_R"],
                                     "entropy_achieved_R": doc["entropy_achieved_R"]})


def _structure_file_cells(mat: dict, here: Path) -> dict:
    """structures.json of a `structure: FILE` material, with its sqs.png or orderings.png."""
    from workflows.studies.disordered_cells import structures_document

    _say(f"{mat['name']}: cells of {Path(mat['structure']).name}")
    doc = structures_document(mat, here, notify=_say)
    if doc["kind"] == "sqs":
        from workflows.report.sqs import plot_sqs

        plot_sqs(json.loads((here / "sqs.json").read_text()), here / "sqs.png")
    elif doc["kind"] == "ordering":
        from workflows.report.orderings import plot_orderings

        plot_orderings(json.loads((here / "orderings.json").read_text()), here / "orderings.png")
    return doc


@explicit_serialize
class RelaxTask(FiretaskBase):
    """Relax structure number `index` of the parent's `structure_files` (ions and cell by
    default) with `calculator`/`preset`; resumes from relax.traj in the launch directory."""

    required_params = ["material", "index", "calculator"]
    optional_params = ["preset", "settings"]

    def run_task(self, fw_spec):
        from calculators.relax import relax
        from structures.io import read_structure

        files = fw_spec["structure_files"]
        if self["index"] >= len(files):
            why = f"the structures step built {len(files)} distinct structure(s); no #{self['index']}"
            _say(f"{self['material']}: skipped: {why}")
            return FWAction(stored_data={"skipped": why})
        path = files[self["index"]]
        atoms = read_structure(path)
        settings = dict(self.get("settings") or {})
        _say(f"{self['material']}: relax {Path(path).name} ({len(atoms)} atoms, {self['calculator']})")
        result = relax(atoms, self["calculator"], preset=self.get("preset"), directory=Path.cwd(),
                       callback=_throttled(), **settings)
        entry = {"material": self["material"], "index": self["index"], "structure": Path(path).stem,
                 "input": path, "relaxed": str(Path.cwd() / "relax.extxyz"),
                 "json": str(Path.cwd() / "relax.json"),
                 "volume_per_host_atom_A3_initial": volume_per_host_atom(atoms),
                 "volume_per_host_atom_A3_relaxed": volume_per_host_atom(result.atoms)}
        _say(f"{self['material']}: relaxed {entry['structure']} E = {result.energy_per_atom_eV:.4f} eV/atom, "
             f"converged {result.converged}")
        return FWAction(mod_spec=[{"_push": {"relax_results": entry}}],
                        stored_data={k: getattr(result, k) for k in ("energy_per_atom_eV", "volume_A3",
                                                                     "converged", "steps",
                                                                     "max_force_eV_per_A")})


@explicit_serialize
class NebTask(FiretaskBase):
    """Na vacancy-hop NEB(s) on the relaxed structure from the parent relax, at fixed cell
    (`workflows.studies.neb_study.study`): `n_hops` hops of the `hop` label pair (distinct hops in an
    ordered cell, hops in different local environments in an SQS)."""

    required_params = ["material", "index", "calculator", "hop"]
    optional_params = ["preset", "n_hops", "settings"]

    def run_task(self, fw_spec):
        from workflows.report.neb import plot_study
        from workflows.studies.neb_study import study

        mine = [r for r in fw_spec.get("relax_results", [])
                if r["material"] == self["material"] and r["index"] == self["index"]]
        if not mine:  # the parent relax was skipped (fewer distinct SQS than asked for)
            why = f"no relaxed structure #{self['index']} of {self['material']}"
            _say(f"{self['material']}: NEB skipped: {why}")
            return FWAction(stored_data={"skipped": why})
        relaxed = mine[-1]
        settings = dict(self.get("settings") or {})
        _say(f"{self['material']}: NEB {self['hop']} on {relaxed['structure']} ({self['calculator']})")
        doc = study(None, relaxed["relaxed"], Path.cwd(), hop=self["hop"], n_hops=int(self.get("n_hops", 1)),
                    calculators=[self["calculator"]], progress=_say, callback=_throttled(),
                    preset=self.get("preset"), **settings)
        plot_study(doc, Path.cwd())
        rows = doc["results"][self["calculator"]]["hops"]
        entry = {"material": self["material"], "index": self["index"], "structure": relaxed["structure"],
                 "json": str(Path.cwd() / "neb.json")}
        barriers = [round(r["forward_barrier_eV"], 4) for r in rows]
        _say(f"{self['material']}: barriers {barriers} eV")
        return FWAction(mod_spec=[{"_push": {"neb_results": entry}}],
                        stored_data={"forward_barriers_eV": barriers,
                                     "converged": [r["converged"] for r in rows]})


@explicit_serialize
class AnalysisTask(FiretaskBase):
    """Collect every result of the campaign into analysis.json (see `workflows.report.analysis`)."""

    required_params = ["campaign"]

    def run_task(self, fw_spec):
        from workflows.report.analysis import collect

        doc = collect(self["campaign"], fw_spec.get("structures_results", []),
                      fw_spec.get("relax_results", []), fw_spec.get("neb_results", []),
                      mixing_results=fw_spec.get("mixing_results", []),
                      voltage_results=fw_spec.get("voltage_results", []),
                      network_results=fw_spec.get("network_results", []))
        path = write_json(Path.cwd() / "analysis.json", doc)
        _say(f"analysis written to {path}")
        return FWAction(stored_data={"analysis": str(path)})
