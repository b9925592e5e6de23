"""``pams-edge``: run the gateway agent, or check a site configuration."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import start_http_server

from edge.config import ConfigError, SiteConfig, load_config

app = typer.Typer(help="The building gateway agent.", no_args_is_help=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Site configuration (TOML).", exists=True)
]


@app.command()
def run(
    config: ConfigOption,
    drain_timeout: Annotated[
        float, typer.Option(help="Seconds to keep sending after a stop signal.")
    ] = 30.0,
    log_level: Annotated[
        str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")
    ] = "INFO",
) -> None:
    """Poll the site's devices and forward everything to the cloud until stopped.

    SIGTERM or SIGINT stops polling, drains the buffer for up to --drain-timeout
    seconds, and writes last_run.json into the data directory.
    """
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pymodbus logs a device's late or stray reply as an ERROR with a frame dump; the
    # driver already detects, counts and reports those per device.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    _load(config)
    asyncio.run(_run(config, drain_timeout))


async def _run(site_path: Path, drain_timeout: float) -> None:
    from edge.agent import CurrentRegistry, serve

    site = _load(site_path)
    registry = CurrentRegistry()
    start_http_server(site.health.port, addr=site.health.host, registry=registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    summary = await serve(
        site_path, stop, drain_timeout_s=drain_timeout, registry=registry
    )
    logging.getLogger("edge").info("stopped: %s", summary)


@app.command("check-config")
def check_config(config: ConfigOption) -> None:
    """Validate a site configuration and its device profiles, then exit."""
    site = _load(config)
    typer.echo(f"{config}: ok, {len(site.device_ids())} devices")


def _load(path: Path) -> SiteConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
