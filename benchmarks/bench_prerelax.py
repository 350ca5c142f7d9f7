"""GPAW ionic steps with and without a CHGNet pre-relaxation, on the same small cell.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_prerelax.py [--fixed-cell] [--rattle 0.1]

The cell: conventional rocksalt NaF (8 atoms) at the experimental a = 4.63 Å, strained by
--strain and rattled by --rattle Å (fixed seed), relaxed with GPAW preset 'fast' (500 eV) to
--fmax eV/Å. Run on demand, not in CI (a few minutes on 2 cores). Prints a table and the ratio
of GPAW steps and GPAW wall time (with / without pre-relaxation).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ase.build import bulk  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from calculators.relax import relax  # noqa: E402


def start_cell(strain: float, rattle: float):
    atoms = bulk("NaF", "rocksalt", a=4.63, cubic=True)
    atoms.set_cell(atoms.cell * (1 + strain), scale_atoms=True)
    atoms.rattle(rattle, seed=7)
    return atoms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmax", type=float, default=0.03, help="eV/Å")
    parser.add_argument("--strain", type=float, default=0.03, help="isotropic strain of the start cell")
    parser.add_argument("--rattle", type=float, default=0.1, help="Å, standard deviation")
    # 2.0 gives 3x3x3 for both the strained start cell and the pre-relaxed one, so the two
    # GPAW runs use the same k-point grid (the grid is chosen from the cell at the start)
    parser.add_argument("--kpoint-density", type=float, default=2.0, help="k-points per Å^-1")
    parser.add_argument("--fixed-cell", action="store_true", help="relax ions only")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for prerelax in (None, "chgnet"):
            run = Path(tmp) / (prerelax or "plain")
            t0 = time.perf_counter()
            result = relax(start_cell(args.strain, args.rattle), "gpaw", preset="fast",
                           kpoint_density=args.kpoint_density, fmax=args.fmax,
                           relax_cell=not args.fixed_cell, directory=run, prerelax=prerelax,
                           prerelax_fmax=args.fmax)
            total = time.perf_counter() - t0
            pre = result.prerelax
            pre_s = pre.wall_time_s if pre else 0.0
            rows.append({"mode": "CHGNet -> GPAW" if prerelax else "GPAW only",
                         "pre_steps": pre.steps if pre else 0, "pre_s": pre_s,
                         "steps": result.steps, "gpaw_s": total - pre_s,
                         "energy": result.energy_per_atom_eV, "volume": result.volume_A3,
                         "converged": result.converged,
                         "kpts": "x".join(map(str, result.kpoints or []))})

    table = Table(title=f"NaF 8 atoms, strain {args.strain:+.0%}, rattle {args.rattle} Å, GPAW 500 eV, "
                        f"fmax {args.fmax} eV/Å, {'fixed cell' if args.fixed_cell else 'cell relaxed'}")
    for col in ("mode", "CHGNet steps", "CHGNet s", "k-points", "GPAW steps", "GPAW s", "E (eV/atom)",
                "V (Å³)", "converged"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for r in rows:
        table.add_row(r["mode"], str(r["pre_steps"]), f"{r['pre_s']:.1f}", r["kpts"], str(r["steps"]),
                      f"{r['gpaw_s']:.1f}", f"{r['energy']:.5f}", f"{r['volume']:.3f}", str(r["converged"]))
    console = Console(width=160)
    console.print(table)
    plain, pre = rows
    step_ratio = pre["steps"] / max(plain["steps"], 1)
    console.print(f"ratio with/without pre-relaxation: GPAW steps {step_ratio:.2f}, "
                  f"GPAW wall time {pre['gpaw_s'] / plain['gpaw_s']:.2f}")


if __name__ == "__main__":
    main()
