"""One summary of a list of numbers (barriers over hops, ΔH_mix over SQS, ...): n, min, mean,
max and the spread, with the unit in every key (`min_eV`, ...)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def min_mean_max(values: Iterable[float], unit: str = "eV") -> dict:
    """{"n", "min_<unit>", "mean_<unit>", "max_<unit>"} of the finite values; {"n": 0} if none."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not len(v):
        return {"n": 0}
    return {"n": int(len(v)), f"min_{unit}": float(v.min()), f"mean_{unit}": float(v.mean()),
            f"max_{unit}": float(v.max())}
