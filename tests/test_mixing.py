"""Mixing thermodynamics: end members, the ΔH_mix / ΔS_config / T* arithmetic on known answers,
the whole study with a regular-solution calculator (exact ΔH_mix), resume, bad input, and a
real CHGNet run (slow)."""

import json
import math
import subprocess

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from conftest import HECATHODE

from structures.composition import assign_sublattices
from structures.constants import SUBLATTICE
from structures.end_members import EndMemberError, NoMixingSiteError, end_members, valence_notes
from structures.prototypes import parent_cell
from workflows.report.mixing import plot_mixing
from workflows.studies.mixing import mixing_study
from workflows.studies.mixing_results import (
    K_B_EV_PER_K,
    MixingInputError,
    config_entropy_R,
    crossover_temperature_K,
    gibbs_mixing_eV_per_site,
    judge_synthesis,
    mixing_enthalpy_eV,
    summary,
)

FARADAY_J_PER_MOL_PER_EV = 96485.33212  # N_A e, exact in SI 2019 (to these digits)
R = 8.314462618
SMALL = {"max_atoms": 16, "min_width_A": 0.0, "sqs_steps": 200, "sqs_runs": 2}


class RegularSolution(Calculator):
    """E = Σ ε_el + w Σ_{i<j} n_i n_j / N on the TM sublattice: ΔH_mix = w Σ_{i<j} x_i x_j per site
    exactly; zero forces and stress, so every relaxation converges at step 0."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]
    EPS = {"Na": -1.3, "O": -4.9, "Ni": -5.5, "Mn": -8.1, "Co": -6.2}

    def __init__(self, w_eV: float, name: str):
        super().__init__()
        self.w_eV = w_eV
        self.hecathode = {"calculator": name, "preset": None, "settings": {"w_eV": w_eV}}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        symbols = np.array(self.atoms.get_chemical_symbols())
        tm = symbols[self.atoms.arrays[SUBLATTICE] == "TM"]
        n = [int(np.sum(tm == el)) for el in sorted(set(tm))]
        pairs = sum(a * b for i, a in enumerate(n) for b in n[i + 1:])
        energy = sum(self.EPS[s] for s in symbols) + self.w_eV * pairs / len(tm)
        self.results = {"energy": energy, "free_energy": energy, "forces": np.zeros((len(symbols), 3)),
                        "stress": np.zeros(6)}


# ------------------------------------------------------------------ arithmetic with known answers

def test_k_b_from_r():
    assert K_B_EV_PER_K == pytest.approx(8.617333262e-5, rel=1e-9)


def test_enthalpy_entropy_and_t_star_exact():
    # end members -10 and -12 eV per site; 2 + 2 sites; E(SQS) -43.6 eV -> ΔH 0.4 eV per cell
    dh_cell = mixing_enthalpy_eV(-43.6, {"A": 2, "B": 2}, {"A": -10.0, "B": -12.0})
    assert dh_cell == pytest.approx(0.4, abs=1e-12)
    ds = config_entropy_R({"A": 2, "B": 2})
    assert ds == pytest.approx(math.log(2), abs=1e-15)
    t_star = crossover_temperature_K(dh_cell / 4, ds)
    # same number through molar units: ΔH (J/mol of sites) / (R ln 2)
    assert t_star == pytest.approx(0.1 * FARADAY_J_PER_MOL_PER_EV / (R * math.log(2)), rel=1e-9)
    assert t_star == pytest.approx(1674.2, abs=0.1)
    assert gibbs_mixing_eV_per_site(0.1, ds, t_star) == pytest.approx(0.0, abs=1e-12)
    assert gibbs_mixing_eV_per_site(0.1, ds, 0.0) == pytest.approx(0.1)
    # five equal species: ln 5 = 1.609 R
    assert config_entropy_R(dict.fromkeys("ABCDE", 3)) == pytest.approx(math.log(5))


def test_negative_enthalpy_has_no_crossover():
    assert crossover_temperature_K(-0.01, math.log(2)) is None
    assert crossover_temperature_K(0.0, math.log(2)) is None
    verdict = judge_synthesis(None, [None], -0.01, 1200.0)
    assert verdict["T_star_below_synthesis"] is None
    assert "already favours mixing" in verdict["verdict"]


def test_synthesis_verdicts():
    assert judge_synthesis(900.0, [850.0, 950.0], 0.05, 1200.0)["T_star_below_synthesis"] is True
    above = judge_synthesis(1500.0, [1400.0, 1600.0], 0.05, 1200.0)
    assert above["T_star_below_synthesis"] is False
    straddle = judge_synthesis(1150.0, [1000.0, 1300.0], 0.05, 1200.0)
    assert straddle["T_star_below_synthesis"] is True and "straddle" in straddle["verdict"]
    assert judge_synthesis(900.0, [900.0], 0.05, None)["T_star_below_synthesis"] is None


def test_summary_spread_and_std():
    s = summary([1.0, 2.0, 4.0], "meV_per_atom")
    assert s["mean_meV_per_atom"] == pytest.approx(7 / 3)
    assert s["spread_meV_per_atom"] == pytest.approx(3.0)
    assert s["std_meV_per_atom"] == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert summary([5.0], "K")["std_K"] == 0.0


# ------------------------------------------------------------------ end members

def test_end_members_o3_and_nvpf():
    comp = assign_sublattices("NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2", "o3")
    members = end_members(comp, parent_cell("o3"))
    assert [m.formula for m in members] == ["NaMnO2", "NaFeO2", "NaCoO2", "NaNiO2", "NaTiO2"]
    for m in members:
        assert m.n_mixing_sites == 1 and len(m.atoms) == 4
        assert m.atoms.get_chemical_symbols().count(m.element) == 1
    comp = assign_sublattices("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "nvpf")
    members = end_members(comp, parent_cell("nvpf"))
    assert [m.formula for m in members][:2] == ["Na3V2P2O8F3", "Na3Ca2P2O8F3"]
    ca = members[1].atoms
    assert ca.get_chemical_symbols().count("Ca") == 8 and "V" not in ca.get_chemical_symbols()
    assert any("Na3Ca2P2O8F3 (-2 e per f.u.)" in n for n in valence_notes(comp, members))


def test_valence_notes_name_the_redox_exchange():
    comp = assign_sublattices("NaNi0.5Mn0.5O2", "o3")
    notes = valence_notes(comp, end_members(comp, parent_cell("o3")))
    assert len(notes) == 1 and "Ni3+ in NaNiO2 -> Ni2+" in notes[0] and "Mn3+ in NaMnO2 -> Mn4+" in notes[0]
    comp = assign_sublattices("NaFe0.5Co0.5O2", "o3")
    assert valence_notes(comp, end_members(comp, parent_cell("o3"))) == []


@pytest.mark.parametrize("formula, proto, site_map, error, message", [
    ("NaNiO2", "o3", None, NoMixingSiteError, "no mixing site"),
    ("NaNi0.5K0.5O2", "o3", {"K": "TM"}, EndMemberError, "K is not allowed on the TM sublattice"),
    ("Na0.9K0.1Ni0.5Mn0.5O2", "o3", None, EndMemberError, "also mixes the Na sublattice"),
    ("Na0.67Ni0.33Mn0.67O2", "p2", None, EndMemberError, "Na sites of p2 are partly empty"),
    ("NaNi0.5Mn0.5O1.9F0.1", "o3", None, EndMemberError, "also mixes the O sublattice"),
])
def test_end_members_the_study_cannot_hold(formula, proto, site_map, error, message):
    comp = assign_sublattices(formula, proto, site_map=site_map)
    with pytest.raises(error, match=message):
        end_members(comp, parent_cell(proto))


# ------------------------------------------------------------------ the study, exact energies

@pytest.fixture(scope="module")
def regular_study(tmp_path_factory):
    """NaNi0.5Mn0.5O2, one 16-atom SQS (Ni2 Mn2), two regular-solution 'potentials' (w 0.4, 0.2 eV)."""
    out = tmp_path_factory.mktemp("mixing")
    calcs = [RegularSolution(0.4, "regular-a"), RegularSolution(0.2, "regular-b")]
    result = mixing_study("NaNi0.5Mn0.5O2", "o3", out, calculators=calcs, n_sqs=1,
                          synthesis_temperature_K=1200.0, **SMALL)
    return out, result, calcs


def test_study_gives_the_regular_solution_answer(regular_study):
    out, result, _ = regular_study
    doc = json.loads((out / "mixing.json").read_text())
    for key in ("dH_mix_meV_per_atom", "dH_mix_eV_per_mixing_site", "dS_config_R", "T_star_K"):
        assert set(doc[key]["per_calculator"]) == {"regular-a", "regular-b"}
        assert "sqs-000" in doc[key]["per_calculator"]["regular-a"]["per_sqs"]
    site = doc["dH_mix_eV_per_mixing_site"]["per_calculator"]
    assert site["regular-a"]["mean_eV_per_mixing_site"] == pytest.approx(0.1, abs=1e-9)  # w/4
    assert site["regular-b"]["mean_eV_per_mixing_site"] == pytest.approx(0.05, abs=1e-9)
    atom = doc["dH_mix_meV_per_atom"]["per_calculator"]
    assert atom["regular-a"]["mean_meV_per_atom"] == pytest.approx(25.0, abs=1e-6)  # 0.4 eV / 16 atoms
    assert doc["dS_config_R"]["mean_R"] == pytest.approx(math.log(2))
    t_star = doc["T_star_K"]["per_calculator"]
    assert t_star["regular-a"]["value_K"] == pytest.approx(0.1 / (K_B_EV_PER_K * math.log(2)), rel=1e-9)
    assert t_star["regular-a"]["T_star_below_synthesis"] is False  # 1674 K > 1200 K
    assert t_star["regular-b"]["T_star_below_synthesis"] is True  # 837 K < 1200 K
    assert doc["potential_uncertainty"]["dH_mix_meV_per_atom"]["mean_difference"] == pytest.approx(-12.5)
    assert doc["dH_mix_meV_per_atom"]["spread_meV_per_atom"] == pytest.approx(12.5)
    for e in doc["energies"]:
        assert e["calculator"] in ("regular-a", "regular-b") and e["converged"] is True
        assert (out / e["structure"]).is_file() and (out / e["relax_json"]).is_file()
    assert doc["relaxations_run"] == 6 and doc["relaxations_reused"] == 0
    assert any("isostructural" in n for n in doc["notes"])
    assert not any("error scale" in n for n in doc["notes"])  # not an MLIP
    assert any("Ni3+ in NaNiO2 -> Ni2+" in n for n in doc["notes"])
    png = plot_mixing(doc, out / "mixing.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_redoes_no_relaxation(regular_study):
    out, _, calcs = regular_study
    jsons = sorted(out.glob("regular-*/*/relax.json"))
    assert len(jsons) == 6
    before = {p: p.stat().st_mtime_ns for p in jsons}
    again = mixing_study("NaNi0.5Mn0.5O2", "o3", out, calculators=calcs, n_sqs=1,
                         synthesis_temperature_K=1200.0, **SMALL)
    assert again.relaxations_run == 0 and again.relaxations_reused == 6
    assert {p: p.stat().st_mtime_ns for p in jsons} == before
    # a run killed before one SQS relaxation finished: only that one is done again
    (out / "regular-b" / "sqs-000" / "relax.json").unlink()
    third = mixing_study("NaNi0.5Mn0.5O2", "o3", out, calculators=calcs, n_sqs=1,
                         synthesis_temperature_K=1200.0, **SMALL)
    assert third.relaxations_run == 1
    assert [e.name for e in third.energies if not e.reused] == ["sqs-000"]
    with pytest.raises(MixingInputError, match="other settings"):
        mixing_study("NaNi0.5Mn0.5O2", "o3", out, calculators=calcs, n_sqs=2, **SMALL)


def test_achieved_composition_is_used_and_said(tmp_path):
    # 4 TM sites cannot hold Ni0.5 Mn0.3 Co0.2: the SQS holds Ni2 Mn1 Co1
    result = mixing_study("NaNi0.5Mn0.3Co0.2O2", "o3", tmp_path, calculators=[RegularSolution(0.4, "rs")],
                          n_sqs=1, **SMALL)
    row = result.per_sqs[0]
    assert row.counts == {"Ni": 2, "Mn": 1, "Co": 1}
    x = sorted(row.site_fractions.values())
    assert row.dH_mix_eV_per_mixing_site == pytest.approx(0.4 * (x[0] * x[1] + x[0] * x[2] + x[1] * x[2]))
    assert row.dS_config_R == pytest.approx(-sum(v * math.log(v) for v in x))
    assert result.dS_config_target_R == pytest.approx(-sum(v * math.log(v) for v in (0.5, 0.3, 0.2)))
    assert any("not the formula's" in n for n in result.notes)


# ------------------------------------------------------------------ bad input: one line, exit 2

@pytest.mark.parametrize("args, message", [
    (["NaNiO2", "-p", "o3"], "no mixing site"),
    (["NaNi0.5K0.5O2", "-p", "o3", "--site", "K=TM"], "K is not allowed on the TM sublattice"),
    (["Na0.9K0.1Ni0.5Mn0.5O2", "-p", "o3"], "also mixes the Na sublattice"),
    (["NaNi0.5Mn0.5O2", "-p", "o3", "--n-sqs", "0"], "--n-sqs must be at least 1"),
])
def test_bad_mixing_input_one_line(tmp_path, args, message):
    p = subprocess.run([str(HECATHODE), "mixing", *args, "--out", str(tmp_path / "m")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
    assert not (tmp_path / "m" / "sqs").exists()  # refused before any work


# ------------------------------------------------------------------ a real CHGNet run

@pytest.mark.slow
def test_chgnet_mixing_cli_and_resume(tmp_path):
    """NaNi0.5Mn0.5O2 in one 16-atom SQS, CHGNet, loose settings: consistent numbers, files, resume."""
    out = tmp_path / "m"
    args = [str(HECATHODE), "mixing", "NaNi0.5Mn0.5O2", "-p", "o3", "-c", "chgnet", "--out", str(out),
            "--n-sqs", "1", "--max-atoms", "16", "--min-width", "0", "--fmax", "0.1", "--steps", "80",
            "--sqs-steps", "500", "--sqs-runs", "2", "--synthesis-temperature", "1173"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads((out / "mixing.json").read_text())
    assert (out / "mixing.png").read_bytes()[:4] == b"\x89PNG"
    energies = {e["name"]: e for e in doc["energies"]}
    assert set(energies) == {"end-Ni", "end-Mn", "sqs-000"}
    assert energies["end-Ni"]["converged"] and energies["end-Mn"]["converged"]
    # ΔH_mix recomputed from the relax.json files on disk
    disk = {n: json.loads((out / e["relax_json"]).read_text())["energy_eV"] for n, e in energies.items()}
    row = doc["per_sqs"][0]
    n = row["counts"]
    dh_cell = disk["sqs-000"] - n["Ni"] * disk["end-Ni"] - n["Mn"] * disk["end-Mn"]
    assert row["dH_mix_eV_per_mixing_site"] == pytest.approx(dh_cell / 4, abs=1e-9)
    assert row["dH_mix_meV_per_atom"] == pytest.approx(1000 * dh_cell / 16, abs=1e-6)
    assert abs(row["dH_mix_meV_per_atom"]) < 200  # a mixing energy, not a unit mix-up
    assert doc["dS_config_R"]["mean_R"] == pytest.approx(math.log(2))
    assert any("error scale" in note for note in doc["notes"])
    assert "ΔH_mix" in p.stdout and "chgnet" in p.stdout
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    doc2 = json.loads((out / "mixing.json").read_text())
    assert doc2["relaxations_run"] == 0 and doc2["relaxations_reused"] == 3
    assert doc2["per_sqs"] == doc["per_sqs"]
