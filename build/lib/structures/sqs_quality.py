"""How random an SQS is: icet score and cluster-vector deviation against random occupations
of the same supercell, and Warren–Cowley α for the first neighbour shells of each active
sublattice; a shell on which the SQS is farther from random than random occupations are is
listed and warned about (`SQSQualityWarning`). α is dimensionless (0 = ideal random)."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

SHELL_TOL = 0.05  # Å, distances closer than this form one neighbour shell


class SQSQualityWarning(UserWarning):
    """A kept SQS is farther from random than random occupations on some neighbour shell."""


def neighbour_shells(distances: np.ndarray) -> list[float]:
    shells: list[float] = []
    for d in np.sort(distances):
        if not shells or d - shells[-1] > SHELL_TOL:
            shells.append(float(d))
    return shells


def sqs_quality(context: dict, index: int, n_random: int = 50, seed: int = 0) -> dict:
    """Quality of SQS number `index`: icet score, deviation per orbit, Warren-Cowley α.

    Each number is given for the SQS and for `n_random` random occupations of the same
    supercell with the same counts (mean and standard deviation). Shells on which the SQS
    mean |α| exceeds the random one are listed in `worse_than_random` (see that function),
    described in `quality_notes` (one line, empty when none) and warned about
    (`SQSQualityWarning`).
    """
    from icet.tools.structure_generation import occupy_structure_randomly
    from mchammer.calculators.target_vector_calculator import compare_cluster_vectors

    cs, cell, conc, target = (context[k] for k in ("cluster_space", "supercell", "concentrations",
                                                    "target_cv"))
    sqs = cell.copy()
    sqs.set_chemical_symbols(context["symbols"][index])
    orbits = cs.as_list
    cv = cs.get_cluster_vector(sqs)
    rng_scores, rng_dev = [], []
    for r in range(n_random):
        rand = cell.copy()
        occupy_structure_randomly(rand, cs, conc, random_seed=seed * 100003 + r)
        rcv = cs.get_cluster_vector(rand)
        rng_scores.append(compare_cluster_vectors(rcv, target, orbits))
        rng_dev.append(np.abs(rcv - target))
    rng_dev_arr = np.array(rng_dev)
    per_orbit = {}
    for k, entry in enumerate(orbits):
        if entry["order"] < 1:
            continue
        o = per_orbit.setdefault(entry["orbit_index"], {
            "orbit_index": int(entry["orbit_index"]), "order": int(entry["order"]),
            "radius_A": float(entry["radius"]), "sublattices": entry["sublattices"],
            "elements": []})
        o["elements"].append(k)
    orbit_rows = []
    for o in per_orbit.values():
        ks = o.pop("elements")
        o["sqs_mean_abs_deviation"] = float(np.mean(np.abs(cv[ks] - target[ks])))
        o["random_mean_abs_deviation"] = float(np.mean(rng_dev_arr[:, ks]))
        o["random_std_abs_deviation"] = float(np.std(rng_dev_arr[:, ks].mean(axis=1)))
        orbit_rows.append(o)
    alphas = {sub: warren_cowley(sqs, cell_sub_mask(context, sub)) for sub in context["active"]}
    rand = cell.copy()
    random_alpha = {}
    for sub in context["active"]:
        vals = []
        for r in range(min(n_random, 20)):
            occupy_structure_randomly(rand, cs, conc, random_seed=seed * 100003 + r)
            vals.append([s["mean_abs_alpha"] for s in warren_cowley(rand, cell_sub_mask(context, sub))])
        random_alpha[sub] = np.mean(vals, axis=0).tolist() if vals else []
    worse = worse_than_random(alphas, random_alpha)
    notes = [_worse_note(index, worse)] if worse else []
    for note in notes:
        warnings.warn(note, SQSQualityWarning, stacklevel=2)
    return {
        "icet_score": float(compare_cluster_vectors(cv, target, orbits)),
        "random_score_mean": float(np.mean(rng_scores)),
        "random_score_std": float(np.std(rng_scores)),
        "cv_deviation_norm": float(np.linalg.norm(cv - target)),
        "random_cv_deviation_norm_mean": float(np.mean(np.linalg.norm(rng_dev_arr, axis=1))),
        "orbits": orbit_rows,
        "warren_cowley": alphas,
        "random_mean_abs_alpha": random_alpha,
        "n_random": n_random,
        "worse_than_random": worse,
        "quality_notes": notes,
    }


def worse_than_random(alphas: dict[str, list[dict]], random_alpha: dict[str, list[float]]) -> list[dict]:
    """Shells where the SQS mean |α| exceeds that of random occupations of the same cell.

    One row per such shell: sublattice, shell (1 = nearest), distance (Å) and both mean |α|.
    """
    rows = []
    for sub, shells in alphas.items():
        for k, (shell, rnd) in enumerate(zip(shells, random_alpha.get(sub, []), strict=False)):
            if shell["mean_abs_alpha"] > rnd + 1e-12:
                rows.append({"sublattice": sub, "shell": k + 1, "distance_A": shell["distance_A"],
                             "sqs_mean_abs_alpha": shell["mean_abs_alpha"], "random_mean_abs_alpha": rnd})
    return rows


def _worse_note(index: int, rows: list[dict]) -> str:
    where = "; ".join(f"{r['sublattice']} shell {r['shell']} ({r['distance_A']:.2f} Å): mean |α| "
                      f"{r['sqs_mean_abs_alpha']:.3f} vs {r['random_mean_abs_alpha']:.3f}" for r in rows)
    return (f"sqs-{index:03d} is farther from random than random occupations of the same supercell on "
            f"{where}; raise --cutoffs to cover those shells, or --steps/--runs")


def cell_sub_mask(context: dict, sub: str) -> np.ndarray:
    return np.asarray(context["sublattice_array"]) == sub


def warren_cowley(atoms: Atoms, mask: np.ndarray, n_shells: int = 2) -> list[dict]:
    """Warren-Cowley α_ij = 1 - P(j | neighbour of i) / c_j for the first `n_shells` shells.

    Computed on the sites in `mask` (one sublattice, vacancies 'X' counted as a species);
    shells are the distinct distances between those sites (Å, ±0.05). Returns per shell
    the distance, the α matrix and the mean |α| over all species pairs (0 = random).
    """
    sub = atoms[np.flatnonzero(mask)]
    symbols = np.array(sub.get_chemical_symbols())
    species = sorted(set(symbols))
    conc = {s: float(np.mean(symbols == s)) for s in species}
    i, j, d = neighbor_list("ijd", sub, 12.0)
    shells = neighbour_shells(d)[:n_shells]
    rows = []
    for r in shells:
        sel = np.abs(d - r) < SHELL_TOL
        alpha = {}
        for a in species:
            centre = sel & (symbols[i] == a)
            n_all = int(centre.sum())
            for b in species:
                p = np.sum(symbols[j[centre]] == b) / n_all if n_all else 0.0
                alpha[f"{a}-{b}"] = float(1 - p / conc[b])
        rows.append({"distance_A": r, "alpha": alpha,
                     "mean_abs_alpha": float(np.mean(np.abs(list(alpha.values()))))})
    return rows
