"""Parent cells: space groups, site labels, ordered Na variants, user structures."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from structures.errors import PrototypeError
from structures.prototypes import (
    cell_provenance,
    from_materials_project,
    label_counts,
    load_structure,
    parent_cell,
)


def spacegroup(atoms):
    return SpacegroupAnalyzer(AseAtomsAdaptor.get_structure(atoms), symprec=0.01).get_space_group_number()


# (prototype, atoms, space group of the ORDERED cell, formula units, labels and counts)
CASES = [
    ("o3", 4, 166, 1, {"Na": 1, "TM": 1, "O": 2}),
    ("p2", 8, 194, 2, {"Nae": 2, "TM": 2, "O": 4}),
    ("pba", 16, 225, 1, {"Na": 2, "TM": 1, "B": 1, "C": 6, "N": 6}),
    # Na2 half filled in pairs -> Pnnm (58), the CHGNet-lowest ordering of the reference model
    ("nvpf", 72, 58, 4, {"Na1": 8, "Na2": 4, "TM": 8, "P": 8, "O": 32, "F": 12}),
    # 4 of 6 Na2 kept in the rhombohedral cell -> C2/c (15), as alpha-Na3V2(PO4)3
    ("nasicon", 40, 15, 2, {"Na1": 2, "Na2": 4, "TM": 4, "P": 6, "O": 24}),
]


@pytest.mark.parametrize("name,n_atoms,sg,fu,labels", CASES)
def test_parent_cells(name, n_atoms, sg, fu, labels):
    atoms = parent_cell(name)
    assert len(atoms) == n_atoms
    assert spacegroup(atoms) == sg
    assert atoms.info["formula_units"] == fu
    assert label_counts(atoms) == labels
    prov = atoms.info["provenance"]
    assert prov["model"] is True and prov["source"]
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, 10)
    # no contact shorter than C≡N (1.15 Å) and, once ordered, no Na pair closer than 2.5 Å
    assert d.min() > 1.1
    na = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]
    if len(na) > 1:
        assert d[np.ix_(na, na)].min() > 2.5


def test_nvpf_counts_match_formula():
    atoms = parent_cell("nvpf")  # Na3V2(PO4)2F3, Z = 4
    assert atoms.get_chemical_formula(mode="metal") == "Na12V8F12O32P8"
    assert cell_provenance("nvpf")["doi"] == "10.1006/jssc.1999.8447"


def test_nfpp_has_no_cell_and_says_what_to_do():
    with pytest.raises(PrototypeError, match="--structure FILE"):
        parent_cell("nfpp")


def test_user_cif_labels_and_site_map(tmp_path):
    s = Structure(Lattice.cubic(4.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                  labels=["Na7", "Cl1"])
    path = tmp_path / "nacl.cif"
    s.to(filename=str(path))
    atoms = load_structure(path, {"Cl": "X1"})
    assert list(atoms.arrays["site_label"]) == ["Na7", "X1"]
    with pytest.raises(PrototypeError, match="names Q, not a label or element"):
        load_structure(path, {"Q": "TM"})


def test_partially_occupied_cif_refused(tmp_path):
    s = Structure(Lattice.cubic(4.2), [{"Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    path = tmp_path / "half.cif"
    s.to(filename=str(path))
    with pytest.raises(PrototypeError, match="partially occupied"):
        load_structure(path)


def test_missing_file_and_mp_without_key(tmp_path, monkeypatch):
    with pytest.raises(PrototypeError, match="not found"):
        load_structure(tmp_path / "nope.cif")
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(PrototypeError, match="MP_API_KEY"):
        from_materials_project("mp-694937")
