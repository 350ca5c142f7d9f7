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


def spread_summary(values: Iterable[float | None], unit: str = "eV") -> dict:
    """`min_mean_max` plus the spread (max − min) and the sample standard deviation (ddof 1;
    0 for one value) under `spread_<unit>` and `std_<unit>`: a result over SQS or potentials."""
    values = list(values)
    out = min_mean_max(values, unit)
    v = [x for x in values if x is not None and np.isfinite(x)]
    if v:
        out[f"spread_{unit}"] = float(max(v) - min(v))
        out[f"std_{unit}"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return out
