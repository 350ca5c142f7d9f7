"""What was written before workflows/ was split into sub-packages keeps working.

`tests/data/store_before_split/` is a real embedded store written by the pre-split code
(commit before "split workflows/"): its tasks are named `{{workflows.tasks.RelaxTask}}` etc.
Queue scripts written then run `python -m workflows.offline_rocket`.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HECATHODE, ROOT

OLD = ROOT / "tests" / "data" / "store_before_split"


def _old_campaign(tmp: Path) -> Path:
    """The old store, its campaign.json and its campaign file, laid out in `tmp`/c."""
    folder = tmp / "c"
    folder.mkdir()
    text = (OLD / "store.json").read_text().replace("@CAMPAIGN_DIR@", str(folder))
    (folder / "store.json").write_text(text)
    shutil.copy(OLD / "campaign.json", folder / "campaign.json")
    shutil.copy(OLD / "campaign.yaml", tmp / "campaign.yaml")
    return folder


def test_old_store_loads_its_tasks_under_the_old_names(tmp_path):
    from workflows.fireworks import tasks
    from workflows.fireworks.launchpad import open_store

    folder = _old_campaign(tmp_path)
    assert "{{workflows.tasks.RelaxTask}}" in (folder / "store.json").read_text()
    with open_store(folder, read_only=True) as lp:
        loaded = {fw.name: type(fw.tasks[0]) for fw in map(lp.get_fw_by_id, lp.get_fw_ids())}
    assert loaded == {"NaNiO2 structures": tasks.StructuresTask, "NaNiO2 relax cell": tasks.RelaxTask,
                      "before-split analysis": tasks.AnalysisTask}


def test_old_queue_script_entry_point_still_runs():
    res = subprocess.run([sys.executable, "-m", "workflows.offline_rocket", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "singleshot" in res.stdout


@pytest.mark.slow
def test_old_store_resumes_to_completion(tmp_path):
    """The pre-split workflow (structures -> CHGNet relax of NaNiO2 -> analysis) runs on."""
    folder = _old_campaign(tmp_path)
    res = subprocess.run([str(HECATHODE), "campaign", "run", str(tmp_path / "campaign.yaml"), "--out",
                          str(folder)], capture_output=True, text=True, timeout=900,
                         env={**__import__("os").environ, "HECATHODE_TORCH_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "3/3 fireworks completed" in res.stdout
    analysis = json.loads((folder / "analysis" / "analysis.json").read_text())
    (host,) = analysis["materials"]
    assert host["structures"][0]["converged"] and host["structures"][0]["calculator"] == "chgnet"
    assert (folder / "report" / "report.md").is_file()
    # the old workflow ran (FireWorks rewrites each firework it updates under the task's
    # current name); no new workflow was added beside it
    from workflows.fireworks.launchpad import open_store

    with open_store(folder, read_only=True) as lp:
        assert sorted(lp.get_fw_ids()) == [1, 2, 3]
        assert lp.workflows.count_documents({}) == 1
