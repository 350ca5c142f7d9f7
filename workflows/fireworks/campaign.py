"""Run a campaign: add its workflow to the store once, then launch what is left.

`run_campaign` is what `hecathode campaign run` calls:

- local (default): fireworks run one after another in this process (`launch_rocket`), each in
  its own folder; the store is saved after each one. Completed fireworks are never redone; a
  firework cut short by a kill is READY again in the saved store and resumes from its files.
- slurm / pbs with the embedded store: FireWorks' offline mode. READY fireworks are reserved
  and submitted (`launch_rocket_to_queue(reserve=True)`, job = `python -m
  workflows.fireworks.offline_rocket singleshot --offline`); every `poll_s` seconds the runner recovers
  the jobs' FW_offline.json into the store (`recover_offline`). A launch whose job has left the
  scheduler (`squeue`/`qstat`) without finishing is lost (scancel, node failure, wall time):
  it is marked FIZZLED, forgotten offline and rerun, at most `max_reruns` times.
- slurm / pbs with a MongoDB LaunchPad (`--launchpad FILE`): online mode, jobs talk to the
  database themselves (`rlaunch -l FILE singleshot`), the runner only submits and waits.

Fireworks that a firework adds while it runs (a hop network's screen, hops and joins:
`workflows.fireworks.network_tasks`) are picked up: the runner reads the workflow's fireworks
again before every step and every poll (`current_ids`).
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from structures.errors import HecathodeInputError
from structures.io import write_json
from workflows.fireworks.builders import CampaignError, build_workflow, load_campaign
from workflows.fireworks.launchpad import open_store, save

DEFAULT_ROOT = Path("out") / "campaigns"
ACTIVE = ("RESERVED", "RUNNING")
QUEUES = ("local", "slurm", "pbs")


class Interrupted(Exception):
    """Ctrl-C during a firework: nothing of it was saved; run again to resume."""


def campaign_dir(campaign: dict, out: str | Path | None) -> Path:
    return Path(out) if out is not None else DEFAULT_ROOT / campaign["name"]


def find_campaign_dir(where: str | Path | None) -> Path:
    """A campaign folder given as a folder, a campaign YAML, or nothing (the only one in
    out/campaigns)."""
    if where is not None:
        p = Path(where)
        if p.is_file():
            return campaign_dir(load_campaign(p), None)
        if (p / "store.json").is_file() or (p / "campaign.json").is_file():
            return p
        raise HecathodeInputError(f"{p} is neither a campaign file nor a campaign folder (no store.json)")
    found = sorted(d for d in DEFAULT_ROOT.glob("*") if (d / "store.json").is_file())
    if len(found) != 1:
        listing = ", ".join(str(d) for d in found) or "none"
        raise HecathodeInputError(f"give the campaign folder ({len(found)} found in {DEFAULT_ROOT}: "
                                  f"{listing})")
    return found[0]


def workflow_ids(lp, name: str) -> list[int]:
    doc = lp.workflows.find_one({"metadata.hecathode_campaign": name})
    return sorted(doc["nodes"]) if doc else []


def current_ids(lp, ids: list[int]) -> list[int]:
    """Every firework of the workflow that holds `ids` now: fireworks added while it runs (a hop
    network's hops and joins, FWAction detours) included."""
    doc = lp.workflows.find_one({"nodes": ids[0]}, {"nodes": 1}) if ids else None
    return sorted(doc["nodes"]) if doc else ids


def states(lp, ids: list[int]) -> dict[int, str]:
    """State per firework id, in the campaign's order (structures, relax, NEB per material, analysis;
    within one step FireWorks' `_priority`, highest first: a network's likeliest hops)."""
    docs = lp.fireworks.find({"fw_id": {"$in": ids}},
                             {"fw_id": 1, "state": 1, "spec.campaign_order": 1, "spec._priority": 1})
    docs = sorted(docs, key=lambda d: (d.get("spec", {}).get("campaign_order", 0),
                                       -d.get("spec", {}).get("_priority", 0), d["fw_id"]))
    return {d["fw_id"]: d["state"] for d in docs}


def _ensure_workflow(lp, campaign: dict, folder: Path, say) -> list[int]:
    doc = lp.workflows.find_one({"metadata.hecathode_campaign": campaign["name"]})
    if doc is None:
        wf = build_workflow(campaign, folder)
        lp.add_wf(wf)
        save(lp)
        write_json(folder / "campaign.json", campaign)
        say(f"added workflow '{campaign['name']}' with {len(wf.fws)} fireworks to the store in {folder}")
        return workflow_ids(lp, campaign["name"])
    if doc["metadata"].get("hecathode_fingerprint") != campaign["fingerprint"]:
        raise CampaignError(f"{folder} holds campaign '{campaign['name']}' built from different settings; "
                            "use another --out folder (or delete this one to start over)")
    return sorted(doc["nodes"])


def fw_summary(lp, fw_id: int) -> dict:
    """Name, state, category, folder and stored data of one firework (for status and progress)."""
    fw = lp.fireworks.find_one({"fw_id": fw_id}, {"name": 1, "state": 1, "spec._category": 1,
                                                  "spec._launch_dir": 1, "launches": 1})
    launch = lp.launches.find_one({"launch_id": {"$in": fw.get("launches", [])}}, sort=[("launch_id", -1)])
    data = (launch or {}).get("action") or {}
    stored = {k: v for k, v in (data.get("stored_data") or {}).items() if not k.startswith("_")}
    err = (data.get("stored_data") or {}).get("_exception", {}).get("_stacktrace", "")
    return {"fw_id": fw_id, "name": fw["name"], "state": fw["state"], "category": fw["spec"].get("_category"),
            "folder": fw["spec"].get("_launch_dir"), "stored_data": stored,
            "error": err.strip().splitlines()[-1] if err else None,
            "reservation_id": reservation_id(launch)}


def reservation_id(launch: dict | None) -> str | None:
    """The queue job id FireWorks recorded for a launch (kept in its state history)."""
    for entry in (launch or {}).get("state_history", []):
        if entry.get("reservation_id") is not None:
            return str(entry["reservation_id"])
    return None


def _short(stored: dict) -> str:
    parts = []
    for k, v in stored.items():
        if isinstance(v, float):
            parts.append(f"{k} {v:.4g}")
        elif isinstance(v, list) and len(v) <= 6:
            parts.append(f"{k} {v}")
        elif isinstance(v, int | bool | str) and len(str(v)) < 160:
            parts.append(f"{k} {v}")
    return ", ".join(parts)


def _run_local(lp, ids: list[int], folder: Path, say) -> None:
    import fireworks.core.rocket
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    fireworks.core.rocket.ROCKET_STREAM_LOGLEVEL = "ERROR"  # our own progress lines replace its INFO log
    for fw_id, state in states(lp, ids).items():
        if state in ACTIVE and lp.hecathode_store_file is None:
            continue  # a MongoDB LaunchPad: another runner may be working on it
        if state in ACTIVE:  # left by a runner that is gone (we hold the lock) or by a queue run
            lp.forget_offline(fw_id, launch_mode=False)
            say(f"firework {fw_id} was {state} without a runner: reset to READY")
        elif state == "FIZZLED":
            say(f"firework {fw_id} failed in an earlier run: trying it again")
        else:
            continue
        lp.rerun_fw(fw_id)
    save(lp)
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(True)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        while True:
            ids = current_ids(lp, ids)
            total = len(ids)
            st = states(lp, ids)
            ready = [i for i, s in st.items() if s == "READY"]
            if not ready:
                break
            fw_id = ready[0]
            done = sum(s == "COMPLETED" for s in st.values())
            info = fw_summary(lp, fw_id)
            say(f"[{done + 1}/{total}] {info['name']}")
            t0 = time.perf_counter()
            cwd = os.getcwd()
            try:
                with open(folder / "errors.log", "a") as errors:  # full tracebacks of failed tasks
                    launch_rocket(lp, FWorker(), fw_id=fw_id, strm_lvl="ERROR", err_file=errors)
            finally:
                os.chdir(cwd)
            if interrupted:
                raise Interrupted(f"interrupted during '{info['name']}': finished fireworks are saved in "
                                  f"{folder}; run the same command to resume")
            save(lp)
            info = fw_summary(lp, fw_id)
            dt = time.perf_counter() - t0
            if info["state"] == "COMPLETED":
                say(f"      done in {dt:.0f} s: {_short(info['stored_data'])}")
            else:
                say(f"      {info['state']} after {dt:.0f} s: {info['error']} (folder {info['folder']}; "
                    f"traceback in {folder / 'errors.log'})")
    finally:
        signal.signal(signal.SIGINT, old)


def _latest_launch(lp, fw_id: int) -> dict | None:
    fw = lp.fireworks.find_one({"fw_id": fw_id}, {"launches": 1})
    return lp.launches.find_one({"launch_id": {"$in": fw.get("launches", [])}}, sort=[("launch_id", -1)])


def _n_launches(lp, fw_id: int) -> int:
    fw = lp.fireworks.find_one({"fw_id": fw_id}, {"launches": 1, "archived_launches": 1})
    return len(fw.get("launches", [])) + len(fw.get("archived_launches", []))


def _run_queue(lp, ids: list[int], folder: Path, kind: str, overrides: dict, launchpad_file, say, *,
               poll_s: float, max_reruns: int, timeout_s: float | None) -> None:
    """Offline (embedded store) or online (MongoDB) queue submission until nothing is left."""
    from fireworks import FWorker

    from workflows.fireworks.queues import load_qadapter, scheduler_jobs, submit_reserved

    qadapter = load_qadapter(kind, overrides)
    offline = launchpad_file is None
    if not offline:
        qadapter["rocket_launch"] = qadapter["rocket_launch"].replace(
            "singleshot --offline", f"-l {Path(launchpad_file).resolve()} singleshot")
    fworker = FWorker()
    t_start = time.monotonic()
    reported: set[int] = set()
    while True:
        ids = current_ids(lp, ids)
        jobs = scheduler_jobs(kind)  # snapshot before recovering: a job absent here has finished writing
        if offline:
            for run in lp.offline_runs.find({"fw_id": {"$in": ids}, "completed": False,
                                             "deprecated": {"$ne": True}}):
                lp.recover_offline(run["launch_id"], ignore_errors=True)
            save(lp)
        for fw_id, state in states(lp, ids).items():
            if state not in ACTIVE:
                continue
            launch = _latest_launch(lp, fw_id)
            job = reservation_id(launch)
            if launch is None or job is None or job in jobs:
                continue
            if offline:
                lp.recover_offline(launch["launch_id"], ignore_errors=True)
                if states(lp, [fw_id])[fw_id] not in ACTIVE:
                    continue
            name = fw_summary(lp, fw_id)["name"]
            lp.mark_fizzled(launch["launch_id"])
            if offline:
                lp.forget_offline(launch["launch_id"])
            reruns = _n_launches(lp, fw_id) - 1
            if reruns < max_reruns:
                lp.rerun_fw(fw_id)
                say(f"lost run: '{name}' (job {job}) left the queue unfinished; "
                    f"rerun {reruns + 1}/{max_reruns}")
            else:
                say(f"lost run: '{name}' left the queue unfinished {reruns + 1} times; marked FIZZLED")
            save(lp)
        ids = current_ids(lp, ids)  # a recovered job may have added fireworks
        st = states(lp, ids)
        for fw_id in [i for i, s in st.items() if s == "READY"]:
            try:
                job = submit_reserved(lp, qadapter, folder, fw_id=fw_id, fworker=fworker)
                say(f"submitted '{fw_summary(lp, fw_id)['name']}' as {kind} job {job}")
            except RuntimeError as exc:
                say(f"could not submit firework {fw_id}: {exc}")
            save(lp)
        for fw_id, state in states(lp, ids).items():
            if state in ("COMPLETED", "FIZZLED") and fw_id not in reported:
                reported.add(fw_id)
                info = fw_summary(lp, fw_id)
                detail = _short(info["stored_data"]) if state == "COMPLETED" else info["error"]
                say(f"{state.lower()}: '{info['name']}' {detail or ''}")
        st = states(lp, ids)
        if not any(s in ACTIVE + ("READY",) for s in st.values()):
            return
        if timeout_s is not None and time.monotonic() - t_start > timeout_s:
            raise CampaignError(f"queue run stopped after {timeout_s:.0f} s with fireworks still queued; run "
                                "the same command again to continue")
        time.sleep(poll_s)


def run_campaign(campaign_file: str | Path, *, out: str | Path | None = None, calculator: str | None = None,
                 launchpad_file: str | Path | None = None, queue: str = "local", poll_s: float = 10.0,
                 max_reruns: int = 2, timeout_s: float | None = None, report: bool = True,
                 say: Callable[[str], None] = print) -> dict:
    """Run (or resume) a campaign; returns {"folder", "states", "ran", "report"}."""
    if queue not in QUEUES:
        raise HecathodeInputError(f"--queue {queue!r}: choose one of {', '.join(QUEUES)}")
    campaign = load_campaign(campaign_file, calculator)
    folder = campaign_dir(campaign, out).resolve()
    with open_store(folder, launchpad_file) as lp:
        ids = _ensure_workflow(lp, campaign, folder, say)
        before = states(lp, ids)
        if all(s == "COMPLETED" for s in before.values()):
            say(f"nothing to do: all {len(ids)} fireworks of '{campaign['name']}' are COMPLETED ({folder})")
            ran = False
        else:
            ran = True
            if queue == "local":
                _run_local(lp, ids, folder, say)
            else:
                with warnings.catch_warnings():  # monty's cd deprecation, FW_ping.json not yet written
                    warnings.filterwarnings("ignore", module="fireworks")
                    warnings.filterwarnings("ignore", category=FutureWarning)
                    _run_queue(lp, ids, folder, queue, campaign["queue"].get(queue, {}), launchpad_file, say,
                               poll_s=poll_s, max_reruns=max_reruns, timeout_s=timeout_s)
        ids = current_ids(lp, ids)
        after = states(lp, ids)
        analysis = lp.fireworks.find_one({"fw_id": {"$in": ids}, "spec._category": "analysis"})
    result = {"folder": str(folder), "states": after, "ran": ran, "report": None}
    analysis_file = Path(analysis["spec"]["_launch_dir"]) / "analysis.json" if analysis else None
    if report and analysis_file is not None and analysis_file.is_file():
        report_md = folder / "report" / "report.md"
        if ran or not report_md.is_file():
            result["report"] = str(write_campaign_report(analysis_file, folder / "report"))
        else:
            result["report"] = str(report_md)
    failed = [i for i, s in after.items() if s != "COMPLETED"]
    if failed:
        say(f"{len(failed)} of {len(after)} fireworks not completed: see `hecathode status {folder}`")
    return result


def write_campaign_report(analysis_file: str | Path, out_dir: str | Path) -> Path:
    import json

    from workflows.report.campaign_report import write_report

    return write_report(json.loads(Path(analysis_file).read_text()), out_dir)
