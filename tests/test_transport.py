"""`hecathode transport`: the statistics on values with known answers, the result document on
constructed networks, bad input, and one real CHGNet run (two small O3 SQS, slow) with its rerun."""

import json
import os
import subprocess

import numpy as np
import pytest
from conftest import HECATHODE

from workflows.studies.transport import (
    AXES,
    NetworkRun,
    TransportInputError,
    TransportResult,
    axis_statistics,
    bootstrap_interval_eV,
    finished_network,
    hop_barriers,
    lowest_eV,
    mean_std_eV,
    pooled,
)
from workflows.studies.transport_stats import t_interval_eV

ENV = {**os.environ, "OMP_NUM_THREADS": "1",
       "HECATHODE_TORCH_THREADS": os.environ.get("HECATHODE_TORCH_THREADS", "1")}


def cli(*args, timeout=900):
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, timeout=timeout, env=ENV)


# ------------------------------------------------------------------ statistics

def test_mean_and_sample_std_of_known_values():
    mean, std = mean_std_eV([0.2, 0.3, 0.4])
    assert mean == pytest.approx(0.3) and std == pytest.approx(0.1)  # ddof 1: sqrt(0.02 / 2)
    assert mean_std_eV([0.5]) == (0.5, None)  # one value: no sample std
    assert mean_std_eV([None, None]) == (None, None)


def test_bootstrap_interval_holds_the_mean_within_the_range_and_is_reproducible():
    values = [0.2, 0.3, 0.4, 0.35, 0.25]
    lo, hi = bootstrap_interval_eV(values)
    assert min(values) <= lo < np.mean(values) < hi <= max(values)
    assert bootstrap_interval_eV(values) == [lo, hi]  # fixed seed
    assert bootstrap_interval_eV([0.7, 0.7, 0.7]) == [pytest.approx(0.7), pytest.approx(0.7)]
    assert bootstrap_interval_eV([None]) is None
    # a wider spread gives a wider interval
    lo2, hi2 = bootstrap_interval_eV([0.1, 0.3, 0.5, 0.45, 0.15])
    assert hi2 - lo2 > hi - lo


def test_student_t_interval_of_three_values_is_wider_than_their_range():
    # [0.2, 0.3, 0.4]: mean 0.3, s 0.1, t(0.975, 2 dof) = 4.303 (any t table) -> 0.3 ± 0.2484;
    # the bootstrap interval of the same three values stays inside 0.2 .. 0.4
    lo, hi = t_interval_eV([0.2, None, 0.3, 0.4])
    assert lo == pytest.approx(0.3 - 4.3027 * 0.1 / 3 ** 0.5, abs=1e-4)
    assert hi == pytest.approx(0.5484, abs=1e-4)
    b_lo, b_hi = bootstrap_interval_eV([0.2, 0.3, 0.4])
    assert lo < 0.2 <= b_lo < b_hi <= 0.4 < hi
    assert t_interval_eV([0.3]) is None
    assert t_interval_eV([0.3, 0.3]) == [pytest.approx(0.3), pytest.approx(0.3)]
    s = axis_statistics([0.25, 0.45, None, 0.35], pristine_eV=0.3)
    assert s["t95_eV"] == t_interval_eV([0.25, 0.45, 0.35]) and s["n_above_pristine"] == 2
    assert axis_statistics([0.25, 0.45], pristine_eV=None)["n_above_pristine"] is None


def test_axes_without_a_path_are_counted_apart_never_averaged():
    s = axis_statistics([0.2, None, 0.4, None, 0.3], pristine_eV=0.5)
    assert s["n_sqs"] == 5 and s["n_percolating"] == 3 and s["n_no_path"] == 2
    assert s["per_sqs_eV"] == [0.2, None, 0.4, None, 0.3]
    assert s["mean_eV"] == pytest.approx(0.3) and s["std_eV"] == pytest.approx(0.1)
    assert s["he_minus_pristine_eV"] == pytest.approx(-0.2)
    assert s["interval_meaningful"]
    lo, hi = s["ci95_eV"]
    assert 0.2 <= lo <= 0.3 <= hi <= 0.4


def test_too_few_sqs_make_no_meaningful_interval_and_no_path_has_no_mean():
    assert not axis_statistics([0.2, 0.4])["interval_meaningful"]
    s = axis_statistics([None, None], pristine_eV=None)
    assert s["mean_eV"] is None and s["ci95_eV"] is None and s["n_no_path"] == 2
    assert s["he_minus_pristine_eV"] is None
    assert axis_statistics([0.3, 0.5, 0.4], pristine_eV=None)["he_minus_pristine_eV"] is None
    assert lowest_eV({"a": 0.5, "b": None, "c": 0.3}) == 0.3 and lowest_eV(dict.fromkeys(AXES)) is None


