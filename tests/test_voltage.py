"""Voltage and strain on desodiation: the hull arithmetic on hand-made energies (exact voltages and
energy above the hull), the whole study with a toy calculator whose E(Na_x) is known, resume,
bad input (one line, exit 2), a real CHGNet run (slow) and a GPAW voltage (dft, slow)."""

import json
import subprocess

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from conftest import HECATHODE

from structures.composition import assign_sublattices
from workflows.report.voltage import plot_strain, plot_voltage
from workflows.studies import relaxations as relaxations_module
from workflows.studies.voltage import voltage_study
from workflows.studies.voltage_hull import HullError, HullState, voltage_hull
from workflows.studies.voltage_states import VoltageInputError, na_contents

E_NA_METAL = -1.3  # eV/atom, the hand-made bcc Na


def _cell(n_na: int) -> Atoms:
    """Two formula units of Na_x CoO2 (positions irrelevant to the arithmetic)."""
    symbols = ["Na"] * n_na + ["Co"] * 2 + ["O"] * 4
    positions = np.random.default_rng(n_na).random((len(symbols), 3)) * 5
    return Atoms(symbols, positions=positions, cell=[5, 5, 5], pbc=True)


def test_hull_voltages_and_energy_above_hull_are_exact():
    # energies per formula unit at x = 0, 0.5, 1 (cells of 2 f.u.), and a second x = 0.5 state
    # 0.4 eV/f.u. above the stable one: reported with exactly that energy above the hull.
    e_fu = {0: -5.0, 1: -7.0, 2: -8.75}  # key: Na in the 2-f.u. cell
    states = [HullState(f"x{k}", _cell(k), 2 * e, 2.0) for k, e in e_fu.items()]
    states.append(HullState("x1-high", _cell(1), 2 * -6.6, 2.0))
    hull = voltage_hull(states, E_NA_METAL)

    def v(x1, e1, x2, e2):  # V = −(E(x2) − E(x1) − (x2 − x1) E_Na)/(x2 − x1)
        return -(e2 - e1 - (x2 - x1) * E_NA_METAL) / (x2 - x1)

    steps = {(s.na_low_per_fu, s.na_high_per_fu): s.voltage_V for s in hull.steps}
    assert steps[(0.0, 0.5)] == pytest.approx(v(0, -5.0, 0.5, -7.0), abs=1e-9)  # 2.7 V
    assert steps[(0.5, 1.0)] == pytest.approx(v(0.5, -7.0, 1.0, -8.75), abs=1e-9)  # 2.2 V
    assert hull.average_voltage_V == pytest.approx(v(0, -5.0, 1.0, -8.75), abs=1e-9)  # 2.45 V
    assert hull.stable == ["x0", "x1", "x2"]
    (above,) = hull.above_hull
    assert above["name"] == "x1-high"
    assert above["e_above_hull_eV_per_fu"] == pytest.approx(-6.6 - -7.0, abs=1e-9)
    assert above["e_above_hull_eV_per_atom"] == pytest.approx(0.4 / 3.5, abs=1e-9)  # 3.5 atoms per f.u.


def test_hull_drops_an_intermediate_content_above_the_line():
    # x = 0.5 lies 0.1 eV/f.u. above the line from x = 0 to 1: one step, one state above the hull
    states = [HullState("x0", _cell(0), 2 * -5.0, 2.0), HullState("x2", _cell(2), 2 * -9.0, 2.0),
              HullState("x1", _cell(1), 2 * (-7.0 + 0.1), 2.0)]
    hull = voltage_hull(states, E_NA_METAL)
    assert len(hull.steps) == 1
    assert hull.steps[0].voltage_V == pytest.approx(-(-9.0 + 5.0 - E_NA_METAL), abs=1e-9)
    assert [a["name"] for a in hull.above_hull] == ["x1"]
    assert hull.above_hull[0]["e_above_hull_eV_per_fu"] == pytest.approx(0.1, abs=1e-9)


def test_hull_refuses_one_content_and_two_frameworks():
    with pytest.raises(HullError, match="two Na contents"):
        voltage_hull([HullState("a", _cell(1), -10.0, 2.0), HullState("b", _cell(1), -11.0, 2.0)], -1.3)
    other = Atoms("NaNi2O4", positions=np.random.default_rng(0).random((7, 3)) * 5, cell=[5] * 3, pbc=True)
    with pytest.raises(HullError, match="framework"):
        voltage_hull([HullState("a", _cell(2), -10.0, 2.0), HullState("b", other, -11.0, 2.0)], -1.3)


