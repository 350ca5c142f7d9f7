"""Queue layer: FireWorks queue adapters for SLURM and PBS, and the scheduler primitives a
campaign runner needs (what is still queued, cancel a job, submit one reserved Firework).

Jobs run in FireWorks' offline mode: `submit_reserved` reserves a Firework in the LaunchPad,
writes `FW.json` and `FW_offline.json` into its launch folder and submits a queue script whose
rocket (`workflows.fireworks.offline_rocket`) never opens the LaunchPad; the runner later calls
`LaunchPad.recover_offline(launch_id)` for the runs in `lp.offline_runs`. A run whose job the
scheduler no longer lists (`scheduler_jobs`) but which never reported back is lost.

Presets live in `configs/queue/{slurm,pbs}.yaml` (FireWorks `CommonAdapter` settings).
"""

from __future__ import annotations

import getpass
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from structures.errors import HecathodeInputError
from structures.settings import QUEUE_DIR

if TYPE_CHECKING:
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter


KINDS = ("slurm", "pbs")
ROCKET_MODULE = "workflows.fireworks.offline_rocket"
_CPU_KEY = {"slurm": "cpus_per_task", "pbs": "ppnode"}
_TIMEOUT_S = 60
# qstat states of jobs that are over (Torque C = completed; PBS Pro F = finished, X = subjob done)
_PBS_DONE_STATES = {"C", "F", "X"}
_JOB_ID = re.compile(r"[0-9][0-9A-Za-z._\[\]-]*")


class QueueConfigError(HecathodeInputError):
    """A bad queue kind, override or queue preset file."""


def _check_kind(kind: str) -> str:
    if not isinstance(kind, str) or kind.strip().lower() not in KINDS:
        raise QueueConfigError(f"unknown queue kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return kind.strip().lower()


def _positive_int(value: Any, key: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise QueueConfigError(f"queue setting {key} must be a whole number >= 1, got {value!r}")
    return n


def _pre_rocket(lines: Any, threads: int) -> str:
    """The job's environment lines: the preset's own, plus what every hecathode job needs."""
    user = "" if lines is None else str(lines).strip()
    out = ["unset MONGOMOCK_SERVERSTORE_FILE  # offline jobs never open the campaign store"]
    if "OMP_NUM_THREADS" not in user:
        out.append("export OMP_NUM_THREADS=1")
    if "HECATHODE_TORCH_THREADS" not in user:
        out.append(f"export HECATHODE_TORCH_THREADS={threads}")
    if user:
        out.append(user)
    return "\n".join(out)


def load_qadapter(kind: str, overrides: Mapping[str, Any] | None = None, python: str = sys.executable
                  ) -> CommonAdapter:
    """A FireWorks `CommonAdapter` for `kind` ("slurm" or "pbs") from configs/queue/{kind}.yaml.

    overrides: keys replace the preset's (e.g. {"walltime": "01:00:00", "queue": "short"});
        keys the preset lacks are passed on as template variables; None values drop a line.
    python: interpreter the job runs; `rocket_launch` becomes
        "<python> -m workflows.fireworks.offline_rocket singleshot --offline" (FireWorks appends --fw_id N).
    `pre_rocket` gets `export OMP_NUM_THREADS=1` (unless the preset sets it) and
    `export HECATHODE_TORCH_THREADS=<cpus_per_task | ppnode>` (unless set), and unsets
    MONGOMOCK_SERVERSTORE_FILE so a job can never touch an embedded store.

    Raises QueueConfigError (a HecathodeInputError) for a bad kind, overrides or preset.
    """
    kind = _check_kind(kind)
    if overrides is not None and not (isinstance(overrides, Mapping)
                                      and all(isinstance(k, str) for k in overrides)):
        raise QueueConfigError(f"queue overrides must map setting names to values, got {overrides!r}")
    path = QUEUE_DIR / f"{kind}.yaml"
    try:
        settings = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise QueueConfigError(f"cannot read queue preset {path}: {type(err).__name__}") from None
    if not isinstance(settings, dict) or settings.get("_fw_name") != "CommonAdapter":
        raise QueueConfigError(f"queue preset {path} is not a FireWorks CommonAdapter mapping")
    settings.update(overrides or {})
    cpus = settings.get(_CPU_KEY[kind])
    threads = 1 if cpus is None else _positive_int(cpus, _CPU_KEY[kind])
    settings["pre_rocket"] = _pre_rocket(settings.get("pre_rocket"), threads)
    settings["rocket_launch"] = f"{shlex.quote(str(python))} -m {ROCKET_MODULE} singleshot --offline"

    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter  # noqa: F811

    try:
        return CommonAdapter.from_dict(settings)
    except (KeyError, ValueError, TypeError) as err:
        raise QueueConfigError(f"bad queue preset {path}: {err}") from None


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S)
    except FileNotFoundError:
        raise RuntimeError(f"{cmd[0]} not found: is the {what} scheduler installed here?") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)} did not answer within {_TIMEOUT_S} s") from None
    return out


