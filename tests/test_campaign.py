"""FireWorks campaigns run for real: embedded store, local runner, resume after a kill, busy store.

The small campaign is the O3 host NaNiO2 (4-atom cell) against a 24-atom SQS of
NaNi1/3Co1/3Mn1/3O2, relaxed with CHGNet, with a short NEB in the pristine cell. Checked
against physics: ΔS_config 0 for the ordered host and R ln 3 = 1.0986 R for three equimolar
cations, and the volume change against the pristine material as computed from the relaxed
volumes the campaign wrote.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import HECATHODE

SMALL = """\
name: small
description: test campaign
calculator: chgnet
relax: {fmax: 0.1, steps: 80}
neb: {hop: "Na:Na", n_images: 1, fmax: 0.1, steps: 80}
materials:
  - {name: NaNiO2, formula: NaNiO2, prototype: o3}
  - name: O3-HE
    formula: NaNi1/3Co1/3Mn1/3O2
    prototype: o3
    sqs: {n_structures: 1, max_atoms: 24, seed: 1, n_runs: 1, n_steps: 1000, min_width: 5}
    neb: null
"""
ENV = {**os.environ, "HECATHODE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _write(tmp: Path, text: str = SMALL, name: str = "small.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(HECATHODE), *args], capture_output=True, text=True, env=ENV, **kw)


def _store(folder: Path) -> dict:
    """The saved store, read as plain JSON (what a restarted runner would see)."""
    import bson.json_util

    return bson.json_util.loads((folder / "store.json").read_text()).get("hecathode", {})


def _fireworks(folder: Path) -> dict[str, dict]:
    docs = _store(folder).get("fireworks", {}).get("documents", [])
    return {d[1]["name"]: d[1] for d in docs}


# --- campaign files: one-line errors before anything runs -------------------------------------

@pytest.mark.parametrize("edit, message", [
    (("calculator: chgnet", "calculator: chgnet\ncolour: blue"), "unknown key(s) colour"),
    (("formula: NaNiO2,", "formula: NaXx2O2,"), "materials[0] (NaNiO2)"),
    (('hop: "Na:Na"', 'hop: "Na-Na"'), "write FROM:TO"),
    (("name: O3-HE", "name: NaNiO2"), "used twice"),
    (("min_width: 5", "min_width: 30"), "perpendicular width"),
    (("relax: {fmax: 0.1, steps: 80}", "relax: {fmax: 0.1, stepz: 80}"), "unknown key(s) stepz"),
])
def test_bad_campaign_file_is_one_line(tmp_path, edit, message):
    path = _write(tmp_path, SMALL.replace(*edit))
    res = _run(["campaign", "run", str(path), "--out", str(tmp_path / "c")])
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.stderr
    assert not (tmp_path / "c" / "store.json").exists()  # nothing was started


def test_missing_campaign_file_and_bad_queue(tmp_path):
    res = _run(["campaign", "run", str(tmp_path / "nope.yaml")])
    assert res.returncode == 2 and "campaign file not found" in res.stderr
    res = _run(["campaign", "run", str(_write(tmp_path)), "--queue", "lsf", "--out", str(tmp_path / "c")])
    assert res.returncode == 2 and "--queue 'lsf'" in res.stderr


# --- the embedded store ----------------------------------------------------------------------

def test_second_process_gets_busy_error_and_snapshot_reads_work(tmp_path):
    from workflows.fireworks.launchpad import StoreBusyError, open_store, save

    folder = tmp_path / "c"
    with open_store(folder) as lp:
        from fireworks import Firework, ScriptTask, Workflow

        lp.add_wf(Workflow([Firework(ScriptTask.from_str("true"), name="one")], name="w",
                           metadata={"hecathode_campaign": "w"}))
        save(lp)
        res = _run(["campaign", "run", str(_write(tmp_path)), "--out", str(folder)])
        assert res.returncode == 2
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and f"store busy, held by PID {os.getpid()}" in lines[0]
        with pytest.raises(StoreBusyError):
            with open_store(folder):
                pass
        with open_store(folder, read_only=True) as snap:  # status/report while a runner works
            assert snap.get_fw_ids() == [1]
    with open_store(folder) as lp:  # released when the block ends
        assert lp.get_fw_by_id(1).state == "READY"


def test_damaged_store_is_one_line(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "store.json").write_text('{"hecathode": {"fireworks": ')
    res = _run(["campaign", "run", str(_write(tmp_path)), "--out", str(folder)])
    assert res.returncode == 2 and "cannot read the embedded store" in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1


# --- a whole campaign, locally ---------------------------------------------------------------

@pytest.fixture(scope="module")
def small_campaign(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaign")
    path = _write(tmp)
    folder = tmp / "run"
    t0 = time.perf_counter()
    res = _run(["campaign", "run", str(path), "--out", str(folder)])
    return {"path": path, "folder": folder, "res": res, "seconds": time.perf_counter() - t0}


@pytest.mark.slow
def test_local_campaign_completes_with_analysis_and_report(small_campaign):
    res, folder = small_campaign["res"], small_campaign["folder"]
    assert res.returncode == 0, res.stderr[-3000:]
    fws = _fireworks(folder)
    assert sorted(fws) == ["NaNiO2 neb cell", "NaNiO2 relax cell", "NaNiO2 structures", "O3-HE relax sqs-000",
                           "O3-HE structures", "small analysis"]
    assert {f["state"] for f in fws.values()} == {"COMPLETED"}
    doc = json.loads((folder / "analysis" / "analysis.json").read_text())
    host, he = doc["materials"]
    assert host["entropy"]["target_R"] == pytest.approx(0.0, abs=1e-12)
    assert he["entropy"]["target_R"] == pytest.approx(math.log(3), abs=1e-9)
    assert he["entropy"]["achieved_R"] == pytest.approx(math.log(3), abs=1e-9)  # 24 atoms hold 2+2+2
    assert he["sqs"] and he["sqs"][0]["n_atoms"] == 24
    for mat in (host, he):
        s = mat["structures"][0]
        assert s["converged"] and s["calculator"] == "chgnet"
    v_host = host["structures"][0]["volume_per_host_atom_A3_relaxed"]
    v_he = he["structures"][0]["volume_per_host_atom_A3_relaxed"]
    assert he["volume_vs_pristine_pct"] == pytest.approx(100 * (v_he - v_host) / v_host)
    relaxed = json.loads((folder / "NaNiO2" / "relax-cell" / "relax.json").read_text())
    assert v_host == pytest.approx(relaxed["volume_A3"] / 3)  # NaNiO2 cell: host atoms Ni, O, O
    (neb,) = host["neb"]
    assert neb["forward_barrier_eV"] > 0.05 and len(neb["profile"]["energies_eV"]) == 3
    report = (folder / "report" / "report.md").read_text()
    assert "NaNiO2" in report and "O3-HE" in report


@pytest.mark.slow
def test_second_run_does_nothing_and_says_so(small_campaign):
    assert small_campaign["res"].returncode == 0
    folder = small_campaign["folder"]
    before = _fireworks(folder)
    res = _run(["campaign", "run", str(small_campaign["path"]), "--out", str(folder)])
    assert res.returncode == 0
    assert "nothing to do: all 6 fireworks" in res.stderr
    after = _fireworks(folder)
    assert {n: (f["state"], f["launches"]) for n, f in after.items()} == \
        {n: (f["state"], f["launches"]) for n, f in before.items()}


@pytest.mark.slow
def test_status_json_lists_every_firework(small_campaign):
    res = _run(["status", str(small_campaign["folder"]), "--json"])
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["fireworks"]) == 6 and {r["state"] for r in doc["fireworks"]} == {"COMPLETED"}
    relax = next(r for r in doc["fireworks"] if r["name"] == "NaNiO2 relax cell")
    assert relax["stored_data"]["converged"] is True


@pytest.mark.slow
def test_changed_campaign_is_refused(small_campaign):
    text = SMALL.replace("relax: {fmax: 0.1,", "relax: {fmax: 0.05,")
    path = _write(small_campaign["path"].parent, text, "changed.yaml")
    res = _run(["campaign", "run", str(path), "--out", str(small_campaign["folder"])])
    assert res.returncode == 2 and "built from different settings" in res.stderr


@pytest.mark.slow
def test_killed_runner_resumes_without_redoing_finished_fireworks(tmp_path):
    path = _write(tmp_path)
    folder = tmp_path / "run"
    proc = subprocess.Popen([str(HECATHODE), "campaign", "run", str(path), "--out", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 240
    done: list[str] = []
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if (folder / "store.json").is_file():
            done = [n for n, f in _fireworks(folder).items() if f["state"] == "COMPLETED"]
            if "NaNiO2 relax cell" in done:
                break
    assert proc.poll() is None, "the runner finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = {n: f for n, f in _fireworks(folder).items() if f["state"] == "COMPLETED"}
    assert "NaNiO2 relax cell" in finished_before
    mtime = (folder / "NaNiO2" / "relax-cell" / "relax.json").stat().st_mtime
    res = _run(["campaign", "run", str(path), "--out", str(folder)])
    assert res.returncode == 0, res.stderr[-3000:]
    after = _fireworks(folder)
    assert {f["state"] for f in after.values()} == {"COMPLETED"}
    for name, fw in finished_before.items():  # not redone: same launch, files untouched
        assert after[name]["launches"] == fw["launches"], name
    assert (folder / "NaNiO2" / "relax-cell" / "relax.json").stat().st_mtime == mtime
    assert "[1/6]" not in res.stderr  # the runner started past the finished ones
    assert (folder / "report" / "report.md").is_file()


def test_python_import_order_does_not_matter():
    """FireWorks imported before the store is opened still gets the embedded store."""
    code = ("import fireworks, tempfile\nfrom workflows.fireworks.launchpad import open_store\n"
            "with open_store(tempfile.mkdtemp()) as lp: print(type(lp.connection).__module__)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert res.returncode == 0, res.stderr
    assert "mongomock" in res.stdout


# --- through a real one-node SLURM cluster, offline mode ------------------------------------------

@pytest.mark.slow
def test_slurm_campaign_completes_and_a_cancelled_job_is_rerun(slurm_cluster, tmp_path):
    """Every firework goes through sbatch; the jobs never open the store (offline mode) and the
    runner recovers their results. The NEB job is scancelled while it runs: the runner must see
    it leave the queue unfinished, mark it lost and rerun it to completion."""
    from workflows.fireworks.queues import cancel_job

    path = _write(tmp_path)
    folder = tmp_path / "run"
    proc = subprocess.Popen([str(HECATHODE), "campaign", "run", str(path), "--out", str(folder),
                             "--queue", "slurm", "--poll", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    cancelled = None
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None and cancelled is None:
        time.sleep(0.5)
        if not (folder / "store.json").is_file():
            continue
        neb = _fireworks(folder).get("NaNiO2 neb cell")
        if neb and neb["state"] == "RUNNING":
            from workflows.fireworks.campaign import reservation_id

            launches = {d[1]["launch_id"]: d[1] for d in _store(folder)["launches"]["documents"]}
            job = reservation_id(launches[max(neb["launches"])])
            cancel_job("slurm", job)
            cancelled = job
    assert cancelled is not None, "the NEB job was never seen running"
    stdout, stderr = proc.communicate(timeout=max(10, deadline - time.time()))
    assert proc.returncode == 0, stderr[-3000:]
    assert f"lost run: 'NaNiO2 neb cell' (job {cancelled})" in stderr
    fws = _fireworks(folder)
    assert {f["state"] for f in fws.values()} == {"COMPLETED"}, {n: f["state"] for n, f in fws.items()}
    assert len(fws["NaNiO2 neb cell"]["archived_launches"]) == 1  # the lost launch, kept for the record
    assert "submitted 'small analysis' as slurm job" in stderr
    doc = json.loads((folder / "analysis" / "analysis.json").read_text())
    assert doc["materials"][0]["neb"][0]["converged"]
    assert (folder / "report" / "report.md").is_file()
