"""The NEB band between two relaxed endpoints (stages 2 and 3 of `calculators.neb.run_neb`).

`Band` holds the images (endpoints with their relaxed energies, interior images by IDPP, by
IDPP through a guide image (a screened saddle), or from the last complete band of the band
trajectory), ASE's DyNEB over them and the count of
force calls; `optimise` runs FIRE, BFGS or the ODE solver on it and appends every band to the
trajectory. Energies eV, forces eV/Å, spring eV/Å².
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from calculators.images import evaluate_images
from calculators.results import Relaxation
from calculators.trajectory import read_frames, rewrite


def band_from_traj(path: Path, n_total: int) -> list[Atoms] | None:
    """The last complete band of the band trajectory (None: no complete band yet)."""
    frames = read_frames(path)  # a band cut short by a kill ends the frames; rewritten below
    n_bands = len(frames) // n_total
    if n_bands == 0:
        return None
    return frames[(n_bands - 1) * n_total: n_bands * n_total]


def bare(atoms: Atoms) -> Atoms:
    """Positions and cell only (a shared calculator must not be asked for this image again)."""
    out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return out


def _through(images: list[Atoms], guide: Atoms) -> None:
    """Interior image positions by IDPP from the first image to `guide` (the middle image) and
    on to the last."""
    from ase.mep import NEB

    mid = (len(images) - 1) // 2
    halves = (images[:mid] + [guide], [guide] + images[mid + 1:])
    for half in halves:
        copies = [x.copy() for x in half]
        if len(copies) > 2:
            NEB(copies, method="improvedtangent").interpolate(method="idpp", mic=True)
        for img, new in zip(half[1:-1], copies[1:-1], strict=True):
            img.positions = new.positions
    images[mid].positions = guide.positions


class ImageCalculator(Calculator):
    """One NEB image's view of a calculator shared by all images: it keeps the image's last
    energy and forces, so an image that did not move (DyNEB freezes converged ones) is not
    recomputed, and adds 1 to `counter[0]` per evaluation. Energy eV, forces eV/Å."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, shared, counter: list[int]):
        super().__init__()
        self.shared, self.counter = shared, counter

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        (energy,), (forces,) = evaluate_images([self.atoms], self.shared, self.counter)
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}


class Band:
    """Stage 2: the band between the relaxed endpoints (whose energies are not recomputed),
    resumed from its trajectory or interpolated by IDPP (through `guide`, an image near the
    saddle, when given: it becomes the middle image). Counts the band's force calls and keeps
    the forces the optimizer last saw (climbing image included)."""

    def __init__(self, initial: Relaxation, final: Relaxation, calc, magmoms, *, n_images: int,
                 spring: float, fmax: float, climb: bool, dynamic: bool, path: Path | None,
                 guide: Atoms | None = None):
        from ase.calculators.singlepoint import SinglePointCalculator
        from ase.mep import DyNEB

        a, b = initial.atoms, final.atoms
        n_total = n_images + 2
        self.path = path
        self.resumed = band_from_traj(path, n_total) if path else None
        self.images = [a.copy() for _ in range(n_total - 1)] + [b.copy()]
        self.calls = [0]
        for img in self.images:
            img.set_initial_magnetic_moments(magmoms)
            img.calc = ImageCalculator(calc, self.calls)
        for img, end in ((self.images[0], initial), (self.images[-1], final)):
            img.calc = SinglePointCalculator(img, energy=end.energy_eV, forces=np.zeros((len(img), 3)))
        self.neb = DyNEB(self.images, k=spring, fmax=fmax, climb=climb, method="improvedtangent",
                         dynamic_relaxation=dynamic, allow_shared_calculator=True)
        if self.resumed is not None:  # the interior images; the endpoints are the relaxed ones
            for img, old in zip(self.images[1:-1], self.resumed[1:-1], strict=True):
                img.positions = old.positions
        elif guide is not None:
            _through(self.images, guide)
        else:
            self.neb.interpolate(method="idpp", mic=True)
        self.guided = guide is not None
        self._forces: np.ndarray | None = None
        neb_forces = self.neb.get_forces

        def recorded_forces(*args, **kwargs):  # what the optimizer sees, climbing image included
            self._forces = neb_forces(*args, **kwargs)
            return self._forces

        self.neb.get_forces = recorded_forces

    def max_force(self) -> float:
        """Largest force (eV/Å) on any image at the last evaluation; NaN before the first."""
        f = self._forces
        return float(np.sqrt((f ** 2).sum(axis=1)).max()) if f is not None else float("nan")

    def open_trajectory(self):
        """The band trajectory to append to (the last complete band kept), or None."""
        from ase.io.trajectory import Trajectory

        if self.path is None:
            return None
        if self.resumed is not None:  # keep only the last complete band, then append
            rewrite(self.path, [bare(x) for x in self.resumed])
        return Trajectory(str(self.path), "a" if self.resumed is not None else "w")


def optimise(band: Band, opt_name: str, fmax: float, steps: int,
              callback: Callable[[dict], None] | None) -> tuple[bool, int]:
    """Stage 3: run the band optimizer (FIRE, BFGS or ODE), appending every band to the
    trajectory. Returns (converged, steps)."""
    from ase.mep.neb import NEBOptimizer
    from ase.optimize import BFGS, FIRE

    if opt_name == "ODE":
        band.neb.get_residual = band.max_force  # ASE's residual leaves out the climbing image
        opt = NEBOptimizer(band.neb, method="ode", logfile=None)
    else:
        opt = (FIRE if opt_name == "FIRE" else BFGS)(band.neb, logfile=None)
    done = [0]
    traj = band.open_trajectory()

    def after_step() -> None:
        if traj is not None:
            for img in band.images:
                traj.write(bare(img))
        if callback is not None:
            callback({"stage": "neb", "step": done[0], "fmax_eV_per_A": band.max_force(),
                      "energy_eV": float(np.max(band.neb.energies)), "force_calls": band.calls[0]})
        done[0] += 1

    try:
        if opt_name == "ODE":  # NEBOptimizer drives its own ODE solver: observe its steps
            opt.attach(after_step)
            converged = bool(opt.run(fmax=fmax, steps=steps)) and band.max_force() <= fmax
        else:
            converged = False
            for is_converged in opt.irun(fmax=fmax, steps=steps):
                converged = is_converged
                after_step()
    finally:
        if traj is not None:
            traj.close()
    return bool(converged), done[0]
