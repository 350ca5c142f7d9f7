"""SQS: supercell planning, icet annealing, quality against random occupations, files."""

import json
import math
import subprocess

import numpy as np
import pytest
from ase import Atoms
from ase.io import read
from conftest import HECATHODE
from hypothesis import given
from hypothesis import strategies as st

from structures.composition import assign_sublattices
from structures.prototypes import load_structure, parent_cell
from structures.sqs import (
    SQSError,
    achieved_entropy,
    choose_supercell,
    largest_remainder,
    perpendicular_widths,
    plan_supercells,
    warren_cowley,
)

HEO3 = "NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2"
HENVPF = "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3"


def cli(*args):
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, timeout=600)


@given(st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6), st.integers(1, 60))
def test_largest_remainder_sums_and_keeps_species(weights, n):
    total = sum(weights)
    fractions = {f"S{i}": w / total for i, w in enumerate(weights)}
    counts = largest_remainder(fractions, n)
    if len(fractions) > n:
        assert counts == {}
        return
    assert sum(counts.values()) == n
    assert all(c >= 1 for c in counts.values())
    plain = largest_remainder(fractions, n, keep_all=False)
    assert sum(plain.values()) == n
    # without keep_all every count is within one of x*n
    assert all(abs(plain[k] - fractions[k] * n) < 1 for k in fractions)


def test_widths_of_a_cube():
    assert perpendicular_widths(np.eye(3) * 5.0) == pytest.approx([5, 5, 5])


def test_nvpf_plan_explains_exact_size_and_nearest_composition():
    comp = assign_sublattices(HENVPF, "nvpf")
    parent = parent_cell("nvpf")
    plan = plan_supercells(comp, parent, max_atoms=160)
    # 0.01 site fractions need 100 TM sites per repeat; the 72-atom cell has 8 TM sites:
    # lcm(8, 100) = 200 sites = 25 cells = 1800 atoms
    assert plan.exact_n_cells == 25
    option, notes = choose_supercell(plan, parent)
    assert option.n_atoms == 144
    assert option.counts["TM"] == {"V": 11, "Ca": 1, "Mg": 1, "Al": 1, "Cr": 1, "Mn": 1}
    assert "multiple of 100 TM sites" in notes[0] and "1800 atoms" in notes[0]
    # -Σ x ln x for 11/16 V and five 1/16 dopants
    expected = -(11 / 16 * math.log(11 / 16) + 5 / 16 * math.log(1 / 16))
    assert achieved_entropy(comp, option) == pytest.approx(expected)
    with pytest.raises(SQSError, match="drop --exact"):
        choose_supercell(plan, parent, exact=True)


def test_p2_sodium_vacancies_are_a_species():
    comp = assign_sublattices("Na0.67Ni0.33Mn0.67O2", "p2")
    plan = plan_supercells(comp, parent_cell("p2"), max_atoms=120)
    assert plan.targets["Na"]["X"] == pytest.approx(0.33)


def test_warren_cowley_of_a_checkerboard():
    # simple cubic, A/B alternating: every 1st neighbour unlike (α_AB = 1 - 1/0.5 = -1,
    # α_AA = +1), every 2nd neighbour (face diagonal) alike (signs swap); mean |α| = 1
    n, a = 4, 3.0
    pos = [(i, j, k) for i in range(n) for j in range(n) for k in range(n)]
    atoms = Atoms(["Au" if sum(p) % 2 else "Cu" for p in pos], positions=np.array(pos) * a,
                  cell=np.eye(3) * n * a, pbc=True)
    shells = warren_cowley(atoms, np.ones(len(atoms), bool))
    assert [s["distance_A"] for s in shells] == pytest.approx([3.0, 3 * math.sqrt(2)])
    assert shells[0]["alpha"]["Au-Cu"] == pytest.approx(-1)
    assert shells[0]["alpha"]["Au-Au"] == pytest.approx(1)
    assert shells[1]["alpha"]["Au-Au"] == pytest.approx(-1)
    assert all(s["mean_abs_alpha"] == pytest.approx(1) for s in shells)


