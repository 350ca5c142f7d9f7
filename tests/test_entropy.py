"""Configurational entropy against physics that can be checked by hand."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structures.composition import assign_sublattices
from structures.entropy import (
    R_J_PER_MOL_K,
    classify,
    configurational_entropy,
    mixing_entropy,
)

HE_PBA = "Na1.19(Fe0.2Mn0.2Ni0.2Cu0.2Co0.2)[Fe(CN)6]0.79□0.21·1.16H2O"
HE_NVPF = "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3"


def test_he_pba_is_r_ln5_on_the_n_site():
    s = configurational_entropy(assign_sublattices(HE_PBA, "pba"))
    assert s.per_sublattice_R["TM"] == pytest.approx(math.log(5), abs=1e-9)  # 1.609 R
    assert s.total_R == pytest.approx(1.609, abs=0.002)  # review: 1.61 R
    assert s.entropy_class == "high"
    assert s.total_J_per_mol_K == pytest.approx(math.log(5) * R_J_PER_MOL_K)


def test_vacancies_add_their_own_term():
    comp = assign_sublattices(HE_PBA, "pba")
    s = configurational_entropy(comp, include_vacancies=True)
    b_site = -(0.79 * math.log(0.79) + 0.21 * math.log(0.21))
    na_site = -(0.595 * math.log(0.595) + 0.405 * math.log(0.405))  # 1.19 Na on 2 sites
    assert s.per_sublattice_R["B"] == pytest.approx(b_site)
    assert s.per_sublattice_R["Na"] == pytest.approx(na_site)
    assert s.total_R == pytest.approx(math.log(5) + b_site + na_site)
    assert "C" not in s.per_sublattice_R  # cyanide follows site B: not counted twice


def test_he_nvpf_is_low_entropy():
    comp = assign_sublattices(HE_NVPF, "nvpf")
    s = configurational_entropy(comp)
    expected = -(0.95 * math.log(0.95) + 5 * 0.01 * math.log(0.01))
    assert s.per_sublattice_R["TM"] == pytest.approx(expected)
    assert s.total_R == pytest.approx(0.279, abs=5e-4)
    assert s.entropy_class == "low"


def test_per_formula_unit_weights_by_sites_and_is_labelled():
    comp = assign_sublattices(HE_NVPF, "nvpf")
    s = configurational_entropy(comp, per_formula_unit=True)
    assert s.total_R == pytest.approx(2 * 0.2790, abs=1e-3)  # 2 V sites per f.u.
    assert "per formula unit" in s.convention


@pytest.mark.parametrize("value, cls", [(1.5, "high"), (1.4999, "medium"), (1.0, "medium"),
                                        (0.9999, "low"), (0.0, "low"), (2.2, "high")])
def test_class_boundaries_of_the_review(value, cls):
    assert classify(value) == cls


@given(st.integers(min_value=1, max_value=12))
def test_equimolar_mixing_is_ln_n(n):
    assert mixing_entropy([1 / n] * n) == pytest.approx(math.log(n))


@given(st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=9))
def test_mixing_entropy_bounded_by_ln_n(weights):
    total = sum(weights)
    x = [w / total for w in weights]
    s = mixing_entropy(x)
    assert -1e-12 <= s <= math.log(len(x)) + 1e-9


def test_fractions_must_sum_to_one():
    with pytest.raises(ValueError, match="sum to"):
        mixing_entropy([0.5, 0.4])
