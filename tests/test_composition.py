"""Parsing and sublattice assignment of compositions as papers print them."""

import re

import pytest

from structures.composition import VACANCY, assign_sublattices, parse_formula
from structures.errors import FormulaError, HecathodeInputError, SublatticeError


def tm(comp):
    return comp.sublattices["TM"].species


def test_nvpf_grouped_dopants_read_in_total():
    comp = assign_sublattices("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "nvpf")
    assert comp.reading == "total"
    assert tm(comp)["V"] == pytest.approx(1.9)
    for el in ("Ca", "Mg", "Al", "Cr", "Mn"):
        assert tm(comp)[el] == pytest.approx(0.02)  # 0.01 of the 2 sites
    assert comp.sublattices["TM"].site_fractions()["V"] == pytest.approx(0.95)
    assert any("in total" in n for n in comp.notes)


def test_nfpp_grouped_dopants_read_per_element():
    comp = assign_sublattices("Na4Fe2.95(NiCoMnMgZn)0.01(PO4)2P2O7", "nfpp")
    assert comp.reading == "per-element"
    assert sum(tm(comp).values()) == pytest.approx(3.0)
    assert tm(comp)["Zn"] == pytest.approx(0.01)
    assert any("per element" in n for n in comp.notes)


def test_grouped_coefficient_fitting_neither_reading_fails_clearly():
    with pytest.raises(SublatticeError, match="fits neither reading"):
        assign_sublattices("Na3V1.6(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "nvpf")


def test_grouped_coefficient_fitting_both_readings_fails_clearly():
    # generic: V1 + (Fe,Mn)1 gives 2 sites in total, 3 per element: both integers
    with pytest.raises(SublatticeError, match="both readings"):
        assign_sublattices("Na3V(FeMn)(PO4)3", "generic")


def test_forced_reading_is_reported():
    comp = assign_sublattices("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "generic",
                              group_reading="total")
    assert comp.reading == "total"
    assert any("forced" in n for n in comp.notes)


def test_pba_complex_vacancy_and_hydrate():
    comp = assign_sublattices("Na1.19(Fe0.2Mn0.2Ni0.2Cu0.2Co0.2)[Fe(CN)6]0.79□0.21·1.16H2O")
    assert comp.prototype.name == "pba"
    assert comp.sublattices["B"].species == pytest.approx({"Fe": 0.79, VACANCY: 0.21})
    assert comp.sublattices["TM"].species["Fe"] == pytest.approx(0.2)
    assert comp.sublattices["C"].species["C"] == pytest.approx(6 * 0.79)
    assert comp.water_per_formula_unit == pytest.approx(1.16)
    assert "H" not in comp.element_amounts()  # water is not on a framework sublattice


@pytest.mark.parametrize("text", [
    "Na2MnFe(CN)6·2H2O", "Na2MnFe(CN)6.2H2O", "Na2MnFe(CN)6 2H2O", "Na2MnFe(CN)6*2H2O",
    "Na₂MnFe(CN)₆·2H₂O", "Na 2 Mn Fe (C N) 6 · 2 H2O", "Na_{2}MnFe(CN)_{6}·2H2O",
])
def test_notations_of_one_pba(text):
    comp = assign_sublattices(text)
    assert comp.prototype.name == "pba"
    assert comp.water_per_formula_unit == pytest.approx(2)
    assert comp.element_amounts() == pytest.approx({"Na": 2, "Mn": 1, "Fe": 1, "C": 6, "N": 6})


def test_unknown_water_amount_is_kept_out_and_said():
    comp = assign_sublattices("Na2MnFe(CN)6·nH2O")
    assert comp.water_per_formula_unit is None
    assert any("no number" in w for w in comp.warnings)


def test_fractions_and_li_in_tm_layer():
    comp = assign_sublattices("Na2/3Li1/6Fe1/6Co1/6Ni1/6Mn1/3O2")
    assert comp.prototype.name == "p2"
    assert tm(comp)["Li"] == pytest.approx(1 / 6)
    assert sum(tm(comp).values()) == pytest.approx(1.0)


def test_ca_pillars_the_na_layer_when_tm_is_full():
    comp = assign_sublattices("Na0.8Li0.17Ca0.025Mg0.12Ni0.05Mn0.66O2", "p2")
    assert comp.sublattices["Na"].species["Ca"] == pytest.approx(0.025)
    assert sum(tm(comp).values()) == pytest.approx(1.0)


def test_explicit_site_map_overrides_rules():
    comp = assign_sublattices("Na0.8Li0.17Ca0.025Mg0.12Ni0.05Mn0.66O2", "p2",
                              site_map={"Li": "Na"}, normalize=True)
    assert comp.sublattices["Na"].species["Li"] == pytest.approx(0.17)


def test_vacancy_written_va_and_nested_brackets():
    comp = assign_sublattices("Na1.5Mn[Fe(CN)6]0.9Va0.1")
    assert comp.sublattices["B"].species[VACANCY] == pytest.approx(0.1)


@pytest.mark.parametrize("formula, prototype", [
    ("NaNi0.5Mn0.5O2", "o3"), ("Na0.67Ni0.33Mn0.67O2", "p2"), ("Na3V2(PO4)3", "nasicon"),
    ("Na3V2(PO4)2F3", "nvpf"), ("Na3V2(PO4)2O2F", "nvpf"), ("Na4Fe3(PO4)2P2O7", "nfpp"),
    ("Na2Mn[Fe(CN)6]", "pba"),
    ("Na2SO4", "generic"),
])
def test_prototype_inference_says_so(formula, prototype):
    comp = assign_sublattices(formula)
    assert comp.prototype.name == prototype
    assert any("inferred" in n for n in comp.notes)


@pytest.mark.parametrize("formula, message", [
    ("NaQ0.5Mn0.5O2", "unknown element 'Q'"),
    ("Na(Ni0.5Mn0.5O2", "unbalanced '('"),
    ("NaNi0.5)Mn0.5O2", "unbalanced ')'"),
    ("NaNi0Mn1O2", "amount of Ni is zero"),
    ("Na-1MnO2", "negative"),
    ("NaxMnO2", "symbolic amount 'x'"),
    ("", "empty formula"),
    ("NaMnO2·H2Oz", "hydrate part"),
])
def test_bad_formulas_name_the_problem(formula, message):
    with pytest.raises(FormulaError, match=re.escape(message)):
        parse_formula(formula)


def test_sublattice_overfull_names_the_sublattice():
    with pytest.raises(SublatticeError, match="sublattice TM of o3 holds 1.2"):
        assign_sublattices("NaNi0.7Mn0.5O2", "o3")


def test_normalize_rescales_and_warns():
    comp = assign_sublattices("Na0.62Mn0.67Ni0.23Cu0.05Mg0.07Ti0.01O2", "p2", normalize=True)
    assert sum(tm(comp).values()) == pytest.approx(1.0)
    assert any("rescaled" in w for w in comp.warnings)


def test_element_that_fits_no_sublattice():
    with pytest.raises(SublatticeError, match="H fits no sublattice of prototype 'o3'"):
        assign_sublattices("NaHO2", "o3")


def test_unknown_prototype_lists_known_ones():
    with pytest.raises(SublatticeError, match="unknown prototype 'spinel'.*nvpf"):
        assign_sublattices("NaMnO2", "spinel")


def test_errors_are_value_errors():
    assert issubclass(FormulaError, HecathodeInputError)
    assert issubclass(HecathodeInputError, ValueError)
