"""Queue layer (workflows.fireworks.queues, workflows.fireworks.offline_rocket) and a real SLURM round trip.

The SLURM tests use the session fixture `slurm_cluster` (a one-node cluster started by
scripts/slurm_local.py; needs root and the Debian slurm/munge packages, which CI has). They
fail rather than skip when SLURM cannot run, unless HECATHODE_SKIP_SLURM=1.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from structures.errors import HecathodeInputError
from workflows.fireworks.queues import (
    cancel_job,
    load_qadapter,
    parse_qstat,
    scheduler_jobs,
    slurm_available,
    submit_reserved,
)

if "fireworks.fw_config" not in sys.modules and "MONGOMOCK_SERVERSTORE_FILE" not in os.environ:
    # FireWorks chooses mongomock over pymongo at import when this is set (each test then
    # points it at its own store, see `lp`)
    _default_store = Path(tempfile.mkdtemp(prefix="hecathode-test-store-")) / "store.json"
    _default_store.write_text("{}")
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(_default_store)

RLAUNCH = Path(sys.executable).parent / "rlaunch"


def _child_env() -> dict:
    """Environment for FireWorks child processes: never pointed at a test store."""
    env = {k: v for k, v in os.environ.items() if k != "MONGOMOCK_SERVERSTORE_FILE"}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture
def lp(tmp_path, monkeypatch):
    """A FireWorks LaunchPad on a mongomock store file in tmp_path.

    FireWorks picks pymongo or mongomock when fireworks.fw_config is first imported, from
    MONGOMOCK_SERVERSTORE_FILE; the variable is set before that import here, and if another
    module imported FireWorks first (so it chose pymongo) the LaunchPad's client is replaced
    by the mongomock one for this test.
    """
    store = tmp_path / "store.json"
    store.write_text("{}")
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(store))
    import fireworks.core.launchpad as fw_launchpad
    import fireworks.fw_config as fw_config

    if "mongomock" not in getattr(fw_config.MongoClient, "__module__", ""):
        import mongomock.gridfs
        import mongomock_persistence

        mongomock.gridfs.enable_gridfs_integration()
        monkeypatch.setattr(fw_launchpad, "MongoClient", mongomock_persistence.MongoClient)
    pad = fw_launchpad.LaunchPad(name="hecathode_queue_test", strm_lvl="ERROR")
    assert "mongomock" in type(pad.connection).__module__
    pad.reset("", require_password=False)
    return pad


def _states(pad) -> dict[int, str]:
    return {d["fw_id"]: d["state"] for d in pad.fireworks.find({}, {"fw_id": 1, "state": 1})}


def _recover_all(pad) -> None:
    for doc in pad.offline_runs.find({"completed": False, "deprecated": False}, {"launch_id": 1}):
        pad.recover_offline(doc["launch_id"])


def _job_files(folder: Path) -> str:
    """Last lines of the queue job's output/error files and FW_offline.json, for failure messages."""
    parts = []
    for f in [*sorted(folder.glob("*.out")), *sorted(folder.glob("*.error")), folder / "FW_offline.json"]:
        if not f.exists():
            continue
        parts.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-8:]))
    return "\n".join(parts) or f"(no job files in {folder})"


# --- load_qadapter and parsing (no scheduler needed) --------------------------------------


def test_bad_kind_is_one_line_input_error():
    with pytest.raises(HecathodeInputError) as err:
        load_qadapter("lsf")
    assert isinstance(err.value, ValueError)
    assert "'lsf'" in str(err.value) and "slurm" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(HecathodeInputError, match="cpus_per_task"):
        load_qadapter("slurm", {"cpus_per_task": "many"})
    with pytest.raises(HecathodeInputError, match="overrides must map"):
        load_qadapter("slurm", ["walltime"])
    with pytest.raises(HecathodeInputError, match="job id"):
        cancel_job("slurm", "--signal=KILL")


def test_slurm_overrides_reach_the_script(tmp_path):
    qa = load_qadapter("slurm", {"walltime": "01:30:00", "queue": "short", "account": "proj42",
                                 "cpus_per_task": 4, "mem": "8G"}, python="/opt/py/bin/python")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every preset key is a template field
        script = qa.get_script_str(str(tmp_path))
    for line in ("#SBATCH --time=01:30:00", "#SBATCH --partition=short", "#SBATCH --account=proj42",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G", "#SBATCH --nodes=1", "#SBATCH --ntasks=1",
                 "export OMP_NUM_THREADS=1", "export HECATHODE_TORCH_THREADS=4",
                 "unset MONGOMOCK_SERVERSTORE_FILE", f"cd {tmp_path}",
                 "/opt/py/bin/python -m workflows.fireworks.offline_rocket singleshot --offline"):
        assert line in script, line
    assert "$$" not in script
    rocket = "/opt/py/bin/python -m workflows.fireworks.offline_rocket singleshot --offline"
    assert qa["rocket_launch"] == rocket

    default = load_qadapter("slurm").get_script_str(str(tmp_path))
    assert "--account" not in default and "--partition" not in default  # null drops the line
    assert f"{sys.executable} -m workflows.fireworks.offline_rocket singleshot --offline" in default
    assert "export HECATHODE_TORCH_THREADS=1" in default


