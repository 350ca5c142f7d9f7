import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HECATHODE = Path(sys.executable).parent / "hecathode"
os.environ.setdefault("OMP_NUM_THREADS", "1")


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
