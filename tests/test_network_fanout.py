"""A hop network fanned out over fireworks (workflows.fireworks.network_tasks): states -> screen
-> one firework per CI-NEB hop -> join, the later ones added by the earlier ones (FWAction
detours); run locally and through a real one-node SLURM cluster with two hop jobs at once; the
campaign's `neb: {network: true}` section.

The network is ASE's EMT on fcc Cu (calculator "emt", by name like the MLIPs): the 2x2x2 cubic
cell strained 1 : 1.05 : 1.15 has three hop classes (tests/test_network_screen.py); with
screen none every hop is refined, percolation a = b = 0.3832, c = 0.4876 eV; with IDPP and a
0.1 eV margin the 0.535 eV hop is screened out. The analysis and report numbers at the end are
illustrative, for the formatter.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ase.build import bulk
from conftest import HECATHODE

from structures.errors import HecathodeInputError
from structures.io import read_structure, write_structure
from workflows.fireworks.builders import CampaignError, build_workflow, load_campaign
from workflows.fireworks.campaign import _run_local, _run_queue, current_ids
from workflows.fireworks.launchpad import open_store, save
from workflows.fireworks.network_tasks import network_settings, network_workflow

ENV = {**os.environ, "HECATHODE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
MARGIN_EV = 0.1  # with IDPP: the 0.535 eV hop (estimate 0.680 eV) cannot set a threshold
STEPS = ["states", "screen", "hop-00", "hop-01", "hop-02", "join-1"]


@pytest.fixture(scope="module")
def cu_file(tmp_path_factory) -> Path:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.set_cell(atoms.cell[:] * [[1], [1.05], [1.15]], scale_atoms=True)
    return write_structure(tmp_path_factory.mktemp("cu") / "cu.extxyz", atoms)


def _net(directory: Path, screen: str = "none", margin_eV=None, **kw) -> dict:
    return network_settings("Cu", directory, "emt", species="Cu", cutoff=2.9, screen=screen,
                            margin_eV=margin_eV, neb={"n_images": 1}, relax_host=False, **kw)


def _reference(cu_file: Path, screen: str, margin_eV, directory: Path):
    from calculators.network import run_network

    return run_network(read_structure(cu_file), "emt", species="Cu", cutoff=2.9, n_images=1, screen=screen,
                       margin_eV=margin_eV, relax_host=False, directory=directory)


@pytest.fixture(scope="module")
def all_refined(cu_file, tmp_path_factory):
    """run_network in one process, screen none: the numbers the fan-out must give."""
    return _reference(cu_file, "none", None, tmp_path_factory.mktemp("reference"))


@pytest.fixture
def emt_calls(monkeypatch) -> list[int]:
    """EMT evaluations in this process (the local runner runs its fireworks here)."""
    from ase.calculators.emt import EMT

    count = [0]
    real = EMT.calculate

    def counting(self, *args, **kwargs):
        count[0] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EMT, "calculate", counting)
    return count


def _fireworks(lp, ids) -> dict[str, dict]:
    """name -> {state, launches, fw_id, stored_data of its last launch} of every firework now."""
    out = {}
    for fw_id in current_ids(lp, ids):
        doc = lp.fireworks.find_one({"fw_id": fw_id})
        launch = lp.launches.find_one({"launch_id": {"$in": doc["launches"]}}, sort=[("launch_id", -1)])
        out[doc["name"].removeprefix("Cu network cell ")] = {
            "state": doc["state"], "launches": list(doc["launches"]), "fw_id": fw_id,
            "launch_dir": (launch or {}).get("launch_dir"),
            "stored_data": ((launch or {}).get("action") or {}).get("stored_data", {})}
    return out


def _add(lp, cu_file: Path, net: dict) -> list[int]:
    lp.add_wf(network_workflow(cu_file, net))
    save(lp)
    return lp.get_fw_ids()


def _same_network(fanout: dict, reference) -> None:
    for axis, value in reference.percolation_barrier_eV.items():
        assert fanout["percolation_barrier_eV"][axis] == pytest.approx(value, abs=1e-6), axis
    assert fanout["force_calls"] == reference.force_calls  # the same calculations, nothing twice
    assert [h["refined"] for h in fanout["hops"]] == [h["refined"] for h in reference.hops]


# --- locally: the project's runner on the embedded store -------------------------------------

# the runner, killed (os._exit: no cleanup, like SIGKILL) when it starts the second hop's NEB
KILLED_RUNNER = """
import os, sys
from pathlib import Path
import calculators.network as network
from workflows.fireworks.campaign import _run_local
from workflows.fireworks.launchpad import open_store