def test_pbs_preset(tmp_path):
    qa = load_qadapter(" PBS ", {"ppnode": 2, "queue": "batch", "walltime": "00:10:00"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        script = qa.get_script_str(str(tmp_path))
    for line in ("#PBS -l nodes=1:ppn=2", "#PBS -q batch", "#PBS -l walltime=00:10:00",
                 "export HECATHODE_TORCH_THREADS=2",
                 "-m workflows.fireworks.offline_rocket singleshot --offline"):
        assert line in script, line
    assert qa.q_type == "PBS"


def test_parse_qstat_layouts():
    default = """Job ID                    Name             User            Time Use S Queue
------------------------- ---------------- --------------- -------- - -----
1234.server               FW_job           alice           00:00:01 R batch
1235.server               FW_job           alice                  0 Q batch
1236.server               FW_job           alice           00:10:00 C batch
1237[].server             arr              alice                  0 B batch
"""
    by_user = """
server.example:
                                                            Req'd  Req'd   Elap
Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time
--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----
88.server       alice    batch    relax_1      4242   1   4    --  04:00 E 00:01
89.server       alice    batch    relax_2        --   1   4    --  04:00 H   --
90.server       alice    batch    relax_3        --   1   4    --  04:00 F   --
"""
    assert parse_qstat(default) == {"1234", "1235", "1237"}
    assert parse_qstat(by_user) == {"88", "89"}
    assert parse_qstat("") == set()


def test_scheduler_commands_missing_are_one_line_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue/qstat/scancel here
    for kind in ("slurm", "pbs"):
        with pytest.raises(RuntimeError) as err:
            scheduler_jobs(kind)
        assert "not found" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RuntimeError, match="not found"):
        cancel_job("pbs", "12.server")
    assert slurm_available() is False


# --- the offline launcher ----------------------------------------------------------------


def test_offline_rocket_works_where_plain_rlaunch_fails(lp, tmp_path, monkeypatch):
    """Plain `rlaunch singleshot --offline` dies on monty's zopen; our offline rocket runs it."""
    from fireworks import Firework, FWorker, ScriptTask
    from fireworks.queue.queue_launcher import setup_offline_job

    lp.add_wf(Firework(ScriptTask.from_str("echo done > done.txt"), name="offline"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fw, launch_id = lp.reserve_fw(FWorker(), str(run_dir))
    monkeypatch.chdir(run_dir)
    setup_offline_job(lp, fw, launch_id)  # writes FW.json and FW_offline.json here, as qlaunch -r does

    plain = subprocess.run([str(RLAUNCH), "-s", "singleshot", "--offline"], cwd=run_dir, env=_child_env(),
                           capture_output=True, text=True, timeout=120)
    if plain.returncode == 0 and (run_dir / "done.txt").exists():
        pytest.fail("plain `rlaunch singleshot --offline` works again (FireWorks now passes a mode to "
                    "monty's zopen): drop workflows/offline_rocket.py and use rlaunch in load_qadapter")
    assert "zopen() missing 1 required positional argument: 'mode'" in plain.stderr, plain.stderr[-2000:]

    fixed = subprocess.run([sys.executable, "-m", "workflows.fireworks.offline_rocket", "-s", "singleshot",
                            "--offline"], cwd=run_dir, env=_child_env(), capture_output=True, text=True,
                           timeout=120)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert (run_dir / "done.txt").read_text().strip() == "done"
    offline = json.loads((run_dir / "FW_offline.json").read_text())
    assert offline["state"] == "COMPLETED" and "started_on" in offline

    lp.recover_offline(launch_id)
    assert _states(lp) == {fw.fw_id: "COMPLETED"}


def test_offline_files_are_written_atomically(tmp_path, monkeypatch):
    """FireWorks rewrites FW_offline.json / FW_ping.json in place; the launcher's versions replace them."""
    import fireworks.core.rocket as rocket

    from workflows.fireworks.offline_rocket import patch_fireworks_zopen

    monkeypatch.setattr(rocket, "zopen", rocket.zopen)  # undone after the test
    monkeypatch.setattr(rocket, "do_ping", rocket.do_ping)
    patch_fireworks_zopen()
    monkeypatch.chdir(tmp_path)
    offline = tmp_path / "FW_offline.json"
    offline.write_text('{"launch_id": 3}')
    with rocket.zopen(offline) as f_in:  # no mode: text read, as rocket.py calls it
        data = json.loads(f_in.read())
        with rocket.zopen(offline, "wt") as f_out:
            f_out.write(json.dumps({**data, "state": "COMPLETED"}))
            assert json.loads(offline.read_text()) == {"launch_id": 3}  # old content until closed
    assert json.loads(offline.read_text()) == {"launch_id": 3, "state": "COMPLETED"}
    with pytest.raises(RuntimeError), rocket.zopen(offline, "wt") as f_out:
        f_out.write("{broken")
        raise RuntimeError("task died mid-write")
    assert json.loads(offline.read_text())["state"] == "COMPLETED"
    rocket.do_ping(None, None)
    assert "ping_time" in json.loads((tmp_path / "FW_ping.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FW_offline.json", "FW_ping.json"]


# --- real SLURM ----------------------------------------------------------------------------


@pytest.mark.slow
def test_slurm_round_trip(slurm_cluster, lp, tmp_path, monkeypatch):
    """Two dependent ScriptTask fireworks, each submitted through sbatch in offline mode."""
    from fireworks import Firework, ScriptTask, Workflow

    monkeypatch.setenv("HECATHODE_TEST_MARK", "from-submitter")
    first, second = tmp_path / "first", tmp_path / "second"
    fw1 = Firework(ScriptTask.from_str('echo "hello $HECATHODE_TORCH_THREADS" > out.txt'),
                   spec={"_launch_dir": str(first)}, name="write")
    fw2 = Firework(ScriptTask.from_str(f"cat {first}/out.txt > copy.txt; echo $SLURM_JOB_ID > job.txt"),
                   spec={"_launch_dir": str(second)}, name="read", parents=[fw1])
    lp.add_wf(Workflow([fw1, fw2]))
    ids = {d["name"]: d["fw_id"] for d in lp.fireworks.find({}, {"name": 1, "fw_id": 1})}
    qa = load_qadapter("slurm", {"walltime": "00:05:00", "cpus_per_task": 1})

    submitted: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while True:
        for fw_id in lp.get_fw_ids({"state": "READY"}):
            job = submit_reserved(lp, qa, tmp_path, fw_id=fw_id)
            assert job and job.isdigit()
            submitted[fw_id] = job
        _recover_all(lp)
        states = _states(lp)
        if set(states.values()) == {"COMPLETED"}:
            break
        assert "FIZZLED" not in states.values(), (states, _job_files(first), _job_files(second))
        if time.monotonic() > deadline:
            pytest.fail(f"workflow not done in 60 s: {states}\n{_job_files(first)}\n{_job_files(second)}")
        time.sleep(0.3)

    assert (first / "out.txt").read_text().strip() == "hello 1"
    assert (second / "copy.txt").read_text().strip() == "hello 1"
    assert (second / "job.txt").read_text().strip() == submitted[ids["read"]]
    assert (first / "FW.json").exists() and (first / "FW_submit.script").exists()
    assert lp.offline_runs.count_documents({"completed": False}) == 0
    for name, fw_id in ids.items():
        launch = lp.get_fw_by_id(fw_id).launches[-1]
        assert launch.state == "COMPLETED" and launch.launch_dir == str(first if name == "write" else second)
    # finished jobs leave the scheduler's list (COMPLETING lasts a moment)
    deadline = time.monotonic() + 15
    while set(submitted.values()) & scheduler_jobs("slurm"):
        assert time.monotonic() < deadline, scheduler_jobs("slurm")
        time.sleep(0.2)
    assert submit_reserved(lp, qa, tmp_path) is None  # nothing READY any more


@pytest.mark.slow
def test_slurm_cancel_running_job(slurm_cluster, lp, tmp_path):
    from fireworks import Firework, ScriptTask

    run_dir = tmp_path / "sleeper"
    task = ScriptTask.from_str("sleep 29.25")
    lp.add_wf(Firework(task, spec={"_launch_dir": str(run_dir)}, name="sleeper"))
    job = submit_reserved(lp, load_qadapter("slurm", {"walltime": "00:05:00"}), tmp_path)
    assert job in scheduler_jobs("slurm")

    deadline = time.monotonic() + 30  # running = the rocket has started the task
    while "started_on" not in json.loads((run_dir / "FW_offline.json").read_text()):
        assert time.monotonic() < deadline, _job_files(run_dir)
        time.sleep(0.2)
    assert job in scheduler_jobs("slurm")

    cancel_job("slurm", job)
    deadline = time.monotonic() + 15
    while job in scheduler_jobs("slurm"):
        assert time.monotonic() < deadline, f"job {job} still listed after scancel"
        time.sleep(0.2)
    cancel_job("slurm", int(job))  # cancelling an ended job is not an error
    # the task's process is gone too (proctrack/linuxproc kills the job's process tree)
    sleepers = subprocess.run(["pgrep", "-f", "sleep 29.25"], capture_output=True, text=True).stdout.split()
    assert not sleepers
    # scancel sends SIGTERM to the whole job: either the rocket dies first and never reports
    # (a lost run for the campaign runner), or it outlives its killed task and reports FIZZLED
    offline = json.loads((run_dir / "FW_offline.json").read_text())
    assert offline.get("state", "RUNNING") in {"RUNNING", "FIZZLED"}, offline.get("state")
