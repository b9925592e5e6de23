"""Notices: planned outages and community news for a property, buildings or units.

A notice is made with the units it concerns (``notice_units``). From ``publish_at``
residents of those units see it in their app feed (``GET /me/notices``), which
records a delivery receipt the first time it is shown and a read receipt when
opened. ``publish_due(session, now=…)`` is the job that publishes: it stamps
``published_at`` and queues one apprise message per property notice channel (SMS
gateway, mailing list, chat group) through the outbox, whose rows are those
channels' delivery records. The notice board is the printable HTML of the notices
current at a property.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    Building,
    Notice,
    NoticeChannel,
    NoticeReceipt,
    NoticeUnit,
    Property,
    Unit,
)
from cloud.services import outbox, work_orders
from cloud.services.access import Permission, Scope
from cloud.services.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

OUTAGES = frozenset({"water_outage", "power_outage"})


def create_notice(session: Session, scope: Scope, fields: dict[str, Any]) -> Notice:
    property_id = fields["property_id"]
    scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.NOTICES_WRITE, property_id)
    _check_times(fields)
    building_ids: list[int] = fields.pop("building_ids")
    unit_ids: list[int] = fields.pop("unit_ids")
    units = _target_units(session, property_id, building_ids, unit_ids)
    notice = Notice(
        **fields,
        building_ids=building_ids,
        whole_property=not (building_ids or unit_ids),
        created_by=scope.actor.label[:200],
    )
    session.add(notice)
    session.flush()
    for unit_id in sorted(units):
        session.add(
            NoticeUnit(notice_id=notice.id, unit_id=unit_id, property_id=property_id)
        )
    session.flush()
    return notice


def _check_times(fields: dict[str, Any]) -> None:
    if fields["expires_at"] <= fields["publish_at"]:
        raise InvalidInputError(
            "expires_at must be after publish_at.", field="expires_at"
        )
    if fields["kind"] in OUTAGES and (
        fields.get("starts_at") is None or fields.get("ends_at") is None
    ):
        raise InvalidInputError(
            f"A {fields['kind'].replace('_', ' ')} notice needs starts_at and ends_at.",
            field="starts_at",
        )
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidInputError("ends_at must be after starts_at.", field="ends_at")


def _target_units(
    session: Session, property_id: int, building_ids: list[int], unit_ids: list[int]
) -> set[int]:
    """Every unit of the targeted buildings and the targeted units; of the whole
    property when neither is given. Each must be in the property."""
    for key, model, ids in (
        ("building_ids", Building, building_ids),
        ("unit_ids", Unit, unit_ids),
    ):
        found = set(
            session.scalars(
                sa.select(model.id).where(
                    model.id.in_(ids), model.property_id == property_id
                )
            )
        )
        if missing := sorted(set(ids) - found):
            raise InvalidInputError(
                f"{key} {missing} are not in property {property_id}.", field=key
            )
    query = sa.select(Unit.id).where(Unit.property_id == property_id)
    if building_ids or unit_ids:
        query = query.where(
            sa.or_(Unit.building_id.in_(building_ids), Unit.id.in_(unit_ids))
        )
    return set(session.scalars(query))


def affected_units(session: Session, notice: Notice) -> list[Unit]:
    return list(
        session.scalars(
            sa.select(Unit)
            .join(NoticeUnit, NoticeUnit.unit_id == Unit.id)
            .where(NoticeUnit.notice_id == notice.id)
            .order_by(Unit.building_id, Unit.number)
        )
    )


def create_channel(
    session: Session, scope: Scope, fields: dict[str, Any]
) -> NoticeChannel:
    scope.get(session, Property, fields["property_id"], field="property_id")
    scope.require_on(Permission.NOTICES_WRITE, fields["property_id"])
    channel = NoticeChannel(**fields)
    session.add(channel)
    session.flush()
    return channel


# --- publishing -------------------------------------------------------------------


def publish_due(session: Session, *, now: datetime) -> list[int]:
    """Publish every notice whose time has come (and that has not expired);
    returns their ids. Commit afterwards."""
    due = session.scalars(
        sa.select(Notice)
        .where(
            Notice.published_at.is_(None),
            Notice.publish_at <= now,
            Notice.expires_at > now,
        )
        .order_by(Notice.id)
    ).all()
    for notice in due:
        work_orders.act_for_property(session, notice.property_id, "notices")
        notice.published_at = now
        if notice.send_apprise:
            _send(session, notice)
        session.flush()
    return [notice.id for notice in due]


def _send(session: Session, notice: Notice) -> None:
    organization_id = session.scalar(
        sa.select(Property.organization_id).where(Property.id == notice.property_id)
    )
    assert organization_id is not None
    channels = session.scalars(
        sa.select(NoticeChannel).where(NoticeChannel.property_id == notice.property_id)
    ).all()
    payload = {"title": notice.title, "body": _plain_text(session, notice)}
    for channel in channels:
        outbox.enqueue(
            session,
            organization_id=organization_id,
            channel="apprise",
            recipient=channel.label,
            target=channel.apprise_url,
            topic=f"notice:{notice.id}",
            payload=payload,
            dedup_key=f"notice:{notice.id}:channel:{channel.id}",
        )


def _plain_text(session: Session, notice: Notice) -> str:
    lines = [notice.body]
    if notice.starts_at is not None and notice.ends_at is not None:
        lines.append(
            f"From {notice.starts_at:%Y-%m-%d %H:%M} to {notice.ends_at:%Y-%m-%d %H:%M}"
            " UTC."
        )
    if notice.kind in OUTAGES and not notice.whole_property:
        numbers = [unit.number for unit in affected_units(session, notice)]
        lines.append("Units affected: " + ", ".join(numbers) + ".")
    return "\n".join(lines)


# --- residents' feed and receipts -------------------------------------------------


def current(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Notice.published_at.is_not(None),
        Notice.published_at <= now,
        Notice.expires_at > now,
    )


def feed(session: Session, scope: Scope, *, now: datetime) -> list[Notice]:
    """The caller's current notices, newest first; each one shown is recorded as
    delivered to them (once)."""
    scope.require(Permission.NOTICES_READ)
    notices = list(
        session.scalars(
            scope.visible(Notice)
            .where(current(now))
            .order_by(Notice.publish_at.desc(), Notice.id.desc())
        )
    )
    user_id = scope.actor.user_id
    if user_id is not None and notices:
        seen = set(
            session.scalars(
                sa.select(NoticeReceipt.notice_id).where(
                    NoticeReceipt.user_id == user_id,
                    NoticeReceipt.notice_id.in_([n.id for n in notices]),
                )
            )
        )
        for notice in notices:
            if notice.id not in seen:
                session.add(
                    NoticeReceipt(
                        notice_id=notice.id,
                        property_id=notice.property_id,
                        user_id=user_id,
                        delivered_at=now,
                    )
                )
        session.flush()
    return notices


def mark_read(
    session: Session, scope: Scope, notice_id: int, *, now: datetime
) -> NoticeReceipt:
    notice = scope.get(session, Notice, notice_id)
    if notice.published_at is None or notice.published_at > now:
        raise NotFoundError(f"Notice {notice_id!r} not found.")
    user_id = scope.actor.user_id
    assert user_id is not None
    receipt = session.scalar(
        sa.select(NoticeReceipt).where(
            NoticeReceipt.notice_id == notice.id, NoticeReceipt.user_id == user_id
        )
    )
    if receipt is None:
        receipt = NoticeReceipt(
            notice_id=notice.id,
            property_id=notice.property_id,
            user_id=user_id,
            delivered_at=now,
        )
        session.add(receipt)
    if receipt.read_at is None:
        receipt.read_at = now
    session.flush()
    return receipt


def receipts(session: Session, notice: Notice) -> list[NoticeReceipt]:
    return list(
        session.scalars(
            sa.select(NoticeReceipt)
            .where(NoticeReceipt.notice_id == notice.id)
            .order_by(NoticeReceipt.id)
        )
    )


# --- the notice board ---------------------------------------------------------------


def board_html(session: Session, scope: Scope, property_id: int, now: datetime) -> str:
    """A printable page of the property's current notices."""
    place = scope.get(session, Property, property_id, field="property_id")
    if not scope.can(Permission.NOTICES_READ, property_id):
        raise PermissionDeniedError(
            f"None of your roles grants {Permission.NOTICES_READ} on property "
            f"{property_id}."
        )
    notices = session.scalars(
        sa.select(Notice)
        .where(Notice.property_id == property_id, current(now))
        .order_by(Notice.publish_at.desc(), Notice.id.desc())
    ).all()
    items = "\n".join(_board_item(session, notice) for notice in notices)
    title = html.escape(place.name)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Notices: {title}</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "article{border:2px solid #000;padding:1em;margin:1em 0;"
        "page-break-inside:avoid}</style></head>\n"
        f"<body><h1>Notices: {title}</h1>\n{items or '<p>No current notices.</p>'}"
        "\n</body></html>\n"
    )


def _board_item(session: Session, notice: Notice) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>"
        for line in _plain_text(session, notice).splitlines()
    )
    return f"<article><h2>{html.escape(notice.title)}</h2>{paragraphs}</article>"
