"""GPAW in plane-wave mode (PBE, PAW setups from the gpaw-data wheel).

Parallel runs: `mpiexec -n N gpaw python script.py` (GPAW built with MPI by scripts/setup.sh);
keep `OMP_NUM_THREADS=1`. Energies eV, forces eV/Å, stress eV/Å^3.
"""

from __future__ import annotations

import os
from pathlib import Path

from calculators.dft_common import hubbard_u_for, set_initial_magmoms

MIN_ECUT_CELL_RELAX = 500.0  # eV; below this the PW stress is unreliable


def gpaw_kpts(atoms, density: float) -> list[int]:
    """Monkhorst-Pack grid for `atoms` from ASE's k-point density (points per Å^-1, 2π included)."""
    from ase.calculators.calculator import kptdensity2monkhorstpack

    return [int(n) for n in kptdensity2monkhorstpack(atoms, kptdensity=density, even=False)]


def gpaw_calculator(settings: dict, atoms=None, directory: str | Path | None = None):
    """A GPAW calculator from preset `settings`.

    With `atoms`, initial moments are set on them (table values unless already set), the
    k-point grid is computed from their cell and U is applied only if they contain an anion of
    `hubbard_u_anions`. Without `atoms`, GPAW derives the grid from the density itself and U is
    set for every element of the table. The text log goes to `directory/<txt>`.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gpaw import GPAW, PW, FermiDirac

    if atoms is not None:
        set_initial_magmoms(atoms, settings.get("magmoms", {}), settings.get("magmom_default", 0.0))
        u_values = hubbard_u_for(atoms, settings)
        kpts: object = {"size": gpaw_kpts(atoms, settings["kpoint_density"]), "gamma": True}
    else:
        u_values = {el: float(u) for el, u in settings.get("hubbard_u", {}).items() if u}
        kpts = {"density": settings["kpoint_density"], "gamma": True}
    txt = settings.get("txt", "gpaw.txt")
    if directory is not None and txt not in (None, "-"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        txt = str(Path(directory) / txt)
    kwargs = dict(
        mode=PW(settings["ecut"], dedecut="estimate"),
        xc=settings.get("xc", "PBE"),
        kpts=kpts,
        occupations=FermiDirac(settings.get("smearing_width", 0.05)),
        convergence={"energy": settings.get("convergence_energy", 0.0005)},
        maxiter=settings.get("maxiter", 300),
        setups={el: f":d,{u:g}" for el, u in u_values.items()} or "paw",
        txt=txt,
        legacy_gpaw=True,
    )
    spinpol = settings.get("spinpol", "auto")
    if spinpol != "auto":  # GPAW's own default is 'auto': spin-polarised if any moment is non-zero
        kwargs["spinpol"] = bool(spinpol)
    calc = GPAW(**kwargs)
    calc.hecathode_u = u_values
    return calc
