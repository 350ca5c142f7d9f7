"""`hecathode relax` through the real console script: a CHGNet run, VASP/GPAW inputs, bad input."""

import json
import os
import subprocess

import pytest
from ase.build import bulk
from ase.io import read, write
from conftest import HECATHODE

from structures.io import write_structure
from structures.prototypes import parent_cell

# One torch thread per test process: on a 2-core machine that is doing anything else, torch's
# spinning OpenMP threads made these relaxations several times slower (measured: the four MLIP
# relaxations below took 634 s with 2 threads and 151 s with 1, on the same busy machine).
os.environ.setdefault("HECATHODE_TORCH_THREADS", "1")


def run(*args, env=None):
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def o3_file(tmp_path):
    """The labelled 4-atom O3 parent cell, strained 3 %, as extxyz (keeps site labels)."""
    atoms = parent_cell("o3")
    atoms.set_cell(atoms.cell * 1.03, scale_atoms=True)
    atoms.rattle(0.03, seed=1)
    return write_structure(tmp_path / "o3.extxyz", atoms)


@pytest.mark.slow
def test_relax_chgnet_writes_summary_and_labelled_structure(o3_file, tmp_path):
    out = tmp_path / "run"
    p = run("relax", str(o3_file), "--calculator", "chgnet", "--fmax", "0.02", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "relaxed with chgnet" in p.stdout and "converged" in p.stdout
    assert "step 0" in p.stderr  # progress: one line per step when stderr is not a terminal
    doc = json.loads((out / "relax.json").read_text())
    for key in ("energy_eV", "energy_per_atom_eV", "volume_A3", "lattice", "max_force_eV_per_A",
                "steps", "converged", "wall_time_s", "calculator", "preset"):
        assert key in doc
    assert doc["converged"] and doc["calculator"] == "chgnet"
    assert list(read(out / "relax.extxyz").arrays["site_label"]) == ["Na", "TM", "O", "O"]
    again = run("relax", str(o3_file), "-c", "chgnet", "--fmax", "0.02", "--out", str(out))
    assert again.returncode == 0 and "resumed at step" in again.stdout


@pytest.mark.slow
def test_write_inputs_vasp_without_vasp_and_gpaw_script(tmp_path, monkeypatch):
    cif = tmp_path / "mno.cif"
    write(cif, bulk("MnO", "rocksalt", a=4.445))
    env = {"VASP_PP_PATH": "", "ASE_VASP_COMMAND": ""}
    p = run("relax", str(cif), "-c", "vasp", "--write-inputs", "--out", str(tmp_path / "v"), env=env)
    assert p.returncode == 0, p.stderr
    for name in ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"):
        assert (tmp_path / "v" / name).is_file()
    assert (tmp_path / "v" / "POTCAR.spec").read_text().split() == ["Mn_pv", "O"]
    p = run("relax", str(cif), "-c", "gpaw", "--write-inputs", "--out", str(tmp_path / "g"))
    assert p.returncode == 0, p.stderr
    assert "mpiexec -n 4 gpaw python run_gpaw.py" in p.stdout
    assert "relax(atoms, \"gpaw\"" in (tmp_path / "g" / "run_gpaw.py").read_text()
    assert read(tmp_path / "g" / "input.extxyz").get_chemical_formula() == "MnO"


@pytest.mark.parametrize("args, message", [
    (["relax", "{tmp}/missing.cif", "-c", "chgnet", "--out", "{tmp}/o"], "structure file not found"),
    (["relax", "{o3}", "-c", "castep", "--out", "{tmp}/o"], "unknown calculator 'castep'"),
    (["relax", "{o3}", "-c", "gpaw", "--preset", "huge", "--out", "{tmp}/o"], "unknown gpaw preset 'huge'"),
    (["relax", "{o3}", "-c", "gpaw", "--preset", "{tmp}/typo.yaml", "--out", "{tmp}/o"],
     "unknown key 'ecutt' for gpaw"),
    (["relax", "{o3}", "-c", "gpaw", "--preset", "{tmp}/low.yaml", "--out", "{tmp}/o"],
     "gpaw cutoff 300 eV is too low for a cell relaxation"),
    (["relax", "{o3}", "-c", "vasp", "--out", "{tmp}/o"], "VASP is not available"),
    (["relax", "{o3}", "-c", "chgnet", "--optimizer", "lbfgsx", "--out", "{tmp}/o"],
     "unknown optimizer 'lbfgsx'"),
    (["relax", "{o3}", "-c", "chgnet", "--write-inputs", "--out", "{tmp}/o"],
     "--write-inputs applies to vasp and gpaw"),
])
def test_bad_relax_input_is_one_line_and_exit_2(args, message, o3_file, tmp_path):
    (tmp_path / "typo.yaml").write_text("ecutt: 600\n")
    (tmp_path / "low.yaml").write_text("ecut: 300\n")
    args = [a.format(tmp=tmp_path, o3=o3_file) for a in args]
    p = run(*args, env={"ASE_VASP_COMMAND": "", "VASP_COMMAND": "", "VASP_SCRIPT": ""})
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: ") and message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.slow
def test_relax_keeps_the_site_labels_of_a_hecathode_cif(tmp_path):
    # the SQS writer's CIF carries labels as <site_label>_<n>; relax reads them back (one
    # reader for user files), so the relaxed extxyz still says which site is which
    from workflows.studies.sqs_set import write_structure_files

    atoms = parent_cell("nvpf")
    write_structure_files(atoms, tmp_path / "nvpf")
    out = tmp_path / "run"
    p = run("relax", str(tmp_path / "nvpf.cif"), "--calculator", "chgnet", "--fixed-cell",
            "--steps", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    relaxed = read(next(out.glob("*.extxyz")))
    assert sorted(set(relaxed.arrays["site_label"])) == sorted(set(atoms.arrays["site_label"]))
    assert {"Na1", "Na2"} <= set(relaxed.arrays["site_label"])
