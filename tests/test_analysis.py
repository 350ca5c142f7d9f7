"""structures.analysis: geometry checked against cells whose answers follow from their construction."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from structures.analysis import (
    GeometryError,
    distortion_index,
    mean_tm_o_bond_lengths,
    octahedral_distortion,
    volume_change_percent,
)


def rocksalt_mno(a=4.445):
    """Rocksalt MnO: every Mn has six O at exactly a/2."""
    return bulk("MnO", "rocksalt", a=a)


def test_regular_octahedron_has_zero_distortion_and_half_lattice_bonds():
    atoms = rocksalt_mno().repeat(2)
    assert mean_tm_o_bond_lengths(atoms) == {"Mn": pytest.approx(4.445 / 2)}
    sites = octahedral_distortion(atoms)
    assert len(sites) == 8
    for site in sites:
        assert site["element"] == "Mn" and site["site_label"] == "Mn"
        assert site["bond_lengths_A"] == pytest.approx([4.445 / 2] * 6)
        assert site["distortion_index"] == pytest.approx(0, abs=1e-12)


def test_jahn_teller_elongation_by_hand():
    # Tetragonal strain c/a = 1.1 of the conventional cell: 4 bonds of a/2 = 2.2 Å, 2 of 2.42 Å.
    # l_av = 13.64/6 = 2.2733 Å; D = (4·0.0733 + 2·0.1467)/6 / 2.2733 = 0.0430 (Baur)
    a = 4.4
    atoms = bulk("MnO", "rocksalt", a=a, cubic=True)
    atoms.set_cell(np.diag([a, a, 1.1 * a]), scale_atoms=True)
    lengths = [a / 2] * 4 + [1.1 * a / 2] * 2
    mean = np.mean(lengths)
    expected = np.mean(np.abs(np.array(lengths) - mean)) / mean
    assert expected == pytest.approx(0.0430, abs=1e-4)
    site = octahedral_distortion(atoms)[0]
    assert sorted(site["bond_lengths_A"]) == pytest.approx(sorted(lengths))
    assert site["distortion_index"] == pytest.approx(expected)
    assert distortion_index(lengths) == pytest.approx(expected)


def test_volume_change_percent_plain_and_per_host_atom():
    small, big = rocksalt_mno(4.40), rocksalt_mno(4.40 * 1.01)
    assert volume_change_percent(small, big) == pytest.approx(100 * (1.01**3 - 1))
    # removing Na (an alkali) does not count: same framework volume per host atom -> 0 %
    na_cell = Atoms("NaMnO2", positions=np.zeros((4, 3)) + np.arange(4)[:, None], cell=[5, 5, 5], pbc=True)
    empty = na_cell[[a.symbol != "Na" for a in na_cell]]
    assert volume_change_percent(na_cell, empty) == pytest.approx(0.0)


def test_missing_neighbours_and_empty_bonds_are_input_errors():
    lonely = Atoms("MnO", positions=[[0, 0, 0], [2.2, 0, 0]], cell=[20, 20, 20], pbc=True)
    with pytest.raises(GeometryError, match="Mn atom 0 has 1 anion neighbours"):
        octahedral_distortion(lonely)
    with pytest.raises(GeometryError):
        distortion_index([])
