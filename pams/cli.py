"""One ``pams`` command over the parts that are installed.

A Raspberry Pi with only ``pams[edge]`` gets ``pams edge``; a developer machine with
``pams[all]`` gets every subcommand and ``pams demo``.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import time
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)

app = typer.Typer(help="PAMS: property asset management.", no_args_is_help=True)

_PARTS = {
    "edge": ("edge.cli", "The building gateway agent."),
    "cloud": ("cloud.cli", "The cloud service."),
    "sim": ("sim.cli", "The device simulator."),
}


def chaos(
    duration: Annotated[float, typer.Option(help="Seconds of chaos.")] = 120.0,
    kills: Annotated[int, typer.Option(help="SIGKILLs of the gateway.")] = 5,
    outages: Annotated[int, typer.Option(help="Times the cloud is cut off.")] = 3,
    seed: Annotated[int | None, typer.Option(help="Repeat a run's timeline.")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON only.")
    ] = False,
    workdir: Annotated[Path, typer.Option(help="Databases and logs.")] = Path(
        "var/chaos"
    ),
) -> None:
    """Kill the gateway, cut and crash the cloud; then count what was lost."""
    from pams.chaos import run_chaos
    from pams.demo import DemoError

    if workdir.exists():
        shutil.rmtree(workdir)
    scenario = Path(str(files("sim") / "scenarios" / "demo.toml"))
    try:
        result = run_chaos(
            workdir.resolve(),
            scenario,
            duration_s=duration,
            kills=kills,
            outages=outages,
            seed=seed,
        )
    except DemoError as exc:
        typer.echo(f"chaos run failed: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(json.dumps(result) if json_output else json.dumps(result, indent=2))


for _name, (_module, _help) in _PARTS.items():
    try:
        _sub = importlib.import_module(_module).app
    except ImportError as exc:  # the extra for this part is not installed
        logger.debug("pams %s unavailable: %s", _name, exc)
        continue
    if _name == "sim":
        _sub.command("chaos")(chaos)
    app.add_typer(_sub, name=_name, help=_help)


@app.command()
def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: run until Ctrl-C)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="No live view; print one JSON summary.")
    ] = False,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its databases and logs.")
    ] = Path("var/demo"),
    scenario: Annotated[
        Path | None,
        typer.Option(help="Building scenario (default: the demo building)."),
    ] = None,
) -> None:
    """Run a simulated building, its gateway and the cloud, and show the flow."""
    from pams.demo import DemoError, Progress, demo_run, summarise
    from pams.live import watch

    if json_output and duration is None:
        raise typer.BadParameter("--json needs --duration", param_hint="--json")
    if workdir.exists():
        shutil.rmtree(workdir)
    scenario = scenario or Path(str(files("sim") / "scenarios" / "demo.toml"))
    started = time.monotonic()
    try:
        with demo_run(workdir.resolve(), scenario) as run:
            last: Progress = watch(run, duration, live=not json_output)
            summary = summarise(run, round(time.monotonic() - started, 1), last)
    except DemoError as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(json.dumps(summary, indent=2))
