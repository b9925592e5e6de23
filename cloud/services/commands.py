"""Commands for gateways: queued by staff, delivered with sync answers, reported back.

A queued command rides on every answer to its gateway (ingest acks and health
answers) until the gateway reports an outcome; the gateway runs each id once, so a
lost answer costs a repeat delivery, never a repeat action. Outcomes arrive as
``command_result`` events through ingest.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from cloud.models import Gateway, GatewayCommand
from cloud.services.access import Scope
from cloud.services.errors import InvalidInputError
from cloud.services.events import on_event
from sync.schema import Command, Event

logger = logging.getLogger(__name__)

OPEN = ("queued", "delivered")
OUTCOMES = frozenset({"succeeded", "failed", "rejected", "expired", "unknown"})
NEEDS_DEVICE = frozenset({"unlock", "write_point"})
KINDS = frozenset({"unlock", "write_point", "update_config", "rules_update"})
DEFAULT_LIFETIME = timedelta(hours=1)


def queue_command(
    session: Session,
    scope: Scope,
    gateway_id: str,
    *,
    kind: str,
    device_id: str | None = None,
    args: dict[str, Any] | None = None,
    expires_in: timedelta = DEFAULT_LIFETIME,
) -> GatewayCommand:
    """Queue a command for a gateway the caller may manage."""
    gateway = scope.get_for_write(session, Gateway, gateway_id)
    if kind not in KINDS:
        raise InvalidInputError(
            f"kind {kind!r} is not one of {', '.join(sorted(KINDS))}.", field="kind"
        )
    if kind in NEEDS_DEVICE and not device_id:
        raise InvalidInputError(
            f"a {kind} command needs a device_id.", field="device_id"
        )
    return _add(
        session,
        gateway,
        kind=kind,
        device_id=device_id,
        args=args or {},
        created_by=scope.actor.label,
        expires_in=expires_in,
    )


def _add(
    session: Session,
    gateway: Gateway,
    *,
    kind: str,
    device_id: str | None,
    args: dict[str, Any],
    created_by: str,
    expires_in: timedelta,
) -> GatewayCommand:
    now = datetime.now(UTC)
    command = GatewayCommand(
        id=uuid.uuid4().hex,
        organization_id=gateway.organization_id,
        property_id=gateway.property_id,
        gateway_id=gateway.id,
        kind=kind,
        device_id=device_id,
        args=args,
        status="queued",
        created_by=created_by,
        created_at=now,
        expires_at=now + expires_in,
        deliveries=0,
    )
    session.add(command)
    session.flush()
    logger.info(
        "%s: command %s (%s) queued by %s", gateway.id, command.id, kind, created_by
    )
    return command


def deliverable(
    session: Session, gateway: Gateway, *, tokens: Fernet | None = None
) -> list[Command]:
    """The gateway's open commands, marked delivered; expired ones are closed.

    A ``rotate_token`` command holds its token sealed with ``tokens``; it is opened
    only into the answer, which travels over the gateway's own TLS connection.
    """
    now = datetime.now(UTC)
    open_commands = session.scalars(
        sa.select(GatewayCommand)
        .where(GatewayCommand.gateway_id == gateway.id, GatewayCommand.status.in_(OPEN))
        .order_by(GatewayCommand.created_at)
    ).all()
    delivered = []
    for command in open_commands:
        if command.expires_at is not None and command.expires_at <= now:
            _finish(command, "expired", "not delivered before it expired", now)
            continue
        args = dict(command.args)
        if command.kind == "rotate_token":
            if tokens is None:
                continue  # only answers that can open the token carry it
            args = {"token": tokens.decrypt(args["sealed"].encode()).decode()}
        command.status = "delivered"
        command.delivered_at = command.delivered_at or now
        command.deliveries += 1
        delivered.append(
            Command(
                id=command.id,
                kind=command.kind,
                device_id=command.device_id,
                args=args,
                expires_at=command.expires_at,
            )
        )
    return delivered


@on_event("command_result")
def record_outcome(session: Session, gateway: Gateway, event: Event) -> None:
    """The gateway's report of what became of a command."""
    command_id = str(event.data.get("command_id", ""))
    status = str(event.data.get("status", ""))
    command = session.get(GatewayCommand, command_id)
    if command is None or command.gateway_id != gateway.id:
        logger.warning("%s reported an unknown command %r", gateway.id, command_id)
        return
    if status not in OUTCOMES:
        logger.warning("%s reported command %s as %r", gateway.id, command_id, status)
        return
    if command.status in OPEN:
        _finish(command, status, str(event.data.get("detail", ""))[:1000], event.ts)
        if command.kind == "rotate_token":
            command.args = {}  # the sealed token has served its purpose


def _finish(command: GatewayCommand, status: str, detail: str, at: datetime) -> None:
    command.status = status
    command.detail = detail
    command.finished_at = at
    logger.info("command %s: %s (%s)", command.id, status, detail)


def queue_token_rotation(
    session: Session, scope: Scope, gateway_id: str, *, tokens: Fernet
) -> GatewayCommand:
    """Give the gateway a new token through its own connection, without a person
    handling it: the old token keeps working until the gateway uses the new one."""
    from cloud.services import gateways

    gateway = scope.get_for_write(session, Gateway, gateway_id)
    token = gateways.stage_token(gateway)
    return _add(
        session,
        gateway,
        kind="rotate_token",
        device_id=None,
        args={"sealed": tokens.encrypt(token.encode()).decode()},
        created_by=scope.actor.label,
        expires_in=timedelta(days=7),
    )


def list_commands(
    session: Session, scope: Scope, gateway_id: str
) -> list[GatewayCommand]:
    scope.get(session, Gateway, gateway_id)
    return list(
        session.scalars(
            sa.select(GatewayCommand)
            .where(GatewayCommand.gateway_id == gateway_id)
            .order_by(GatewayCommand.created_at.desc())
            .limit(500)
        )
    )
