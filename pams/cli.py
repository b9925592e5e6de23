"""One ``pams`` command over the parts that are installed.

A Raspberry Pi with only ``pams[edge]`` gets ``pams edge``; a developer machine with
``pams[all]`` gets every subcommand and ``pams demo``.
"""

from __future__ import annotations

import importlib
import logging

import typer

logger = logging.getLogger(__name__)

app = typer.Typer(help="PAMS: property asset management.", no_args_is_help=True)

_PARTS = {
    "edge": ("edge.cli", "The building gateway agent."),
    "cloud": ("cloud.cli", "The cloud service."),
    "sim": ("sim.cli", "The device simulator."),
}

for _name, (_module, _help) in _PARTS.items():
    try:
        _sub = importlib.import_module(_module).app
    except ImportError as exc:  # the extra for this part is not installed
        logger.debug("pams %s unavailable: %s", _name, exc)
        continue
    app.add_typer(_sub, name=_name, help=_help)
