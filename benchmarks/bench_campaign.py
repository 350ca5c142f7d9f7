"""Wall time of the main job (`hecathode campaign run configs/campaigns/nvpf_he.yaml`, CHGNet,
local runner, embedded store) in a fresh folder, per firework, then of the second run (which
must do nothing). Goal (issue 6): at most 15 min on the 2-core development machine.

    .venv/bin/python benchmarks/bench_campaign.py [--campaign FILE] [--out DIR]

Prints a table; the machine is shared, so say what else was running when quoting it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaign", default=str(ROOT / "configs" / "campaigns" / "nvpf_he.yaml"))
    ap.add_argument("--out", default=None, help="campaign folder (default: a new temporary one)")
    args = ap.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="bench-campaign-")) / "run"
    exe = Path(sys.executable).parent / "hecathode"
    runs = []
    for label in ("first run", "second run"):
        t0 = time.perf_counter()
        res = subprocess.run([str(exe), "campaign", "run", args.campaign, "--out", str(folder)],
                             capture_output=True, text=True, env=os.environ)
        runs.append((label, time.perf_counter() - t0, res.returncode, res.stderr.strip().splitlines()[-1:]))
        if res.returncode != 0:
            print(res.stderr[-2000:])
            break

    sys.path.insert(0, str(ROOT))
    from workflows.fireworks.campaign import states, workflow_ids
    from workflows.fireworks.launchpad import open_store

    print(f"campaign {args.campaign}\nfolder {folder}\ncpus {os.cpu_count()}, "
          f"HECATHODE_TORCH_THREADS={os.environ.get('HECATHODE_TORCH_THREADS', 'default')}\n")
    print(f"{'firework':34s} {'state':10s} {'wall s':>8s}")
    with open_store(folder, read_only=True) as lp:
        name = lp.workflows.find_one({})["name"]
        for fw_id in states(lp, workflow_ids(lp, name)):
            fw = lp.get_fw_by_id(fw_id)
            secs = sum((launch.runtime_secs or 0) for launch in fw.launches)
            print(f"{fw.name:34s} {fw.state:10s} {secs:8.1f}")
    print()
    for label, secs, rc, last in runs:
        print(f"{label:12s} {secs:8.1f} s  exit {rc}  {last[0] if last else ''}")
    goal = 15 * 60
    verdict = 'within' if runs[0][1] <= goal else 'OVER'
    print(f"\nfirst run {verdict} the 15 min goal ({runs[0][1] / 60:.1f} min)")


if __name__ == "__main__":
    main()
