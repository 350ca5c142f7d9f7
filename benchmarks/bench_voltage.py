"""NVPF voltage study (Na3 -> Na1) with and without Ewald pre-ranking of the Na/vacancy orderings.

    OMP_NUM_THREADS=1 HECATHODE_TORCH_THREADS=1 .venv/bin/python benchmarks/bench_voltage.py \
        [--fmax 0.15] [--steps 40] [--n-relax 3] [--out DIR]

Both variants run `workflows.studies.voltage.voltage_study("Na3V2(PO4)2F3", "nvpf", na=[3, 1])`
with CHGNet and the same relaxation settings, each in its own folder (nothing reused between
them): "Ewald pre-ranked" relaxes the --n-relax lowest-Ewald of the 135 symmetry-distinct Na1
orderings, "no pre-ranking" relaxes all of them (`n_relax=None`). Prints the wall time of
each, the lowest relaxed Na1 ordering (its Ewald rank and energy), the average voltage and
the volume change, whether both find the same lowest ordering, and the rank correlation of
Ewald and CHGNet energies over every ordering. Run on demand, not in CI (about 30 min on 2
cores at the screening defaults; tighter --fmax multiplies that).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HECATHODE_TORCH_THREADS", "1")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from workflows.studies.voltage import voltage_study  # noqa: E402

FORMULA, PROTOTYPE, NA = "Na3V2(PO4)2F3", "nvpf", [3, 1]


def run_variant(out: Path, n_relax: int | None, fmax: float, steps: int) -> dict:
    """One study; returns its numbers and the Na1 states (ordering rank, Ewald, energy)."""
    t0 = time.perf_counter()
    result = voltage_study(FORMULA, PROTOTYPE, out, na=NA, n_relax=n_relax, fmax=fmax, steps=steps,
                           progress=lambda line: print(line, flush=True) if "relaxing" not in line else None)
    wall = time.perf_counter() - t0
    doc = result.to_json()
    na1 = [s for s in doc["states"] if s["na_per_fu"] == 1.0]
    lowest = min(na1, key=lambda s: s["energy_eV"])
    return {"wall_s": wall, "n_relaxed": len(na1), "lowest_rank": lowest["ordering"],
            "lowest_eV": lowest["energy_eV"], "average_voltage_V": doc["average_voltage_V"],
            "volume_change_percent": doc["volume_change_percent"],
            "converged": sum(s["converged"] for s in doc["states"]), "n_states": len(doc["states"]),
            "na1": [(s["ordering"], s["ewald_eV"], s["energy_eV"]) for s in na1]}


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def report(ranked: dict, every: dict | None, n_relax: int) -> None:
    t = Table(title=f"NVPF voltage study {FORMULA} Na3 -> Na1, CHGNet", title_justify="left")
    for col in ("variant", "Na1 orderings relaxed", "wall (s)", "lowest Na1: Ewald rank",
                "E lowest (eV)", "average V", "ΔV (%)", "converged"):
        t.add_column(col, justify="left" if col == "variant" else "right")
    rows = [(f"Ewald pre-ranked (best {n_relax})", ranked)]
    if every:
        rows.append(("no pre-ranking (all)", every))
    for name, r in rows:
        t.add_row(name, str(r["n_relaxed"]), f"{r['wall_s']:.0f}", str(r["lowest_rank"]),
                  f"{r['lowest_eV']:.4f}",
                  f"{r['average_voltage_V']:.3f}", f"{r['volume_change_percent']:+.2f}",
                  f"{r['converged']}/{r['n_states']}")
    console = Console(width=160)
    console.print(t)
    if every:
        same = (every["lowest_rank"] == ranked["lowest_rank"]
                and abs(every["lowest_eV"] - ranked["lowest_eV"]) < 1e-3)
        rho = spearman([e for _, e, _ in every["na1"]], [en for _, _, en in every["na1"]])
        console.print(f"same lowest ordering: {'yes' if same else 'NO'}; wall-time ratio pre-ranked / all "
                      f"{ranked['wall_s'] / every['wall_s']:.3f}; Spearman rank correlation Ewald vs CHGNet "
                      f"over the {every['n_relaxed']} Na1 orderings {rho:.2f}", highlight=False)
        ranks = sorted(every["na1"], key=lambda r: r[2])[:5]
        console.print("five lowest CHGNet Na1 orderings (Ewald rank, E eV): "
                      + ", ".join(f"{r[0]} ({r[2]:.4f})" for r in ranks), highlight=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmax", type=float, default=0.15, help="eV/Å, both variants")
    parser.add_argument("--steps", type=int, default=40, help="step budget per relaxation, both variants")
    parser.add_argument("--n-relax", type=int, default=3,
                        help="orderings relaxed per content when pre-ranked")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (resumable)")
    parser.add_argument("--skip-all", action="store_true", help="only the pre-ranked variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.out or Path(tmp)
        ranked = run_variant(base / "ranked", args.n_relax, args.fmax, args.steps)
        every = None if args.skip_all else run_variant(base / "all", None, args.fmax, args.steps)
        report(ranked, every, args.n_relax)


if __name__ == "__main__":
    main()
