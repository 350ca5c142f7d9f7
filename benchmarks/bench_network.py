"""Hop networks: screen-then-refine vs CI-NEB of every hop, and shared endpoints vs per-hop ones.

    OMP_NUM_THREADS=1 HECATHODE_TORCH_THREADS=1 .venv/bin/python benchmarks/bench_network.py \
        pristine [--cutoff 4.2] [--images 5] [--fmax 0.05] [--screen short-neb] [--out DIR]
    ... bench_network.py sqs --structure out/sqs/sqs-000.extxyz [--baseline-hops 2] [--workers 1]

`pristine`: the NVPF prototype network (CHGNet, the 144-atom supercell `hecathode neb
--network` uses). First the screened network (`--screen`, default margin) in DIR/screened, timed;
then every remaining hop by CI-NEB in DIR/all, which starts from copies of the screened run's
host, vacancy states and refined hops. Each hop's CI-NEB wall time is its own (neb.json), so
"all hops" = host + vacancy states + every hop's NEB, and "screened" = the screened run's wall
time, both from this one series. Prints the percolation barriers of both, the ratio of wall
times and force calls, and per hop the CI-NEB effective barrier beside both estimates (IDPP,
computed here from the shared endpoints, 3 single points each; short NEB) and how far above
they lie: which estimate brackets the barrier best.

`sqs`: one SQS network (P1: every hop) with screening, timed; then `--baseline-hops` of its
refined hops run as `hecathode neb --hop` does today (both endpoints relaxed for that hop
alone), in DIR/baseline: force calls per refined hop, network (host + states + screening +
refinement, over the refined hops) vs per-hop endpoints.
Run on demand, not in CI (pristine about 1 h, sqs about 1-2 h on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HECATHODE_TORCH_THREADS", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from calculators.neb import neb_supercell, run_neb  # noqa: E402
from calculators.network import plan_network, run_network  # noqa: E402
from calculators.screening import screen_hop  # noqa: E402
from structures.hops import distinct_hops  # noqa: E402
from structures.io import read_structure  # noqa: E402
from workflows.studies.neb_study import load_cell  # noqa: E402

console = Console()


def say(line: str) -> None:
    print(time.strftime("%H:%M:%S"), line, flush=True)


def _timed_network(cell, out: Path, **kw):
    t0 = time.perf_counter()
    net = run_network(cell, "chgnet", directory=out, progress=say, **kw)
    return net, time.perf_counter() - t0


def pristine(args) -> None:
    atoms, _ = load_cell("nvpf", None)
    cell = neb_supercell(atoms, max(c["hop"].length for c in distinct_hops(atoms, "Na", args.cutoff)))
    neb = {"cutoff": args.cutoff, "n_images": args.images, "fmax": args.fmax}
    screened, wall_s = _timed_network(cell, args.out / "screened", screen=args.screen, **neb)
    every = args.out / "all"
    if not every.exists():  # the screened run's host, states and refined hops, copied
        shutil.copytree(args.out / "screened", every, ignore=shutil.ignore_patterns("network.json"))
    full, extra_s = _timed_network(cell, every, screen="none", **neb)
    hop_s = sum(h.get("wall_time_s") or 0.0 for h in full.hops if h.get("refined"))
    prep_s = screened.wall_time_s["vacancy_states"]  # host + vacancy states (first run)
    all_s = prep_s + hop_s
    idpp = _idpp_estimates(cell, every, neb)
    _print_pristine(screened, full, wall_s, all_s, extra_s, idpp)


def _idpp_estimates(cell, folder: Path, neb: dict) -> dict[int, float]:
    """IDPP estimate (effective, eV) of every usable hop, from the shared endpoints (read back)."""
    plan = plan_network(cell, "chgnet", directory=folder, **neb)
    calc = plan.spec.get(cell)
    return {k: screen_hop("idpp", *ends, calc)["saddle_energy_eV"] - plan.e_ref
            for k, ends in plan.ends.items()}


def _print_pristine(screened, full, wall_s, all_s, extra_s, idpp) -> None:
    t = Table(title="Pristine NVPF network, CHGNet: screened-and-refined vs every hop CI-NEB",
              title_justify="left")
    for col in ("variant", "hops refined", "force calls", "wall (s)", "a (eV)", "b (eV)", "c (eV)"):
        t.add_column(col)
    for name, net, wall in (("screened + refined", screened, wall_s), ("every hop", full, all_s)):
        perc = [f"{v:.3f}" if v is not None else "none" for v in net.percolation_barrier_eV.values()]
        t.add_row(name, f"{net.n_refined}/{len(net.hops)}", str(net.force_calls["total"]),
                  f"{wall:.0f}", *perc)
    console.print(t)
    ratio_wall = wall_s / all_s
    ratio_calls = screened.force_calls["total"] / full.force_calls["total"]
    diff = max(abs((screened.percolation_barrier_eV[k] or 0) - (full.percolation_barrier_eV[k] or 0))
               for k in "abc")
    console.print(f"wall time ratio {ratio_wall:.2f}, force-call ratio {ratio_calls:.2f}, largest "
                  f"percolation difference {diff:.4f} eV (resumed remainder took {extra_s:.0f} s)")
    h = Table(title="Estimates vs CI-NEB (effective barriers, eV)", title_justify="left")
    for col in ("hop", "Å", "CI-NEB", "short NEB", "Δ", "IDPP", "Δ", "refined when screened"):
        h.add_column(col)
    refined = {x["class"]: x["refined"] for x in screened.hops}
    for x in full.hops:
        if "effective_barrier_eV" not in x:
            continue
        ci, sn, ip = x["effective_barrier_eV"], x.get("screened_barrier_eV"), idpp.get(x["class"])
        sn = sn if sn is not None else _screened(screened, x["class"])
        h.add_row(f"{x['start_label']}->{x['end_label']}", f"{x['length_A']:.2f}", f"{ci:.3f}",
                  _fmt(sn), _fmt(None if sn is None else sn - ci), _fmt(ip),
                  _fmt(None if ip is None else ip - ci),
                  "reconstructed" if x["reconstructed"] else str(refined.get(x["class"])))
    console.print(h)


def _screened(net, k: int) -> float | None:
    return next((h.get("screened_barrier_eV") for h in net.hops if h["class"] == k), None)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:+.3f}" if abs(v) < 0.1 and v != 0 else f"{v:.3f}"


def sqs(args) -> None:
    cell = read_structure(args.structure)
    neb = {"cutoff": args.cutoff, "n_images": args.images, "fmax": args.fmax}
    net, wall_s = _timed_network(cell, args.out / "network", screen=args.screen, workers=args.workers, **neb)
    calls = net.force_calls
    per_refined = calls["total"] / max(net.n_refined, 1)
    picked = [h for h in net.hops if h.get("refined") and "effective_barrier_eV" in h][:args.baseline_hops]
    classes = distinct_hops(cell, "Na", args.cutoff)
    base = []
    for h in picked:
        t0 = time.perf_counter()
        res = run_neb(cell, classes[h["class"]]["hop"], "chgnet", n_images=args.images, fmax=args.fmax,
                      directory=args.out / "baseline" / f"hop-{h['class']:02d}")
        base.append((h, res, time.perf_counter() - t0))
    t = Table(title=f"SQS network {args.structure} ({len(cell)} atoms), CHGNet, screen {args.screen}",
              title_justify="left")
    for col in ("hops", "refined", "host", "states", "screening", "refinement", "total calls",
                "calls per refined hop", "wall (min)", "a", "b", "c"):
        t.add_column(col)
    perc = [f"{v:.3f}" if v is not None else "none" for v in net.percolation_barrier_eV.values()]
    t.add_row(str(len(net.hops)), str(net.n_refined), str(calls.get("host", 0)), str(calls["vacancy_states"]),
              str(calls["screening"]), str(calls["refinement"]), str(calls["total"]), f"{per_refined:.0f}",
              f"{wall_s / 60:.1f}", *perc)
    console.print(t)
    b = Table(title="Same hops as today (endpoints relaxed per hop)", title_justify="left")
    for col in ("hop", "calls (endpoints + band)", "network band calls", "barrier today", "barrier network"):
        b.add_column(col)
    for h, res, _ in base:
        b.add_row(str(h["class"]), str(res.force_calls), str(h["force_calls"]),
                  f"{res.forward_barrier_eV:.3f}", f"{h['forward_barrier_eV']:.3f}")
    console.print(b)
    if base:
        today = sum(r.force_calls for _, r, _ in base) / len(base)
        console.print(f"force calls per refined hop: network {per_refined:.0f} vs today {today:.0f} "
                      f"(ratio {per_refined / today:.2f})")
    (args.out / "summary.json").write_text(json.dumps({"wall_s": wall_s, "force_calls": calls,
                                                       "per_refined": per_refined}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["pristine", "sqs"])
    ap.add_argument("--structure", type=Path)
    ap.add_argument("--cutoff", type=float, default=4.2)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--fmax", type=float, default=0.05)
    ap.add_argument("--screen", default="short-neb")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--baseline-hops", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("out/bench_network"))
    args = ap.parse_args()
    args.out = args.out / args.part
    pristine(args) if args.part == "pristine" else sqs(args)


if __name__ == "__main__":
    main()
