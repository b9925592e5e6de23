"""Work orders, plans and rounds in the access-test world, made when first asked for.

Each side gets a work order on its unit 101 (the owner's and tenant's own) and one on
the other unit; requests that change what they touch get fresh records.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from cloud.models import (
    NoticeChannel,
    RoundTask,
    SlaTarget,
    StaffBadge,
    WorkOrderWatcher,
)
from cloud.services import (
    feedback,
    maintenance,
    notices,
    rounds,
    work_order_photos,
    work_orders,
)
from cloud.services.attachments import Upload
from tests.cloud.world import PNG, Side, World

# Keyed by the side's gateway id, which is unique across the worlds of a session.
_made: dict[tuple[str, str], int] = {}
_counter = itertools.count(1)


def trade() -> str:
    return f"trade_{next(_counter)}"


def _once(side: Side, what: str, make: Callable[[], int]) -> int:
    key = (side.gateway_id, what)
    if key not in _made:
        _made[key] = make()
    return _made[key]


def made(side: Side, what: str) -> int:
    """The record made for the side by the function named ``what``."""
    return _made[(side.gateway_id, what)]


def fresh_work_order(world: World, side: Side, unit_id: int | None = None) -> int:
    with world.acting(side) as (session, scope):
        return work_orders.create_work_order(
            session,
            scope,
            property_id=side.property_id,
            unit_id=unit_id or side.unit_id,
            source="staff",
            title="Dripping tap",
            category="plumbing",
            urgency="normal",
        ).id


def work_order(world: World, side: Side) -> int:
    return _once(side, "work_order", lambda: fresh_work_order(world, side))


def other_work_order(world: World, side: Side) -> int:
    return _once(
        side,
        "other_work_order",
        lambda: fresh_work_order(world, side, side.other_unit_id),
    )


def fresh_checklist_item(world: World, side: Side) -> int:
    with world.acting(side) as (session, scope):
        order = work_order(world, side)
        return work_orders.add_checklist_item(session, scope, order, "Check seal").id


def photo(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, scope):
            store = world.app.state.pams.attachments
            upload = Upload("tap.png", "image/png", PNG)
            order = work_order(world, side)
            return work_order_photos.attach(session, scope, store, order, upload).id

    return _once(side, "photo", make)


def sla_target(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, _scope):
            record = SlaTarget(
                property_id=side.property_id,
                urgency="urgent",
                category=None,
                response_minutes=120,
                resolution_minutes=600,
            )
            session.add(record)
            session.flush()
            return record.id

    return _once(side, "sla_target", make)


def plan(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, scope):
            return maintenance.create_plan(
                session,
                scope,
                {
                    "equipment_id": side.equipment_id,
                    "name": "Quarterly pump service",
                    "interval_unit": "months",
                    "interval_count": 3,
                    "cron": None,
                    "anchor": "schedule",
                    "first_due_on": date(2026, 1, 1),
                    "lead_days": 7,
                    "category": "pump",
                    "urgency": "normal",
                    "title": "Service the pump",
                    "checklist": ["Check pressure"],
                    "estimated_hours": None,
                },
            ).id

    return _once(side, "plan", make)


def round_plan(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, scope):
            return rounds.create_round_plan(
                session,
                scope,
                property_id=side.property_id,
                name="Night walk",
                every_hours=24,
                window_minutes=120,
                first_starts_at=datetime(2026, 3, 1, 22, tzinfo=UTC),
                assignee_user_id=None,
                category="general",
                checkpoints=[{"name": "Pump room", "check_kind": "ok"}],
            ).id

    return _once(side, "round_plan", make)


def round_task(world: World, side: Side) -> int:
    def make() -> int:
        plan_id = round_plan(world, side)
        with world.acting(side) as (session, _scope):
            now = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
            rounds.generate_round_tasks(session, now=now)
            return rounds.tasks_of(session, plan_id)[0].id

    return _once(side, "round_task", make)


def qr_token(world: World, side: Side) -> str:
    round_task(world, side)
    with world.acting(side) as (session, _scope):
        return rounds.checkpoints_of(session, round_plan(world, side))[0].qr_token


def watcher(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, _scope):
            record = WorkOrderWatcher(
                property_id=side.property_id,
                channel="webhook",
                target="https://example.org/desk",
                label="front desk",
            )
            session.add(record)
            session.flush()
            return record.id

    return _once(side, "watcher", make)


def fresh_round_task(world: World, side: Side) -> int:
    """A task of the side's round whose window is open now."""
    plan_id = round_plan(world, side)
    now = datetime.now(UTC)
    with world.acting(side) as (session, _scope):
        task = RoundTask(
            round_plan_id=plan_id,
            property_id=side.property_id,
            window_starts_at=now - timedelta(minutes=5),
            window_ends_at=now + timedelta(minutes=55),
        )
        session.add(task)
        session.flush()
        return task.id


def _notice(world: World, side: Side, unit_id: int) -> int:
    now = datetime.now(UTC)
    with world.acting(side) as (session, scope):
        made = notices.create_notice(
            session,
            scope,
            {
                "property_id": side.property_id,
                "kind": "event",
                "title": "Courtyard fair",
                "body": "Saturday.",
                "starts_at": None,
                "ends_at": None,
                "publish_at": now - timedelta(hours=1),
                "expires_at": now + timedelta(days=30),
                "building_ids": [],
                "unit_ids": [unit_id],
                "send_apprise": False,
            },
        )
        made.published_at = now - timedelta(hours=1)
        session.flush()
        return made.id


def notice(world: World, side: Side) -> int:
    return _once(side, "notice", lambda: _notice(world, side, side.unit_id))


def other_notice(world: World, side: Side) -> int:
    return _once(side, "other_notice", lambda: _notice(world, side, side.other_unit_id))


def channel(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, _scope):
            record = NoticeChannel(
                property_id=side.property_id,
                label="residents chat",
                apprise_url="json://chat.example.org/hook",
            )
            session.add(record)
            session.flush()
            return record.id

    return _once(side, "channel", make)


def complaint(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, scope):
            return feedback.file_complaint(
                session,
                scope,
                {
                    "property_id": None,
                    "unit_id": side.unit_id,
                    "kind": "complaint",
                    "category": "noise",
                    "text": "Loud music.",
                },
                now=datetime.now(UTC),
            ).id

    return _once(side, "complaint", make)


def fresh_survey(world: World, side: Side) -> int:
    now = datetime.now(UTC)
    with world.acting(side) as (session, scope):
        return feedback.create_survey(
            session,
            scope,
            {
                "property_id": side.property_id,
                "title": "How are we doing?",
                "questions": [{"text": "Overall", "kind": "rating", "choices": []}],
                "anonymous": False,
                "opens_at": now - timedelta(hours=1),
                "closes_at": now + timedelta(days=30),
            },
        ).id


def survey(world: World, side: Side) -> int:
    return _once(side, "survey", lambda: fresh_survey(world, side))


def card() -> str:
    return f"{next(_counter):08x}"


def badge(world: World, side: Side) -> int:
    def make() -> int:
        with world.acting(side) as (session, _scope):
            record = StaffBadge(
                organization_id=side.organization_id,
                user_id=side.user_id,
                card_hex=card(),
            )
            session.add(record)
            session.flush()
            return record.id

    return _once(side, "badge", make)