def test_hop_barriers_keep_refined_clean_hops_with_their_multiplicity():
    network = {"hops": [
        {"refined": True, "effective_barrier_eV": 0.5, "multiplicity": 6, "reconstructed": False},
        {"refined": True, "effective_barrier_eV": 0.9, "multiplicity": 2, "reconstructed": True},
        {"refined": False, "screened_barrier_eV": 1.2, "multiplicity": 4, "reconstructed": False},
        {"refined": True, "skipped": "relaxed into each other", "multiplicity": 2}]}
    d = hop_barriers(network)
    assert d == {"values_eV": [0.5], "weights": [6], "n_screened_only": 1}
    both = pooled([d, {"values_eV": [0.7], "weights": [1], "n_screened_only": 2}])
    assert both == {"values_eV": [0.5, 0.7], "weights": [6, 1], "n_screened_only": 3}


def _run(name, perc, spread=0.1, calculator="chgnet"):
    return NetworkRun(calculator=calculator, name=name, folder=f"{calculator}/{name}", n_atoms_input=32,
                      n_atoms=32, percolation_barrier_eV=perc, site_energy_spread_eV=spread, n_hops=3,
                      n_refined=2, converged=True,
                      hop_barriers={"values_eV": [0.4, 0.6], "weights": [2, 2], "n_screened_only": 1},
                      reused=False, wall_time_s=1.0)


def test_result_document_on_constructed_networks(tmp_path):
    from workflows.report.transport import plot_transport

    networks = [_run("pristine", {"a": 0.5, "b": 0.5, "c": None}, spread=0.0),
                _run("sqs-000", {"a": 0.2, "b": 0.25, "c": None}),
                _run("sqs-001", {"a": 0.3, "b": 0.35, "c": 0.9}),
                _run("sqs-002", {"a": 0.4, "b": 0.45, "c": None})]
    result = TransportResult(formula="NaNi0.5Mn0.5O2", prototype="nvpf", species="Na", calculators=["chgnet"],
                             sqs=[{"name": f"sqs-00{k}"} for k in range(3)], networks=networks,
                             settings={"screen": "idpp"})
    doc = json.loads(json.dumps(result.to_json()))
    block = doc["per_calculator"]["chgnet"]
    a, c = block["percolation_barrier_eV"]["a"], block["percolation_barrier_eV"]["c"]
    assert a["per_sqs_eV"] == [0.2, 0.3, 0.4] and a["mean_eV"] == pytest.approx(0.3)
    assert a["std_eV"] == pytest.approx(0.1) and a["he_minus_pristine_eV"] == pytest.approx(-0.2)
    assert c["n_no_path"] == 2 and c["mean_eV"] == pytest.approx(0.9) and c["pristine_eV"] is None
    assert block["lowest_percolation_barrier_eV"]["per_sqs_eV"] == [0.2, 0.3, 0.4]
    assert block["pristine"]["lowest_eV"] == 0.5
    assert block["site_energy_spread_eV"]["mean_eV"] == pytest.approx(0.1)
    assert block["hop_barriers_eV"]["sqs"]["values_eV"] == [0.4, 0.6] * 3
    assert "review reports 1.984" in block["nvpf_comparison"]["pristine"]
    assert "review reports 0.963" in block["nvpf_comparison"]["high-entropy"]
    assert doc["nvpf_reference"]["literature_range_eV"] == [0.2, 0.45]
    assert doc["networks_run"] == 4 and doc["networks_reused"] == 0
    assert plot_transport(doc, tmp_path / "t.png").stat().st_size > 10000


def test_a_network_folder_of_another_study_is_refused(tmp_path):
    from workflows.studies.transport import network_settings

    settings = network_settings("chgnet", "sqs-000", 32, cutoff_A=3.2, screen="idpp", screen_margin_eV=0.6,
                                n_images=1, fmax=0.1, steps=500, preset=None)
    assert finished_network(tmp_path, settings) is None  # nothing there yet
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    assert finished_network(tmp_path, settings) is None  # started, not finished: resumed
    (tmp_path / "network.json").write_text(json.dumps({"hops": []}))
    assert finished_network(tmp_path, settings) == {"hops": []}
    assert finished_network(tmp_path, {**settings, "fmax_eV_per_A": 0.05}) is None  # run again, resumes
    with pytest.raises(TransportInputError, match="cutoff_A 3.2 -> 4.0"):
        finished_network(tmp_path, {**settings, "cutoff_A": 4.0})


# ------------------------------------------------------------------ the command

