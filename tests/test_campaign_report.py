"""The campaign report (workflows.report.campaign_report) from hand-built analysis documents.

All numbers below are illustrative inputs to the formatter, not results: they check layout,
units, rounding and robustness. The report built from a real campaign is checked in
test_campaign.py.
"""

import copy

import pytest

from structures.errors import HecathodeInputError
from workflows.report.campaign_report import write_report

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = ("entropy.png", "sqs_quality.png", "volumes.png", "neb_profiles.png", "barriers.png")

# the numeric fields the "Every number" table reports, one row each when not None
NUMBER_KEYS = {
    "entropy": ("target_R", "achieved_R"),
    "sqs": ("icet_score", "random_icet_score", "mean_abs_alpha", "random_mean_abs_alpha"),
    "structures": ("energy_eV_per_atom", "volume_per_host_atom_A3_initial", "volume_per_host_atom_A3_relaxed",
                   "volume_change_pct", "max_force_eV_A"),
    "neb": ("forward_barrier_eV", "reverse_barrier_eV", "reaction_energy_eV", "max_force_eV_A"),
}
REFERENCE = {"review_eV": {"pristine": 1.984, "high-entropy": 0.963}, "literature_range_eV": [0.2, 0.45]}


def _structure(name, v0, v1, converged=True):
    return {"name": name, "n_atoms": 144, "energy_eV_per_atom": -6.91234,
            "volume_per_host_atom_A3_initial": v0, "volume_per_host_atom_A3_relaxed": v1,
            "volume_change_pct": 100 * (v1 - v0) / v0, "max_force_eV_A": 0.031, "converged": converged,
            "calculator": "chgnet", "steps": 40}


def _hop(structure, barrier, converged=True, saddle="interior"):
    return {"structure": structure, "hop": "Na2->Na1", "length_A": 2.96, "forward_barrier_eV": barrier,
            "reverse_barrier_eV": barrier - 0.04, "reaction_energy_eV": 0.04, "converged": converged,
            "saddle": saddle, "environment": "Ca1 V3", "calculator": "chgnet", "force_calls": 400,
            "profile": {"reaction_coordinate_A": [0, 0.74, 1.48, 2.22, 2.96],
                        "energies_eV": [0.0, 0.6 * barrier, barrier, 0.5 * barrier, 0.04]}}


def _analysis(reference=True):
    pristine = {
        "name": "NVPF", "formula": "Na3V2(PO4)2F3", "prototype": "nvpf", "role": "pristine",
        "entropy": {"target_R": 0.0, "target_class": "low", "achieved_R": 0.0, "achieved_class": "low"},
        "sqs": [],
        "structures": [_structure("cell", 12.10, 12.30)],
        "volume_vs_pristine_pct": 0.0,
        "neb": [_hop("cell", 0.31), _hop("cell", 0.42)],
        "neb_summary": {"n": 2, "min_eV": 0.31, "mean_eV": 0.365, "max_eV": 0.42},
        "notes": ["pristine cell from the CIF; no SQS needed"],
    }
    he = {
        "name": "HE-NVPF", "formula": "Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3", "prototype": "nvpf",
        "role": "high-entropy",
        "entropy": {"target_R": 0.279, "target_class": "low",
                    "achieved_R": 1.124, "achieved_class": "medium"},
        "sqs": [{"name": "sqs-000", "n_atoms": 144, "icet_score": -1.2, "mean_abs_alpha": 0.08,
                 "random_mean_abs_alpha": 0.24},
                {"name": "sqs-001", "n_atoms": 144, "icet_score": -0.9, "mean_abs_alpha": 0.11,
                 "random_mean_abs_alpha": 0.24}],
        "structures": [_structure("sqs-000", 12.20, 12.40),
                       _structure("sqs-001", 12.25, 12.38, converged=False)],
        "volume_vs_pristine_pct": 0.8,
        "neb": [_hop("sqs-000", 0.12), _hop("sqs-000", 0.20, converged=False),
                _hop("sqs-001", 0.55, saddle="endpoint")],
        "neb_summary": {"n": 3, "min_eV": 0.12, "mean_eV": 0.29, "max_eV": 0.55},
        "notes": ["the SQS holds 1.124 R (medium) where the formula gives 0.279 R (low): *SQS composition*"],
    }
    doc = {"campaign": "nvpf_he", "description": "NVPF vs a high-entropy NVPF", "calculator": "chgnet",
           "preset": None, "created": "2026-11-24T12:00:00+00:00", "materials": [pristine, he],
           "notes": ["campaign-wide note | with a pipe"]}
    if reference:
        doc["nvpf_reference"] = copy.deepcopy(REFERENCE)
    return doc


