"""VASP through `ase.calculators.vasp.Vasp`, Materials-Project-compatible (see configs/calculators/vasp.yaml).

`write_vasp_inputs` writes INCAR, KPOINTS, POSCAR, ase-sort.dat and POTCAR.spec (the POTCAR
folder names in POSCAR species order) without VASP or VASP_PP_PATH; the POTCAR itself is
written only when VASP_PP_PATH holds the POTCARs (they are licensed and never shipped).
`write_vasp_neb` writes a VASP (VTST) NEB folder, 00 … 0N, between two relaxed endpoints.
Running VASP needs ASE_VASP_COMMAND, VASP_COMMAND or VASP_SCRIPT and VASP_PP_PATH.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ase import Atoms

from calculators.dft_common import hubbard_u_for, set_initial_magmoms
from structures.errors import HecathodeInputError

VASP_COMMAND_VARS = ("ASE_VASP_COMMAND", "VASP_COMMAND", "VASP_SCRIPT")


class VaspUnavailableError(HecathodeInputError):
    """VASP or its POTCARs are not set up on this machine."""


def mp_kpoints(atoms, reciprocal_density: float) -> tuple[list[int], bool]:
    """(grid, gamma_centred) from pymatgen's Kpoints.automatic_density_by_vol, as the MP sets use."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.inputs import Kpoints

    plain = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
    kp = Kpoints.automatic_density_by_vol(AseAtomsAdaptor.get_structure(plain), reciprocal_density)
    return [int(n) for n in kp.kpts[0]], kp.style.name.lower().startswith("gamma")


def vasp_calculator(settings: dict, atoms, directory: str | Path = "."):
    """An ASE Vasp calculator for `atoms` (initial moments are set on them; see module doc)."""
    from ase.calculators.vasp import Vasp

    if atoms is None:
        raise HecathodeInputError("vasp needs the structure (atoms=...) to set EDIFF, k-points, "
                                  "MAGMOM and U")
    symbols = atoms.get_chemical_symbols()
    potcars = settings.get("potcars", {})
    missing = sorted({s for s in symbols if s not in potcars})
    if missing:
        raise HecathodeInputError(f"no POTCAR choice for {', '.join(missing)} in the vasp preset "
                                  "(add it under potcars)")
    set_initial_magmoms(atoms, settings.get("magmoms", {}), settings.get("magmom_default", 0.6))
    u_values = hubbard_u_for(atoms, settings)
    kpts, gamma = mp_kpoints(atoms, settings["reciprocal_density"])
    kwargs = dict(
        directory=str(directory), xc=settings.get("xc", "PBE"), pp="PBE",
        setups={el: potcars[el][len(el):] if potcars[el].startswith(el) else potcars[el]
                for el in set(symbols)},
        encut=settings["encut"], ediff=settings["ediff_per_atom"] * len(atoms),
        ediffg=settings["ediffg"], ismear=settings["ismear"], sigma=settings["sigma"],
        algo=settings["algo"], prec=settings["prec"], lreal=settings["lreal"],
        lasph=settings["lasph"], lorbit=settings["lorbit"], lwave=settings["lwave"],
        nelm=settings["nelm"], nsw=settings["nsw"], ibrion=settings["ibrion"],
        isif=settings["isif"], ispin=2, kpts=kpts, gamma=gamma,
    )
    if u_values:
        kwargs.update(ldau=True, ldautype=2, ldauprint=1,
                      ldau_luj={el: {"L": 2 if el in u_values else -1, "U": u_values.get(el, 0.0),
                                     "J": 0.0} for el in set(symbols)},
                      lmaxmix=4)
    calc = Vasp(**kwargs)
    calc.hecathode_u = u_values
    return calc


def potcar_names(calc) -> list[str]:
    """POTCAR folder names in POSCAR species order (after `calc.initialize`)."""
    setups = calc.input_params["setups"]
    return [el + setups.get(el, "") for el, _ in calc.symbol_count]