real, started = network.refine_hops, []

def killed_on_the_second_hop(plan, hops, pool=None, **kw):
    started.append(hops[0]["class"])
    if len(started) == 2:
        os._exit(9)
    return real(plan, hops, pool, **kw)

network.refine_hops = killed_on_the_second_hop
with open_store(sys.argv[1]) as lp:
    _run_local(lp, lp.get_fw_ids(), Path(sys.argv[1]), print)
"""


@pytest.mark.slow
def test_local_fanout_matches_run_network_and_resumes_after_a_kill(cu_file, all_refined, emt_calls, tmp_path):
    folder, net = tmp_path / "campaign", _net(tmp_path / "net")
    with open_store(folder) as lp:
        ids = _add(lp, cu_file, net)
    killed = subprocess.run([sys.executable, "-c", KILLED_RUNNER, str(folder)], capture_output=True,
                            text=True, env=ENV, timeout=600)
    assert killed.returncode == 9, killed.stderr[-3000:]
    with open_store(folder) as lp:  # what the saved store holds: the killed hop is not done
        before = _fireworks(lp, ids)
    done = {n for n, f in before.items() if f["state"] == "COMPLETED"}
    first = next(n for n in done if n.startswith("hop-"))
    assert done == {"states", "screen", first}, before

    emt_calls[0] = 0
    with open_store(folder) as lp:  # resume
        _run_local(lp, ids, folder, print)
        after = _fireworks(lp, ids)
    assert sorted(after) == sorted(STEPS)  # states + screen + 3 hops + 1 join, added as they ran
    assert {f["state"] for f in after.values()} == {"COMPLETED"}
    for name in done:  # nothing finished was run again
        assert after[name]["launches"] == before[name]["launches"], name
    doc = json.loads((tmp_path / "net" / "network.json").read_text())
    _same_network(doc, all_refined)
    assert doc["percolation_barrier_eV"] == pytest.approx({"a": 0.3832, "b": 0.3832, "c": 0.4876}, abs=1e-4)
    # the resumed run computed the two hops left and nothing else: states and estimates read back
    rest = [h for h in doc["hops"] if f"hop-{h['class']:02d}" != first]
    assert emt_calls[0] == sum(h["force_calls"] for h in rest)
    join = after["join-1"]["stored_data"]
    assert join["refined"] == [0, 1, 2] and join["percolation_barrier_eV"] == doc["percolation_barrier_eV"]

    emt_calls[0] = 0
    with open_store(folder) as lp:  # run again: nothing left
        _run_local(lp, ids, folder, print)
        again = _fireworks(lp, ids)
    assert {n: f["launches"] for n, f in again.items()} == {n: f["launches"] for n, f in after.items()}
    assert emt_calls[0] == 0


@pytest.mark.slow
def test_rounds_with_a_screen_follow_run_network(cu_file, tmp_path):
    """One hop per round: the join adds the next hop while one can still set a threshold, in
    run_network's serial order; the screened-out hop never gets a firework."""
    folder, net = tmp_path / "campaign", _net(tmp_path / "net", "idpp", MARGIN_EV, hops_per_round=1)
    with open_store(folder) as lp:
        ids = _add(lp, cu_file, net)
        _run_local(lp, ids, folder, print)
        fws = _fireworks(lp, ids)
    assert sorted(fws) == sorted(["states", "screen", "hop-00", "join-1", "hop-01", "join-2"])
    assert {f["state"] for f in fws.values()} == {"COMPLETED"}
    assert fws["screen"]["stored_data"]["to_refine"] == [0]
    assert fws["join-1"]["stored_data"]["to_refine"] == [1]
    assert fws["hop-00"]["launch_dir"] == str(tmp_path / "net" / "launch" / "hop-00")
    doc = json.loads((tmp_path / "net" / "network.json").read_text())
    assert [h["refined"] for h in doc["hops"]] == [True, True, False]
    _same_network(doc, _reference(cu_file, "idpp", MARGIN_EV, tmp_path / "reference"))


