"""Independent calculations side by side in worker processes, one torch thread each.

On a CPU the cheapest way to use several cores for many small MLIP jobs (the hops and vacancy
states of a network) is one process per core with one torch thread each: measured here, two
processes with two threads each on two cores run many times slower, and batching images into
one forward pass is slower too (`calculators.images`). `Workers(n)` is a context manager:

    with Workers(2) as pool:
        results = pool.map(function, [args1, args2, ...])   # in order
        future = pool.submit(function, *args)                # one job, as soon as a worker is free

With n = 1 (the default everywhere) the functions run in this process, one after another, and
no process is started. A job running in a folder can be asked to stop (`request_stop`, a STOP
file that the job's progress callback `stop_check` looks for at every step): a hop network stops
a CI-NEB that another hop's result has made unnecessary, and a later run resumes its band.
`InFlight` keeps that bookkeeping for jobs given out one at a time as workers come free.

The functions must be importable (module level) and their arguments picklable; a calculator
given by name (or class) is built once per worker (`calculator_in_worker`): a ready calculator
object cannot be sent to another process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from structures.errors import HecathodeInputError

_CALCULATORS: dict = {}  # per process: calculator built by name, reused by every job
STOP_FILE = "STOP"


class JobStopped(Exception):
    """A job ended early because its folder holds a STOP file; `force_calls` spent until then."""

    def __init__(self, force_calls: int = 0):
        super().__init__(f"stopped on request after {force_calls} force calls")
        self.force_calls = force_calls


def request_stop(directory: Path) -> None:
    """Ask the job running in `directory` to stop at its next step."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / STOP_FILE).touch()


def clear_stop(directory: Path) -> None:
    """Remove a stop request (before a job in `directory` is started again)."""
    (Path(directory) / STOP_FILE).unlink(missing_ok=True)


def stop_check(directory: Path, callback: Callable[[dict], None] | None = None) -> Callable[[dict], None]:
    """A progress callback that raises JobStopped once `directory` holds a STOP file, and passes
    every step's info on to `callback`."""
    flag = Path(directory) / STOP_FILE

    def check(info: dict) -> None:
        if callback is not None:
            callback(info)
        if flag.exists():
            raise JobStopped(int(info.get("force_calls", 0)))

    return check


def _one_thread(parent: int) -> None:
    """Worker start: one torch thread, and the worker ends when `parent` does (a killed run
    must not leave a worker writing into a hop folder that its rerun writes into too)."""
    import threading

    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["HECATHODE_TORCH_THREADS"] = "1"
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def check_workers(workers: int) -> int:
    if not isinstance(workers, int) or workers < 1:
        raise HecathodeInputError(f"--workers must be a whole number >= 1, got {workers!r}")
    return workers


def calculator_in_worker(calculator, key: tuple, build: Callable[[], object]):
    """`calculator` itself when it is an ASE calculator; for a name or a calculator class, the
    one this process built (with `build()`) the first time it was asked for these settings
    (`key`)."""
    if not isinstance(calculator, str | type):
        return calculator
    if key not in _CALCULATORS:
        _CALCULATORS[key] = build()
    return _CALCULATORS[key]


class Workers:
    """`n` worker processes (spawned, one torch thread each), or this process when n == 1."""

    def __init__(self, n: int = 1):
        self.n = check_workers(n)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.n > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.n, mp_context=get_context("spawn"),
                                             initializer=_one_thread, initargs=(os.getpid(),))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, function: Callable, jobs: Iterable[tuple]) -> list:
        """[function(*job) for job in jobs], in order; side by side when n > 1."""
        jobs = list(jobs)
        if self._pool is None or len(jobs) < 2:
            return [function(*job) for job in jobs]
        futures = [self._pool.submit(function, *job) for job in jobs]
        return [f.result() for f in futures]

    def submit(self, function: Callable, *args) -> Future:
        """function(*args) in a free worker; with n == 1 run here, the future already done."""
        if self._pool is not None:
            return self._pool.submit(function, *args)
        future: Future = Future()
        future.set_result(function(*args))
        return future


class InFlight:
    """The jobs running in `pool`, one per item (a hop, say), started one at a time as workers
    come free. With several workers and a `folder(item)` for each, a job whose item is no
    longer wanted can be asked to stop (`stop`: its job must watch with `stop_check`); a stop
    request is cleared when the item's job starts again or finishes."""

    def __init__(self, pool: Workers, folder: Callable[[object], Path] | None = None):
        self.pool, self.jobs = pool, {}  # future -> item
        self._folder = folder if pool.n > 1 else None
        self.stoppable = self._folder is not None

    def items(self) -> list:
        return list(self.jobs.values())

    def free(self) -> int:
        return self.pool.n - len(self.jobs)

    def start(self, item, function: Callable, *args) -> None:
        if self.stoppable:
            clear_stop(self._folder(item))
        self.jobs[self.pool.submit(function, *args)] = item

    def stop(self, item) -> None:
        if self.stoppable:
            request_stop(self._folder(item))

    def finished(self) -> list[tuple]:
        """Waits until a job is done: [(item, result)] of every job done by then."""
        done, _ = wait(self.jobs, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            item = self.jobs.pop(future)
            if self.stoppable:  # a request that came as the job finished
                clear_stop(self._folder(item))
            out.append((item, future.result()))
        return out
