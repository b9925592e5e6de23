"""Commands from the cloud, executed at most once each, with the outcome reported.

A command arrives with a sync answer (an ingest ack or a health answer) and may arrive
again if the answer that carried it was lost. Its id is recorded in the buffer's
database *before* it is executed, so a repeat is recognised even across restarts; a
command found started but unfinished after a crash is reported as ``unknown`` rather
than run a second time (an unlock or a valve write must not happen twice by accident).

The outcome goes back as an ``Event`` of kind ``command_result`` through the normal
buffer, so it survives outages like everything else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.types import DeviceEvent
from edge.config import ConfigError, load_config
from sync.schema import Command

if TYPE_CHECKING:
    from edge.agent import Gateway

logger = logging.getLogger(__name__)

SUCCEEDED, FAILED, REJECTED, EXPIRED, UNKNOWN = (
    "succeeded",
    "failed",
    "rejected",
    "expired",
    "unknown",
)


class CommandError(Exception):
    """A command that cannot be carried out; the message is the reported detail."""


class Deferred(Exception):  # noqa: N818  # a control-flow signal, not an error
    """The outcome is reported later (a configuration on trial reports when judged)."""


class CommandRunner:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.buffer = gateway.buffer
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[Command], Awaitable[str]]] = {
            "unlock": self._unlock,
            "write_point": self._write_point,
            "update_config": self._update_config,
            "rotate_token": self._rotate_token,
            "rules_update": self._rules_update,
        }
        for command_id in self.buffer.unfinished_commands():
            self.report(
                command_id, None, UNKNOWN, "the gateway restarted while executing it"
            )

    def accept(self, commands: list[Command]) -> None:
        """Start every command not seen before; returns at once."""
        for command in commands:
            if not self.buffer.claim_command(command.id, command.kind):
                logger.debug("command %s already seen; not run again", command.id)
                continue
            task = asyncio.create_task(self._run(command), name=f"command-{command.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, command: Command) -> None:
        if command.expires_at is not None and command.expires_at < datetime.now(UTC):
            self.report(
                command.id, command.device_id, EXPIRED, "arrived after it expired"
            )
            return
        handler = self._handlers.get(command.kind)
        if handler is None:
            self.report(
                command.id,
                command.device_id,
                REJECTED,
                f"unknown kind {command.kind!r}",
            )
            return
        try:
            detail = await handler(command)
        except Deferred:
            return
        except CommandError as exc:
            self.report(command.id, command.device_id, FAILED, str(exc))
        except Exception as exc:  # a driver bug must still end in a reported outcome
            logger.exception("command %s (%s) failed", command.id, command.kind)
            self.report(
                command.id, command.device_id, FAILED, f"{type(exc).__name__}: {exc}"
            )
        else:
            self.report(command.id, command.device_id, SUCCEEDED, detail)

    def report(
        self, command_id: str, device_id: str | None, status: str, detail: str
    ) -> None:
        self.buffer.finish_command(command_id, status)
        log = logger.info if status == SUCCEEDED else logger.warning
        log("command %s: %s (%s)", command_id, status, detail)
        self.gateway.publish(
            [
                DeviceEvent(
                    device_id=device_id or self.gateway.config.gateway.id,
                    kind="command_result",
                    data={"command_id": command_id, "status": status, "detail": detail},
                )
            ]
        )

    # --- kinds -------------------------------------------------------------------

    async def _unlock(self, command: Command) -> str:
        bus = self.gateway.door_buses.get(command.device_id or "")
        if bus is None:
            raise CommandError(f"no door reader {command.device_id!r} on this gateway")
        seconds = command.args.get("seconds")
        await bus.unlock(command.device_id, seconds)
        return f"relay released for {seconds or 'the default'} s"

    async def _write_point(self, command: Command) -> str:
        device: Any = self.gateway.modbus_devices.get(command.device_id or "")
        if device is None:
            raise CommandError(
                f"no Modbus device {command.device_id!r} on this gateway"
            )
        point, value = command.args.get("point"), command.args.get("value")
        if not isinstance(point, str):
            raise CommandError("args.point must name the point to write")
        reading = await device.write(point, value)
        return f"{point} reads back {reading.value!r} ({reading.quality})"

    async def _rules_update(self, command: Command) -> str:
        outcome = self.gateway.alarms.replace_rules(command.args)
        if not outcome.applied:
            raise CommandError(f"rule set refused: {outcome.reason}")
        return f"rule set version {outcome.version} applied"

    async def _rotate_token(self, command: Command) -> str:
        token = command.args.get("token")
        if not isinstance(token, str) or len(token) < 32:
            raise CommandError("args.token must be the new token")
        token_file = self.gateway.config.cloud.token_file
        if token_file is not None:
            write_secret(token_file, token)
        else:
            logger.warning(
                "token rotated but kept in memory only: no [cloud] token_file"
            )
        self.gateway.uplink.set_token(token)
        return "new token in use"

    async def _update_config(self, command: Command) -> str:
        text = command.args.get("config")
        site_path = self.gateway.site_path
        if not isinstance(text, str) or site_path is None:
            raise CommandError("args.config must hold the new site configuration")
        try:
            stage_config(site_path, text)
        except ConfigError as exc:
            raise CommandError(f"new configuration refused: {exc}") from exc
        self.gateway.request_restart(trial_command=command.id)
        raise Deferred


def write_secret(path: Path, text: str) -> None:
    """Replace a secret file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stage_config(site_path: Path, text: str) -> None:
    """Validate a new site configuration and put it in place, keeping the old one.

    The old file becomes ``site.toml.prev`` until the new one has proved itself
    (``confirm_config``) or failed (``roll_back_config``).
    """
    candidate = site_path.with_name(site_path.name + ".new")
    candidate.write_text(text, encoding="utf-8")
    try:
        load_config(candidate)
    except ConfigError:
        candidate.unlink(missing_ok=True)
        raise
    previous = site_path.with_name(site_path.name + ".prev")
    site_path.replace(previous)
    candidate.replace(site_path)


def config_on_trial(site_path: Path) -> bool:
    return site_path.with_name(site_path.name + ".prev").exists()


def confirm_config(site_path: Path) -> None:
    site_path.with_name(site_path.name + ".prev").unlink(missing_ok=True)


def roll_back_config(site_path: Path) -> None:
    site_path.with_name(site_path.name + ".prev").replace(site_path)