@pytest.mark.parametrize("args, message", [
    (("-p", "nope"), "unknown prototype"),
    (("-p", "o3", "--n-sqs", "0"), "--n-sqs must be at least 1"),
    (("-p", "o3", "--screen", "fast"), "--screen 'fast'"),
    (("-p", "o3", "--cutoff", "2.0"), "Na"),
    (("-p", "o3", "-c", "chgnet,chgnet"), "each calculator once"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    p = cli("transport", "NaNi0.5Mn0.5O2", *args, "--out", str(tmp_path / "t"), timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not (tmp_path / "t").exists()  # refused before anything was written


# smallest affordable real case: two metals on a 32-atom O3 SQS (the smallest exact cell whose
# shortest lattice vector, 6.97 Å, keeps a 2.96 Å hop clear of its images), in-plane hops only
TRANSPORT = ("transport", "NaNi0.5Mn0.5O2", "-p", "o3", "--n-sqs", "2", "--images", "1", "--fmax", "0.1",
             "--cutoff", "3.2", "--screen", "idpp", "--screen-margin", "0.1", "--max-atoms", "32",
             "--min-width", "6.0", "--sqs-steps", "2000", "--sqs-runs", "2", "-c", "chgnet")


@pytest.mark.slow
def test_transport_runs_two_sqs_and_reuses_everything_on_rerun(tmp_path):
    out = tmp_path / "t"
    p = cli(*TRANSPORT, "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads((out / "transport.json").read_text())
    for key in ("formula", "prototype", "calculators", "per_calculator", "sqs", "networks", "settings",
                "notes", "networks_run", "networks_reused", "units"):
        assert key in doc
    assert doc["networks_run"] == 3 and doc["networks_reused"] == 0
    block = doc["per_calculator"]["chgnet"]
    for ax in AXES:
        s = block["percolation_barrier_eV"][ax]
        per_folder = [json.loads((out / "chgnet" / f"sqs-00{k}" / "network.json").read_text())
                      ["percolation_barrier_eV"][ax] for k in range(2)]
        assert s["per_sqs_eV"] == per_folder
        assert not s["interval_meaningful"]  # K = 2
    pristine = json.loads((out / "chgnet" / "pristine" / "network.json").read_text())
    # the pristine network is computed in the SQS's supercell (cells of one size)
    assert pristine["n_atoms"] == doc["sqs"][0]["n_atoms"] == 32
    ref = block["pristine"]["percolation_barrier_eV"]
    assert ref == pristine["percolation_barrier_eV"]
    # no Na hop up to 3.2 Å leaves the layer, so nothing percolates along c. (a and b are not
    # equal here: in the SQS's 32-atom cell the vacancy's periodic images break the layer's
    # hexagonal symmetry, the same for the pristine cell and the SQS, which is the point.)
    assert ref["c"] is None
    assert block["percolation_barrier_eV"]["c"]["n_no_path"] == 2, (
        "an SQS percolates along c with in-plane hops only: the crystal axes the percolation is "
        "measured along do not follow the relaxed host cell")
    a = block["percolation_barrier_eV"]["a"]
    assert a["he_minus_pristine_eV"] == pytest.approx(a["mean_eV"] - ref["a"])
    assert 0.1 < ref["a"] < 1.5 and all(0.1 < v < 1.5 for v in a["per_sqs_eV"])
    assert block["hop_barriers_eV"]["pristine"]["values_eV"] and block["hop_barriers_eV"]["sqs"]["values_eV"]
    assert (out / "transport.png").stat().st_size > 10000
    assert "NaNi0.5Mn0.5O2" in p.stdout and "HE − pristine" in p.stdout

    stamps = {f: f.stat().st_mtime_ns for f in out.rglob("network.json")}
    again = cli(*TRANSPORT, "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    # nothing recomputed: no network.json rewritten (below)
    redo = json.loads((out / "transport.json").read_text())
    assert redo["networks_run"] == 0 and redo["networks_reused"] == 3
    assert redo["per_calculator"] == doc["per_calculator"]
    assert {f: f.stat().st_mtime_ns for f in out.rglob("network.json")} == stamps
    assert "reusing" in again.stderr


def test_pristine_network_cell_is_the_sqs_supercell():
    # the parent repeated by the SQS's supercell matrix: cell M @ parent cell, every site label
    # and the conventional axes (percolation is reported along them) kept
    from workflows.studies.neb_study import load_cell
    from workflows.studies.transport import pristine_like_sqs

    parent, _ = load_cell("nvpf", None)
    matrix = [[0, 0, 1], [1, -1, 0], [1, 1, 0]]
    cell = pristine_like_sqs(parent, {"supercell": {"matrix": matrix}})
    assert len(cell) == 2 * len(parent) == 144
    assert np.allclose(cell.cell[:], np.array(matrix) @ parent.cell[:])
    assert sorted(cell.arrays["site_label"]) == sorted(list(parent.arrays["site_label"]) * 2)
    assert np.allclose(cell.info["conventional_cell"], parent.info["conventional_cell"])
    assert pristine_like_sqs(parent, {}) is parent  # no matrix recorded: the parent as it is
