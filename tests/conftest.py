import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HECATHODE = Path(sys.executable).parent / "hecathode"
os.environ.setdefault("OMP_NUM_THREADS", "1")


def load_script(name: str):
    """A module from scripts/ (not part of the installed package), imported by file path."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def o3_sqs():
    """A 48-atom O3 NaNi1/3Co1/3Mn1/3O2 SQS (12 TM sites: 4 Ni, 4 Co, 4 Mn) from structures.sqs."""
    import warnings

    from structures.composition import assign_sublattices
    from structures.prototypes import parent_cell
    from structures.sqs import choose_supercell, generate_sqs, plan_supercells

    comp = assign_sublattices("NaNi1/3Co1/3Mn1/3O2", "o3")
    parent = parent_cell("o3")
    option, _ = choose_supercell(plan_supercells(comp, parent, max_atoms=48), parent, n_cells=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures, _ = generate_sqs(comp, parent, option, n_runs=1, n_steps=1000, n_workers=1)
    return structures[0]


@pytest.fixture(scope="session")
def slurm_cluster():
    """A one-node SLURM cluster on this machine (scripts/slurm_local.py), for the queue tests.

    Fails (never skips) when it cannot run: CI is root with scripts/setup.sh's packages. Set
    HECATHODE_SKIP_SLURM=1 to skip instead. Stops only the daemons it started.
    """
    slurm_local = load_script("slurm_local")
    if os.environ.get("HECATHODE_SKIP_SLURM") == "1":
        pytest.skip("HECATHODE_SKIP_SLURM=1")
    why = slurm_local.missing_requirements()
    if why:
        pytest.fail(f"SLURM tests cannot run: {why} (set HECATHODE_SKIP_SLURM=1 to skip them)", pytrace=False)
    try:
        started = slurm_local.start()
    except slurm_local.SlurmLocalError as err:
        pytest.fail(f"local SLURM cluster did not start: {err}", pytrace=False)
    yield slurm_local
    slurm_local.stop(started)