def write_vasp_inputs(calc, atoms, directory: str | Path) -> list[Path]:
    """Write INCAR, KPOINTS, POSCAR, ase-sort.dat, POTCAR.spec (and POTCAR if available).

    Returns the paths written. Works without VASP and without VASP_PP_PATH.
    """
    from ase.io.vasp import write_vasp

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ASE's "loaded VASP_PP_PATH from environment" notice
        try:
            calc.initialize(atoms)  # sorts species; raises at the POTCAR lookup if they are absent
            have_potcars = True
        except RuntimeError:
            have_potcars = False  # sort, symbol_count and atoms_sorted are set before the lookup
    write_vasp(directory / "POSCAR", calc.atoms_sorted, symbol_count=calc.symbol_count)
    calc.write_incar(atoms, directory=str(directory))
    calc.write_kpoints(atoms=atoms, directory=str(directory))
    calc.write_sort_file(directory=str(directory))
    (directory / "POTCAR.spec").write_text("\n".join(potcar_names(calc)) + "\n")
    written = [directory / n for n in ("INCAR", "KPOINTS", "POSCAR", "ase-sort.dat", "POTCAR.spec")]
    if have_potcars:
        calc.write_potcar(directory=str(directory))
        written.append(directory / "POTCAR")
    return written


def check_vasp_available() -> None:
    """Raise VaspUnavailableError (one line) unless a VASP command and VASP_PP_PATH are set."""
    if not any(os.environ.get(v) for v in VASP_COMMAND_VARS):
        raise VaspUnavailableError(
            "VASP is not available: set ASE_VASP_COMMAND (e.g. 'mpirun vasp_std') or VASP_COMMAND; "
            "use --write-inputs to only write the input files")
    pp = os.environ.get("VASP_PP_PATH")
    if not pp or not Path(pp).is_dir():
        raise VaspUnavailableError(
            "VASP POTCARs are not available: set VASP_PP_PATH to the folder holding potpaw_PBE; "
            "use --write-inputs to only write the input files")


def write_vasp_neb(initial: Atoms, final: Atoms, n_images: int, directory: str | Path,
                   preset: str | None = None, spring: float = -5.0) -> list[Path]:
    """A ready VASP NEB folder: 00 … 0N POSCARs (IDPP images between the given endpoints, in
    VASP's species order), INCAR with IMAGES/SPRING/climbing tags, KPOINTS, POTCAR.spec.

    LCLIMB and IOPT need the VTST extensions of VASP; without them set IBRION = 1 and remove
    IOPT (plain NEB, no climbing image).
    """
    from ase.io.vasp import write_vasp
    from ase.mep import NEB

    from calculators import get_calculator

    directory = Path(directory)
    images = [initial.copy() for _ in range(n_images + 1)] + [final.copy()]
    NEB(images, method="improvedtangent").interpolate(method="idpp", mic=True)
    calc = get_calculator("vasp", preset, atoms=images[0], directory=directory)
    written = write_vasp_inputs(calc, images[0], directory)
    (directory / "POSCAR").unlink()
    written = [p for p in written if p.name != "POSCAR"]
    order = calc.sort
    for k, img in enumerate(images):
        sub = directory / f"{k:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        write_vasp(sub / "POSCAR", img[order], symbol_count=calc.symbol_count)
        written.append(sub / "POSCAR")
    incar = directory / "INCAR"
    lines = [ln for ln in incar.read_text().splitlines()
             if ln.split("=")[0].strip().upper() not in {"IBRION", "ISIF", "NSW", "POTIM", "EDIFFG"}]
    lines += [f"IMAGES = {n_images}", f"SPRING = {spring:g}", "LCLIMB = .TRUE.", "ICHAIN = 0",
              "IBRION = 3", "POTIM = 0", "IOPT = 3", "ISIF = 2", "NSW = 300", "EDIFFG = -0.05"]
    incar.write_text("\n".join(lines) + "\n")
    return written
