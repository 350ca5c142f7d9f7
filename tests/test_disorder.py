"""Disordered crystals in: partially occupied CIFs -> orbits, compositions, entropy, SQS parent."""

import math
from pathlib import Path

import numpy as np
import pytest

from structures.composition import assign_sublattices
from structures.disorder import (
    DisorderError,
    alkali_merge,
    matching_prototype,
    override_composition,
    parent_atoms,
    prototype_mapping,
    read_disordered,
    site_composition,
)
from structures.entropy import configurational_entropy
from structures.errors import HecathodeInputError, SublatticeError
from structures.prototypes import parent_cell
from structures.sqs import choose_supercell, generate_sqs, plan_supercells, site_targets
from structures.sublattices import get_prototype

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "prototypes"
NVPF = REF / "NVPF_Na3V2P2O8F3_P42mnm_disordered_MODEL.cif"
NASICON = REF / "NASICON_Na3V2P3O12_R-3c_MODEL.cif"
P2 = REF / "P2_Na0.67Ni0.33Mn0.67O2_P63mmc_MODEL.cif"
O3 = REF / "O3_NaNi0.5Mn0.5O2_R-3m_MODEL.cif"
PBA = REF / "PBA_Na2MnFeCN6_Fm-3m_MODEL.cif"

pytestmark = pytest.mark.skipif(not REF.is_dir(), reason=f"reference structures not found at {REF}")

LN2, LN5 = math.log(2), math.log(5)
H_THIRD = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))  # 0.636514 R: Ni1/3 Mn2/3
H_QUARTER = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))  # 0.562335 R: Na3 on 4 sites


def test_nvpf_orbits_as_in_the_file():
    ds = read_disordered(NVPF)
    assert ds.spacegroup == "P4_2/mnm (136)" and ds.formula_units == 4
    assert ds.formula == "Na3V2P2O8F3"
    assert {k: s.multiplicity for k, s in ds.sublattices.items()} == {
        "Na1": 8, "Na2": 8, "V1": 8, "P1": 4, "P2": 4, "O1": 16, "O2": 8, "O3": 8, "F1": 4, "F2": 8}
    assert ds.sublattices["Na2"].species == {"Na": 0.5} and ds.sublattices["Na2"].vacancy == 0.5
    assert ds.partial() == ["Na2"]
    roles = {k: s.role for k, s in ds.sublattices.items()}
    assert roles["Na1"] == "alkali" and roles["V1"] == "mixing" and roles["P2"] == "centre"
    assert roles["F1"] == "anion"


# CIF, its prototype, orbit -> sublattice
MAPPINGS = [
    (NVPF, "nvpf", {"Na1": "Na", "Na2": "Na", "V1": "TM", "P1": "P", "P2": "P", "O1": "O", "O2": "O",
                    "O3": "O", "F1": "F", "F2": "F"}),
    (NASICON, "nasicon", {"Na1": "Na", "Na2": "Na", "V1": "TM", "P1": "P", "O1": "O", "O2": "O"}),
    (P2, "p2", {"M1Ni+M1Mn": "TM", "O1": "O", "Naf": "Na", "Nae": "Na"}),
    (O3, "o3", {"Na1": "Na", "M1Ni+M1Mn": "TM", "O1": "O"}),
    (PBA, "pba", {"Fe1": "B", "Mn1": "TM", "C1": "C", "N1": "N", "Na1": "Na"}),
]


@pytest.mark.parametrize("path,name,expected", MAPPINGS, ids=lambda x: getattr(x, "stem", None))
def test_model_cifs_map_onto_their_prototype(path, name, expected):
    ds = read_disordered(path)
    assert matching_prototype(ds) == name
    assert prototype_mapping(ds, name) == expected


@pytest.mark.parametrize("path,name", [(NVPF, "nvpf"), (NASICON, "nasicon")])
def test_same_sublattices_as_the_builtin_prototype(path, name):
    """Sites per formula unit of every sublattice equal the prototype's, and the built-in parent
    cell has the same sublattices."""
    ds = read_disordered(path)
    mapping = prototype_mapping(ds, name)
    per_fu: dict[str, float] = {}
    z = sum(ds.sublattices[o].multiplicity for o, t in mapping.items() if t == "TM") / 2
    for orbit, target in mapping.items():
        per_fu[target] = per_fu.get(target, 0.0) + ds.sublattices[orbit].multiplicity / z
    assert per_fu == {s.label: s.sites for s in get_prototype(name).sublattices}
    assert set(parent_cell(name).arrays["sublattice"]) == set(mapping.values())


