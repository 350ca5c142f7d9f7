"""The campaign report from analysis documents: complete, partial, NVPF.

The numbers in these documents are illustrative inputs to the formatter, not results; the
report built from a real campaign is checked in test_campaign.py.
"""

from workflows.campaign_report import write_report

PNG = b"\x89PNG\r\n\x1a\n"


def _material(name, role, prototype="nvpf", neb=True):
    return {
        "name": name, "formula": "Na3V2(PO4)2F3", "prototype": prototype, "role": role,
        "entropy": {"target_R": 0.279, "target_class": "low",
                    "achieved_R": 1.124, "achieved_class": "medium"},
        "sqs": [] if role == "pristine" else [{"name": "sqs-000", "n_atoms": 144, "icet_score": 3.4,
                                               "mean_abs_alpha": 0.8, "random_mean_abs_alpha": 0.9}],
        "structures": [{"name": "cell", "n_atoms": 72, "energy_eV_per_atom": -7.1,
                        "volume_per_host_atom_A3_initial": 15.0, "volume_per_host_atom_A3_relaxed": 15.3,
                        "volume_change_pct": 2.0, "converged": True, "calculator": "chgnet"}],
        "mean_volume_per_host_atom_A3": 15.3,
        "volume_vs_pristine_pct": None if role == "pristine" else 0.5,
        "neb": [{"structure": "cell", "hop": "Na2->Na1", "length_A": 2.96, "forward_barrier_eV": 0.1,
                 "reverse_barrier_eV": 0.07, "reaction_energy_eV": 0.03, "converged": False,
                 "saddle": "endpoint", "environment": "V4", "calculator": "chgnet",
                 "profile": {"reaction_coordinate_A": [0, 1, 2], "energies_eV": [0, 0.1, 0.03]}}]
        if neb else [],
        "neb_summary": {"n": 1, "min_eV": 0.1, "mean_eV": 0.1, "max_eV": 0.1} if neb else {"n": 0},
        "notes": [f"note about {name}"],
    }


def test_full_report_has_every_material_note_plot_and_number(tmp_path):
    analysis = {"campaign": "c", "calculator": "chgnet", "materials": [_material("NVPF", "pristine"),
                                                                       _material("HE-NVPF", "high-entropy")],
                "nvpf_reference": {"review_eV": {"pristine": 1.984, "high-entropy": 0.963},
                                   "literature_range_eV": [0.2, 0.45]},
                "notes": ["campaign-wide note"]}
    text = write_report(analysis, tmp_path).read_text()
    for needle in ("NVPF", "HE-NVPF", "campaign-wide note", "HE-NVPF: note about HE-NVPF", "0.279 low",
                   "1.124 medium"):
        assert needle in text
    for png in ("entropy.png", "sqs_quality.png", "volumes.png", "neb_profiles.png", "barriers.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG, png
    table = text.split("## Every number")[1]
    rows = [ln for ln in table.splitlines() if ln.startswith("| NVPF") or ln.startswith("| HE-NVPF")]
    # per material: 2 entropies + 3 structure numbers + 3 NEB numbers; HE also SQS α and ΔV
    assert len(rows) == 8 + 10
    assert "| NO |" in table  # the unconverged NEB is flagged


def test_partial_campaign_says_what_is_missing(tmp_path):
    mat = _material("NaNiO2", "pristine", prototype="o3", neb=False)
    mat["structures"], mat["mean_volume_per_host_atom_A3"] = [], None
    text = write_report({"campaign": "c", "calculator": "chgnet", "materials": [mat]}, tmp_path).read_text()
    assert "NaNiO2: NEB results are missing" in text and "NaNiO2: no relaxed structure yet" in text
    assert "Not drawn: no NEB results" in text
    assert not (tmp_path / "barriers.png").exists() and (tmp_path / "entropy.png").exists()
