"""Hop geometry, symmetry-distinct hops, local environments and percolation (no energies)."""

import numpy as np
import pytest
from ase.build import make_supercell
from ase.spacegroup import crystal

from calculators.neb import NEBInputError, check_cell, endpoints, neb_supercell
from structures.hops import (
    Hop,
    HopError,
    distinct_hops,
    find_hops,
    local_environment,
    map_state,
    parse_hop,
    percolation_barriers,
    reversing_operation,
)
from structures.prototypes import parent_cell


def o3_hexagonal(n):
    """O3 NaNiO2 in its hexagonal cell (a 2.962, c 15.91 Å), n × n in plane."""
    cell = crystal(["Na", "Ni", "O"], [(0, 0, 0), (0, 0, 0.5), (0, 0, 0.23305)], spacegroup=166,
                   cellpar=[2.962, 2.962, 15.91, 90, 90, 120])
    return make_supercell(cell, np.diag([n, n, 1]))


def test_nvpf_nearest_na2_na1_hop():
    atoms = parent_cell("nvpf")
    hop = find_hops(atoms, "Na2", "Na1")[0]
    assert hop.length == pytest.approx(2.96, abs=0.01)  # shortest Na1-Na2 of the model cell
    assert atoms.arrays["site_label"][hop.start] == "Na2"
    assert local_environment(atoms, hop) == {"V": 2}


def test_bad_labels_and_cutoff():
    atoms = parent_cell("nvpf")
    with pytest.raises(HopError, match="no site labelled 'Na3'"):
        parse_hop("Na2:Na3", atoms)
    with pytest.raises(HopError, match="expected FROM:TO"):
        parse_hop("Na2", atoms)
    with pytest.raises(HopError, match="within 2 Å"):
        find_hops(atoms, "Na2", "Na1", cutoff=2.0)


def test_image_rule_2x2_too_small_3x3_fine():
    # measured in the issue: a 2x2 in-plane O3 cell was too small for the Na hop, 3x3 fine
    small, big = o3_hexagonal(2), o3_hexagonal(3)
    hop = find_hops(small, "Na", "Na")[0]
    assert hop.length == pytest.approx(2.962, abs=1e-3)
    with pytest.raises(NEBInputError, match="use a supercell"):
        check_cell(small, hop)
    check_cell(big, find_hops(big, "Na", "Na")[0])
    assert len(neb_supercell(small, hop.length)) > len(small)


def test_endpoints_move_one_atom_into_the_vacancy():
    atoms = o3_hexagonal(3)
    hop = find_hops(atoms, "Na", "Na")[0]
    initial, final, moving = endpoints(atoms, hop)
    assert len(initial) == len(atoms) - 1
    d = final.positions - initial.positions
    assert np.count_nonzero(np.linalg.norm(d, axis=1) > 1e-9) == 1
    assert np.linalg.norm(d[moving]) == pytest.approx(2.962, abs=1e-3)


def test_o3_network_is_two_dimensional():
    # O3: Na-Na in plane 2.96 Å; Na layers c/3 = 5.30 Å apart, beyond a 3.5 Å cutoff
    atoms = o3_hexagonal(3)
    classes = distinct_hops(atoms, "Na", cutoff=3.5)
    assert len(classes) == 1 and classes[0]["hop"].length == pytest.approx(2.962, abs=1e-3)
    edges = [(h, 0.3) for h in classes[0]["members"]]
    assert percolation_barriers(atoms, edges) == {"a": 0.3, "b": 0.3, "c": None}


def test_nvpf_percolation_takes_the_lowest_crossing_hop():
    atoms = parent_cell("nvpf")
    classes = distinct_hops(atoms, "Na", cutoff=5.0)
    assert classes[0]["hop"].length == pytest.approx(2.96, abs=0.01)
    # barrier = class index / 10 eV: the answer is the lowest class whose hops connect the cell
    edges = [(h, k / 10) for k, c in enumerate(classes) for h in c["members"]]
    perc = percolation_barriers(atoms, edges)
    assert perc["c"] is None  # Na sheets at z = 0 and 1/2 are 5.35 Å apart: no hop <= 5 Å joins them
    assert perc["a"] is not None and perc["b"] is not None
    # the Na1-Na2 pairs alone (class 0) form closed dimers that cross nothing
    assert percolation_barriers(atoms, [(h, 0.0) for h in classes[0]["members"]]) == \
        {"a": None, "b": None, "c": None}


def test_percolation_of_a_single_chain():
    # atoms on a line along a, 3 Å apart, 10 Å apart along b and c: one chain along a
    atoms = crystal(["Na"], [(0, 0, 0)], spacegroup=1, cellpar=[3, 10, 10, 90, 90, 90])
    hop = Hop(0, 0, np.array([3.0, 0, 0]), "Na", "Na")
    assert percolation_barriers(atoms, [(hop, 0.2)]) == {"a": 0.2, "b": None, "c": None}


@pytest.mark.slow
def test_percolation_axes_of_a_primitive_o3_supercell():
    # the rhombohedral O3 cell's axes are not the crystal's: percolation is reported along the
    # hexagonal a, b, c kept in atoms.info["conventional_cell"]
    atoms = neb_supercell(parent_cell("o3"), 2.962)
    classes = distinct_hops(atoms, "Na", cutoff=3.5)
    edges = [(h, 0.3) for c in classes for h in c["members"]]
    assert percolation_barriers(atoms, edges) == {"a": 0.3, "b": 0.3, "c": None}


def test_equivalent_endpoints_map_onto_each_other():
    # O3: the two Na sites of the nearest hop are swapped by the inversion through the hop's
    # midpoint, so the unrelaxed initial state maps exactly onto the unrelaxed final state
    atoms = o3_hexagonal(3)
    hop = find_hops(atoms, "Na", "Na")[0]
    op = reversing_operation(atoms, hop)
    assert op is not None
    assert np.allclose(op[0], -np.eye(3))  # an inversion
    initial, final, moving = endpoints(atoms, hop)
    mapped = map_state(initial, op, final)
    assert mapped is not None
    assert np.allclose(mapped.positions, final.positions, atol=1e-6)
    # a distorted initial state maps onto a distorted final state, atom for atom
    shaken = initial.copy()
    shaken.positions += np.random.default_rng(0).normal(0, 0.05, shaken.positions.shape)
    mapped = map_state(shaken, op, final)
    step = np.linalg.norm(mapped.positions - final.positions, axis=1)
    assert step.max() < 0.3 and step[moving] < 0.3
    # displacements too large to match one to one: refused
    assert map_state(shaken, op, final, tolerance=0.01) is None


def test_no_reversing_operation_between_different_sites():
    # NVPF Na2 -> Na1 joins two different Wyckoff sites: no operation swaps them
    atoms = parent_cell("nvpf")
    assert reversing_operation(atoms, find_hops(atoms, "Na2", "Na1")[0]) is None
