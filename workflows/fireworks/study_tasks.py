"""FireTasks of a campaign's mixing and voltage steps: plan, one relaxation, join.

Each task calls one function of `workflows.studies.mixing_steps` / `electrode_steps` with the
study folder `study_dir` (an absolute path, shared by the steps of one study) and the
campaign's validated settings; a relaxation runs in its own launch directory, which is the
folder the study keeps it in (study/<calculator>/<structure>/), so a rerun resumes from its
trajectory. The join writes the study's JSON and figures into `study_dir` and hands the
analysis their paths (`mod_spec` `_push` of `mixing_results` / `voltage_results`).
Energies eV, voltages V vs Na+/Na, temperatures K.
"""

from __future__ import annotations

from pathlib import Path

from fireworks import FiretaskBase, FWAction, explicit_serialize

from workflows.fireworks.tasks import _say

STUDY_PARAMS = ["material", "formula", "prototype", "study_dir", "settings"]


def _skipped(material: str, what: str) -> FWAction:
    _say(f"{material}: skipped: {what}")
    return FWAction(stored_data={"skipped": what})


def _relaxed(material: str, label: str, energy_eV: float, converged: bool, steps, wall) -> FWAction:
    _say(f"{material}: {label} E = {energy_eV:.4f} eV, converged {converged}")
    return FWAction(stored_data={"energy_eV": energy_eV, "converged": converged, "steps": steps,
                                 "wall_time_s": wall})


@explicit_serialize
class MixingPlanTask(FiretaskBase):
    """End members and SQS of a mixing study (`mixing_steps.plan`)."""

    required_params = STUDY_PARAMS

    def run_task(self, fw_spec):
        from workflows.studies.mixing_steps import plan

        inputs = plan(self["formula"], self["prototype"], self["study_dir"], self["settings"], progress=_say)
        names = [c.name for c in inputs.cells]
        return FWAction(stored_data={"n_structures": len(names), "structures": names})


@explicit_serialize
class MixingRelaxTask(FiretaskBase):
    """One end member or SQS relaxed with one calculator (`mixing_steps.relax_cell`)."""

    required_params = [*STUDY_PARAMS, "structure", "calculator"]

    def run_task(self, fw_spec):
        from workflows.studies.mixing_steps import relax_cell

        e = relax_cell(self["formula"], self["prototype"], self["study_dir"], self["settings"],
                       self["structure"], self["calculator"], progress=_say)
        if e is None:
            return _skipped(self["material"], f"the mixing plan holds no {self['structure']}")
        return _relaxed(self["material"], f"{e.calculator} {e.name}", e.energy_eV, e.converged, e.steps,
                        e.wall_time_s)


@explicit_serialize
class MixingJoinTask(FiretaskBase):
    """mixing.json (`mixing_steps.join`, nothing computed) and mixing.png in the study folder."""

    required_params = STUDY_PARAMS

    def run_task(self, fw_spec):
        from workflows.report.mixing import plot_mixing
        from workflows.studies.mixing_steps import join

        doc = join(self["formula"], self["prototype"], self["study_dir"], self["settings"]).to_json()
        study = Path(self["study_dir"])
        plot = plot_mixing(doc, study / "mixing.png")
        calc = doc["calculators"][0]
        dh = doc["dH_mix_meV_per_atom"]["per_calculator"][calc]["mean_meV_per_atom"]
        t_star = doc["T_star_K"]["per_calculator"][calc]["value_K"]
        _say(f"{self['material']}: ΔH_mix {dh:.1f} meV/atom, T* "
             f"{'not defined' if t_star is None else f'{t_star:.0f} K'} ({calc})")
        entry = {"material": self["material"], "json": str(study / "mixing.json"), "plot": str(plot)}
        return FWAction(mod_spec=[{"_push": {"mixing_results": entry}}],
                        stored_data={"calculator": calc, "dH_mix_meV_per_atom": round(dh, 3),
                                     "T_star_K": t_star})


@explicit_serialize
class VoltagePlanTask(FiretaskBase):
    """Hosts (the material's cells, `structures_json`) and Ewald-ranked orderings at every Na
    content (`electrode_steps.plan`)."""

    required_params = [*STUDY_PARAMS, "structures_json"]

    def run_task(self, fw_spec):
        from workflows.studies.electrode_steps import plan

        doc = plan(self["formula"], self["prototype"], self["study_dir"], self["settings"],
                   self["structures_json"], progress=_say)
        names = [j["name"] for j in doc["jobs"]]
        return FWAction(stored_data={"n_orderings": len(names), "orderings": names})


@explicit_serialize
class VoltageRelaxTask(FiretaskBase):
    """One ordering (host/na-x/ord-NN), or bcc Na (`na-bcc`), relaxed with one calculator
    (`electrode_steps.relax_state` / `relax_na_metal`); an as-made state takes over the campaign's
    relaxation in `relax_dir` when it fits."""

    required_params = [*STUDY_PARAMS, "state", "calculator"]
    optional_params = ["relax_dir"]

    def run_task(self, fw_spec):
        from workflows.studies.electrode_steps import NA_METAL, relax_na_metal, relax_state

        args = (self["study_dir"], self["settings"])
        if self["state"] == NA_METAL:
            doc = relax_na_metal(*args, self["calculator"], progress=_say)
            return _relaxed(self["material"], f"{self['calculator']} {NA_METAL}", doc["energy_per_atom_eV"],
                            doc["converged"], None, None)
        s = relax_state(self["formula"], self["prototype"], *args, self["state"], self["calculator"],
                        relax_dir=self.get("relax_dir"), progress=_say)
        if s is None:
            return _skipped(self["material"], f"the voltage plan holds no ordering {self['state']}")
        return _relaxed(self["material"], f"{s.calculator} {s.name}", s.energy_eV, s.converged, s.steps,
                        s.wall_time_s)


@explicit_serialize
class VoltageJoinTask(FiretaskBase):
    """voltage.json (`electrode_steps.join`, nothing computed), voltage.png and strain.png."""

    required_params = STUDY_PARAMS

    def run_task(self, fw_spec):
        from workflows.report.voltage import plot_strain, plot_voltage
        from workflows.studies.electrode_steps import join

        doc = join(self["formula"], self["prototype"], self["study_dir"], self["settings"]).to_json()
        study = Path(self["study_dir"])
        plots = [str(plot_voltage(doc, study / "voltage.png")), str(plot_strain(doc, study / "strain.png"))]
        _say(f"{self['material']}: average voltage {doc['average_voltage_V']:.3f} V, "
             f"ΔV {doc['volume_change_percent']:+.2f} % ({doc['calculator']})")
        entry = {"material": self["material"], "json": str(study / "voltage.json"), "plots": plots}
        return FWAction(mod_spec=[{"_push": {"voltage_results": entry}}],
                        stored_data={"average_voltage_V": round(doc["average_voltage_V"], 4),
                                     "volume_change_percent": round(doc["volume_change_percent"], 3)})