def _first_line(out: subprocess.CompletedProcess) -> str:
    lines = (out.stderr or out.stdout or "").strip().splitlines()
    return lines[0].strip() if lines else "no message"


def _leading_number(job_id: str) -> str | None:
    m = re.match(r"\d+", job_id)
    return m.group(0) if m else None


def parse_qstat(text: str) -> set[str]:
    """Ids (leading number, as FireWorks stores them) of unfinished jobs in `qstat` output.

    Works for the default and the `-u user` layouts of Torque and PBS Pro: job rows follow the
    dashed header line; the state is the second-to-last column.
    """
    jobs, in_rows = set(), False
    for line in text.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if set(tokens[0]) == {"-"}:
            in_rows = True
            continue
        if in_rows and len(tokens) >= 3 and tokens[-2] not in _PBS_DONE_STATES:
            job = _leading_number(tokens[0])
            if job:
                jobs.add(job)
    return jobs


def scheduler_jobs(kind: str) -> set[str]:
    """Ids of this user's jobs the scheduler still lists (pending, running, completing, held...).

    SLURM: `squeue -h -o %i -u USER`; PBS: `qstat -u USER` without finished (C/F/X) rows. Ids are
    the leading number (what FireWorks' CommonAdapter stores as the reservation id).
    Raises RuntimeError (one line) when the command is missing, fails or hangs: never treat
    that as "no jobs".
    """
    kind = _check_kind(kind)
    user = getpass.getuser()
    if kind == "slurm":
        out = _run(["squeue", "-h", "-o", "%i", "-u", user], kind)
    else:
        out = _run(["qstat", "-u", user], kind)
    if out.returncode != 0:
        raise RuntimeError(f"{'squeue' if kind == 'slurm' else 'qstat'} failed (exit {out.returncode}): "
                           f"{_first_line(out)}")
    if kind == "pbs":
        return parse_qstat(out.stdout)
    return {j for j in (_leading_number(t) for t in out.stdout.split()) if j}


def cancel_job(kind: str, job_id: str | int) -> None:
    """Cancel job `job_id` (scancel / qdel). Cancelling a job that already ended is not an error.

    Raises HecathodeInputError for a malformed id, RuntimeError (one line) when the command
    is missing or refuses.
    """
    kind = _check_kind(kind)
    job = str(job_id).strip()
    if not _JOB_ID.fullmatch(job):
        raise QueueConfigError(f"not a scheduler job id: {job_id!r}")
    cmd = ["scancel", job] if kind == "slurm" else ["qdel", job]
    out = _run(cmd, kind)
    if out.returncode != 0:
        msg = _first_line(out)
        if re.search(r"unknown job|invalid job id|has finished|already complet", msg, re.IGNORECASE):
            return
        raise RuntimeError(f"{cmd[0]} {job} failed (exit {out.returncode}): {msg}")


def slurm_available() -> bool:
    """True when `sinfo` is installed and a SLURM controller answers it."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def submit_reserved(lp, qadapter, launch_root: str | Path, fw_id: int | None = None, fworker=None,
                    strm_lvl: str = "ERROR") -> str | None:
    """Reserve one READY Firework (`fw_id`, or any) and submit it in offline mode; returns the job id.

    The job runs in the Firework's spec `_launch_dir` when set (relative to `launch_root`),
    else in `launch_root` (which must exist). Returns None when nothing (or not `fw_id`) is
    READY. Raises RuntimeError (one line) when the submission fails; FireWorks has then already
    released the reservation, so the Firework is READY again.
    """
    from fireworks import FWorker
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    fworker = fworker or FWorker()
    if fw_id is not None:
        if lp.fireworks.count_documents({"fw_id": fw_id, "state": "READY"}) == 0:
            return None
    elif not lp.run_exists(fworker):
        return None
    job = launch_rocket_to_queue(lp, fworker, qadapter, str(launch_root), reserve=True,
                                 strm_lvl=strm_lvl, fw_id=fw_id)
    if not job:
        which = f"fw_id {fw_id}" if fw_id else "a READY firework"
        raise RuntimeError(f"queue submission failed for {which}"
                           f" ({qadapter.q_commands[qadapter.q_type]['submit_cmd']} refused or the launch "
                           "folder is unusable; see the FireWorks log above)")
    return str(job)