def _n_numbers(analysis):
    n = 0
    for m in analysis["materials"]:
        n += sum(isinstance(m.get("entropy", {}).get(k), float) for k in NUMBER_KEYS["entropy"])
        n += isinstance(m.get("volume_vs_pristine_pct"), float)
        for part in ("sqs", "structures", "neb"):
            n += sum(isinstance(item.get(k), float) for item in m.get(part, []) for k in NUMBER_KEYS[part])
    return n


def _table_rows(text):
    table = text.split("## Every number", 1)[1].splitlines()
    return [ln for ln in table if ln.startswith("| ") and not ln.startswith(("| material", "| ---"))]


def test_full_report_has_materials_notes_plots_and_every_number(tmp_path):
    analysis = _analysis()
    path = write_report(analysis, tmp_path)
    assert path == tmp_path / "report.md" and path.is_file()
    text = path.read_text()
    assert text.startswith("# Campaign report: nvpf_he (2026-11-24)")
    for m in analysis["materials"]:
        assert m["name"] in text and m["formula"] in text
        for note in m["notes"]:
            assert note in text  # verbatim
    assert "- campaign-wide note | with a pipe" in text
    # summary: classes, rounding (entropy 3, volumes 2, energies 3 decimals), barrier range
    assert "0.279 (low)" in text and "1.124 (medium)" in text
    assert "| 12.30 |" in text and "+0.80" in text
    assert "0.120 / 0.290 / 0.550 (n = 3)" in text
    assert "-6.912" in text and "-6.9123" not in text
    for png in PLOTS:
        assert (tmp_path / png).read_bytes()[:8] == PNG, png
        assert f"]({png})" in text
    rows = _table_rows(text)
    assert len(rows) == _n_numbers(analysis) == 2 + 5 + 1 + 6 + 2 + 6 + 10 + 1 + 9
    assert all(len(r.replace("\\|", "").split("|")) == 9 for r in rows)  # 7 columns each
    assert any("| NO |" in r and "sqs-001" in r for r in rows)  # unconverged relaxation flagged
    assert "1 of 3 NEB hops not converged" in text
    assert "1 of 3 NEB hop has its highest energy at an endpoint" in text


def test_nvpf_reference_only_when_given(tmp_path):
    with_ref = write_report(_analysis(reference=True), tmp_path / "ref").read_text()
    without = write_report(_analysis(reference=False), tmp_path / "noref").read_text()
    assert "NVPF DFT literature range 0.20–0.45 eV" in with_ref
    assert "1.984 eV (pristine)" in with_ref and "0.963 eV (high-entropy)" in with_ref
    assert "literature range" not in without and "1.984" not in without
    assert (tmp_path / "noref" / "barriers.png").read_bytes()[:8] == PNG


def test_partial_campaign_reports_what_is_there_and_what_is_missing(tmp_path):
    write_report(_analysis(), tmp_path)  # an earlier, fuller report in the same folder
    pristine = {"name": "NaNiO2", "formula": "NaNiO2", "prototype": "o3", "role": "pristine",
                "entropy": {"target_R": 0.0, "target_class": "low",
                            "achieved_R": None, "achieved_class": None},
                "structures": [dict(_structure("cell", 10.0, 10.2), energy_eV_per_atom=None, converged=None)],
                "volume_vs_pristine_pct": None, "neb": [], "neb_summary": {"n": 0}, "notes": None}
    text = write_report({"campaign": "partial", "materials": [pristine]}, tmp_path).read_text()
    assert "NaNiO2: NEB results are missing" in text
    assert "Not drawn: NEB results are missing for every material" in text
    assert "Not drawn: no SQS" in text
    for png in ("entropy.png", "volumes.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG
    for png in ("sqs_quality.png", "neb_profiles.png", "barriers.png"):
        assert not (tmp_path / png).exists(), png  # the stale plot is gone
    assert "literature range" not in text and "date unknown" in text
    assert len(_table_rows(text)) == 1 + 4  # target ΔS; V0, V, ΔV, max force (energy is None)


def test_nearly_empty_analysis_still_gives_a_report(tmp_path):
    text = write_report({"materials": [{"name": "X", "neb": [{"forward_barrier_eV": None}]}]},
                        tmp_path).read_text()
    assert "X: no ΔS_config" in text and "X: no relaxed structure yet" in text
    assert "No computed number yet." in text
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(HecathodeInputError, match="analysis must be a dict"):
        write_report(["not", "a", "dict"], tmp_path)