@pytest.mark.slow
def test_a_hop_the_finished_ones_made_unneeded_is_not_run(cu_file, tmp_path):
    """All hops in one round: the screen asks for all three (each can still set a threshold),
    but once hops 1 and 2 are refined the third cannot; its job, started after them, reads
    their entries and ends without a force call. The result is run_network's serial one, the
    same CI-NEBs and force calls. A hop that has a folder (as a running one would) and is no
    longer needed gets a STOP request when a hop finishes."""
    folder, net = tmp_path / "campaign", _net(tmp_path / "net", "idpp", MARGIN_EV)
    (tmp_path / "net" / "hop-02").mkdir(parents=True)  # as if its job were running
    with open_store(folder) as lp:
        ids = _add(lp, cu_file, net)
        _run_local(lp, ids, folder, print)
        fws = _fireworks(lp, ids)
    assert sorted(fws) == sorted(STEPS)
    assert fws["screen"]["stored_data"]["to_refine"] == [0, 1, 2]
    assert fws["hop-02"]["stored_data"] == {"class": 2, "not_needed": True}
    assert fws["join-1"]["stored_data"]["refined"] == [0, 1]
    assert (tmp_path / "net" / "hop-02" / "STOP").is_file()
    doc = json.loads((tmp_path / "net" / "network.json").read_text())
    assert [h["refined"] for h in doc["hops"]] == [True, True, False]
    _same_network(doc, _reference(cu_file, "idpp", MARGIN_EV, tmp_path / "reference"))


# --- through SLURM: the campaign runner's queue mode (offline rocket jobs) --------------------

