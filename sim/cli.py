"""``pams-sim``: run the device simulator."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sim.errors import SimError
from sim.runner import run as run_scenario
from sim.scenario import Scenario, load_scenario

app = typer.Typer(help="The device simulator.", no_args_is_help=True)

ScenarioArg = Annotated[
    str, typer.Argument(help="A scenario file, or the name of a shipped one (demo).")
]
ProfilesOption = Annotated[
    list[Path] | None,
    typer.Option("--profiles", help="Extra folder of firmware profiles; repeatable."),
]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("pams-sim 0.1.0")


@app.command()
def run(
    scenario: ScenarioArg,
    wiring: Annotated[
        Path | None,
        typer.Option(help="Write the wiring JSON here once every device listens."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.")
    ] = None,
    status: Annotated[
        Path | None,
        typer.Option(help="Keep a JSON of request counts and served values here."),
    ] = None,
    status_interval: Annotated[
        float, typer.Option(help="Seconds between status writes.")
    ] = 1.0,
    profiles: ProfilesOption = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    """Start every device of SCENARIO until Ctrl-C, SIGTERM or --duration."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    loaded = _load(scenario, profiles)
    asyncio.run(
        run_scenario(
            loaded,
            wiring_path=wiring,
            duration_s=duration,
            status_path=status,
            status_interval_s=status_interval,
        )
    )


@app.command()
def show(scenario: ScenarioArg, profiles: ProfilesOption = None) -> None:
    """Print the devices of SCENARIO and their faults."""
    loaded = _load(scenario, profiles)
    table = Table(title=f"{loaded.name} ({loaded.source})")
    for column in ("device", "family", "where", "unit", "profile", "faults"):
        table.add_column(column)
    for tcp in loaded.spec.modbus_tcp:
        where = f"tcp {tcp.host}:{tcp.port or 'auto'}" + (
            f" ({tcp.endpoint})" if tcp.endpoint else ""
        )
        table.add_row(
            tcp.id, "modbus_tcp", where, str(tcp.unit_id), tcp.profile, _faults(tcp)
        )
    for line in loaded.spec.modbus_rtu:
        framing = f"{line.bytesize}{line.parity}{line.stopbits}"
        where = f"rtu {line.line} {line.baudrate} {framing}"
        for meter in line.meters:
            table.add_row(
                meter.id,
                "modbus_rtu",
                where,
                str(meter.unit_id),
                meter.profile,
                _faults(meter),
            )
    Console().print(table)


def _faults(meter: object) -> str:
    faults = getattr(meter, "faults", [])
    return ", ".join(fault.kind for fault in faults) or "-"


def _load(scenario: str, profiles: list[Path] | None) -> Scenario:
    try:
        return load_scenario(scenario, profile_dirs=profiles)
    except SimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
