"""NEB benchmark: force calls to converge a Na vacancy hop with a real barrier (run on demand).

System: O3 NaNiO2 (a 2.962, c 15.91 Å), hexagonal cell 3 × 3 in plane (108 atoms, one Na
vacancy), nearest in-plane Na hop (2.96 Å). Same potential (CHGNet by default) for:

1. hecathode defaults (`calculators.neb.run_neb`): rattled initial state relaxed at fixed
   cell, final state mapped from it by the space-group operation that swaps the two Na sites
   (checked with one force call), 5 IDPP images, climbing image, improved tangent, DyNEB
   (converged images are not recomputed), FIRE, fmax 0.05 eV/Å;
2. plain ASE NEB: the same 5 images by linear interpolation between the UNRELAXED endpoints,
   ASE's default NEB method (no climbing image; ASE 3.29 warns that its default changed
   from 'aseneb' to 'improvedtangent'), BFGS, fmax 0.05 eV/Å.

Force calls count every energy+forces evaluation, endpoint relaxations included. Goal:
hecathode <= 0.5 × plain ASE at the same barrier (±0.02 eV). The barrier of the plain run is
measured from its unrelaxed initial state, as a user of that recipe would read it.

Usage: .venv/bin/python benchmarks/bench_neb.py [--calculator sevenn] [--max-steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import make_supercell
from ase.spacegroup import crystal

from calculators import get_calculator
from calculators.neb import endpoints, run_neb
from structures.hops import find_hops


class Counter:
    """Counts energy+forces evaluations of a calculator shared by all images."""

    def __init__(self, calc):
        self.calc, self.n = calc, 0
        original = calc.calculate

        def calculate(*args, **kwargs):
            self.n += 1
            return original(*args, **kwargs)

        calc.calculate = calculate


def o3_cell():
    cell = crystal(["Na", "Ni", "O"], [(0, 0, 0), (0, 0, 0.5), (0, 0, 0.23305)], spacegroup=166,
                   cellpar=[2.962, 2.962, 15.91, 90, 90, 120])
    return make_supercell(cell, np.diag([3, 3, 1]))


def plain_ase(atoms, hop, calc, n_images: int, max_steps: int, ends=None) -> dict:
    """ASE's NEB as a plain script would run it; `ends`: start from these (relaxed) endpoints."""
    from ase.mep import NEB
    from ase.optimize import BFGS

    initial, final = (a.copy() for a in ends) if ends else endpoints(atoms, hop)[:2]
    images = [initial] + [initial.copy() for _ in range(n_images)] + [final]
    for img in images:
        img.calc = calc
    neb = NEB(images, allow_shared_calculator=True, method="improvedtangent")
    neb.interpolate()
    opt = BFGS(neb, logfile=None)
    converged = opt.run(fmax=0.05, steps=max_steps)
    energies = [img.get_potential_energy() for img in images]
    return {"barrier": max(energies) - energies[0], "converged": bool(converged), "steps": opt.nsteps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calculator", default="chgnet", help="chgnet or sevenn")
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--skip-raw", action="store_true", help="skip plain ASE from the unrelaxed endpoints")
    args = ap.parse_args()
    atoms = o3_cell()
    hop = find_hops(atoms, "Na", "Na")[0]

    rows = []
    count = Counter(get_calculator(args.calculator))
    t0 = time.perf_counter()
    result = run_neb(atoms, hop, count.calc, n_images=5, steps=args.max_steps)
    rows.append(("hecathode defaults (sym. ends, IDPP, CI, DyNEB+FIRE)", result.forward_barrier_eV,
                 result.converged, count.n, time.perf_counter() - t0))
    assert count.n == result.force_calls, (count.n, result.force_calls)  # run_neb's own count is exact
    print("hecathode:", rows[-1], flush=True)

    if not args.skip_raw:
        count = Counter(get_calculator(args.calculator))
        t0 = time.perf_counter()
        plain = plain_ase(atoms, hop, count.calc, 5, args.max_steps)
        rows.append(("plain ASE (linear, default method, BFGS, raw ends)", plain["barrier"],
                     plain["converged"], count.n, time.perf_counter() - t0))
        print("plain ASE:", rows[-1], flush=True)

    # the same plain recipe from hecathode's relaxed endpoints (their relaxation calls counted):
    # isolates IDPP + climbing image + FIRE against linear + default method + BFGS
    ends = (result.images[0], result.images[-1])
    end_calls = sum(n + 1 for n in result.endpoint_relax_steps)
    count = Counter(get_calculator(args.calculator))
    t0 = time.perf_counter()
    plain = plain_ase(atoms, hop, count.calc, 5, args.max_steps, ends=ends)
    rows.append(("plain ASE from relaxed ends (linear, default, BFGS)", plain["barrier"], plain["converged"],
                 count.n + end_calls, time.perf_counter() - t0))
    print("plain ASE, relaxed ends:", rows[-1], flush=True)

    print(f"\nNEB benchmark: O3 NaNiO2 3x3 hexagonal cell ({len(atoms)} atoms), Na hop "
          f"{hop.length:.2f} Å, {args.calculator}, fmax 0.05 eV/Å\n")
    print(f"{'recipe':52s} {'barrier eV':>10s} {'conv.':>6s} {'force calls':>12s} {'wall s':>8s}")
    for name, barrier, conv, calls, wall in rows:
        print(f"{name:52s} {barrier:10.3f} {str(conv):>6s} {calls:12d} {wall:8.1f}")
    for row in rows[1:]:
        print(f"\nvs {row[0]}: force-call ratio {rows[0][3] / row[3]:.2f} (goal <= 0.5); barrier difference "
              f"{rows[0][1] - row[1]:+.3f} eV (goal within ±0.02)")
        if not row[2]:
            print(f"  did not converge in {args.max_steps} steps: the ratio is an upper bound")


if __name__ == "__main__":
    main()
