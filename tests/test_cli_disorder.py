"""Disordered structure files through the command line: entropy, check, supercell, sqs (with the
Na sites ordered first or mixed), orderings, and the bad inputs (one line, exit 2, nothing written)."""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from conftest import HECATHODE

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "prototypes"
P2 = REF / "P2_Na0.67Ni0.33Mn0.67O2_P63mmc_MODEL.cif"
NVPF = REF / "NVPF_Na3V2P2O8F3_P42mnm_disordered_MODEL.cif"
NVPF_PNNM = REF / "NVPF_Na3V2P2O8F3_ordered_Pnnm_CHGNet_MODEL.cif"
HE_P2 = "Na2/3Mn0.2Fe0.2Co0.2Ni0.2Cu0.2O2"
HE_NVPF = "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3"
SQS_KEYS = {"formula", "prototype", "parent", "notes", "target_site_fractions", "achieved_site_fractions",
            "achieved_counts", "max_deviation", "exact", "entropy_target_R", "entropy_target_class",
            "entropy_achieved_R", "entropy_achieved_class", "exact_supercell", "supercell", "cutoffs_A",
            "active_sublattices", "n_runs", "n_steps", "seed", "distinct_structures_found", "icet_version",
            "structures"}

pytestmark = pytest.mark.skipif(not REF.is_dir(), reason=f"reference structures not found at {REF}")


def cli(*args):
    """The command in-process (typer's CliRunner: no interpreter start-up); .stdout, .stderr, .exit_code."""
    from typer.testing import CliRunner

    from workflows.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args) -> str:
    res = cli(*args)
    assert res.exit_code == 0, res.stderr[-2000:] or res.exception
    return res


