"""The real `hecathode` console script, run as a user would."""

import json
import subprocess

import pytest
from conftest import HECATHODE


def run(*args, check=False):
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, check=check,
                          timeout=300)


def test_entropy_json_he_pba():
    p = run("entropy", "Na1.19(Fe0.2Mn0.2Ni0.2Cu0.2Co0.2)[Fe(CN)6]0.79□0.21·1.16H2O",
            "--prototype", "pba", "--json", check=True)
    doc = json.loads(p.stdout)
    for key in ("formula", "prototype", "reading", "sublattices", "entropy_R",
                "entropy_J_per_mol_K", "entropy_class", "water_per_formula_unit"):
        assert key in doc
    assert doc["sublattices"]["TM"]["entropy_R"] == pytest.approx(1.609, abs=0.002)
    assert doc["entropy_R"] == pytest.approx(1.609, abs=0.002)
    assert doc["entropy_class"] == "high"
    assert doc["water_per_formula_unit"] == pytest.approx(1.16)
    with_vac = json.loads(run("entropy", doc["formula"], "-p", "pba", "--include-vacancies",
                              "--json", check=True).stdout)
    assert with_vac["sublattices"]["B"]["entropy_R"] == pytest.approx(0.514, abs=1e-3)


def test_entropy_json_he_nvpf_says_it_is_low():
    doc = json.loads(run("entropy", "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "--prototype", "nvpf",
                         "--json", check=True).stdout)
    assert doc["reading"] == "total"
    assert doc["sublattices"]["TM"]["species"]["V"] == pytest.approx(0.95)
    assert doc["sublattices"]["TM"]["species"]["Ca"] == pytest.approx(0.01)
    assert doc["entropy_R"] == pytest.approx(0.279, abs=5e-4)
    assert doc["entropy_class"] == "low"
    assert any("low entropy" in n and "own criterion" in n for n in doc["notes"])


def test_check_json_nani05mn05o2():
    doc = json.loads(run("check", "NaNi0.5Mn0.5O2", "--prototype", "o3", "--json",
                         check=True).stdout)
    assert doc["charge_balanced"] is True
    assert doc["theoretical_capacity_mAh_g"] == pytest.approx(240, abs=1)
    for key in ("oxidation_states", "size_mismatch", "electronegativity_spread",
                "redox_conflicts", "inactive_fraction", "warnings"):
        assert key in doc


def test_check_table_output():
    p = run("check", "Na4Fe2.95(NiCoMnMgZn)0.01(PO4)2P2O7", check=True)
    assert "per element" in p.stdout
    assert "theoretical capacity" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["entropy", "NaQ2O2"], "unknown element 'Q'"),
    (["entropy", "Na(MnO2"], "unbalanced '('"),
    (["entropy", "NaMn0O2"], "amount of Mn is zero"),
    (["entropy", "NaNi0.7Mn0.5O2", "-p", "o3"], "sublattice TM of o3 holds 1.2"),
    (["entropy", "NaHO2", "-p", "o3"], "H fits no sublattice"),
    (["check", "NaMnO2", "-p", "olivine"], "unknown prototype 'olivine'"),
    (["entropy", "NaMnO2", "--site", "Mn"], "expected ELEMENT=SUBLATTICE"),
    (["entropy", "NaMnO2", "-p", "o3", "--site", "Mn=XX"], "no sublattice 'XX'"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    p = run(*args)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert message in lines[0]


def test_dataset_writes_csv_and_png(tmp_path):
    csv, png = tmp_path / "d.csv", tmp_path / "d.png"
    p = run("dataset", "--csv", str(csv), "--plot", str(png), check=True)
    assert "compositions are below 1.5 R" in p.stdout
    rows = csv.read_text().splitlines()
    assert len(rows) == 31 and rows[0].startswith("table,ref,family")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    assert csv.stat().st_mode & 0o044  # readable by others, like any other output file


def test_dataset_failure_keeps_what_was_finished(tmp_path):
    csv = tmp_path / "d.csv"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    p = run("dataset", "--csv", str(csv), "--plot", str(blocker / "d.png"))
    assert p.returncode == 2
    assert len([ln for ln in p.stderr.splitlines() if ln.startswith("error")]) == 1
    assert len(csv.read_text().splitlines()) == 31  # the CSV written before the failure stays


def test_every_command_is_registered_on_import_and_python_m_works():
    """No import cycle: importing workflows.cli registers every command (campaign, status and
    report used to appear only after main() ran), and `python -m workflows.cli` runs."""
    import sys

    from workflows.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    assert {"entropy", "check", "dataset", "supercell", "sqs", "neb", "relax", "status", "report",
            "campaign", "mixing", "voltage", "orderings"} <= names
    res = subprocess.run([sys.executable, "-m", "workflows.cli", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "campaign" in res.stdout and "voltage" in res.stdout
