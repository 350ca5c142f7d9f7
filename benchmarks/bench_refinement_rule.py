"""How many CI-NEBs the refinement rule asks for: the rule replayed on a finished hop network.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_refinement_rule.py \
        --structure out/sqs/sqs-000.extxyz --network out/neb/chgnet [--workers 1 2]

Reads the network folder a `hecathode neb --network` / `transport` / `bench_network.py` run
wrote (vacancy states, screen.json and every hop-NN/neb.json read back: no force call; the
structure is the cell that run was given). Every hop whose CI-NEB was run takes its measured
barrier; a hop never run takes its short-NEB estimate minus 0.04 eV (the mean overestimate;
never below its higher endpoint),
and the script says whether the rule ever asked for one. Then, starting from nothing refined,
each rule is replayed with 1 and 2 workers (a free worker takes the first hop of the rule's
list not already running; a hop lasts its measured force calls):

- `bracket` (`calculators.network.hops_to_refine`): refine until each axis's barrier with every
  unrefined hop at its lower bound equals the one with every hop at its upper bound, the hops
  that alone move a bound first;
- `interval` (the previous rule): refine every hop whose interval holds the optimistic
  threshold (all unrefined hops at their lower bound);
- with 2 workers, `bracket` also as `refine_until_exact` runs it: a running hop that the list,
  recomputed when another hop finishes, no longer holds is stopped (its calls so far count;
  when needed again it resumes with the rest).

Prints per rule and worker count: CI-NEBs, their force calls, the wall time in force calls
(the longest worker), and the percolation barriers (each must equal the all-refined ones).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HECATHODE_TORCH_THREADS", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import calculators.network as cn  # noqa: E402
from structures.hops import percolation_barriers  # noqa: E402
from structures.io import read_structure  # noqa: E402

MEAN_OVERESTIMATE_EV = 0.04


def interval_rule(plan, screen: str, margin_eV: float) -> list[dict]:
    """The previous rule: unrefined hops whose [L, U] holds an axis's optimistic threshold."""
    usable = [h for h in plan.hops if h["class"] in plan.ends and "skipped" not in h and not h["refined"]]

    def low(h):
        return cn._value(h) if h["refined"] else cn._bounds(plan, h, screen, margin_eV)[0]

    optimistic = [t for t in percolation_barriers(plan.atoms, cn.percolation_edges(plan, low)).values()
                  if t is not None]

    def holds(h: dict, t: float) -> bool:
        lower, upper = cn._bounds(plan, h, screen, margin_eV)
        return lower <= t + 1e-9 and upper >= t - 1e-9

    likely = [t for t in percolation_barriers(plan.atoms, cn.percolation_edges(plan)).values()
              if t is not None]

    def distance(h: dict) -> float:  # nearest the likely threshold first, as that rule did
        value = cn._value(h) if cn._value(h) is not None else low(h)
        return min((abs(value - t) for t in likely), default=0.0)

    return sorted([h for h in usable if h["in_percolation"] and any(holds(h, t) for t in optimistic)],
                  key=distance)


def replay(plan, rule, truth: dict, calls: dict, workers: int, screen: str, margin_eV: float,
           stop: bool = False) -> dict:
    """The rule replayed with `workers`; `stop`: a running hop the recomputed list no longer holds
    is stopped (its calls so far are spent; when needed again it resumes with the rest)."""
    hops = copy.deepcopy(plan.hops)
    for h in hops:
        h["refined"] = False
    work = copy.copy(plan)
    work.hops = hops
    by_class = {h["class"]: h for h in hops}
    clock, running, order, left, spent = 0.0, {}, [], dict(calls), 0.0
    while True:
        todo = rule(work, screen, margin_eV)
        if stop:
            needed = {h["class"] for h in todo}
            for k in [k for k in running if k not in needed]:
                start, end = running.pop(k)
                spent += clock - start
                left[k] = end - clock
        for h in todo:
            if len(running) >= workers:
                break
            running.setdefault(h["class"], (clock, clock + left[h["class"]]))
        if not running:
            break
        k = min(running, key=lambda c: running[c][1])
        clock = running.pop(k)[1]
        by_class[k].update(refined=True, effective_barrier_eV=truth[k])
        order.append(k)
    return {"n": len(order), "calls": sum(calls[k] for k in order) + spent, "wall": clock, "order": order,
            "barriers": percolation_barriers(work.atoms, cn.percolation_edges(work))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--structure", type=Path, required=True)
    ap.add_argument("--network", type=Path, required=True)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    doc = json.loads((args.network / "network.json").read_text())
    screen, margin = doc["screen"], doc["screen_margin_eV"]
    hop0 = next(args.network.glob("hop-*/neb.json"))
    neb = json.loads(hop0.read_text())
    plan = cn.plan_network(read_structure(args.structure), doc.get("calculator") or neb["calculator"],
                           species=doc["species"], cutoff=doc["cutoff_A"], directory=args.network,
                           n_images=neb["n_images"], fmax=neb["fmax_eV_per_A"],
                           relax_host=doc.get("host") is not None)
    cn.screen_network(plan, screen)
    truth, calls = {}, {}
    for h in plan.hops:
        path = args.network / f"hop-{h['class']:02d}" / "neb.json"
        if path.is_file():
            d = json.loads(path.read_text())
            truth[h["class"]] = d["endpoint_energies_eV"][0] + d["forward_barrier_eV"] - plan.e_ref
            calls[h["class"]] = d["force_calls"]
    measured = set(truth)
    typical = sorted(calls.values())[len(calls) // 2]
    for h in plan.hops:
        if h["class"] not in truth and "skipped" not in h:  # never below its higher endpoint
            ends = max(h["endpoint_energies_eV"]) - plan.e_ref
            estimate = h["screened_barrier_eV"]
            truth[h["class"]] = ends if estimate is None else max(estimate - MEAN_OVERESTIMATE_EV, ends)
            calls[h["class"]] = typical
    table = Table(title=f"{args.network}: {len(plan.hops)} hops, {len(measured)} with a CI-NEB run "
                        f"(screen {screen}, margin {margin} eV)")
    for col in ("rule", "workers", "CI-NEBs", "force calls", "wall (force calls)", "a / b / c (eV)",
                "asked for a hop never run"):
        table.add_column(col)
    for name, rule, stop in (("bracket, unneeded hops stopped", cn.hops_to_refine, True),
                             ("bracket, run to the end", cn.hops_to_refine, False),
                             ("interval (previous)", interval_rule, False)):
        for n in args.workers:
            if stop and n == 1:
                continue  # one worker: nothing runs that the list does not hold
            r = replay(plan, rule, truth, calls, n, screen, margin, stop)
            abc = " / ".join("none" if v is None else f"{v:.3f}" for v in r["barriers"].values())
            table.add_row(name, str(n), str(r["n"]), f"{r['calls']:.0f}", f"{r['wall']:.0f}", abc,
                          str(sorted(set(r["order"]) - measured) or "no"))
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
