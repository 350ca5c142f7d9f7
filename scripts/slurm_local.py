"""A one-node SLURM cluster on this machine, for the queue tests and for trying campaigns locally.

    sudo .venv/bin/python scripts/slurm_local.py start    # idempotent; waits until the node is idle
    sudo .venv/bin/python scripts/slurm_local.py status
    sudo .venv/bin/python scripts/slurm_local.py stop     # stops only the daemons `start` started

Needs root and the Debian packages `slurmctld slurmd slurm-client munge` (scripts/setup.sh
installs them). `start`:

- writes /etc/slurm/slurm.conf only when it is absent or was written by this module (first
  line `HEADER`); a slurm.conf from somebody else is never touched: if its cluster answers it
  is used as it is, otherwise `start` fails;
- creates the munge key when absent, and the state, spool and log folders;
- starts munged, slurmctld and slurmd when they are not running, and records the PIDs of the
  ones it started in STATE_FILE, so that `stop` ends those processes (by PID) and nothing else;
- waits (at most `timeout` seconds) until `sinfo` shows the node idle (or busy with jobs).

The node is this host (`hostname -s`, address 127.0.0.1) with all its CPUs, at least 2 (so that two
1-CPU jobs run at once even on a 1-CPU machine: tests/test_network_fanout.py), in one partition
`local`; SlurmUser is root, no accounting, no cgroups (proctrack/linuxproc, task/none).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

HEADER = "# Written by hecathode (scripts/slurm_local.py): one-node test cluster. Safe to delete."
OWN_HEADERS = (HEADER, "# Written by hecathode (workflows/slurm_local.py)")  # the latter: before 0.2
CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
STATE_DIR = Path("/var/lib/slurm/hecathode")
LOG_DIR = Path("/var/log/slurm")
STATE_FILE = Path("/run/hecathode-slurm-local.json")
PARTITION = "local"

PID_FILES = {
    "munged": MUNGE_RUN / "munged.pid",
    "slurmctld": Path("/run/slurmctld.pid"),
    "slurmd": Path("/run/slurmd.pid"),
}
BINARIES = {
    "munged": "/usr/sbin/munged",
    "slurmctld": "/usr/sbin/slurmctld",
    "slurmd": "/usr/sbin/slurmd",
}
CLIENTS = ("sinfo", "sbatch", "squeue", "scancel", "scontrol")
READY_STATES = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}


class SlurmLocalError(RuntimeError):
    """The local cluster cannot be started (one-line message)."""


def missing_requirements() -> str | None:
    """Why this machine cannot run the local cluster (not root, binaries missing), or None."""
    if os.geteuid() != 0:
        return "the local SLURM cluster needs root (it writes /etc/slurm and starts daemons)"
    missing = [p for p in BINARIES.values() if not os.access(p, os.X_OK)]
    missing += [c for c in CLIENTS if shutil.which(c) is None]
    if missing:
        return ("SLURM/munge not installed (missing " + ", ".join(missing) + "); run scripts/setup.sh "
                "or apt-get install slurmctld slurmd slurm-client munge")
    return None


def config_text(host: str | None = None, cpus: int | None = None) -> str:
    """The slurm.conf this module writes for node `host` (default `hostname -s`) with `cpus` CPUs
    (default: this machine's, at least 2)."""
    host = host or socket.gethostname().split(".")[0]
    cpus = cpus or max(os.cpu_count() or 1, 2)
    return f"""{HEADER}
ClusterName=hecathode
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# start batch jobs as soon as they are submitted (default: up to 3 s later)
SchedulerParameters=batch_sched_delay=0
# the node has the CPUs written below even when the machine has fewer (a 1-CPU machine: 2)
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation={STATE_DIR}/ctld
SlurmdSpoolDir={STATE_DIR}/d
SlurmctldPidFile={PID_FILES["slurmctld"]}
SlurmdPidFile={PID_FILES["slurmd"]}
SlurmctldLogFile={LOG_DIR}/slurmctld.log
SlurmdLogFile={LOG_DIR}/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _pid_alive(pid: int, name: str) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == name[:15]


def running_pid(name: str) -> int | None:
    """PID of daemon `name` (munged, slurmctld, slurmd) from its PID file, if it is running."""
    try:
        pid = int(PID_FILES[name].read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid, name) else None


def node_state() -> str | None:
    """The state `sinfo` reports for this cluster's node(s), e.g. "idle"; None if sinfo does not answer."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return out.stdout.split()[0].rstrip("*~#!%$@^-")


def _read_state() -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(STATE_FILE.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_state(state: dict[str, int]) -> None:
    if state:
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(STATE_FILE)
    else:
        STATE_FILE.unlink(missing_ok=True)


def _ensure_munge_key() -> None:
    if MUNGE_KEY.exists():
        return
    MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("mungekey") or os.access("/usr/sbin/mungekey", os.X_OK):
        subprocess.run([shutil.which("mungekey") or "/usr/sbin/mungekey", "--create", "--keyfile",
                        str(MUNGE_KEY)], check=True, capture_output=True)
    else:
        MUNGE_KEY.write_bytes(os.urandom(1024))
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o400)


def _start_daemon(name: str) -> int:
    """Start daemon `name` (it forks into the background) and return its PID."""
    if name == "munged":
        MUNGE_RUN.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_RUN, "munge", "munge")
        cmd = ["runuser", "-u", "munge", "--", BINARIES[name]]
    else:
        cmd = [BINARIES[name]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        msg = (out.stderr.strip() or out.stdout.strip()).splitlines()
        raise SlurmLocalError(f"{name} did not start (exit {out.returncode}): {msg[-1] if msg else ''}")
    for _ in range(100):
        pid = running_pid(name)
        if pid:
            return pid
        time.sleep(0.05)
    raise SlurmLocalError(f"{name} started but wrote no PID file {PID_FILES[name]}; see {LOG_DIR}")


def start(timeout: float = 20.0) -> list[str]:
    """Start the one-node cluster if needed; returns the daemons this call started (maybe none).

    Raises SlurmLocalError (one line) when not root, when SLURM is not installed, when a foreign
    slurm.conf's cluster does not answer, or when the node is not idle within `timeout` s.
    """
    why = missing_requirements()
    if why:
        raise SlurmLocalError(why)
    wanted = config_text()
    current = CONF.read_text() if CONF.exists() else None
    if current is not None and not current.startswith(OWN_HEADERS):
        if node_state() in READY_STATES:
            return []
        raise SlurmLocalError(f"{CONF} was not written by hecathode and its cluster does not answer; "
                              "start that cluster, or move the file away to use the local one")
    reconfigure = current is not None and current != wanted
    if current != wanted:
        CONF.parent.mkdir(parents=True, exist_ok=True)
        tmp = CONF.with_suffix(".conf.tmp")
        tmp.write_text(wanted)
        tmp.replace(CONF)
    _ensure_munge_key()
    for folder in (STATE_DIR / "ctld", STATE_DIR / "d", LOG_DIR):
        folder.mkdir(parents=True, exist_ok=True)

    state = _read_state()
    started = []
    for name in ("munged", "slurmctld", "slurmd"):
        if running_pid(name):
            continue
        state[name] = _start_daemon(name)
        started.append(name)
        _write_state(state)
    if reconfigure and "slurmctld" not in started:
        subprocess.run(["scontrol", "reconfigure"], capture_output=True, timeout=30)

    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = node_state()
        if seen in READY_STATES:
            return started
        if seen in {"down", "drain", "drng", "fail"}:
            host = socket.gethostname().split(".")[0]
            subprocess.run(["scontrol", "update", f"NodeName={host}", "State=RESUME"],
                           capture_output=True, timeout=10)
        time.sleep(0.2)
    raise SlurmLocalError(f"SLURM node not idle after {timeout:g} s (sinfo state: {seen or 'no answer'}); "
                          f"see {LOG_DIR}/slurmctld.log and slurmd.log")


def stop(daemons: Iterable[str] | None = None, timeout: float = 10.0) -> list[str]:
    """Stop daemons that `start` started (all of them by default, else the names given).

    Only PIDs recorded by `start` are signalled (SIGTERM), and only while they still run the
    same program. Returns the names stopped.
    """
    state = _read_state()
    names = [n for n in ("slurmd", "slurmctld", "munged") if n in state and (daemons is None or n in daemons)]
    stopping = {}
    for name in names:  # all at once: each takes about 2 s to shut down
        pid = state.pop(name)
        if _pid_alive(pid, name):
            os.kill(pid, signal.SIGTERM)
            stopping[name] = pid
    deadline = time.monotonic() + timeout
    while any(_pid_alive(pid, name) for name, pid in stopping.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    _write_state(state)
    return list(stopping)


def status() -> dict[str, object]:
    """Which daemons run (PID or None), who started them, and the node state."""
    recorded = _read_state()
    return {
        "config": str(CONF) if CONF.exists() else None,
        "config_by_hecathode": CONF.exists() and CONF.read_text().startswith(OWN_HEADERS),
        "daemons": {n: running_pid(n) for n in BINARIES},
        "started_by_hecathode": sorted(recorded),
        "node_state": node_state(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in {"start", "stop", "status"}:
        print("usage: python scripts/slurm_local.py start|stop|status", file=sys.stderr)
        return 2
    try:
        if argv[0] == "start":
            started = start()
            done = f"started {', '.join(started)}" if started else "already running"
            print(f"SLURM node ready ({done})")
        elif argv[0] == "stop":
            stopped = stop()
            done = ", ".join(stopped) if stopped else "nothing (no daemon started by hecathode)"
            print(f"stopped {done}")
        else:
            print(json.dumps(status(), indent=2))
    except SlurmLocalError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