def test_p2_file_has_two_na_sites_the_prototype_one():
    comp = site_composition(read_disordered(P2))
    assert comp.prototype.name == "p2"
    assert comp.sublattices["Na"].species == pytest.approx({"Na": 2 / 3})
    assert any("2 Na sites per f.u., prototype p2 1" in n for n in comp.notes)


# CIF, the equivalent formula, prototype, entropy (R, vacancies excluded), entropy with vacancies
ENTROPIES = [
    (NVPF, "Na3V2(PO4)2F3", "nvpf", 0.0, H_QUARTER),
    (NASICON, "Na3V2(PO4)3", "nasicon", 0.0, H_QUARTER),
    (P2, "Na2/3Ni1/3Mn2/3O2", "p2", H_THIRD, 2 * H_THIRD),
    (O3, "NaNi0.5Mn0.5O2", "o3", LN2, LN2),
    (PBA, "Na2Mn[Fe(CN)6]", "pba", 0.0, 0.0),
]


@pytest.mark.parametrize("path,formula,name,s0,s_vac", ENTROPIES, ids=lambda x: getattr(x, "stem", None))
def test_entropy_equals_the_equivalent_formula(path, formula, name, s0, s_vac):
    derived = site_composition(read_disordered(path))
    written = assign_sublattices(formula, name)
    assert derived.prototype.name == name
    for vac in (False, True):
        for per_fu in (False, True):
            a = configurational_entropy(derived, include_vacancies=vac, per_formula_unit=per_fu)
            b = configurational_entropy(written, include_vacancies=vac, per_formula_unit=per_fu)
            assert a.total_R == pytest.approx(b.total_R, abs=1e-6)
            assert a.per_sublattice_R == pytest.approx(b.per_sublattice_R, abs=1e-6)
    assert configurational_entropy(derived).total_R == pytest.approx(s0, abs=1e-6)
    assert configurational_entropy(derived, include_vacancies=True).total_R == pytest.approx(s_vac, abs=1e-6)


HE_O3 = (Path(__file__).parent / "data" / "he_o3_five_metals.cif").read_text()  # Na(MnFeCoNiTi)0.2O2


def test_five_metals_at_a_fifth_give_r_ln5(tmp_path):
    """Five metals at 0.2 on one site (space group from the H-M symbol, no symmetry loop)."""
    path = tmp_path / "he_o3.cif"
    path.write_text(HE_O3)
    ds = read_disordered(path)
    tm = ds.sublattices["Mn1+Fe1+Co1+Ni1+Cr1"]
    assert tm.species == {"Mn": 0.2, "Fe": 0.2, "Co": 0.2, "Ni": 0.2, "Cr": 0.2}
    assert tm.multiplicity == 3 and tm.role == "mixing"
    assert tm.oxidation_hints == {"Mn": 3, "Fe": 3, "Co": 3, "Ni": 3, "Cr": 3}
    assert ds.sublattices["O1"].oxidation_hints == {"O": -2}
    assert ds.formula == "NaMn0.2Fe0.2Co0.2Ni0.2Cr0.2O2"
    for prototype in ("auto", None):
        s = configurational_entropy(site_composition(ds, prototype=prototype))
        assert s.total_R == pytest.approx(LN5, abs=1e-9) and s.entropy_class == "high"
    assert LN5 == pytest.approx(1.6094, abs=1e-4)


def _p1_cif(ds) -> str:
    """The structure written atom by atom, no symmetry (labels Na2_1, Na2_2 ...)."""
    lat = ds.structure.lattice
    angles = zip(("alpha", "beta", "gamma"), lat.angles, strict=True)
    lines = ["data_p1", *(f"_cell_length_{k} {v:.6f}" for k, v in zip("abc", lat.abc, strict=True)),
             *(f"_cell_angle_{k} {v:.6f}" for k, v in angles),
             "loop_", " _atom_site_label", " _atom_site_type_symbol", " _atom_site_fract_x",
             " _atom_site_fract_y", " _atom_site_fract_z", " _atom_site_occupancy"]
    count: dict[str, int] = {}
    for site in ds.structure:
        count[site.label] = count.get(site.label, 0) + 1
        for sp, occ in site.species.items():
            x, y, z = site.frac_coords
            lines.append(f"{site.label}_{count[site.label]} {sp.symbol} {x:.6f} {y:.6f} {z:.6f} {occ:.6f}")
    return "\n".join(lines) + "\n"


