"""Na/vacancy orderings: hecathode's ranking vs pymatgen's OrderDisorderedStructureTransformation.

On the disordered MODEL CIFs of NVPF (P4_2/mnm, 4 of 8 Na2 kept) and NASICON (R-3c, primitive
rhombohedral cell: 4 of 6 Na2; conventional hexagonal cell: 12 of 18 Na2), in one run, on the
same cell with the same charges (`structures.orderings`: Na+1, V3+, P5+, O2-, F-):

1. hecathode `rank_orderings`: every symmetry-distinct ordering (icet enumeration) ranked by
   pymatgen's Ewald energy; pymatgen ODST with its 'fast' and 'best_first' algorithms (energies
   recomputed with the same Ewald sum): the lowest Ewald energy each finds, and the wall time;
2. the best N (default 5) of hecathode's Ewald ranking relaxed at fixed cell with CHGNet (one
   torch thread; `workflows.studies.orderings.order_alkali`, what `hecathode orderings` runs):
   does the Ewald ranking pick the CHGNet minimum?

Usage: .venv/bin/python benchmarks/bench_orderings.py [--n-relax 5] [--skip-mlip] [--mlip-conventional]
(the NASICON conventional cell has 120 atoms: its CHGNet ranking is skipped unless asked for).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HECATHODE_TORCH_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from structures.disorder import read_disordered  # noqa: E402
from structures.orderings import odst_orderings, rank_orderings  # noqa: E402

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "prototypes"
CELLS = [  # name, CIF, sites, start from the primitive cell?
    ("NVPF P4_2/mnm", REF / "NVPF_Na3V2P2O8F3_P42mnm_disordered_MODEL.cif", "Na2", True),
    ("NASICON R-3c, primitive", REF / "NASICON_Na3V2P3O12_R-3c_MODEL.cif", "Na2", True),
    ("NASICON R-3c, hexagonal", REF / "NASICON_Na3V2P3O12_R-3c_MODEL.cif", "Na2", False),
]


def timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - t0


def ewald_rows(name: str, path: Path, sites: str, primitive: bool) -> tuple[list[list[str]], object]:
    """Lowest Ewald energy and wall time of hecathode and ODST (fast, best_first) on one cell."""
    ds = read_disordered(path)
    ours, t_ours = timed(rank_orderings, ds, sites, primitive=primitive, max_orderings=2000)
    rows = [[name, "hecathode rank_orderings (all distinct)", str(ours.n_found), f"{ours.best.ewald_eV:.3f}",
             f"{t_ours:.2f}"]]
    for algo in ("fast", "best_first"):
        odst, t_odst = timed(odst_orderings, ds, sites, algo=algo, primitive=primitive)
        delta = odst.best.ewald_eV - ours.best.ewald_eV
        rows.append([name, f"pymatgen ODST {algo}", "1 returned", f"{odst.best.ewald_eV:.3f} ({delta:+.3f})",
                     f"{t_odst:.2f}"])
    return rows, (ds, ours)


def mlip_rows(name: str, ds, ranked, n_relax: int) -> list[list[str]]:
    """The best `n_relax` Ewald orderings relaxed at fixed cell with CHGNet, both rankings side by side."""
    from workflows.studies.orderings import OrderingOptions, order_alkali

    with tempfile.TemporaryDirectory() as tmp:
        study, wall = timed(order_alkali, ds, tmp, OrderingOptions(n_relax=n_relax, n_keep=1), ranked=ranked)
    relaxed = [c for c in study.candidates if c.relaxed]
    e0 = min(c.ewald_eV_per_atom for c in relaxed)
    m0 = min(c.mlip_energy_per_atom_eV for c in relaxed)
    rows = [[name, str(c.ewald_rank), f"{1000 * (c.ewald_eV_per_atom - e0):.2f}", str(c.mlip_rank),
             f"{1000 * (c.mlip_energy_per_atom_eV - m0):.2f}", "yes" if c.converged else "no"]
            for c in relaxed]
    rows.append([name, f"Ewald picks the CHGNet minimum: {'yes' if study.ewald_picks_mlip_minimum else 'no'}",
                 "", "", "", f"{wall:.0f} s for {len(relaxed)} relaxations"])
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-relax", type=int, default=5)
    parser.add_argument("--skip-mlip", action="store_true")
    parser.add_argument("--mlip-conventional", action="store_true")
    args = parser.parse_args()
    ewald, mlip = [], []
    for name, path, sites, primitive in CELLS:
        rows, (ds, ranked) = ewald_rows(name, path, sites, primitive)
        ewald += rows
        if not args.skip_mlip and (primitive or args.mlip_conventional):
            mlip += mlip_rows(name, ds, ranked, args.n_relax)
    print(table(["cell", "method", "orderings", "lowest Ewald eV (Δ vs hecathode)", "wall s"], ewald))
    if mlip:
        print()
        print(table(["cell", "Ewald rank", "Ewald meV/atom", "CHGNet rank", "CHGNet meV/atom", "converged"],
                    mlip))


if __name__ == "__main__":
    main()
