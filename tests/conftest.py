import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HECATHODE = Path(sys.executable).parent / "hecathode"
os.environ.setdefault("OMP_NUM_THREADS", "1")