@pytest.fixture(scope="module")
def o3_sqs(tmp_path_factory):
    out = tmp_path_factory.mktemp("o3")
    p = cli("sqs", HEO3, "--prototype", "o3", "--max-atoms", "120", "--n-structures", "3",
            "--seed", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    return out, json.loads((out / "sqs.json").read_text())


@pytest.mark.slow  # anneals 16 SQS runs
def test_o3_sqs_exact_distinct_and_better_than_random(o3_sqs):
    out, doc = o3_sqs
    assert len(doc["structures"]) == 3
    assert doc["exact"] and doc["supercell"]["n_atoms"] == 120
    assert doc["supercell"]["min_width_A"] >= 8.0
    assert doc["entropy_achieved_R"] == pytest.approx(math.log(5))
    occupations = set()
    for s in doc["structures"]:
        atoms = read(out / s["extxyz"])
        tm = atoms.arrays["site_label"] == "TM"
        symbols = np.array(atoms.get_chemical_symbols())[tm]
        for el in ("Mn", "Fe", "Co", "Ni", "Ti"):
            assert np.sum(symbols == el) == 6  # exactly 0.2 of 30 TM sites
        occupations.add(tuple(atoms.get_chemical_symbols()))
        # correlations closer to the random alloy than random occupations of the same cell
        assert s["cv_deviation_norm"] < s["random_cv_deviation_norm_mean"]
        assert s["icet_score"] < s["random_score_mean"]
        assert s["warren_cowley"]["TM"][0]["mean_abs_alpha"] < s["random_mean_abs_alpha"]["TM"][0]
    assert len(occupations) == 3
    assert (out / "sqs.png").stat().st_size > 10000


@pytest.mark.slow  # anneals 16 SQS runs
def test_o3_sqs_same_seed_same_output(o3_sqs, tmp_path):
    out, doc = o3_sqs
    p = cli("sqs", HEO3, "--prototype", "o3", "--max-atoms", "120", "--n-structures", "3",
            "--seed", "1", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    again = json.loads((tmp_path / "sqs.json").read_text())
    assert [s["seed"] for s in again["structures"]] == [s["seed"] for s in doc["structures"]]
    for s in doc["structures"]:
        a, b = read(out / s["extxyz"]), read(tmp_path / s["extxyz"])
        assert a.get_chemical_symbols() == b.get_chemical_symbols()


@pytest.mark.slow  # anneals 16 SQS runs
def test_labels_survive_in_cif_and_extxyz(o3_sqs):
    out, doc = o3_sqs
    ext = read(out / "sqs-000.extxyz")
    cif = load_structure(out / "sqs-000.cif")
    # pymatgen may reorder CIF sites: match atoms by position
    def by_position(atoms):
        frac = np.round(atoms.get_scaled_positions(wrap=True), 4) % 1.0
        return sorted((tuple(f), sym, lab) for f, sym, lab in
                      zip(frac, atoms.get_chemical_symbols(), atoms.arrays["site_label"], strict=True))
    assert by_position(cif) == by_position(ext)
    assert set(ext.arrays["site_label"]) == {"Na", "TM", "O"}
    # what NEB needs from an SQS file: its prototype and the crystal axes (hexagonal a, b, c)
    assert ext.info["prototype"] == "o3"
    assert np.reshape(ext.info["conventional_cell"], (3, 3))[2] == pytest.approx([0, 0, 15.91])


@pytest.mark.slow  # anneals 16 SQS runs
def test_nvpf_cli_builds_nearest_and_reports_both_entropies(tmp_path):
    p = cli("sqs", HENVPF, "--prototype", "nvpf", "--max-atoms", "160", "--steps", "3000",
            "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "sqs.json").read_text())
    assert doc["entropy_target_R"] == pytest.approx(0.279, abs=1e-3)
    assert doc["entropy_achieved_R"] == pytest.approx(1.124, abs=1e-3)
    assert doc["exact_supercell"] == {"n_cells": 25, "n_atoms": 1800}
    assert "nearest representable" in p.stdout and "0.279 R" in p.stdout and "1.124 R" in p.stdout
    atoms = read(tmp_path / "sqs-000.extxyz")
    assert set(atoms.arrays["site_label"]) == {"Na1", "Na2", "TM", "P", "O", "F"}


@pytest.mark.parametrize("args,message", [
    ((HEO3, "-p", "o3", "--max-atoms", "10"), "raise --max-atoms to 20"),
    ((HEO3, "-p", "o3", "--max-atoms", "20"), "perpendicular width >= 8 Å"),
    (("NaMn0.5Xe0.5O2", "-p", "o3"), "Xe"),
    ((HEO3, "-p", "nfpp"), "pass a structure file"),
    ((HENVPF, "-p", "nvpf", "--exact"), "drop --exact"),
    ((HEO3, "-p", "o3", "--cutoffs", "6,x"), "--cutoffs"),
])
def test_bad_sqs_input_one_line(tmp_path, args, message):
    p = cli("sqs", *args, "--out", str(tmp_path / "out"))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], p.stderr
    assert not (tmp_path / "out" / "sqs.json").exists()


@pytest.mark.slow
def test_unknown_site_label_in_user_structure(tmp_path, o3_sqs):
    out, _ = o3_sqs
    p = cli("sqs", HEO3, "-p", "o3", "--structure", str(out / "sqs-000.cif"), "--site-map", "Q=TM",
            "--out", str(tmp_path))
    assert p.returncode == 2 and "names Q" in p.stderr


@pytest.mark.slow
def test_supercell_listing_json():
    p = cli("supercell", HEO3, "-p", "o3", "--max-atoms", "60", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    exact = [r["n_atoms"] for r in doc["supercells"] if r["exact"]]
    assert exact == [20, 40, 60]
    assert doc["exact_supercell"] == {"n_cells": 5, "n_atoms": 20}