def _offline_times(launch_dir: str) -> tuple[str, str]:
    doc = json.loads((Path(launch_dir) / "FW_offline.json").read_text())
    return doc["started_on"], doc["completed_on"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Unable to find FW_ping.json")  # a job not started yet: no ping
def test_slurm_fanout_runs_two_hop_jobs_at_once(slurm_cluster, cu_file, all_refined, tmp_path):
    """Every firework is an sbatch job that never opens the store; the runner recovers each one,
    which adds the next fireworks, and submits them. The three hop jobs are submitted together
    and the one-node cluster (2 CPUs, 1 CPU per job) runs two of them at the same time."""
    from workflows.fireworks.campaign import reservation_id

    folder, net = tmp_path / "campaign", _net(tmp_path / "net")
    said: list[str] = []
    clock = tmp_path / "job_clock.txt"  # each job's shell writes when it begins and ends
    stamp = 'echo "$SLURM_JOB_ID {} $(date -u +%s.%N)" >> ' + str(clock)
    # a 5 s pause in each job: longer than the gap between the runner's sbatch calls (0.2-2 s
    # here), so jobs that the cluster runs side by side are seen to overlap however fast EMT is
    queue = {"walltime": "00:10:00", "cpus_per_task": 1,
             "pre_rocket": stamp.format("start") + "\nsleep 5", "post_rocket": stamp.format("end")}
    with open_store(folder) as lp:
        ids = _add(lp, cu_file, net)
        _run_queue(lp, ids, folder, "slurm", queue, None, said.append,
                   poll_s=0.5, max_reruns=0, timeout_s=900)
        fws = _fireworks(lp, ids)
        jobs = {n: reservation_id(lp.launches.find_one({"launch_id": f["launches"][-1]}))
                for n, f in fws.items()}
    assert sorted(fws) == sorted(STEPS), said
    assert {f["state"] for f in fws.values()} == {"COMPLETED"}, said
    assert len(set(jobs.values())) == len(STEPS) and all(j and j.isdigit() for j in jobs.values())
    doc = json.loads((tmp_path / "net" / "network.json").read_text())
    _same_network(doc, all_refined)
    # the jobs' own shells: two hop jobs run at the same time. (Not the rocket's clock in
    # FW_offline.json: an EMT hop takes under a second, less than the jitter of the jobs' imports.)
    jobs_clock: dict[str, dict[str, float]] = {}
    for line in clock.read_text().split("\n"):
        if line.strip():
            job, what, seconds = line.split()
            jobs_clock.setdefault(job, {})[what] = float(seconds)
    hops = [n for n in STEPS if n.startswith("hop-")]
    spans = {n: (jobs_clock[jobs[n]]["start"], jobs_clock[jobs[n]]["end"]) for n in hops}
    overlapping = [(a, b) for a in spans for b in spans
                   if a < b and max(spans[a][0], spans[b][0]) < min(spans[a][1], spans[b][1])]
    print("hop jobs (SLURM id, start, end):", {n: (jobs[n], *spans[n]) for n in spans})
    assert overlapping, spans
    # and the stages in order (the rockets' clocks): a hop starts after the screen ended, the
    # join after the last hop
    spans = {n: _offline_times(fws[n]["launch_dir"]) for n in STEPS if n.startswith("hop-")}
    screen_end = _offline_times(fws["screen"]["launch_dir"])[1]
    assert all(start >= screen_end for start, _ in spans.values())
    assert _offline_times(fws["join-1"]["launch_dir"])[0] >= max(end for _, end in spans.values())


# --- the campaign's `neb: {network: true}` ------------------------------------------------------

CAMPAIGN = """\
name: nets
calculator: chgnet
relax: {fmax: 0.1, steps: 50}
neb: {network: true, cutoff: 4.0, n_images: 3, fmax: 0.1}
materials:
  - {name: NaNiO2, formula: NaNiO2, prototype: o3}
  - name: O3-HE
    formula: NaNi1/3Co1/3Mn1/3O2
    prototype: o3
    sqs: {n_structures: 2, max_atoms: 24, seed: 1, n_runs: 1, n_steps: 1000, min_width: 5}
    neb: {screen: idpp, screen_margin: 0.3}
"""


def _campaign(tmp_path: Path, text: str = CAMPAIGN) -> Path:
    path = tmp_path / "nets.yaml"
    path.write_text(text)
    return path


def test_campaign_network_builds_one_states_firework_per_cell(tmp_path):
    from fireworks import FWAction

    from workflows.fireworks.network_tasks import _round

    root = tmp_path / "run"
    camp = load_campaign(_campaign(tmp_path))
    wf = build_workflow(camp, root)
    by_name = {fw.name: fw for fw in wf.fws}
    children = {fw.name: sorted(wf.id_fw[i].name for i in wf.links[fw.fw_id]) for fw in wf.fws}
    cells = [("NaNiO2", "cell"), ("O3-HE", "sqs-000"), ("O3-HE", "sqs-001")]
    for mat, label in cells:  # after its relaxation, before the analysis; no plain NEB firework
        assert children[f"{mat} relax {label}"] == sorted([f"{mat} network {label} states", "nets analysis"])
        assert children[f"{mat} network {label} states"] == ["nets analysis"]
    assert not any(" neb " in name for name in by_name)
    net = by_name["NaNiO2 network cell states"].tasks[0]["network"]
    assert net["directory"] == str((root / "NaNiO2" / "network-cell").resolve())
    assert (net["screen"], net["margin_eV"], net["cutoff"]) == ("short-neb", 0.25, 4.0)  # campaign default
    assert net["neb"] == {"n_images": 3, "fmax": 0.1}
    assert (net["calculator"], net["species"]) == ("chgnet", "Na")
    he = by_name["O3-HE network sqs-001 states"].tasks[0]["network"]
    assert (he["screen"], he["margin_eV"], he["index"], he["label"]) == ("idpp", 0.3, 1, "sqs-001")
    assert by_name["O3-HE network sqs-001 states"].spec["_launch_dir"] == he["directory"] + "/launch/states"
    summary = by_name["nets analysis"].tasks[0]["campaign"]["materials"]
    assert all(m["network"] for m in summary)

    # what the states task adds (a detour) goes before the analysis, and so does the join's round
    with open_store(tmp_path / "store") as lp:
        lp.add_wf(wf)
        states = lp.fireworks.find_one({"name": "NaNiO2 network cell states"})["fw_id"]
        analysis = lp.fireworks.find_one({"name": "nets analysis"})["fw_id"]
        wf = lp.get_wf_by_fw_id(states)
    wf.apply_action(FWAction(detours=[_round(net, [0, 2], 1)]), states)
    added = {wf.id_fw[i].name: i for i in wf.links[states]}
    assert sorted(added) == ["NaNiO2 network cell hop-00", "NaNiO2 network cell hop-02", "nets analysis"]
    join = wf.links[added["NaNiO2 network cell hop-00"]][0]
    assert wf.id_fw[join].name == "NaNiO2 network cell join-1" and analysis in wf.links[join]


@pytest.mark.parametrize("edit, message", [
    (("neb: {network: true,", "neb: {network: maybe,"), "neb.network: 'maybe' is not true or false"),
    (("neb: {network: true,", "neb: {network: true, colour: red,"), "neb: unknown key(s) colour"),
    (("neb: {network: true,", "neb: {network: true, hop: 'Na:Na',"), "network: true runs every hop; drop"),
    (("screen: idpp,", "screen: fast,"), "materials[1].neb: --screen 'fast': allowed idpp, short-neb, none"),
    (("screen_margin: 0.3", "screen_margin: -1"), "materials[1].neb.screen_margin: -1 is not a number >= 0"),
    (("cutoff: 4.0,", "cutoff: big,"), "neb.cutoff: 'big' is not a number > 0"),
    (("n_images: 3,", "n_images: 0,"), "--images must be at least 1"),
    (("neb: {screen: idpp,", "neb: {network: false, hop: 'Na:Na', screen: idpp,"),
     "materials[1].neb: screen, screen_margin only with network: true"),
])
def test_bad_network_section_is_one_line(tmp_path, edit, message):
    text = CAMPAIGN.replace(*edit)
    assert text != CAMPAIGN, edit
    with pytest.raises(CampaignError) as err:
        load_campaign(_campaign(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_bad_network_section_through_the_cli_is_one_line_exit_2(tmp_path):
    path = _campaign(tmp_path, CAMPAIGN.replace("screen_margin: 0.3", "screen_margin: lots"))
    res = subprocess.run([str(HECATHODE), "campaign", "run", str(path), "--out", str(tmp_path / "c")],
                         capture_output=True, text=True, env=ENV)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "screen_margin: 'lots'" in lines[0], res.stderr
    assert not (tmp_path / "c").exists()


def test_network_supercell_is_long_enough_for_the_longest_hop():
    from calculators.neb import network_supercell
    from structures.prototypes import parent_cell

    # as `hecathode neb --network`: pristine NVPF (hops up to 4.98 Å) in a 144-atom supercell
    assert len(network_supercell(parent_cell("nvpf"), "Na", 5.0)) == 144
    big = network_supercell(parent_cell("o3"), "Na", 5.0)
    assert len(big) == 28 and network_supercell(big, "Na", 5.0) is big  # long enough: kept as it is
    with pytest.raises(HecathodeInputError, match="no K hop up to 5 Å"):
        network_supercell(big, "K", 5.0)


def test_emt_by_name_refuses_elements_it_has_no_parameters_for():
    from calculators import get_calculator
    from calculators.presets import CalculatorConfigError

    assert get_calculator("emt", atoms=bulk("Cu")).hecathode["calculator"] == "emt"
    with pytest.raises(CalculatorConfigError, match="emt has no parameters for Na"):
        get_calculator("emt", atoms=bulk("Na"))


# --- analysis.json and the report (illustrative numbers) ----------------------------------------

def _network_json(folder: Path, a: float, c: float | None) -> str:
    folder.mkdir(parents=True)
    doc = {"n_atoms": 48, "hops": [{}, {}, {}], "n_refined": 2, "screen": "short-neb",
           "screen_margin_eV": 0.25, "converged": True, "percolation_barrier_eV": {"a": a, "b": a, "c": c},
           "force_calls": {"total": 900}}
    (folder / "network.json").write_text(json.dumps(doc))
    return str(folder / "network.json")


def test_analysis_and_report_show_percolation_per_axis_and_spread_over_sqs(tmp_path):
    from workflows.report.analysis import collect
    from workflows.report.campaign_report import write_report

    campaign = {"name": "nets", "calculator": "chgnet",
                "materials": [{"name": "HE", "formula": "NaNi1/3Co1/3Mn1/3O2", "prototype": "o3",
                               "role": "high-entropy", "network": True},
                              {"name": "P", "formula": "NaNiO2", "prototype": "o3", "role": "pristine",
                               "network": True}]}
    results = [{"material": "HE", "index": k, "structure": f"sqs-00{k}",
                "json": _network_json(tmp_path / f"sqs-00{k}", a, c)}
               for k, (a, c) in enumerate([(0.30, 0.50), (0.40, None)])]
    doc = collect(campaign, [], [], [], network_results=results)
    he, pristine = doc["materials"]
    assert [r["percolation_barrier_eV"]["a"] for r in he["network"]["structures"]] == [0.30, 0.40]
    a, c = he["network"]["percolation_barrier_eV"]["a"], he["network"]["percolation_barrier_eV"]["c"]
    assert a["n"] == 2 and a["mean_eV"] == pytest.approx(0.35) and a["spread_eV"] == pytest.approx(0.10)
    assert c["n"] == 1  # no path along c in the second SQS
    assert pristine["network"] is None and "hop network did not finish (no network.json)" in pristine["notes"]

    report = write_report(doc, tmp_path / "report").read_text()
    assert "## Hop networks" in report
    assert "| HE | sqs-000 | 48 | 2 / 3 | 0.300 | 0.300 | 0.500 | yes |" in report
    spread = "0.350 ± 0.100 (n = 2) | 0.350 ± 0.100 (n = 2) | 0.500 ± 0.000 (n = 1)"
    assert f"| HE | mean ± spread | – | – | {spread} | – |" in report
    assert "P: hop network did not finish" in report
    assert "| HE | network sqs-001 | percolation barrier along a | 0.400 | eV | chgnet | yes |" in report
    assert "HE: NEB" not in report  # a network material has no plain NEB: nothing missing there