def test_na_contents_in_range_and_as_fractions():
    nvpf = assign_sublattices("Na3V2(PO4)2F3", "nvpf")
    assert na_contents(nvpf, na=[1, 3, 2]) == [3.0, 2.0, 1.0]
    assert na_contents(nvpf, x=[1, 0.5]) == [3.0, 1.5]
    with pytest.raises(VoltageInputError, match=r"outside \[1, 3\].*residual Na 1"):
        na_contents(nvpf, na=[3, 0.5])
    with pytest.raises(VoltageInputError, match="not both"):
        na_contents(nvpf, na=[3, 1], x=[1, 0.5])
    with pytest.raises(VoltageInputError, match="two Na contents"):
        na_contents(nvpf, na=[3, 3])


# ------------------------------------------------------------------ the study with a toy calculator

E_SITE = {"Na": -3.0, "Ni": -5.0, "Mn": -6.0, "O": -4.0}
CURVATURE_EV = 0.8  # E per f.u. gains c·x²: every content on the hull, known steps


class Quadratic(Calculator):
    """E = Σ ε_el + c n_Na² / n_Ni (so E per f.u. = const + ε_Na x + c x²); zero forces and stress,
    every relaxation converges at step 0."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self):
        super().__init__()
        self.hecathode = {"calculator": "quadratic", "preset": None, "settings": {}}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        sym = atoms.get_chemical_symbols()
        n_na, n_tm = sym.count("Na"), sym.count("Ni") + sym.count("Mn")
        energy = sum(E_SITE[s] for s in sym) + (CURVATURE_EV * n_na**2 / n_tm if n_tm else 0.0)
        self.results = {"energy": energy, "free_energy": energy, "forces": np.zeros((len(atoms), 3)),
                        "stress": np.zeros(6)}


def test_study_voltages_from_known_energies_and_resume(tmp_path, monkeypatch):
    out = tmp_path / "v"
    result = voltage_study("NaNiO2", "o3", out, x=[1, 0.5, 0], calculators=[Quadratic()])
    doc = json.loads((out / "voltage.json").read_text())
    e_na = E_SITE["Na"]  # bcc Na: one Na, no Ni
    # step x1 -> x2: V = −(ε_Na + c (x1 + x2) − E_Na)
    expected = {(0.0, 0.5): -(E_SITE["Na"] + CURVATURE_EV * 0.5 - e_na),
                (0.5, 1.0): -(E_SITE["Na"] + CURVATURE_EV * 1.5 - e_na)}
    steps = {(s["na_low_per_fu"], s["na_high_per_fu"]): s["voltage_V"] for s in doc["voltage_steps"]}
    assert steps == pytest.approx(expected, abs=1e-6)
    assert doc["average_voltage_V"] == pytest.approx(-CURVATURE_EV, abs=1e-6)
    # three symmetry-distinct orderings at x = 0.5 (2-cell supercells), all degenerate here
    assert {s["search"] for s in doc["states"] if s["na_per_fu"] == 0.5} == {"enumeration"}
    assert sum(s["na_per_fu"] == 0.5 for s in doc["states"]) == 3
    assert all(s["calculator"] == "quadratic" and s["converged"] for s in doc["states"])
    assert (out / "quadratic" / "pristine" / "na-0.5" / "ord-00" / "relax.json").is_file()
    assert result.relaxations_run == 6 and result.relaxations_reused == 0  # 5 states + bcc Na
    plot_voltage(doc, tmp_path / "voltage.png")
    plot_strain(doc, tmp_path / "strain.png")
    assert (tmp_path / "voltage.png").stat().st_size > 0 and (tmp_path / "strain.png").stat().st_size > 0

    def no_relax(*args, **kwargs):
        raise AssertionError("a finished relaxation was run again")

    monkeypatch.setattr(relaxations_module, "relax", no_relax)
    again = voltage_study("NaNiO2", "o3", out, x=[1, 0.5, 0], calculators=[Quadratic()])
    assert again.relaxations_run == 0 and again.relaxations_reused == 6
    assert again.to_json()["average_voltage_V"] == pytest.approx(doc["average_voltage_V"])


def test_study_reports_states_above_the_hull(tmp_path):
    # concave in x (negative curvature): x = 0.5 lies above the line from x = 0 to 1
    class Concave(Quadratic):
        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            sym = atoms.get_chemical_symbols()
            n_na, n_ni = sym.count("Na"), sym.count("Ni")
            if n_ni:
                self.results["energy"] -= 2 * CURVATURE_EV * n_na**2 / n_ni

    doc = voltage_study("NaNiO2", "o3", tmp_path, x=[1, 0.5, 0], calculators=[Concave()]).to_json()
    assert len(doc["voltage_steps"]) == 1
    above = [a for a in doc["above_hull"] if a["na_per_fu"] == 0.5]
    assert len(above) == 3  # every ordering at x = 0.5, with its exact energy above the line
    # E/f.u. = const + ε x − c x²: above the chord at x = 0.5 by c/4
    assert all(a["e_above_hull_eV_per_fu"] == pytest.approx(CURVATURE_EV / 4, abs=1e-6) for a in above)


@pytest.mark.slow
def test_pristine_beside_high_entropy(tmp_path, capsys):
    from workflows.cli.voltage import _print_voltage

    small = {"max_atoms": 16, "min_width_A": 0.0, "sqs_steps": 200, "n_sqs": 2}
    doc = voltage_study("NaNi0.5Mn0.5O2", "o3", tmp_path, x=[1, 0.5, 0], calculators=[Quadratic()],
                        pristine="NaNiO2", n_relax=1, **small).to_json()
    assert (tmp_path / "pristine" / "voltage.json").is_file()
    comp = doc["comparison"]
    assert comp["pristine"]["formula"] == "NaNiO2" and comp["same_na_per_fu"]
    assert [h["kind"] for h in doc["hosts"]] == ["sqs"] * len(doc["hosts"])
    assert all(s["search"] != "enumeration" for s in doc["states"] if s["na_per_fu"] == 0.5)
    # the toy E(x) depends only on x, so HE and pristine give the same voltage: difference 0
    diff = comp["difference_he_minus_pristine"]["quadratic"]
    assert diff["average_voltage_V"] == pytest.approx(0.0, abs=1e-6)
    plot_voltage(doc, tmp_path / "voltage.png")
    plot_strain(doc, tmp_path / "strain.png")
    _print_voltage(doc)
    assert "Pristine NaNiO2" in capsys.readouterr().out


# ------------------------------------------------------------------ bad input through the CLI

def run(*args):
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, words", [
    (["Na3V2(PO4)2F3", "-p", "nvpf", "--na", "3,0.5"], ["outside [1, 3]", "residual Na 1"]),
    (["NaNiO2", "-p", "o3", "--x", "1,1.5"], ["outside [0, 1]"]),
    (["Na3V2(PO4)2F3", "-p", "nvpf", "--na", "3,1", "--max-orderings", "20"],
     ["symmetry-distinct orderings", "more than max_orderings=20", "--max-orderings"]),
    (["NaNiO2", "-p", "o3", "--na", "1,0", "--x", "1,0"], ["not both"]),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, words):
    proc = run("voltage", *args, "--out", str(tmp_path / "v"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    text = " ".join(lines[0].split())
    assert all(w in text for w in words), text
    assert not (tmp_path / "v" / "chgnet").exists()  # refused before any relaxation


# ------------------------------------------------------------------ real calculators

@pytest.mark.slow
def test_chgnet_voltage_of_nanio2(tmp_path):
    # Measured (CHGNet 0.3, fmax 0.1, 2 cores): steps 2.91 V (1 -> 0.5), 3.78 V (0.5 -> 0), average
    # 3.34 V, ΔV per host atom -14.4 % (NiO2 collapses), ~30 s.
    proc = run("voltage", "NaNiO2", "-p", "o3", "--x", "1,0.5,0", "--fmax", "0.1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "voltage.json").read_text())
    assert 2.0 < doc["average_voltage_V"] < 5.0
    assert doc["volume_change_percent"] < 0  # the host shrinks on desodiation
    assert all(s["calculator"] == "chgnet" for s in doc["states"])
    assert (tmp_path / "voltage.png").is_file() and (tmp_path / "strain.png").is_file()
    assert "average" in proc.stdout


@pytest.mark.dft
@pytest.mark.slow
def test_gpaw_voltage_of_nanio2(tmp_path):
    # PBE (no U: no anion triggers it; no spin: zero start moments), 300 eV, fixed cells at the
    # model lattice: NaNiO2 (4 atoms), NiO2 (3) and bcc Na (1), a few BFGS steps each. Measured:
    # 2.30 V in ~130 s on 2 cores. Plain GGA underestimates such voltages (Zhou et al. 2004).
    settings = {"ecut": 300, "kpoint_density": 1.5, "magmoms": {"Ni": 0}, "hubbard_u_anions": []}
    result = voltage_study("NaNiO2", "o3", tmp_path, na=[1, 0], calculators=("gpaw",), preset="fast",
                           calculator_settings=settings, relax_cell=False, fmax=0.1, steps=4)
    doc = result.to_json()
    assert doc["calculator"] == "gpaw" and all(s["calculator"] == "gpaw" for s in doc["states"])
    assert 1.0 < doc["average_voltage_V"] < 6.0
    assert doc["volume_change_percent"] == pytest.approx(0.0, abs=1e-9)  # same fixed cell, same host
    assert any("cells fixed" in n for n in doc["notes"])
