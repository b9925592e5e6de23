"""The audit log, written for every flush so that no write can forget it.

A session learns who is acting from ``act_as`` (the API's scope dependency, the
CLI and background jobs call it). After each flush, ``_record_flush`` turns every
inserted, changed and deleted object of an audited model into an ``AuditEntry``,
written on the same connection in the same transaction: the entry commits or rolls
back with the change it describes. A flush that changes an audited table with no
actor set raises ``AuditActorMissingError``, and bulk ``UPDATE``/``DELETE``
statements on audited tables (which bypass the flush) are refused.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from cloud.models import AuditEntry, Base, Organization, utc_now
from cloud.services.errors import CloudError

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
_ACTOR_KEY = "pams_actor"


class AuditActorMissingError(CloudError):
    """Raised when audited rows change in a session that has no actor: a code path
    that writes without saying on whose behalf. A bug, hence 500."""

    status_code = 500


@dataclass(frozen=True)
class Actor:
    """On whose behalf a session writes: a user, a gateway, a command, a job."""

    label: str
    organization_id: int | None = None
    user_id: int | None = None


def act_as(session: Session, actor: Actor) -> None:
    session.info[_ACTOR_KEY] = actor


def actor_of(session: Session) -> Actor | None:
    actor: Actor | None = session.info.get(_ACTOR_KEY)
    return actor


def _audited(instance: object) -> bool:
    return isinstance(instance, Base) and type(instance).__audited__


@event.listens_for(Session, "after_flush")
def _record_flush(session: Session, _context: UOWTransaction) -> None:
    """New, dirty and deleted still hold their pre-flush state here, and the
    attribute history what each flush changed."""
    rows: list[dict[str, Any]] = []
    for instance in session.new:
        if _audited(instance):
            rows.append(_entry(instance, "insert", _values(instance, new=True)))
    for instance in session.dirty:
        if _audited(instance) and (changes := _changes(instance)):
            rows.append(_entry(instance, "update", changes))
    for instance in session.deleted:
        if _audited(instance):
            rows.append(_entry(instance, "delete", _values(instance, new=False)))
    if not rows:
        return
    actor = actor_of(session)
    if actor is None:
        raise AuditActorMissingError(
            f"A change to {rows[0]['entity']} {rows[0]['entity_id']} has no actor; "
            "call cloud.services.audit.act_as (or Scope.bind) on the session first."
        )
    at = utc_now()
    for row in rows:
        organization_id = row.pop("_organization_id")
        row.update(
            at=at,
            actor=actor.label[:200],
            actor_user_id=actor.user_id,
            organization_id=actor.organization_id or organization_id,
        )
    session.connection().execute(sa.insert(AuditEntry), rows)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name in _audited_tables():
        raise AuditActorMissingError(
            f"A bulk write to {name} would bypass the audit log; change the objects "
            "through the session instead."
        )


@functools.cache
def _audited_tables() -> frozenset[str]:
    return frozenset(
        mapper.local_table.name  # type: ignore[attr-defined]
        for mapper in Base.registry.mappers
        if mapper.class_.__audited__
    )


def _entry(instance: Base, action: str, changes: dict[str, Any]) -> dict[str, Any]:
    # Not the identity key: a just-inserted object gets it only after this event.
    identity = sa.inspect(type(instance)).primary_key_from_instance(instance)
    return {
        "action": action,
        "entity": type(instance).__tablename__,
        "entity_id": "/".join(str(part) for part in identity),
        "property_id": _property_of(instance),
        "changes": changes,
        "_organization_id": _organization_of(instance),
    }


def _property_of(instance: Base) -> int | None:
    if type(instance).__tablename__ == "properties":
        return getattr(instance, "id", None)
    value = getattr(instance, "property_id", None)
    return value if isinstance(value, int) else None


def _organization_of(instance: Base) -> int | None:
    if isinstance(instance, Organization):
        return instance.id
    value = getattr(instance, "organization_id", None)
    return value if isinstance(value, int) else None


def _columns(instance: Base) -> list[str]:
    model = type(instance)
    return [
        attribute.key
        for attribute in sa.inspect(model).column_attrs
        if attribute.key not in model.__audit_omit__
    ]


def _values(instance: Base, *, new: bool) -> dict[str, Any]:
    # The loaded state, not getattr: a deleted row can no longer be loaded.
    loaded = sa.inspect(instance).dict
    redact = type(instance).__audit_redact__
    values: dict[str, Any] = {}
    for key in _columns(instance):
        value = REDACTED if key in redact else _plain(loaded.get(key))
        values[key] = [None, value] if new else [value, None]
    return values


def _changes(instance: Base) -> dict[str, Any]:
    redact = type(instance).__audit_redact__
    changes: dict[str, Any] = {}
    for key in _columns(instance):
        history = get_history(instance, key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        if key in redact:
            changes[key] = [REDACTED, REDACTED]
        else:
            changes[key] = [_plain(old), _plain(new)]
    return changes


def _plain(value: Any) -> Any:
    """A JSON value: dates as ISO text, decimals as exact strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)
