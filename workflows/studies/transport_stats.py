"""Statistics of a transport study (pure functions): per-axis percolation barriers over SQS
(mean, sample std, bootstrap and Student-t intervals of the mean, how many SQS lie above the
pristine value, SQS without a path counted apart) and hop-barrier distributions. Energies eV.

With a handful of SQS the percentile bootstrap interval cannot leave the range of the values
(three values: never wider than min..max), so it understates the uncertainty of the mean; the
Student-t interval (mean ± t·s/√K) accounts for the spread being estimated from K values too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AXES = ("a", "b", "c")
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
MIN_FOR_INTERVAL = 3  # fewer percolating SQS: the bootstrap interval is not meaningful



def finite_eV(values: Sequence[float | None]) -> list[float]:
    """The values that are numbers (None: no percolating path) as floats."""
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def mean_std_eV(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """(mean, sample std with ddof 1) of the finite values; std None below two, both None for none."""
    v = finite_eV(values)
    if not v:
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else None)


def bootstrap_interval_eV(values: Sequence[float | None], *, n_resamples: int = N_RESAMPLES,
                          seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> list[float] | None:
    """Percentile bootstrap interval [lo, hi] of the mean of the finite values (resampled with
    replacement, `n_resamples` times, fixed seed); None for no values."""
    v = np.array(finite_eV(values))
    if not len(v):
        return None
    picks = np.random.default_rng(seed).integers(0, len(v), size=(n_resamples, len(v)))
    lo, hi = np.quantile(v[picks].mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
    return [float(np.clip(lo, v.min(), v.max())), float(np.clip(hi, v.min(), v.max()))]  # float noise


def t_interval_eV(values: Sequence[float | None], level: float = 0.95) -> list[float] | None:
    """Student-t interval [mean - t s/sqrt(n), mean + t s/sqrt(n)] of the mean of the finite
    values (t at n - 1 degrees of freedom, s the sample std); None below two values."""
    from scipy.stats import t

    v = finite_eV(values)
    if len(v) < 2:
        return None
    mean, std = mean_std_eV(v)
    half = float(t.ppf((1 + level) / 2, len(v) - 1)) * std / np.sqrt(len(v))
    return [mean - half, mean + half]


def axis_statistics(values: Sequence[float | None], pristine_eV: float | None = None, *,
                    n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """One axis over the SQS: values (None kept), how many have no path (never averaged), mean ±
    std, bootstrap and Student-t 95 % intervals of the mean, the pristine value, HE − pristine
    and how many SQS lie above it."""
    v = finite_eV(values)
    mean, std = mean_std_eV(v)
    return {"per_sqs_eV": list(values), "n_sqs": len(values), "n_percolating": len(v),
            "n_no_path": len(values) - len(v), "mean_eV": mean, "std_eV": std,
            "ci95_eV": bootstrap_interval_eV(v, n_resamples=n_resamples, seed=seed),
            "t95_eV": t_interval_eV(v), "interval_meaningful": len(v) >= MIN_FOR_INTERVAL,
            "pristine_eV": pristine_eV,
            "n_above_pristine": None if pristine_eV is None else sum(x > pristine_eV for x in v),
            "he_minus_pristine_eV": None if mean is None or pristine_eV is None else mean - pristine_eV}


def lowest_eV(barriers: dict[str, float | None]) -> float | None:
    """The lowest percolation barrier over the axes (None: no axis percolates)."""
    v = finite_eV(barriers.values())
    return min(v) if v else None


def hop_barriers(network: dict) -> dict:
    """The CI-NEB effective barriers of a network.json document with their multiplicities
    (skipped hops and those outside percolation left out) and the number of hops only screened."""
    refined = [h for h in network["hops"] if h.get("refined", True) and "skipped" not in h
               and h.get("in_percolation", not h.get("reconstructed"))
               and h.get("effective_barrier_eV") is not None]
    return {"values_eV": [float(h["effective_barrier_eV"]) for h in refined],
            "weights": [int(h.get("multiplicity", 1)) for h in refined],
            "n_screened_only": sum(not h.get("refined", True) and "skipped" not in h
                                   for h in network["hops"])}


def pooled(distributions: Sequence[dict]) -> dict:
    """Several `hop_barriers` distributions as one."""
    return {key: [x for d in distributions for x in d[key]] for key in ("values_eV", "weights")} | {
        "n_screened_only": sum(d["n_screened_only"] for d in distributions)}
