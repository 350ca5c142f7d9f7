"""Real GPAW calculations (PW, PBE), kept tiny: 2- and 4-atom primitive cells, low k-point density.

Times measured on the 2-core development machine: NaF cell relaxation ~10 s, MnO GGA+U ~25 s,
the 2-rank MPI single point ~6 s.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from calculators import get_calculator
from calculators.relax import relax

pytestmark = [pytest.mark.dft, pytest.mark.slow]
os.environ["OMP_NUM_THREADS"] = "1"


def test_naf_cell_relaxation_reaches_the_pbe_lattice_constant(tmp_path):
    # Start from the experimental a = 4.63 Å; PBE gives 4.70 Å (the target, within 1 %).
    # Measured with this set-up (preset 'fast': 500 eV, 2.0 k-points/Å^-1 -> 5x5x5, Pulay-stress
    # correction dedecut='estimate'): 4.676 Å after 5 BFGS steps; at 700 eV 4.72 Å.
    atoms = bulk("NaF", "rocksalt", a=4.63)
    result = relax(atoms, "gpaw", preset="fast", fmax=0.01, directory=tmp_path)
    a_conv = (4 * result.volume_A3) ** (1 / 3)  # primitive fcc cell holds 1/4 of the cubic cell
    assert result.converged
    assert a_conv == pytest.approx(4.70, rel=0.01)
    assert result.max_stress_GPa < 0.5
    assert (tmp_path / "gpaw.txt").is_file()  # the text log is in the run directory
    assert result.atoms.cell.cellpar()[3:] == pytest.approx([60, 60, 60], abs=0.1)  # still fcc


def test_mno_afm_gga_plus_u_moments(tmp_path):
    # Type-II antiferromagnetic MnO (ferromagnetic (111) planes alternating) in its 4-atom
    # rhombohedral cell at a = 4.445 Å. High-spin Mn2+ (d5) has 5 μB; hybridisation with O
    # leaves ~4.5 μB inside the PAW sphere. Measured: ±4.47 μB with U(Mn) = 3.9 eV.
    a = 4.445
    cell = a * np.array([[1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]])
    mno = Atoms("Mn2O2", cell=cell, pbc=True,
                scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]])
    mno.set_initial_magnetic_moments([5, -5, 0, 0])  # the AFM pattern; kept by get_calculator
    mno.calc = get_calculator("gpaw", "fast", atoms=mno, kpoint_density=1.5, directory=tmp_path)
    assert mno.calc.parameters["setups"] == {"Mn": ":d,3.9"}
    mno.get_potential_energy()
    moments = mno.get_magnetic_moments()
    assert moments[0] == pytest.approx(4.5, abs=0.25)
    assert moments[1] == pytest.approx(-4.5, abs=0.25)
    assert abs(mno.get_magnetic_moment()) < 0.05  # no net moment


MPI_SCRIPT = """
from ase.build import bulk
from gpaw.mpi import world
from calculators import get_calculator
atoms = bulk("NaF", "rocksalt", a=4.63)
atoms.calc = get_calculator("gpaw", "fast", atoms=atoms, ecut=300, kpoint_density=1.5,
                            directory=".")
energy = atoms.get_potential_energy()
if world.rank == 0:
    print("ENERGY", world.size, energy)
"""


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="Open MPI (openmpi-bin) not installed")
def test_gpaw_runs_under_mpi_like_serial(tmp_path):
    script = tmp_path / "naf.py"
    script.write_text(MPI_SCRIPT)
    gpaw = os.path.join(os.path.dirname(sys.executable), "gpaw")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    runs = {}
    for cmd in ([sys.executable, str(script)],
                ["mpiexec", "--oversubscribe", "-n", "2", gpaw, "python", str(script)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        line = next(x for x in proc.stdout.splitlines() if x.startswith("ENERGY"))
        _, size, energy = line.split()
        runs[int(size)] = float(energy)
    assert set(runs) == {1, 2}
    assert runs[2] == pytest.approx(runs[1], abs=1e-4)  # eV: same answer on 2 ranks
