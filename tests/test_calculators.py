"""Calculator presets and VASP inputs (no VASP needed; no DFT run here)."""


import numpy as np
import pytest
from ase.build import bulk

from calculators import CalculatorConfigError, get_calculator, resolve_settings
from calculators.presets import load_presets
from calculators.relax import CutoffTooLowError, relax
from calculators.vasp_calc import VaspUnavailableError, check_vasp_available, write_vasp_inputs


@pytest.fixture
def fake_potcars(tmp_path, monkeypatch):
    """A VASP_PP_PATH tree of FAKE POTCARs. Real POTCARs are licensed by the VASP group and
    must never be shipped or downloaded; each fake file holds only its folder name."""
    root = tmp_path / "potcars"
    names = load_presets("vasp")["default"]["potcars"].values()
    for name in names:
        folder = root / "potpaw_PBE" / name
        folder.mkdir(parents=True)
        (folder / "POTCAR").write_text(f"FAKE POTCAR {name} (test stand-in, not a VASP file)\n")
    monkeypatch.setenv("VASP_PP_PATH", str(root))
    return root


def read_incar(path):
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def expand(vasp_list: str) -> list[float]:
    """'2*0.6000 4*5.0000' -> [0.6, 0.6, 5, 5, 5, 5]"""
    values = []
    for token in vasp_list.split():
        n, _, v = token.rpartition("*")
        values += [float(v)] * (int(n) if n else 1)
    return values


def per_atom(species, counts):
    return [s for s, n in zip(species, counts, strict=True) for _ in range(n)]


def poscar_species(path):
    lines = path.read_text().splitlines()
    return lines[5].split(), [int(n) for n in lines[6].split()]


# ---- presets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chgnet", "sevenn", "gpaw", "vasp"])
def test_every_shipped_preset_validates(name):
    presets = load_presets(name)
    assert "default" in presets
    for preset in presets:
        label, settings = resolve_settings(name, None if preset == "default" else preset)
        assert label == preset and settings


def test_vasp_preset_matches_pymatgen_mp_relax_set():
    """The numbers in vasp.yaml are the Materials Project's (pymatgen's MPRelaxSet)."""
    from pymatgen.io.vasp.sets import MPRelaxSet

    mp = MPRelaxSet.CONFIG
    _, ours = resolve_settings("vasp")
    assert ours["encut"] == mp["INCAR"]["ENCUT"] == 520
    assert ours["reciprocal_density"] == mp["KPOINTS"]["reciprocal_density"]
    assert ours["ediff_per_atom"] == mp["INCAR"]["EDIFF_PER_ATOM"]
    assert ours["isif"] == mp["INCAR"]["ISIF"] == 3
    for anion in ("O", "F"):
        assert ours["hubbard_u"] == mp["INCAR"]["LDAUU"][anion]
    assert set(ours["hubbard_u"]) == {"Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W"}
    for el, potcar in ours["potcars"].items():
        assert potcar == mp["POTCAR"][el], el
    for el, m in ours["magmoms"].items():
        assert m == mp["INCAR"]["MAGMOM"][el], el


def test_named_preset_overrides_default_and_merges_mappings():
    _, fast = resolve_settings("gpaw", "fast")
    assert fast["ecut"] == 500 and fast["kpoint_density"] == 2.0
    assert fast["xc"] == "PBE"  # from default
    _, custom = resolve_settings("gpaw", "fast", hubbard_u={"Mn": 5.0})
    assert custom["hubbard_u"]["Mn"] == 5.0 and custom["hubbard_u"]["Ni"] == 6.2


