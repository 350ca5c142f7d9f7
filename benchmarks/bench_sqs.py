"""SQS benchmark on the O3 high-entropy oxide NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2 (run on demand).

Compares, in one run on this machine:
1. hecathode (`structures.sqs`: one supercell of 120 atoms, width >= 8 Å, parallel seeds)
   with icet's own `generate_sqs(max_size=30)` at its default number of steps (it anneals
   over every supercell of up to 30 primitive cells, 1038 of them here). Same cluster
   space, same target, same icet score. Goal: score at least as good in at most 1/10
   of the wall time.
2. hecathode with sqsgenerator (PyPI, benchmark-only: `pip install sqsgenerator`) at equal
   wall time on the same 30 TM sites: mean |Warren-Cowley α| of the first two TM shells.
   Goal: within 1.2x of sqsgenerator (which optimises exactly that quantity).

Usage: .venv/bin/python benchmarks/bench_sqs.py [--skip-icet]   (icet's default takes ~30 min)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from structures.composition import assign_sublattices
from structures.prototypes import SUBLATTICE, parent_cell
from structures.sqs import (
    choose_supercell,
    generate_sqs,
    n_cores,
    plan_supercells,
    sqs_quality,
    warren_cowley,
)

FORMULA = "NaMn0.2Fe0.2Co0.2Ni0.2Ti0.2O2"


def run_icet_default(cs, conc, target_cv) -> tuple[float, float, int]:
    from icet.tools.structure_generation import generate_sqs as icet_generate_sqs
    from mchammer.calculators.target_vector_calculator import compare_cluster_vectors

    t0 = time.perf_counter()
    best = icet_generate_sqs(cs, max_size=30, target_concentrations=conc, random_seed=1)
    wall = time.perf_counter() - t0
    return float(compare_cluster_vectors(cs.get_cluster_vector(best), target_cv, cs.as_list)), wall, len(best)


def run_sqsgenerator(tm_cell, counts: dict[str, int], wall_budget: float) -> tuple[list[str], float, int]:
    """sqsgenerator on the TM sites alone, iterations scaled to take `wall_budget` seconds."""
    import sqsgenerator as sg

    host = tm_cell.get_chemical_symbols()[0]

    def config(iterations: int):
        return sg.parse_config({
            "structure": {"lattice": tm_cell.cell[:].tolist(),
                          "coords": tm_cell.get_scaled_positions().tolist(),
                          "species": tm_cell.get_chemical_symbols(), "supercell": [1, 1, 1]},
            "iterations": iterations, "composition": [{"sites": host, **counts}],
            "shell_weights": {1: 1.0, 2: 0.5}, "thread_config": [n_cores()]})

    probe = 200_000
    t0 = time.perf_counter()
    sg.optimize(config(probe))
    rate = probe / (time.perf_counter() - t0)
    iterations = max(probe, int(rate * wall_budget))
    t0 = time.perf_counter()
    pack = sg.optimize(config(iterations))
    wall = time.perf_counter() - t0
    best = pack.best().structure()
    return list(best.symbols), wall, iterations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-icet", action="store_true", help="skip icet's generate_sqs(max_size=30)")
    args = ap.parse_args()

    comp = assign_sublattices(FORMULA, "o3")
    parent = parent_cell("o3")
    option, _ = choose_supercell(plan_supercells(comp, parent, max_atoms=120), parent)

    t0 = time.perf_counter()
    structures, ctx = generate_sqs(comp, parent, option, n_structures=1, seed=1)
    ours_wall = time.perf_counter() - t0
    q = sqs_quality(ctx, 0)
    cs, conc, target_cv = ctx["cluster_space"], ctx["concentrations"], ctx["target_cv"]
    tm_mask = ctx["sublattice_array"] == "TM"
    ours_alpha = [s["mean_abs_alpha"] for s in q["warren_cowley"]["TM"]]

    rows = [(f"hecathode (120 atoms, {ctx['n_runs']} runs x {ctx['n_steps']} steps)",
             q["icet_score"], ours_wall, ours_alpha)]
    if not args.skip_icet:
        score, wall, n_atoms = run_icet_default(cs, conc["A"], target_cv)
        rows.append((f"icet generate_sqs(max_size=30) default ({n_atoms} atoms)", score, wall, None))

    try:
        tm_cell = ctx["supercell"][np.flatnonzero(tm_mask)]
        counts = option.counts["TM"]
        symbols, wall, iters = run_sqsgenerator(tm_cell, counts, ours_wall)
        full = ctx["supercell"].copy()
        sym = np.array(full.get_chemical_symbols())
        sym[tm_mask] = symbols
        full.set_chemical_symbols(list(sym))
        full.arrays[SUBLATTICE] = ctx["sublattice_array"]
        alpha = [s["mean_abs_alpha"] for s in warren_cowley(full, tm_mask)]
        from mchammer.calculators.target_vector_calculator import compare_cluster_vectors

        score = float(compare_cluster_vectors(cs.get_cluster_vector(full), target_cv, cs.as_list))
        rows.append((f"sqsgenerator ({iters} iterations, equal wall time)", score, wall, alpha))
    except ImportError:
        rows.append(("sqsgenerator not installed (pip install sqsgenerator)", float("nan"), 0.0, None))

    print(f"\nSQS benchmark: {FORMULA} on O3, cores {n_cores()}, random-occupation score "
          f"{q['random_score_mean']:.4f}, random mean |α| shells 1,2 "
          f"{', '.join(f'{a:.3f}' for a in q['random_mean_abs_alpha']['TM'])}\n")
    print(f"{'method':58s} {'icet score':>11s} {'wall (s)':>9s} {'mean |α| sh1, sh2':>18s}")
    for name, score, wall, alpha in rows:
        a = "-" if alpha is None else ", ".join(f"{x:.3f}" for x in alpha)
        print(f"{name:58s} {score:11.4f} {wall:9.1f} {a:>18s}")
    if not args.skip_icet:
        print(f"\nwall-time ratio hecathode / icet default: {rows[0][2] / rows[1][2]:.4f} (goal <= 0.1); "
              f"score {rows[0][1]:.4f} vs {rows[1][1]:.4f} (goal: lower or equal)")
    sg_alpha = rows[-1][3]
    if sg_alpha:
        ratio = np.mean(ours_alpha) / max(np.mean(sg_alpha), 1e-12)
        print(f"mean |α| (shells 1-2) hecathode / sqsgenerator at equal wall time: {ratio:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
