"""Campaigns with `mixing:` and `voltage:` steps: validation of the sections, the FireWorks
workflow they become (one firework per relaxation + a join per study), the analysis entries and
the report's Thermodynamics / Electrochemistry sections, and (slow) a small real campaign.

The report inputs below are illustrative numbers for the formatter, not results.
"""

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import HECATHODE

from workflows.fireworks.builders import CampaignError, build_workflow, load_campaign
from workflows.report.campaign_report import write_report

PNG = b"\x89PNG\r\n\x1a\n"
ENV = {**os.environ, "HECATHODE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
# NaNiO2 (ordered, 4 atoms) vs NaNi1/2Mn1/2O2: mixing on the 16-atom SQS, voltage x = 1 -> 0
STUDIES = """\
name: thermo
description: test campaign with mixing and voltage steps
calculator: chgnet
relax: {fmax: 0.15, steps: 60}
neb: null
mixing: {n_sqs: 2, max_atoms: 16, min_width_A: 4, sqs_steps: 2000, sqs_runs: 1, synthesis_temperature_K: 1173}
voltage: {x: [1, 0]}
materials:
  - {name: NaNiO2, formula: NaNiO2, prototype: o3, role: pristine}
  - name: NM
    formula: NaNi0.5Mn0.5O2
    prototype: o3
    sqs: {n_structures: 1, max_atoms: 16, seed: 1, n_runs: 1, n_steps: 1000, min_width: 4}
    voltage: {n_relax: 2}
"""


def _campaign(tmp_path: Path, text: str = STUDIES) -> Path:
    path = tmp_path / "thermo.yaml"
    path.write_text(text)
    return path


# --- validation: one line, before anything runs ----------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (("sqs_runs: 1,", "sqs_runs: 1, colour: red,"), "mixing: unknown key(s) colour"),
    (("mixing: {n_sqs: 2,", "mixing: {n_sqs: 0,"), "materials[1].mixing.n_sqs: 0 is not a whole number >= 1"),
    (("synthesis_temperature_K: 1173", "synthesis_temperature_K: hot"), "synthesis_temperature_K: 'hot'"),
    (("mixing: {n_sqs: 2,", "mixing: {calculators: [chgnet, dft], n_sqs: 2,"), "unknown calculator 'dft'"),
    (("mixing: {n_sqs: 2,", "mixing: {calculators: [chgnet, chgnet], n_sqs: 2,"), "names a calculator twice"),
    (("mixing: {n_sqs: 2, max_atoms: 16,", "mixing: {n_sqs: 2, max_atoms: 3,"), "materials[1].mixing (NM)"),
    (("role: pristine}", "role: pristine, mixing: {n_sqs: 1}}"), "there is no mixing site"),
    (("voltage: {x: [1, 0]}", "voltage: {na: [2, 1]}"), "Na content outside [0, 1]"),
    (("voltage: {x: [1, 0]}", "voltage: {na: [1, 0], x: [1, 0]}"), "not both"),
    (("voltage: {x: [1, 0]}", "voltage: {x: 1}"), "voltage.x: 1 is not a list of numbers"),
    (("voltage: {x: [1, 0]}", "voltage: {x: [1, 0], n_relax: all}"), "voltage.n_relax: 'all'"),
    (("voltage: {x: [1, 0]}", "voltage: {x: [1, 0], relax_cell: maybe}"), "relax_cell: 'maybe'"),
    (("voltage: {x: [1, 0]}", "voltage: {x: [1, 0], fmax: -0.1}"), "fmax: -0.1 is not a number > 0"),
    (("voltage: {n_relax: 2}", "voltage: {n_relax: 2, n_sqs: 3}"), "[1].voltage: unknown key(s) n_sqs"),
    (("voltage: {n_relax: 2}", "voltage: {n_relax: 2, x: [1, 0.3]}"), "Na0.3 is 1.2 Na in the 16-atom SQS"),
    (("    sqs: {n_structures: 1, max_atoms: 16, seed: 1, n_runs: 1, n_steps: 1000, min_width: 4}\n", ""),
     "NaNi0.5Mn0.5O2 is mixed: give the material 'sqs:' settings"),
])
def test_bad_study_section_is_refused(tmp_path, edit, message):
    text = STUDIES.replace(*edit)
    assert text != STUDIES, edit
    with pytest.raises(CampaignError) as err:
        load_campaign(_campaign(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_study_section_through_the_cli_is_one_line_exit_2(tmp_path):
    path = _campaign(tmp_path, STUDIES.replace("voltage: {x: [1, 0]}", "voltage: {x: [1, 0], n_relax: 0}"))
    res = subprocess.run([str(HECATHODE), "campaign", "run", str(path), "--out", str(tmp_path / "c")],
                         capture_output=True, text=True, env=ENV)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "voltage.n_relax: 0" in lines[0], res.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_study_settings_merge_defaults_and_overrides(tmp_path):
    camp = load_campaign(_campaign(tmp_path))
    host, nm = camp["materials"]
    assert "mixing" not in host  # campaign-wide mixing: an ordered material has nothing to mix
    assert nm["mixing"]["n_sqs"] == 2 and nm["mixing"]["calculators"] == ["chgnet"]
    assert nm["mixing"]["fmax"] == 0.15 and nm["mixing"]["steps"] == 60  # from relax:
    assert host["voltage"]["x"] == [1, 0] and host["voltage"]["n_relax"] == 3
    assert nm["voltage"]["n_relax"] == 2 and nm["voltage"]["x"] == [1, 0]
    assert nm["voltage"]["relax_cell"] is True and nm["voltage"]["fmax"] == 0.15
    off = STUDIES.replace("    voltage: {n_relax", "    mixing: null\n    voltage: {n_relax")
    off = load_campaign(_campaign(tmp_path, off))
    assert "mixing" not in off["materials"][1]
    text = "\n".join(ln for ln in STUDIES.splitlines() if "mixing:" not in ln and "voltage:" not in ln)
    plain = load_campaign(_campaign(tmp_path, text))
    # without the sections the materials are as before (same fingerprint for existing stores)
    assert all("mixing" not in m and "voltage" not in m for m in plain["materials"])


# --- the workflow: one firework per relaxation, a join per study -----------------------------

def test_workflow_has_one_firework_per_relaxation_and_a_join(tmp_path):
    text = STUDIES.replace("mixing: {n_sqs: 2,", "mixing: {calculators: [chgnet, sevenn], n_sqs: 2,")
    camp = load_campaign(_campaign(tmp_path, text))
    root = tmp_path / "run"
    wf = build_workflow(camp, root)
    by_name = {fw.name: fw for fw in wf.fws}
    children = {fw.name: sorted(wf.id_fw[i].name for i in wf.links[fw.fw_id]) for fw in wf.fws}
    cells = ["end-Ni", "end-Mn", "sqs-000", "sqs-001"]
    relaxes = [f"NM mixing relax {c} {s}" for c in ("chgnet", "sevenn") for s in cells]
    assert sorted(children["NM mixing structures"]) == sorted(relaxes)
    for name in relaxes:
        assert children[name] == ["NM mixing"]
        calc, cell = name.split()[-2:]
        assert by_name[name].spec["_launch_dir"] == str((root / "NM" / "mixing" / calc / cell).resolve())
        assert by_name[name].spec["_category"] == "relax"
    assert children["NM mixing"] == ["thermo analysis"] and by_name["NM mixing"].spec["_category"] == "join"
    assert by_name["NM mixing"].spec["_allow_fizzled_parents"] is True  # partial, not blocked
    host_states = ["pristine/na-1/ord-00", "pristine/na-0/ord-00", "na-bcc"]
    assert children["NaNiO2 voltage orderings"] == sorted(f"NaNiO2 voltage relax chgnet {s}"
                                                          for s in host_states)
    nm_states = ["sqs-000/na-1/ord-00", "sqs-000/na-0/ord-00", "na-bcc"]
    assert children["NM voltage orderings"] == sorted(f"NM voltage relax chgnet {s}" for s in nm_states)
    # the voltage study runs on the material's cells: after its structures, the as-made state after its relax
    assert "NM voltage orderings" in children["NM structures"]
    assert "NM voltage relax chgnet sqs-000/na-1/ord-00" in children["NM relax sqs-000"]
    assert "NaNiO2 voltage relax chgnet pristine/na-1/ord-00" in children["NaNiO2 relax cell"]
    as_made = by_name["NaNiO2 voltage relax chgnet pristine/na-1/ord-00"].tasks[0]
    assert as_made["relax_dir"] == str((root / "NaNiO2" / "relax-cell").resolve())
    assert "relax_dir" not in by_name["NaNiO2 voltage relax chgnet pristine/na-0/ord-00"].tasks[0]
    analysis_parents = sorted(n for n, c in children.items() if "thermo analysis" in c)
    assert analysis_parents == ["NM mixing", "NM relax sqs-000", "NM structures", "NM voltage",
                                "NaNiO2 relax cell", "NaNiO2 structures", "NaNiO2 voltage"]
    dirs = [fw.spec["_launch_dir"] for fw in wf.fws]
    assert len(set(dirs)) == len(dirs) and all(d.startswith(str(root.resolve())) for d in dirs)
    assert len(wf.fws) == 4 + 1 + 8 + 1 + 2 * (1 + 3 + 1) + 1
    task = by_name["NM mixing relax sevenn sqs-001"].tasks[0]
    assert task["study_dir"] == str((root / "NM" / "mixing").resolve()) and task["structure"] == "sqs-001"


def test_old_task_import_path_still_loads():
    from workflows.tasks import AnalysisTask, NebTask, RelaxTask, StructuresTask

    assert {t.__name__ for t in (AnalysisTask, NebTask, RelaxTask, StructuresTask)} == \
        {"AnalysisTask", "NebTask", "RelaxTask", "StructuresTask"}


# --- the report from hand-built analysis documents ---------------------------------------------

def _mixing(dh=(12.0, 18.0), t_star=2450.0, below=False):
    rows = [{"sqs": f"sqs-00{k}", "calculator": "chgnet", "dH_mix_eV_per_mixing_site": 4 * v / 1000,
             "dH_mix_meV_per_atom": v, "dS_config_R": 0.693, "T_star_K": t_star, "converged": True}
            for k, v in enumerate(dh)]
    calc = {"n_sqs": 2, "dH_mix_meV_per_atom_mean": sum(dh) / 2, "dH_mix_meV_per_atom_spread": dh[1] - dh[0],
            "dH_mix_meV_per_site_mean": 2 * sum(dh), "T_star_K": t_star, "T_star_min_K": 2000.0,
            "T_star_max_K": 3000.0, "T_star_below_synthesis": below, "converged": True,
            "verdict": "T* 2450 K is above the synthesis temperature 1173 K: ΔS_config alone does not "
                       "stabilise"}
    return {"calculators": ["chgnet"], "mixing_sublattice": "TM", "dS_config_R": 0.693,
            "dS_config_target_R": 0.693,
            "synthesis_temperature_K": 1173.0, "per_calculator": {"chgnet": calc}, "per_sqs": rows,
            "potential_uncertainty_meV_per_atom": None, "converged": True,
            "notes": ["error scale: universal MLIPs ..."]}


def _voltage(avg=3.25, dv=-4.27):
    step = {"na_low_per_fu": 1.0, "na_high_per_fu": 3.0, "voltage_V": avg, "calculator": "chgnet",
            "host": "pristine"}
    electrode = {"calculator": "chgnet", "host": "pristine", "average_voltage_V": avg,
                 "volume_change_percent": dv, "voltage_steps": [step], "converged": True}
    per = {"n_hosts": 1, "average_voltage_V_mean": avg, "average_voltage_V_spread": 0.0,
           "volume_change_percent_mean": dv, "volume_change_percent_spread": 0.0}
    above = {"name": "pristine/na-1/ord-01", "e_above_hull_eV_per_fu": 0.042, "calculator": "chgnet",
             "host": "pristine"}
    return {"calculators": ["chgnet"], "calculator": "chgnet", "na_per_fu": [3.0, 1.0],
            "average_voltage_V": avg, "volume_change_percent": dv,
            "lattice_change_percent": {"a": -2.24, "b": -2.06, "c": -0.02}, "per_calculator": {"chgnet": per},
            "voltage_steps": [step], "above_hull": [above], "electrodes": [electrode],
            "hosts": [{"name": "pristine", "formula_matches": True}], "converged": True,
            "notes": ["error scale: CHGNet and SevenNet-0 ..."]}


def _analysis():
    pristine = {"name": "NVPF", "formula": "Na3V2(PO4)2F3", "prototype": "nvpf", "role": "pristine",
                "entropy": {"target_R": 0.0, "target_class": "low"}, "structures": [], "neb": [],
                "voltage": _voltage()}
    he = {"name": "HE", "formula": "NaNi0.5Mn0.5O2", "prototype": "o3", "role": "high-entropy",
          "entropy": {"target_R": 0.693, "target_class": "low"}, "structures": [], "neb": [],
          "mixing": _mixing(), "voltage": _voltage(3.31, -3.1)}
    he["voltage"]["vs_pristine"] = {"pristine": "NVPF", "difference_he_minus_pristine": {
        "chgnet": {"average_voltage_V": 0.06, "he_sqs_spread_V": 0.0, "volume_change_percent": 1.17,
                   "he_sqs_spread_percent": 0.0}}, "reading": "a difference smaller than the HE SQS spread"}
    return {"campaign": "studies", "calculator": "chgnet", "created": "2026-11-24T12:00:00+00:00",
            "materials": [pristine, he]}


def test_report_with_mixing_and_voltage_has_both_sections(tmp_path):
    text = write_report(_analysis(), tmp_path).read_text()
    thermo = text.split("## Thermodynamics", 1)[1].split("## Electrochemistry", 1)[0]
    row = "| HE | chgnet | 2 | +15.0 ± 6.0 | +60.0 | 0.693 (0.693) | 2450 | 2000–3000 | 1173 | NO | yes |"
    assert row in thermo
    assert "HE (chgnet): T* 2450 K is above the synthesis temperature" in thermo
    assert "](mixing_gibbs.png)" in thermo
    echem = text.split("## Electrochemistry", 1)[1].split("## Every number", 1)[0]
    row = "| NVPF | pristine | chgnet | 3 → 1 | 1 | 3.25 | -4.27 | -2.24 / -2.06 / -0.02 | 1 | yes |"
    assert row in echem
    assert "| HE | NVPF | chgnet | +0.060 | – (1 host) | +1.17 | – (1 host) |" in echem
    for png in ("mixing_gibbs.png", "voltage_profiles.png", "voltage_strain.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG and f"]({png})" in text
    numbers = text.split("## Every number", 1)[1]
    assert "| HE | mean over SQS | ΔH_mix, mean over SQS | 15.00 | meV/atom | chgnet | yes |" in numbers
    assert "| NVPF | pristine | voltage step Na3 → Na1 | 3.250 | V | chgnet | yes |" in numbers
    row = "| NVPF | pristine/na-1/ord-01 | energy above the hull | 0.042 | eV/f.u. | chgnet | yes |"
    assert row in numbers


def test_report_without_studies_has_neither_section(tmp_path):
    doc = _analysis()
    for m in doc["materials"]:
        m.pop("mixing", None)
        m.pop("voltage", None)
    text = write_report(doc, tmp_path).read_text()
    assert "## Thermodynamics" not in text and "## Electrochemistry" not in text
    assert not list(tmp_path.glob("mixing_*.png")) and not list(tmp_path.glob("voltage_*.png"))


def test_partial_study_entries_give_a_partial_report(tmp_path):
    write_report(_analysis(), tmp_path)  # an earlier, fuller report in the same folder
    doc = copy.deepcopy(_analysis())
    he = doc["materials"][1]
    he["mixing"] = None  # asked for, did not finish
    he["voltage"] = {"calculators": ["chgnet"],
                     "per_calculator": {"chgnet": {"average_voltage_V_mean": None}},
                     "electrodes": [{"calculator": "chgnet", "voltage_steps": [{"voltage_V": None}]}, "junk"],
                     "lattice_change_percent": "n/a", "notes": None, "per_sqs": [None]}
    doc["materials"][0]["voltage"] = {}
    text = write_report(doc, tmp_path).read_text()
    assert "| HE | – | – | not finished |" in text and "HE: the mixing study did not finish" in text
    assert "ΔG_mix(T): not drawn: no ΔH_mix in the analysis" in text
    assert "Voltage profiles: not drawn" in text and "not drawn: no volume change" in text
    for png in ("mixing_gibbs.png", "voltage_profiles.png", "voltage_strain.png"):
        assert not (tmp_path / png).exists(), png  # the stale plots are gone


def test_analysis_notes_a_study_that_did_not_finish(tmp_path):
    from workflows.report.analysis import collect

    camp = {"name": "c", "calculator": "chgnet",
            "materials": [{"name": "NM", "formula": "NaNi0.5Mn0.5O2", "prototype": "o3",
                           "role": "high-entropy", "mixing": True}]}
    doc = collect(camp, [], [], [], mixing_results=[{"material": "NM", "json": str(tmp_path / "none.json")}])
    (row,) = doc["materials"]
    assert row["mixing"] is None and "mixing study did not finish (no mixing.json)" in row["notes"]
    assert "voltage" not in row
    text = write_report(doc, tmp_path).read_text()
    assert "## Thermodynamics" in text and "## Electrochemistry" not in text


# --- a small campaign, run for real ------------------------------------------------------------

@pytest.mark.slow
def test_small_campaign_with_mixing_and_voltage_runs_and_reports(tmp_path):
    path = _campaign(tmp_path)
    folder = tmp_path / "run"
    res = subprocess.run([str(HECATHODE), "campaign", "run", str(path), "--out", str(folder)],
                         capture_output=True, text=True, env=ENV, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    mixing = json.loads((folder / "NM" / "mixing" / "mixing.json").read_text())
    assert [r["sqs"] for r in mixing["per_sqs"]] == ["sqs-000", "sqs-001"]
    assert mixing["dS_config_R"]["mean_R"] == pytest.approx(0.6931, abs=1e-3)  # ln 2: Ni/Mn 1:1
    assert (folder / "NM" / "mixing" / "chgnet" / "end-Ni" / "relax.json").is_file()
    doc = json.loads((folder / "analysis" / "analysis.json").read_text())
    host, nm = doc["materials"]
    assert "mixing" not in host and nm["mixing"]["per_calculator"]["chgnet"]["n_sqs"] == 2
    dh = nm["mixing"]["per_calculator"]["chgnet"]["dH_mix_meV_per_atom_mean"]
    assert dh == pytest.approx(mixing["dH_mix_meV_per_atom"]["mean_meV_per_atom"])
    for row in (host, nm):
        assert row["voltage"]["na_per_fu"] == [1.0, 0.0] and 1.0 < row["voltage"]["average_voltage_V"] < 6.0
    assert nm["voltage"]["vs_pristine"]["pristine"] == "NaNiO2"
    # the as-made states are the campaign's relaxations of the same cells, taken over, not redone
    as_made = folder / "NaNiO2" / "voltage" / "chgnet" / "pristine" / "na-1" / "ord-00"
    adopted = json.loads((as_made / "adopted_from.json").read_text())
    assert adopted["relax_dir"] == str((folder / "NaNiO2" / "relax-cell").resolve())
    assert any("taken over" in n for n in host["voltage"]["notes"])
    report = (folder / "report" / "report.md").read_text()
    assert "## Thermodynamics" in report and "## Electrochemistry" in report
    for png in ("mixing_gibbs.png", "voltage_profiles.png", "voltage_strain.png"):
        assert (folder / "report" / png).read_bytes()[:8] == PNG
    again = subprocess.run([str(HECATHODE), "campaign", "run", str(path), "--out", str(folder)],
                           capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    _joins_read_back_what_finished(path, folder, tmp_path / "partial")


def _joins_read_back_what_finished(path: Path, folder: Path, copy: Path) -> None:
    """A join computes nothing: with a relaxation missing it leaves it out and says so, and with
    nothing usable left it refuses in one line."""
    import shutil

    from workflows.studies import electrode_steps, mixing_steps
    from workflows.studies.mixing_results import MixingInputError
    from workflows.studies.voltage_states import VoltageInputError

    shutil.copytree(folder / "NM", copy)
    nm = load_campaign(path)["materials"][1]
    (copy / "mixing" / "chgnet" / "sqs-001" / "relax.json").unlink()
    result = mixing_steps.join(nm["formula"], nm["prototype"], copy / "mixing", nm["mixing"])
    assert [r.sqs for r in result.per_sqs] == ["sqs-000"]
    assert "not finished, left out: chgnet sqs-001" in result.notes
    assert not (copy / "mixing" / "chgnet" / "sqs-001" / "relax.json").exists()  # not recomputed
    (copy / "mixing" / "chgnet" / "end-Mn" / "relax.json").unlink()
    with pytest.raises(MixingInputError, match="missing: chgnet end-Mn, chgnet sqs-001"):
        mixing_steps.join(nm["formula"], nm["prototype"], copy / "mixing", nm["mixing"])
    (copy / "voltage" / "chgnet" / "sqs-000" / "na-0" / "ord-00" / "relax.json").unlink()
    with pytest.raises(VoltageInputError, match="no host has a finished relaxation at every Na content"):
        electrode_steps.join(nm["formula"], nm["prototype"], copy / "voltage", nm["voltage"])
