"""Worker processes (calculators.workers): results in order, and no worker outlives its run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from calculators.workers import STOP_FILE, InFlight, Workers

ROOT = Path(__file__).resolve().parents[1]

# a run with two workers, each busy for a minute; prints the workers' process ids, then waits
RUN = """
import os, time
from calculators.workers import Workers
with Workers(2) as pool:
    pids = {pool.submit(os.getpid).result() for _ in range(8)}
    busy = [pool.submit(time.sleep, 60) for _ in range(2)]
    print(*sorted(pids), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split()[2] == "Z")  # a zombie has ended


def test_submit_and_map_in_order():
    with Workers(2) as pool:
        assert pool.map(pow, [(2, 3), (3, 2), (5, 1)]) == [8, 9, 5]
        assert pool.submit(pow, 2, 10).result() == 1024
    with Workers(1) as here:  # no process: run at once, the future already done
        future = here.submit(os.getpid)
        assert future.done() and future.result() == os.getpid()


def test_workers_end_when_their_run_is_killed():
    # kill -9 of the run: its busy workers stop within seconds instead of running on (into the
    # hop folders a rerun writes into)
    run = subprocess.Popen([sys.executable, "-c", RUN], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    pids = [int(x) for x in run.stdout.readline().split()]
    assert len(pids) >= 1 and all(_alive(p) for p in pids)
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def test_jobs_in_flight_are_stopped_by_folder_and_cleared(tmp_path):
    # two workers: a job no longer wanted gets a STOP file in its folder; the file is gone once
    # the job has finished, and a new start of the same item removes a stale one first
    def folder(item):
        return tmp_path / item

    with Workers(2) as pool:
        flight = InFlight(pool, folder)
        assert flight.stoppable and flight.free() == 2
        flight.start("a", time.sleep, 1.5)
        flight.start("b", pow, 2, 5)
        assert flight.free() == 0 and sorted(flight.items()) == ["a", "b"]
        flight.stop("a")
        assert (tmp_path / "a" / STOP_FILE).is_file()
        done = dict(flight.finished())
        while len(done) < 2:
            done.update(flight.finished())
        assert done == {"a": None, "b": 32} and not flight.jobs
        assert not (tmp_path / "a" / STOP_FILE).exists()
        flight.stop("b")
        flight.start("b", pow, 3, 2)
        assert not (tmp_path / "b" / STOP_FILE).exists()
        assert flight.finished() == [("b", 9)]
    with Workers(1) as here:  # one worker: the job runs here, nothing can be stopped
        alone = InFlight(here, folder)
        alone.start("c", pow, 2, 2)
        alone.stop("c")
        assert not alone.stoppable and not (tmp_path / "c").exists()
        assert alone.finished() == [("c", 4)]