def test_cif_without_symmetry_gives_the_same_orbits(tmp_path):
    ds = read_disordered(NVPF)
    path = tmp_path / "nvpf_p1.cif"
    path.write_text(_p1_cif(ds))
    p1 = read_disordered(path)
    assert any("no symmetry operations" in n for n in p1.notes)
    assert p1.spacegroup == ds.spacegroup
    assert {k: (s.species, s.multiplicity) for k, s in p1.sublattices.items()} == {
        k: (s.species, s.multiplicity) for k, s in ds.sublattices.items()}
    assert p1.formula == ds.formula


def test_pymatgen_json_round_trip(tmp_path):
    ds = read_disordered(P2)
    path = tmp_path / "p2.json"
    ds.structure.to(filename=str(path))
    back = read_disordered(path)
    assert set(back.sublattices) == set(ds.sublattices)
    for label, sub in ds.sublattices.items():
        assert back.sublattices[label].species == pytest.approx(sub.species)
        assert back.sublattices[label].multiplicity == sub.multiplicity
    assert back.formula == ds.formula == "Na2/3Ni1/3Mn2/3O2"


# --------------------------------------------------------------------------- bad input

NA2 = "  Na2    Na  8i   0.79560 0.04390 0.00000 0.500000"
NA1 = "  Na1    Na  8i   0.52360 0.22590 0.00000 1.000000"
BAD = [
    ("over-full", lambda t: t.replace(NA2, NA2 + "\n  K2 K 8i 0.79560 0.04390 0.00000 0.6"),
     "occupancies on position Na2+K2 sum to 1.1"),
    ("negative", lambda t: t.replace(NA2, NA2.replace("0.500000", "-0.500000")), "negative occupancy"),
    ("missing", lambda t: t.replace(NA2, NA2.replace("0.500000", "?")), "missing occupancy"),
    ("contact", lambda t: t.replace(NA1, NA1 + "\n  Na9 Na 8i 0.52360 0.22590 0.03 1.0"),
     "fully occupied sites Na1 and Na9 are 0.321 Å apart"),
    ("no cell", lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("_cell_length")),
     "has no cell: missing _cell_length_a"),
    ("unknown element", lambda t: t.replace(NA2, NA2.replace(" Na ", " Xx ")), "unknown element symbol 'Xx'"),
]


