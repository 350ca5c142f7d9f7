"""`rlaunch` for queue jobs in FireWorks' offline mode, with a monty/FireWorks fix.

Usage (written into every queue script by `workflows.fireworks.queues.load_qadapter`)::

    python -m workflows.fireworks.offline_rocket singleshot --offline --fw_id N

A queue job in offline mode never opens the LaunchPad: it runs the Firework in `FW.json` of
its launch folder and records its state in `FW_offline.json`, which the campaign runner reads
back with `LaunchPad.recover_offline`. That last file is what FireWorks 2.1.4 cannot write
with current monty: `fireworks/core/rocket.py` calls `monty.io.zopen(path)` without a mode,
and monty >= 2026.2.18 made `mode` a required argument, so every offline rocket dies with
`TypeError: zopen() missing 1 required positional argument: 'mode'` before its task runs.
monty cannot be pinned back (pymatgen-core needs monty >= 2026.7.16).

This launcher replaces the name `zopen` inside `fireworks.core.rocket` by a wrapper whose
mode defaults to "rt" (what the calls without a mode mean: they read JSON text), then hands
the arguments to FireWorks' own `rlaunch` entry point unchanged.

While it is there, the wrapper also writes `FW_offline.json` atomically (temporary file, then
rename), and so does the offline ping (`FW_ping.json`). FireWorks truncates and rewrites both
in place; a runner whose `LaunchPad.recover_offline` reads one half-written gets a JSON error,
and recover_offline (ignore_errors=False) then marks a healthy running Firework FIZZLED.
Measured here: a reader polling every 0.2 s caught it empty in 2 runs out of 3.

REMOVE this module (and point `rocket_launch` back at plain `rlaunch`) once FireWorks passes
a mode to every zopen call; `tests/test_queues.py` fails with a message saying so as soon as
plain `rlaunch singleshot --offline` works again. (Runners should then call
`recover_offline(launch_id, ignore_errors=True)` and retry a launch it returns, because of
the non-atomic writes.)
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_ATOMIC_NAMES = {"FW_offline.json", "FW_ping.json"}


class _AtomicTextWriter:
    """A text file that appears under its name only when closed without an error."""

    def __init__(self, path: str | os.PathLike, encoding: str = "utf-8") -> None:
        self.path = Path(path).absolute()  # fixed now: the task may change the cwd before close()
        # a unique temporary name: the ping thread and the main thread may write at the same time
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        self.fh = open(fd, "w", encoding=encoding)  # noqa: SIM115 (closed in close())

    def write(self, text: str) -> int:
        return self.fh.write(text)

    def close(self, ok: bool = True) -> None:
        if self.fh.closed:
            return
        self.fh.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> _AtomicTextWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def _zopen_with_default_mode(filename: Any, mode: str | None = None, **kwargs: Any):
    """monty.io.zopen with `mode` optional again (default "rt"); FW_offline.json written atomically."""
    from monty.io import zopen

    mode = mode or "rt"
    if Path(filename).name in _ATOMIC_NAMES and mode in {"w", "wt"}:
        return _AtomicTextWriter(filename, encoding=kwargs.get("encoding", "utf-8"))
    return zopen(filename, mode, **kwargs)


def _do_ping_atomic(launchpad: Any, launch_id: int) -> None:
    """fireworks.core.rocket.do_ping, with the offline FW_ping.json written atomically."""
    if launchpad:
        launchpad.ping_launch(launch_id)
        return
    now = datetime.datetime.now(datetime.UTC).isoformat()
    with _AtomicTextWriter("FW_ping.json") as fh:
        fh.write(f'{{"ping_time": "{now}"}}')


def patch_fireworks_zopen() -> None:
    """Make `fireworks.core.rocket` call zopen with a mode, and write its offline files atomically
    (idempotent)."""
    import fireworks.core.rocket as rocket

    rocket.zopen = _zopen_with_default_mode
    rocket.do_ping = _do_ping_atomic


def _import_hecathode_tasks() -> None:
    """Register hecathode's FireTasks, under their new and their old (`workflows.tasks`) names.

    FireTasks declared with `@explicit_serialize` are stored as `{{module.Name}}` and FireWorks
    imports that module by itself; importing both here also registers any task that uses a
    plain `_fw_name`, at no extra cost for jobs that run hecathode tasks anyway.
    """
    importlib.import_module("workflows.fireworks.tasks")
    importlib.import_module("workflows.fireworks.network_tasks")
    importlib.import_module("workflows.tasks")


def main(argv: Sequence[str] | None = None) -> int:
    """Run FireWorks' `rlaunch` with `argv` (default: the command line) after the zopen fix."""
    patch_fireworks_zopen()
    _import_hecathode_tasks()
    from fireworks.scripts.rlaunch_run import rlaunch

    return rlaunch(list(sys.argv[1:] if argv is None else argv)) or 0


if __name__ == "__main__":
    raise SystemExit(main())