@pytest.mark.parametrize("call, message", [
    (lambda: resolve_settings("castep"), "unknown calculator 'castep' (allowed: chgnet, sevenn, gpaw, vasp)"),
    (lambda: resolve_settings("gpaw", "fastest"), "unknown gpaw preset 'fastest' (allowed: default, fast"),
    (lambda: resolve_settings("gpaw", ecutt=600), "unknown key 'ecutt' for gpaw (allowed: "),
    (lambda: resolve_settings("gpaw", ecut="high"), "ecut must be a integer or number, got 'high'"),
    (lambda: resolve_settings("chgnet", threads=1.5), "threads must be a integer or null"),
])
def test_bad_settings_are_one_line_input_errors(call, message):
    with pytest.raises(CalculatorConfigError) as exc:
        call()
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_preset_file_with_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("ecut: 600\nkpts: 4\n")
    with pytest.raises(CalculatorConfigError, match=r"mine.yaml: unknown key 'kpts' for gpaw"):
        resolve_settings("gpaw", str(path))
    path.write_text("ecut: 600\n")
    label, settings = resolve_settings("gpaw", str(path))
    assert settings["ecut"] == 600 and settings["xc"] == "PBE"


def test_gpaw_cell_relax_below_500_ev_is_refused_before_any_work(tmp_path):
    atoms = bulk("NaF", "rocksalt", a=4.63)
    with pytest.raises(CutoffTooLowError, match=r"gpaw cutoff 300 eV is too low for a cell relaxation"):
        relax(atoms, "gpaw", ecut=300)
    calc = get_calculator("gpaw", ecut=400, directory=tmp_path)
    with pytest.raises(CutoffTooLowError, match="400 eV"):
        relax(atoms, calc)


def test_gpaw_calculator_settings_for_an_oxide(tmp_path):
    """High-spin moments from the table, U only on the TM of an oxide, k-grid from the density."""
    from calculators.gpaw_calc import gpaw_kpts

    mno = bulk("MnO", "rocksalt", a=4.445)
    calc = get_calculator("gpaw", "fast", atoms=mno, directory=tmp_path)
    assert list(mno.get_initial_magnetic_moments()) == [5.0, 0.0]
    assert calc.parameters["setups"] == {"Mn": ":d,3.9"}
    # fcc primitive |b| = sqrt(3)/a; n = ceil(2π · 2.0 · sqrt(3)/4.445) = ceil(4.90) = 5
    assert gpaw_kpts(mno, 2.0) == [5, 5, 5]
    metal = bulk("Mn", "bcc", a=2.9)
    no_anion = get_calculator("gpaw", atoms=metal, directory=tmp_path)
    assert no_anion.parameters["setups"] == "paw"  # a metal: no U


@pytest.mark.slow  # loads CHGNet and SevenNet
def test_mlip_models_load_once_and_use_the_available_cores(monkeypatch):
    import torch

    from structures.settings import n_cores

    monkeypatch.delenv("HECATHODE_TORCH_THREADS", raising=False)
    a, b = get_calculator("chgnet"), get_calculator("chgnet")
    assert a is not b and a.model is b.model
    assert torch.get_num_threads() == n_cores()
    s1, s2 = get_calculator("sevenn"), get_calculator("sevenn")
    assert s1.model is s2.model


# ---- VASP ------------------------------------------------------------------------------------