def run(*args, check=True) -> subprocess.CompletedProcess:
    """The real console script, as a user runs it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HECATHODE_TORCH_THREADS": "1"}
    p = subprocess.run([str(HECATHODE), *map(str, args)], capture_output=True, text=True, timeout=1800,
                       env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr[-2000:]}")
    return p


def five_metal_p2(path: Path, fraction: float = 0.2) -> Path:
    """The P2 MODEL CIF with Mn, Fe, Co, Ni, Cu at `fraction` each on the TM site (Na over Na_f, Na_e)."""
    tm = "\n".join(f"  {el}1 {el} 2a 0 0 0 {fraction}" for el in ("Mn", "Fe", "Co", "Ni", "Cu"))
    lines = [tm if line.strip().startswith("M1Ni") else line for line in P2.read_text().splitlines()
             if not line.strip().startswith("M1Mn")]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def he_p2(tmp_path) -> Path:
    return five_metal_p2(tmp_path / "my_he_p2.cif")


def test_entropy_of_a_disordered_cif_equals_the_formula(he_p2):
    """Same keys as a formula; ΔS equal to 1e-6 R in every convention (R ln 5 on TM)."""
    for options in ([], ["--include-vacancies"], ["--per-formula-unit"]):
        p = ok("entropy", he_p2, "--json", *options)
        from_file = json.loads(p.stdout)
        written = json.loads(ok("entropy", HE_P2, "-p", "p2", "--json", *options).stdout)
        assert from_file["formula"] == HE_P2 and f"formula {HE_P2}" in p.stderr
        assert set(from_file) == set(written) and from_file["prototype"] == "p2"
        assert from_file["entropy_R"] == pytest.approx(written["entropy_R"], abs=1e-6)
        for label, sub in written["sublattices"].items():
            assert from_file["sublattices"][label]["entropy_R"] == pytest.approx(sub["entropy_R"], abs=1e-6)
    assert from_file["sublattices"]["TM"]["entropy_R"] == pytest.approx(math.log(5), abs=1e-6)


def test_check_of_a_cif_with_a_formula_override():
    """--formula puts another doping on the file's framework: the formula's own check, same keys."""
    p = ok("check", NVPF, "--formula", HE_NVPF, "--json")
    doc = json.loads(p.stdout)
    ref = json.loads(ok("check", HE_NVPF, "-p", "nvpf", "--json").stdout)
    assert set(doc) == set(ref)
    assert doc["entropy_R"] == pytest.approx(ref["entropy_R"], abs=1e-6)
    assert doc["oxidation_states"] == ref["oxidation_states"] and doc["charge_balanced"]
    assert any("sublattice mapping checked" in n for n in doc["notes"])
    assert f"--formula {HE_NVPF} on its framework" in p.stderr


def test_supercell_of_a_cif_lists_the_file_cells(he_p2):
    doc = json.loads(ok("supercell", he_p2, "--max-atoms", "30", "--json").stdout)
    ref = json.loads(ok("supercell", HE_P2, "-p", "p2", "--max-atoms", "30", "--json").stdout)
    assert set(doc) == set(ref) and doc["formula"] == HE_P2
    assert doc["atoms_per_parent_cell"] == 10  # 2 TM + 4 O + the 4 Na_f/Na_e positions
    assert doc["target_site_fractions"]["Naf+Nae"] == pytest.approx({"Na": 1 / 3, "X": 2 / 3})
    assert doc["exact_supercell"] == {"n_cells": 15, "n_atoms": 150}
    # --structure with a disordered CIF: the formula argument is its composition
    doped = json.loads(ok("supercell", HE_NVPF, "--structure", NVPF, "--max-atoms", "80", "--json").stdout)
    assert doped["formula"] == "Na3V1.9Ca0.02Mg0.02Al0.02Cr0.02Mn0.02P2O8F3"
    assert doped["atoms_per_parent_cell"] == 76
    assert doped["target_site_fractions"]["Na2"] == {"Na": 0.5, "X": 0.5}


@pytest.mark.slow
def test_sqs_of_a_five_metal_p2_cif_without_a_formula(he_p2, tmp_path):
    """The issue's first 'done when': Na ordered (Ewald-lowest, --n-relax 0 keeps this fast), the SQS
    mixes only the TM site, sqs.json has the formula keys, orderings.json every candidate."""
    out = tmp_path / "out"
    p = run("sqs", he_p2, "--max-atoms", "200", "--out", out, "--steps", "200", "--runs", "1",
            "--n-relax", "0")
    doc = json.loads((out / "sqs.json").read_text())
    assert set(doc) == SQS_KEYS and doc["formula"] == HE_P2
    assert doc["active_sublattices"] == ["Mn1+Fe1+Co1+Ni1+Cu1"]
    assert doc["parent"]["ordering"] == "Ewald rank 0" and doc["supercell"]["n_atoms"] <= 200
    orderings = json.loads((out / "orderings.json").read_text())
    assert orderings["n_found"] == 288 and orderings["kept"] == [0] and orderings["calculator"] is None
    assert [c["ewald_rank"] for c in orderings["candidates"]] == list(range(288))
    assert all(not c["relaxed"] for c in orderings["candidates"])
    from ase.io import read

    sqs = read(out / "sqs-000.extxyz")
    n_cells = doc["supercell"]["n_cells"]  # of the 22-atom ordered cell: 4 Na, 6 TM, 12 O
    assert sqs.get_chemical_symbols().count("Na") == 4 * n_cells and len(sqs) == 22 * n_cells
    assert {"Mn", "Fe", "Co", "Ni", "Cu"} <= set(sqs.get_chemical_symbols())
    assert (out / "orderings.png").is_file() and (out / "ordering-000.cif").is_file()
    assert "orderings of 4 Na on 12" in p.stdout


@pytest.mark.slow
def test_sqs_of_a_cif_with_na_in_the_sqs(he_p2, tmp_path):
    """--alkali sqs: Na_f and Na_e pooled into one Na/vacancy sublattice beside the TM one."""
    out = tmp_path / "out"
    ok("sqs", he_p2, "--alkali", "sqs", "--max-atoms", "60", "--min-width", "5", "--out", out,
       "--steps", "100", "--runs", "1")
    doc = json.loads((out / "sqs.json").read_text())
    assert set(doc) == SQS_KEYS
    assert set(doc["active_sublattices"]) == {"Mn1+Fe1+Co1+Ni1+Cu1", "Naf+Nae"}
    assert not (out / "orderings.json").exists()


@pytest.mark.slow
def test_nvpf_lowest_chgnet_ordering_is_the_shipped_pnnm(tmp_path):
    """The disordered NVPF MODEL CIF, --alkali lowest path with CHGNet (13 orderings, 5 relaxed at
    fixed cell): the kept ordering is the shipped CHGNet-ranked Pnnm cell; a rerun resumes."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    out = tmp_path / "nvpf"
    run("orderings", NVPF, "-c", "chgnet", "--out", out)
    doc = json.loads((out / "orderings.json").read_text())
    assert doc["n_found"] == 13 and doc["n_relax"] == 5 and doc["calculator"] == "chgnet"
    relaxed = [c for c in doc["candidates"] if c["relaxed"]]
    assert len(relaxed) == 5 and sorted(c["mlip_rank"] for c in relaxed) == list(range(5))
    kept = Structure.from_file(out / "ordering-000.cif")
    matcher = StructureMatcher(primitive_cell=False)
    assert matcher.fit(kept, Structure.from_file(NVPF_PNNM))
    again = run("orderings", NVPF, "-c", "chgnet", "--out", out)
    assert "fixed-cell relax" not in again.stderr  # every relaxation read back from relax.json
    assert json.loads((out / "orderings.json").read_text())["kept"] == doc["kept"]


