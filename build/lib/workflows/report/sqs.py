"""Figure of an SQS set (`workflows.studies.sqs_set`): how far each SQS is from the random alloy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workflows.report.plotting import figure, save


def plot_sqs(doc: dict, path: str | Path) -> Path:
    """Two panels: mean |Δ correlation| per orbit, and mean |α| per shell, SQS vs random."""
    fig, (ax1, ax2) = figure(ncols=2, size=(11, 4.2))
    keep = [i for i, o in enumerate(doc["structures"][0]["orbits"]) if o["order"] >= 2]
    orbits = [doc["structures"][0]["orbits"][i] for i in keep]  # singlets are fixed by composition
    x = np.arange(len(orbits))
    rnd = [o["random_mean_abs_deviation"] for o in orbits]
    err = [o["random_std_abs_deviation"] for o in orbits]
    ax1.bar(x, rnd, yerr=err, color="0.8", label=f"random ({doc['structures'][0]['n_random']} occupations)")
    for k, s in enumerate(doc["structures"]):
        ax1.plot(x, [s["orbits"][i]["sqs_mean_abs_deviation"] for i in keep], "o", ms=5,
                 label=f"sqs-{k:03d} (score {s['icet_score']:.3f})")
    ax1.set_xticks(x, [f"pair {2 * o['radius_A']:.2f}" if o["order"] == 2 else
                       f"{'triplet' if o['order'] == 3 else o['order']} r={o['radius_A']:.2f}"
                       for o in orbits], rotation=60, fontsize=7)
    ax1.set_ylabel("mean |Δ correlation| vs random alloy")
    ax1.set_xlabel("orbit (pair: distance Å; triplet: icet cluster radius Å)")
    ax1.legend(fontsize=7)
    width = 0.8 / (len(doc["structures"]) + 1)
    labels = []
    for sub in doc["active_sublattices"]:
        for shell in (0, 1):
            labels.append((sub, shell))
    xs = np.arange(len(labels))
    rand_vals = [(doc["structures"][0]["random_mean_abs_alpha"][sub] + [np.nan, np.nan])[sh]
                 for sub, sh in labels]
    ax2.bar(xs, rand_vals, width, color="0.8", label="random")
    for k, s in enumerate(doc["structures"]):
        vals = []
        for sub, sh in labels:
            shells = s["warren_cowley"][sub]
            vals.append(shells[sh]["mean_abs_alpha"] if sh < len(shells) else np.nan)
        ax2.bar(xs + (k + 1) * width, vals, width, label=f"sqs-{k:03d}")
    ax2.set_xticks(xs + width * len(doc["structures"]) / 2,
                   [f"{sub} shell {sh + 1}" for sub, sh in labels], fontsize=8)
    ax2.set_ylabel("mean |Warren-Cowley α| (0 = random)")
    ax2.legend(fontsize=7)
    fig.suptitle(f"{doc['formula']} on {doc['prototype']}: {doc['supercell']['n_atoms']} atoms, "
                 f"ΔS target {doc['entropy_target_R']:.3f} R, achieved {doc['entropy_achieved_R']:.3f} R",
                 fontsize=10)
    return save(fig, path)