@pytest.mark.parametrize("case,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_problem(tmp_path, case, mutate, message):
    path = tmp_path / "bad.cif"
    path.write_text(mutate(NVPF.read_text()))
    with pytest.raises(DisorderError) as err:
        read_disordered(path)
    assert isinstance(err.value, HecathodeInputError)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_occupancy_just_above_one_is_accepted(tmp_path):
    path = tmp_path / "ok.cif"
    path.write_text(NVPF.read_text().replace(NA2, NA2 + "\n  K2 K 8i 0.79560 0.04390 0.00000 0.505"))
    ds = read_disordered(path)
    assert ds.sublattices["Na2+K2"].occupancy == pytest.approx(1.0)
    assert ds.sublattices["Na2+K2"].species == pytest.approx({"Na": 0.5 / 1.005, "K": 0.505 / 1.005})
    assert any("Na2+K2 sum to 1.005: scaled to 1" in n for n in ds.notes)


# --------------------------------------------------------------------------- formula override


def test_formula_overrides_the_occupancies():
    ds = read_disordered(NVPF)
    formula = "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3"
    comp = override_composition(ds, formula)
    written = assign_sublattices(formula, "nvpf")
    assert {k: v.species for k, v in comp.sublattices.items()} == {
        k: v.species for k, v in written.sublattices.items()}
    assert configurational_entropy(comp).total_R == pytest.approx(configurational_entropy(written).total_R)
    orbits = override_composition(ds, formula, orbit_level=True)
    # Na keeps the file's split: Na1 full (2 per f.u.), Na2 half (1 of 2 per f.u.)
    assert orbits.sublattices["Na1"].species == pytest.approx({"Na": 2.0})
    assert orbits.sublattices["Na2"].species == pytest.approx({"Na": 1.0})
    assert orbits.sublattices["V1"].species == pytest.approx(
        {"V": 1.9, "Ca": 0.02, "Mg": 0.02, "Al": 0.02, "Cr": 0.02, "Mn": 0.02})
    assert orbits.sublattices["F1"].species == pytest.approx({"F": 1.0})


def test_override_checks_the_sublattice_mapping():
    ds = read_disordered(NVPF)
    with pytest.raises(SublatticeError, match="leaves sublattice F empty, but .* has sites there"):
        override_composition(ds, "Na3V2(PO4)2")
    with pytest.raises(SublatticeError, match="P fits no sublattice"):
        override_composition(read_disordered(P2), "Na3V2(PO4)2F3")


# --------------------------------------------------------------------------- parent cell for SQS


def test_parent_cell_carries_every_position_and_feeds_sqs_planning():
    ds = read_disordered(NVPF)
    parent = parent_atoms(ds)
    assert len(parent) == 76  # 72 atoms + the 4 empty Na2 positions
    labels, counts = np.unique(parent.arrays["site_label"], return_counts=True)
    assert dict(zip(labels, counts, strict=True))["Na2"] == 8
    assert parent.arrays["occupancy"][parent.arrays["site_label"] == "Na2"] == pytest.approx(0.5)
    comp = site_composition(ds, prototype=None)
    targets, _ = site_targets(comp, parent)
    assert targets["Na2"] == pytest.approx({"Na": 0.5, "X": 0.5}) and targets["Na1"] == {"Na": 1.0}
    plan = plan_supercells(comp, parent, max_atoms=160)
    assert plan.exact_n_cells == 1 and plan.sites_per_cell["Na2"] == 8


def test_nasicon_parent_is_the_rhombohedral_primitive_cell():
    parent = parent_atoms(read_disordered(NASICON))
    assert len(parent) == 42 and parent.info["formula_units"] == 2
    conventional = parent_atoms(read_disordered(NASICON), primitive=False)
    assert len(conventional) == 126 and conventional.info["formula_units"] == 6


@pytest.mark.slow
def test_sqs_on_a_five_metal_p2_cif(tmp_path):
    """A P2 file with five metals on the TM site and Na over Na_f/Na_e: the SQS machinery runs on
    the file's parent cell (Na_f and Na_e pooled, as icet needs)."""
    text = P2.read_text()
    tm = "\n".join(f"  {el}1 {el} 2a 0 0 0 {x}" for el, x in
                   (("Mn", 0.6), ("Cu", 0.08), ("Ni", 0.09), ("Fe", 0.18), ("Ti", 0.05)))
    text = "\n".join(tm if line.strip().startswith("M1Ni") else line for line in text.splitlines()
                     if not line.strip().startswith("M1Mn"))
    path = tmp_path / "he_p2.cif"
    path.write_text(text + "\n")
    ds = read_disordered(path)
    assert ds.formula == "Na2/3Mn0.6Cu0.08Ni0.09Fe0.18Ti0.05O2"
    written = assign_sublattices("Na0.6667Mn0.6Cu0.08Ni0.09Fe0.18Ti0.05O2", "p2")
    assert configurational_entropy(site_composition(ds)).total_R == pytest.approx(
        configurational_entropy(written).total_R, abs=1e-6)
    merge = alkali_merge(ds)
    assert merge == {"Naf": "Naf+Nae", "Nae": "Naf+Nae"}
    comp = site_composition(ds, prototype=None, merge=merge)
    parent = parent_atoms(ds, sublattice_of=merge)
    option, _ = choose_supercell(plan_supercells(comp, parent, max_atoms=120), parent, min_width=5.0)
    structures, context = generate_sqs(comp, parent, option, n_runs=1, n_steps=200, n_workers=1)
    atoms = structures[0]
    assert set(context["active"]) == {"Mn1+Cu1+Ni1+Fe1+Ti1", "Naf+Nae"}
    assert set(atoms.arrays["site_label"]) <= {"Mn1+Cu1+Ni1+Fe1+Ti1", "O1", "Naf", "Nae"}
    tm_symbols = {s for s, lab in zip(atoms.get_chemical_symbols(), atoms.arrays["site_label"], strict=True)
                  if lab.startswith("Mn1")}
    assert tm_symbols == {"Mn", "Cu", "Ni", "Fe", "Ti"}


def test_with_composition_writes_the_override_into_the_occupancies():
    """The formula's doping on the file's framework: V1 holds V 0.95 + 0.01 of each dopant, Na2
    keeps its half occupancy, and the entropy on the file's orbits follows."""
    from structures.disorder import with_composition

    ds = read_disordered(NVPF)
    doped = with_composition(ds, override_composition(ds, "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3",
                                                      orbit_level=True))
    assert doped.sublattices["V1"].species == pytest.approx(
        {"V": 0.95, "Ca": 0.01, "Mg": 0.01, "Al": 0.01, "Cr": 0.01, "Mn": 0.01})
    assert doped.sublattices["Na2"].species == pytest.approx({"Na": 0.5})
    assert doped.formula == "Na3V1.9Ca0.02Mg0.02Al0.02Cr0.02Mn0.02P2O8F3"
    v_sites = [doped.structure[i] for i in doped.sublattices["V1"].indices]
    assert all(site.species.get_atomic_fraction("Ca") == pytest.approx(0.01) for site in v_sites)
    assert ds.sublattices["V1"].species == {"V": 1.0}  # the original is untouched