def _over_full(tmp_path: Path) -> Path:
    return five_metal_p2(tmp_path / "over.cif", fraction=0.3)


BAD = [
    ("over-full site", lambda d, f: ["sqs", _over_full(d), "--out", d / "out"],
     "occupancies on position Mn1+Fe1+Co1+Ni1+Cu1 sum to 1.5"),
    ("too many orderings", lambda d, f: ["sqs", f, "--max-orderings", "100", "--out", d / "out"],
     "288 symmetry-distinct orderings of 4 Na on 12 sites, more than max_orderings=100; raise "
     "max_orderings (--max-orderings)"),
    ("no supercell holds the Na", lambda d, f: ["orderings", f, "--max-atoms", "20", "--out", d / "out"],
     "Naf/Nae: occupancy 0.3333 (1.33333 of 4 sites per cell) needs 3 parent cells (22 atoms) to be held "
     "exactly; within max_atoms=20 the closest is 3/8"),
    ("only Na disordered", lambda d, f: ["sqs", NVPF, "--out", d / "out"], "nothing is left to mix"),
    ("formula with a formula", lambda d, f: ["entropy", HE_P2, "--formula", HE_P2], "--formula overrides"),
    ("missing file", lambda d, f: ["entropy", d / "none.cif"], "structure file not found"),
    ("override that does not fit", lambda d, f: ["sqs", f, "--formula", "Na3V2(PO4)2F3", "--out", d / "out"],
     "P fits no sublattice"),
]


