"""Every setting hecathode reads from outside its code: config folders, environment variables
and the number of cores. Read here, nowhere else.

| variable | meaning | default |
| --- | --- | --- |
| HECATHODE_TORCH_THREADS | torch threads per MLIP process | the cores this process may use |
| MP_API_KEY | Materials Project API key (only for --mp-id) | none |
| MP_API_ENDPOINT | Materials Project API address (a replay server in tests) | mp-api's own |
"""

from __future__ import annotations

import os
from pathlib import Path

from structures.errors import HecathodeInputError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
PROTOTYPE_DIR = CONFIG_DIR / "prototypes"
CALCULATOR_DIR = CONFIG_DIR / "calculators"
QUEUE_DIR = CONFIG_DIR / "queue"
RULES_DIR = CONFIG_DIR / "rules"
DATASET_DIR = CONFIG_DIR / "datasets"


class SettingError(HecathodeInputError):
    """An environment variable with a value hecathode cannot use."""


def n_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def torch_threads(default: int | None = None) -> int:
    """Torch threads for one MLIP process: `default` (a preset's `threads`), else
    $HECATHODE_TORCH_THREADS, else the cores this process may use. Several processes on one
    machine should each get cores / processes (oversubscription is 4-10x slower)."""
    if default is not None:
        if default < 1:
            raise SettingError(f"threads must be at least 1, got {default}")
        return default
    env = os.environ.get("HECATHODE_TORCH_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise SettingError(f"HECATHODE_TORCH_THREADS must be a whole number ≥ 1, got {env!r}")
        return int(env)
    return n_cores()


def mp_api_key() -> str | None:
    """The Materials Project API key ($MP_API_KEY), or None."""
    return os.environ.get("MP_API_KEY") or None


def mp_api_endpoint() -> str | None:
    """The Materials Project API address ($MP_API_ENDPOINT), or None for mp-api's default."""
    return os.environ.get("MP_API_ENDPOINT") or None
