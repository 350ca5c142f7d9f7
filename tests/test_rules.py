"""Design rules: oxidation states, charge balance, radii, redox pairs, capacity."""

import math

import pytest

from structures.composition import assign_sublattices
from structures.rules import (
    FARADAY,
    check_composition,
    guess_oxidation_states,
    redox_conflicts,
    size_mismatch,
)


def mah_g(electrons, molar_mass):
    return electrons * FARADAY / 3.6 / molar_mass


def test_nani05mn05o2_gives_one_electron_and_240_mah_g():
    r = check_composition(assign_sublattices("NaNi0.5Mn0.5O2", "o3"))
    assert r["charge_balanced"]
    assert r["oxidation_states"]["TM"] == {"Ni": 2, "Mn": 4}
    # M = 22.990 + 0.5*58.693 + 0.5*54.938 + 2*15.999 = 111.80 g/mol; 1 e (Ni2+ -> Ni4+)
    assert r["capacity"]["electrons_per_formula_unit"] == pytest.approx(1.0)
    assert r["theoretical_capacity_mAh_g"] == pytest.approx(mah_g(1, 111.80), rel=1e-3)
    assert r["theoretical_capacity_mAh_g"] == pytest.approx(240, abs=1)
    assert r["inactive_fraction"] == pytest.approx(0.5)  # Mn4+


@pytest.mark.parametrize("formula, proto, expected", [
    ("Na3V2(PO4)2F3", "nvpf", 128.3),    # 2 e, V3+ -> V4+; literature 128 mA h/g
    ("Na3V2(PO4)3", "nasicon", 117.6),   # 2 e; literature 117.6 mA h/g
    ("Na4Fe3(PO4)2P2O7", "nfpp", 129.0),  # 3 e, Fe2+ -> Fe3+; literature 129 mA h/g
    ("Na2Mn[Fe(CN)6]", "pba", 171.3),     # 2 e: Mn2+/3+ (N) and Fe2+/3+ (C)
    ("Na3V2(PO4)2O2F", "nvpf", 130.2),    # 2 e, V4+ -> V5+; literature 130 mA h/g
])
def test_textbook_capacities(formula, proto, expected):
    r = check_composition(assign_sublattices(formula, proto))
    assert r["charge_balanced"]
    assert r["theoretical_capacity_mAh_g"] == pytest.approx(expected, abs=0.3)


def test_mn3_with_v3_is_redox_incompatible():
    conflicts = redox_conflicts({"V": 3, "Mn": 3}, "polyanion")
    assert len(conflicts) == 1
    assert "Mn3+ oxidises V3+" in conflicts[0]
    assert redox_conflicts({"V": 4, "Mn": 2}, "polyanion") == []


def test_oxidation_guess_avoids_the_incompatible_pair():
    ox = guess_oxidation_states(assign_sublattices("Na3VMn(PO4)3", "nasicon"))
    assert ox.charge_balanced
    assert ox.states["TM"] == {"V": 4, "Mn": 2}
    assert ox.conflicts == []


def test_he_nvpf_mixed_valence_and_oversized_dopants():
    r = check_composition(assign_sublattices("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "nvpf"))
    v = r["oxidation_states"]["TM"]["V"]
    # 3 Na + V-site charge = 2*3 + 3 (PO4, F): dopants carry 0.24 e, V the rest
    assert v == pytest.approx((6 - 0.02 * (2 + 2 + 3 + 3 + 2)) / 1.9)
    assert r["charge_balanced"]
    assert any("Ca2+" in w and "larger" in w for w in r["warnings"])
    assert r["inactive_fraction"] == pytest.approx(0.04)  # Ca, Mg, Al, Cr: 4 x 0.01


def test_size_mismatch_by_hand():
    radii = {"A": 1.0, "B": 0.5}
    x = {"A": 0.5, "B": 0.5}
    mean = 0.75
    expected = math.sqrt(0.5 * (1 - 1 / mean) ** 2 + 0.5 * (1 - 0.5 / mean) ** 2)
    assert size_mismatch(radii, x) == pytest.approx(expected)
    assert size_mismatch({"A": 0.6}, {"A": 1.0}) == 0


def test_he_o3_radii_are_shannon_values():
    r = check_composition(assign_sublattices("NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2", "o3"))
    radii = r["size_mismatch"]["TM"]["radii_A"]
    # Shannon (1976), CN VI, high spin: Ni2+ 0.69, Ti4+ 0.605, Fe3+ 0.645, Co3+ 0.61
    assert radii["Ni"] == pytest.approx(0.69)
    assert radii["Ti"] == pytest.approx(0.605)
    assert radii["Fe"] == pytest.approx(0.645)
    assert r["electronegativity_spread"]["TM"]["range_pauling"] == pytest.approx(1.91 - 1.54)


def test_unbalanced_formula_is_reported():
    r = check_composition(assign_sublattices("Na2/3Li1/6Fe1/6Co1/6Ni1/6Mn1/3O2", "p2"))
    assert not r["charge_balanced"]
    assert any("not charge balanced" in w for w in r["warnings"])


def test_water_counts_in_the_molar_mass():
    dry = check_composition(assign_sublattices("Na2Mn[Fe(CN)6]", "pba"))
    wet = check_composition(assign_sublattices("Na2Mn[Fe(CN)6]·2H2O", "pba"))
    m_dry = dry["capacity"]["molar_mass_g_mol"]
    assert wet["capacity"]["molar_mass_g_mol"] == pytest.approx(m_dry + 2 * 18.015, abs=0.01)
    assert wet["theoretical_capacity_mAh_g"] < dry["theoretical_capacity_mAh_g"]