@pytest.mark.parametrize("case,args,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(he_p2, tmp_path, case, args, message):
    res = cli(*args(tmp_path, he_p2))
    assert res.exit_code == 2, res.stderr
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- downstream: relax, neb, campaigns

HE_O3 = (Path(__file__).parent / "data" / "he_o3_five_metals.cif").read_text()  # Na(MnFeCoNiTi)0.2O2
SMALL_SQS = {"max_atoms": 60, "min_width": 5.0, "n_steps": 200, "n_runs": 1}


def test_cells_of_a_mixed_cif_are_an_sqs_built_once(tmp_path):
    """The helper behind `relax my.cif`, `neb --structure my.cif` and campaign materials: a mixed TM
    site gives an SQS (said in the note), read back on a rerun; an ordered file gives None."""
    from workflows.studies.disordered_cells import cells_from_disordered

    path = tmp_path / "he_o3.cif"
    path.write_text(HE_O3)
    cells = cells_from_disordered(path, tmp_path / "built", sqs_options=SMALL_SQS)
    assert cells.kind == "sqs" and len(cells.atoms) == 1
    assert "he_o3.cif is disordered (Mn1+Fe1+Co1+Ni1+Cr1 mixed)" in cells.note and "SQS" in cells.note
    assert {"Mn", "Fe", "Co", "Ni", "Cr"} <= set(cells.atoms[0].get_chemical_symbols())
    stamp = (tmp_path / "built" / "sqs.json").stat().st_mtime_ns
    again = cells_from_disordered(path, tmp_path / "built", sqs_options=SMALL_SQS)
    assert (tmp_path / "built" / "sqs.json").stat().st_mtime_ns == stamp
    assert again.atoms[0].get_chemical_symbols() == cells.atoms[0].get_chemical_symbols()
    assert cells_from_disordered(NVPF_PNNM, tmp_path / "x") is None


def test_campaign_material_from_a_structure_file(he_p2, tmp_path):
    """`structure: my.cif` instead of formula/prototype: formula derived, path resolved against the
    campaign file, a bad file refused at load time (one line)."""
    import yaml

    from workflows.fireworks.builders import CampaignError, build_workflow, load_campaign

    camp = tmp_path / "camp.yaml"
    camp.write_text(yaml.safe_dump({"name": "he", "materials": [
        {"name": "HE-P2", "structure": he_p2.name, "sqs": {"n_structures": 2}},
        {"name": "HE-NVPF", "structure": str(NVPF), "formula": HE_NVPF}]}))
    loaded = load_campaign(camp)
    p2, nvpf = loaded["materials"]
    assert p2["formula"] == HE_P2 and p2["prototype"] == "p2" and p2["structure"] == str(he_p2)
    assert nvpf["formula"] == HE_NVPF and nvpf["formula_override"] == HE_NVPF
    assert nvpf["prototype"] == "nvpf"
    wf = build_workflow(loaded, tmp_path / "run")
    names = sorted(fw.name for fw in wf.fws)
    assert "HE-P2 relax sqs-001" in names and "HE-NVPF relax cell" in names
    task = next(fw for fw in wf.fws if fw.name == "HE-P2 structures").tasks[0]
    assert task["material"]["structure"] == str(he_p2)
    five_metal_p2(tmp_path / "my_he_p2.cif", fraction=0.3)
    with pytest.raises(CampaignError, match=r"materials\[0\] \(HE-P2\): .* sum to 1.5"):
        load_campaign(camp)


def test_structures_document_of_a_campaign_material(tmp_path):
    """What the campaign's StructuresTask writes for `structure: my.cif`: the formula keys, the cells."""
    from workflows.studies.disordered_cells import structures_document

    path = tmp_path / "he_o3.cif"
    path.write_text(HE_O3)
    doc = structures_document({"name": "HE-O3", "structure": str(path), "prototype": "o3",
                               "sqs": {"n_structures": 1, **SMALL_SQS}}, tmp_path / "cells")
    assert doc["kind"] == "sqs" and doc["formula"] == "NaMn0.2Fe0.2Co0.2Ni0.2Cr0.2O2"
    assert doc["entropy_target_R"] == pytest.approx(math.log(5), abs=1e-6)
    assert len(doc["structures"]) == 1 and Path(doc["structures"][0]["file"]).is_file()
    assert "quality" in doc["structures"][0] and "is disordered" in doc["notes"][0]


@pytest.mark.slow
def test_relax_of_a_disordered_cif_runs_on_its_sqs(tmp_path):
    """`hecathode relax my.cif`: the SQS is built first (OUT/disordered/), a note says so."""
    path = tmp_path / "he_o3.cif"
    path.write_text(HE_O3)
    out = tmp_path / "relax"
    p = run("relax", path, "-c", "chgnet", "--out", out, "--steps", "2", "--fixed-cell")
    assert "is disordered" in p.stderr and (out / "disordered" / "sqs.json").is_file()
    doc = json.loads((out / "relax.json").read_text())
    sqs = json.loads((out / "disordered" / "sqs.json").read_text())
    assert doc["natoms"] == sqs["structures"][0]["n_atoms"]


def test_orderings_study_refuses_a_folder_of_another_ordering(tmp_path):
    """A rerun resumes only the same orderings: a folder holding another one is refused before
    any MLIP is loaded (and --n-relax 0 ranks by Ewald alone, writing the kept ordering)."""
    from ase.build import bulk

    from structures.disorder import read_disordered
    from structures.io import write_structure
    from workflows.studies.disordered import DisorderedInputError
    from workflows.studies.orderings import OrderingOptions, order_alkali

    ds = read_disordered(NVPF)
    study = order_alkali(ds, tmp_path / "ewald", OrderingOptions(n_relax=0, n_keep=2))
    assert study.kept == [0, 1] and study.calculator is None and study.ewald_picks_mlip_minimum is None
    assert (tmp_path / "ewald" / "ordering-001.cif").is_file()
    assert json.loads((tmp_path / "ewald" / "orderings.json").read_text())["n_found"] == 13
    stale = tmp_path / "other" / "orderings" / "0" / "ordering.extxyz"
    write_structure(stale, bulk("NaCl", "rocksalt", a=5.6))
    with pytest.raises(DisorderedInputError, match="holds another ordering"):
        order_alkali(ds, tmp_path / "other", OrderingOptions(n_relax=1))