def test_vasp_inputs_for_an_sqs_keep_species_order_everywhere(o3_sqs, fake_potcars, tmp_path):
    atoms = o3_sqs.copy()
    calc = get_calculator("vasp", atoms=atoms, directory=tmp_path)
    written = write_vasp_inputs(calc, atoms, tmp_path)
    assert {p.name for p in written} == {"INCAR", "KPOINTS", "POSCAR", "ase-sort.dat", "POTCAR.spec",
                                         "POTCAR"}
    species, counts = poscar_species(tmp_path / "POSCAR")
    assert sorted(species) == ["Co", "Mn", "Na", "Ni", "O"] and sum(counts) == 48
    incar = read_incar(tmp_path / "INCAR")
    # MP MAGMOM table: Co 0.6 (low-spin Co3+), Mn 5, Ni 5, others 0.6 - in POSCAR order
    table = {"Co": 0.6, "Mn": 5.0, "Ni": 5.0, "Na": 0.6, "O": 0.6}
    assert expand(incar["MAGMOM"]) == [table[s] for s in per_atom(species, counts)]
    # LDAU arrays: one entry per POSCAR species; MP U (eV) on the oxide's TMs, L = 2 there
    mp_u = {"Co": 3.32, "Mn": 3.9, "Ni": 6.2}
    assert incar["LDAU"] == ".TRUE." and incar["LDAUTYPE"] == "2" and incar["LMAXMIX"] == "4"
    assert [float(x) for x in incar["LDAUU"].split()] == [mp_u.get(s, 0.0) for s in species]
    assert [int(x) for x in incar["LDAUL"].split()] == [2 if s in mp_u else -1 for s in species]
    assert [float(x) for x in incar["LDAUJ"].split()] == [0.0] * len(species)
    assert incar["ENCUT"].startswith("520") and incar["ISIF"] == "3" and incar["ISPIN"] == "2"
    assert float(incar["EDIFF"]) == pytest.approx(5e-5 * 48)
    # POTCARs: MP's choices, concatenated in the same species order
    mp_potcar = {"Co": "Co", "Mn": "Mn_pv", "Na": "Na_pv", "Ni": "Ni_pv", "O": "O"}
    titles = [line.split()[2] for line in (tmp_path / "POTCAR").read_text().splitlines()]
    assert titles == [mp_potcar[s] for s in species]
    assert (tmp_path / "POTCAR.spec").read_text().split() == titles


def test_vasp_magmom_order_follows_the_atoms_through_the_sort(o3_sqs, tmp_path, monkeypatch):
    monkeypatch.delenv("VASP_PP_PATH", raising=False)
    atoms = o3_sqs.copy()
    moments = np.arange(len(atoms), dtype=float) / 10  # a distinct moment on every atom
    atoms.set_initial_magnetic_moments(moments)
    calc = get_calculator("vasp", atoms=atoms, directory=tmp_path)
    written = write_vasp_inputs(calc, atoms, tmp_path)
    assert "POTCAR" not in {p.name for p in written}  # no VASP_PP_PATH: spec only
    sort = [int(line.split()[0]) for line in (tmp_path / "ase-sort.dat").read_text().splitlines()]
    assert expand(read_incar(tmp_path / "INCAR")["MAGMOM"]) == pytest.approx(moments[sort].tolist())
    species, counts = poscar_species(tmp_path / "POSCAR")
    assert [atoms[i].symbol for i in sort] == per_atom(species, counts)


def test_vasp_hubbard_u_only_for_oxides_and_fluorides(tmp_path, monkeypatch):
    monkeypatch.delenv("VASP_PP_PATH", raising=False)
    for atoms, has_u in ((bulk("MnO", "rocksalt", a=4.445), True),
                         (bulk("NaF", "rocksalt", a=4.63), False),
                         (bulk("Mn", "bcc", a=2.9), False)):
        calc = get_calculator("vasp", atoms=atoms, directory=tmp_path)
        write_vasp_inputs(calc, atoms, tmp_path)
        assert ("LDAU" in read_incar(tmp_path / "INCAR")) == has_u, atoms.get_chemical_formula()


def test_running_vasp_without_vasp_fails_in_one_line(monkeypatch):
    for var in ("ASE_VASP_COMMAND", "VASP_COMMAND", "VASP_SCRIPT", "VASP_PP_PATH"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(VaspUnavailableError, match="VASP is not available: set ASE_VASP_COMMAND"):
        check_vasp_available()
    monkeypatch.setenv("ASE_VASP_COMMAND", "vasp_std")
    with pytest.raises(VaspUnavailableError, match="set VASP_PP_PATH"):
        relax(bulk("NaF", "rocksalt", a=4.63), "vasp")
