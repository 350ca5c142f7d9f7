"""`hecathode campaign run`, `hecathode status` and `hecathode report` (FireWorks campaigns)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workflows.cli.common import app, err, out, user_errors

campaign_app = typer.Typer(no_args_is_help=True, help="FireWorks campaigns: SQS → relax → NEB → report.")
app.add_typer(campaign_app, name="campaign")

Where = Annotated[str | None, typer.Argument(
    help="campaign folder or campaign YAML; default: the only campaign in out/campaigns")]
LaunchpadFile = Annotated[Path | None, typer.Option(
    "--launchpad", help="my_launchpad.yaml of a MongoDB server instead of the embedded store")]


@campaign_app.command("run")
@user_errors
def campaign_run(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML, e.g. configs/campaigns/nvpf_he.yaml")],
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="campaign folder "
                                                 "(default out/campaigns/<name>)")] = None,
    calculator: Annotated[str | None, typer.Option(
        "--calculator", "-c", help="override the campaign's calculator (chgnet, sevenn, gpaw, vasp)")] = None,
    launchpad: LaunchpadFile = None,
    queue: Annotated[str, typer.Option("--queue", "-q", help="local (this process), slurm or pbs")] = "local",
    poll: Annotated[float, typer.Option(help="seconds between queue checks")] = 10.0,
    max_reruns: Annotated[int, typer.Option(help="reruns of a job lost from the queue")] = 2,
) -> None:
    """Run or resume a campaign; completed fireworks are never redone; writes the report."""
    from workflows.fireworks.campaign import Interrupted, run_campaign

    t0 = time.perf_counter()
    try:
        res = run_campaign(campaign_file, out=out_dir, calculator=calculator, launchpad_file=launchpad,
                           queue=queue, poll_s=poll, max_reruns=max_reruns,
                           say=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except Interrupted as exc:
        err.print(str(exc), highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    states = list(res["states"].values())
    done = states.count("COMPLETED")
    out.print(f"{done}/{len(states)} fireworks completed in {res['folder']} "
              f"({time.perf_counter() - t0:.0f} s this run)", highlight=False, soft_wrap=True)
    if res["report"]:
        out.print(f"report: {res['report']}", highlight=False, soft_wrap=True)
    if done != len(states):
        raise typer.Exit(1)


@app.command()
@user_errors
def status(where: Where = None, launchpad: LaunchpadFile = None,
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """State of every firework of a campaign (reads a snapshot: works while a run is going on)."""
    from workflows.fireworks.campaign import find_campaign_dir, fw_summary, states, workflow_ids
    from workflows.fireworks.launchpad import open_store

    folder = find_campaign_dir(where) if launchpad is None else Path(where or ".")
    meta = json.loads((folder / "campaign.json").read_text()) if (folder / "campaign.json").is_file() else {}
    with open_store(folder, launchpad, read_only=True) as lp:
        name = meta.get("name") or (lp.workflows.find_one({}) or {}).get("name")
        rows = [fw_summary(lp, i) for i in states(lp, workflow_ids(lp, name))]
    if as_json:
        out.print_json(json.dumps({"campaign": name, "folder": str(folder), "fireworks": rows}))
        return
    t = Table(title=f"campaign {name} ({folder})")
    for col in ("id", "firework", "state", "key numbers / error"):
        t.add_column(col)
    colour = {"COMPLETED": "green", "FIZZLED": "red", "RUNNING": "yellow", "RESERVED": "yellow"}
    from workflows.fireworks.campaign import _short

    for r in rows:
        st = r["state"]
        t.add_row(str(r["fw_id"]), r["name"], f"[{colour.get(st, 'white')}]{st}[/]",
                  r["error"] or _short(r["stored_data"]))
    out.print(t)


@app.command()
@user_errors
def report(where: Where = None,
           out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="report folder "
                                                        "(default <campaign>/report)")] = None) -> None:
    """Markdown report with plots from a campaign's analysis.json."""
    from structures.errors import HecathodeInputError
    from workflows.fireworks.campaign import find_campaign_dir, write_campaign_report

    folder = find_campaign_dir(where)
    analysis = folder / "analysis" / "analysis.json"
    if not analysis.is_file():
        raise HecathodeInputError(f"{folder} has no analysis yet (its analysis firework has not run): "
                                  "see `hecathode status`")
    path = write_campaign_report(analysis, out_dir or folder / "report")
    out.print(f"report: {path}", highlight=False, soft_wrap=True)
