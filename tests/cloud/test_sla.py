"""SLA clocks with a controlled clock: due times, business hours, pauses on hold,
a warning before a breach, the breach recorded once; labour counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import LabourEntry, OutboxMessage, SlaTarget, WorkOrder
from cloud.services import sla, work_orders
from cloud.services.errors import InvalidInputError
from tests.cloud.helpers import Login
from tests.cloud.maintenance_setup import Plant, make_plant

FRIDAY_5PM = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
OFFICE = sla.Calendar("Asia/Shanghai", 9 * 60, 18 * 60)


@pytest.fixture
def plant(app: FastAPI, client: TestClient, admin: Login) -> Plant:
    return make_plant(app, client, admin)


def report(plant: Plant, now: datetime, urgency: str = "urgent") -> int:
    with plant.session() as (session, scope):
        return work_orders.create_work_order(
            session,
            scope,
            property_id=plant.property_id,
            unit_id=plant.unit_id,
            source="staff",
            title="Leak under sink",
            category="plumbing",
            urgency=urgency,
            now=now,
        ).id


def order(plant: Plant, order_id: int) -> WorkOrder:
    with plant.session() as (session, _):
        found = session.get(WorkOrder, order_id)
        assert found is not None
        session.expunge(found)
        return found


def move(plant: Plant, order_id: int, to: str, now: datetime, **extra: Any) -> None:
    with plant.session() as (session, scope):
        work_orders.transition(session, scope, order_id, to, now=now, **extra)


# --- the calendar --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        # Friday 16:00 in Shanghai (08:00 UTC) + 4 h: 2 h on Friday, 2 on Monday.
        (datetime(2026, 3, 6, 8, tzinfo=UTC), 240, datetime(2026, 3, 9, 3, tzinfo=UTC)),
        # Saturday: starts on Monday at 09:00 local (01:00 UTC).
        (
            datetime(2026, 3, 7, 4, tzinfo=UTC),
            30,
            datetime(2026, 3, 9, 1, 30, tzinfo=UTC),
        ),
        # Before opening on a Tuesday: from 09:00 local.
        (
            datetime(2026, 3, 9, 23, tzinfo=UTC),
            60,
            datetime(2026, 3, 10, 2, tzinfo=UTC),
        ),
    ],
    ids=["over-weekend", "from-saturday", "before-opening"],
)
def test_business_hours_add_only_working_time(
    start: datetime, minutes: int, due: datetime
) -> None:
    assert sla.add_time(start, minutes, OFFICE) == due
    assert sla.running_between(start, due, OFFICE) == timedelta(minutes=minutes)


def test_the_wall_clock_runs_always() -> None:
    assert sla.add_time(FRIDAY_5PM, 240, None) == FRIDAY_5PM + timedelta(hours=4)


# --- due times ---------------------------------------------------------------------


def test_defaults_and_a_property_target(plant: Plant) -> None:
    urgent = order(plant, report(plant, FRIDAY_5PM))
    emergency = order(plant, report(plant, FRIDAY_5PM, "emergency"))
    with plant.session() as (session, _):
        session.add(
            SlaTarget(
                property_id=plant.property_id,
                urgency="urgent",
                category="plumbing",
                response_minutes=240,
                resolution_minutes=600,
                business_hours=True,
                timezone="UTC",
                day_starts=8 * 60,
                day_ends=18 * 60,
            )
        )
    in_office_hours = order(plant, report(plant, FRIDAY_5PM))

    assert urgent.response_due_at == FRIDAY_5PM + timedelta(hours=4)
    assert emergency.response_due_at == FRIDAY_5PM + timedelta(minutes=30)
    # One hour on Friday, three on Monday from 08:00.
    assert in_office_hours.response_due_at == datetime(2026, 3, 9, 11, tzinfo=UTC)
    assert in_office_hours.business_hours


def test_a_hold_for_the_tenant_pauses_the_clock_and_other_holds_do_not(
    plant: Plant,
) -> None:
    paused, running = report(plant, FRIDAY_5PM), report(plant, FRIDAY_5PM)
    for order_id, pause in ((paused, True), (running, False)):
        move(plant, order_id, "assigned", FRIDAY_5PM, team="plumbers")
        move(plant, order_id, "on_hold", FRIDAY_5PM + timedelta(hours=1),
             pause_clock=pause)  # fmt: skip
        move(plant, order_id, "in_progress", FRIDAY_5PM + timedelta(hours=11))

    due = FRIDAY_5PM + timedelta(hours=24)
    assert order(plant, paused).resolution_due_at == due + timedelta(hours=10)
    assert order(plant, running).resolution_due_at == due


def test_a_warning_goes_out_before_the_breach_and_each_once(plant: Plant) -> None:
    with plant.session() as (session, _):
        session.add(
            work_orders.WorkOrderWatcher(
                property_id=plant.property_id,
                channel="webhook",
                target="https://example.org/desk",
                label="front desk",
            )
        )
    order_id = report(plant, FRIDAY_5PM)
    due = FRIDAY_5PM + timedelta(hours=4)

    def kinds(now: datetime) -> list[str]:
        with plant.session() as (session, _):
            alerts = work_orders.check_slas(session, now=now)
            return [a.kind for a in alerts if a.work_order_id == order_id]

    early = kinds(due - timedelta(minutes=20))
    warned = kinds(due - timedelta(minutes=10))
    quiet = kinds(due - timedelta(minutes=5))
    breached = kinds(due + timedelta(seconds=1))
    after = kinds(due + timedelta(hours=1))
    with plant.session() as (session, _):
        sent = session.scalars(
            sa.select(OutboxMessage.payload).where(
                OutboxMessage.topic == f"work_order:{order_id}"
            )
        ).all()

    assert early == quiet == after == []
    assert warned == ["response_warning"]
    assert breached == ["response_breach"]
    assert [(m["kind"], m["due_at"]) for m in sent] == [
        ("response_warning", due.isoformat()),
        ("response_breach", due.isoformat()),
    ]
    assert order(plant, order_id).response_breached_at == due


def test_a_late_response_is_recorded_as_a_breach(plant: Plant) -> None:
    order_id = report(plant, FRIDAY_5PM, "emergency")

    move(plant, order_id, "assigned", FRIDAY_5PM + timedelta(hours=1), team="x")

    record = order(plant, order_id)
    assert record.response_breached_at == FRIDAY_5PM + timedelta(minutes=30)
    assert record.responded_at == FRIDAY_5PM + timedelta(hours=1)


# --- labour ----------------------------------------------------------------------


def entry(technician: int, start_h: float, end_h: float, rate: str) -> LabourEntry:
    return LabourEntry(
        technician_user_id=technician,
        started_at=FRIDAY_5PM + timedelta(hours=start_h),
        ended_at=FRIDAY_5PM + timedelta(hours=end_h),
        hourly_rate=Decimal(rate),
    )


@pytest.mark.parametrize(
    ("entries", "hours", "cost"),
    [
        ([entry(1, 0, 1, "60"), entry(1, 0.5, 1.5, "60")], "1.5", "90.00"),
        ([entry(1, 0, 2, "60"), entry(1, 0.5, 1, "90")], "2", "120.00"),
        ([entry(1, 0, 1, "60"), entry(2, 0, 1, "40")], "2", "100.00"),
        ([entry(1, 0, 1, "60"), entry(1, 2, 3, "60")], "2", "120.00"),
    ],
    ids=["overlap", "contained", "two-technicians", "apart"],
)
def test_one_technicians_overlapping_time_counts_once(
    entries: list[LabourEntry], hours: str, cost: str
) -> None:
    assert work_orders.labour_totals(entries) == (Decimal(hours), Decimal(cost))


# --- closing: what billing sees ----------------------------------------------------


def test_closing_calls_back_with_the_chargeable_lines(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_orders, "_ON_CLOSED", [])  # without billing's
    seen: list[tuple[int, str, list[tuple[str, Decimal]]]] = []
    work_orders.on_closed(
        lambda session, order: seen.append(
            (order.id, order.state, order.chargeable_items())
        )
    )
    order_id = report(plant, FRIDAY_5PM)
    with plant.session() as (session, scope):
        work_orders.add_part(
            session, scope, order_id, description="Tap washer",
            quantity=Decimal(3), unit_cost=Decimal("0.35"), chargeable=True,
        )  # fmt: skip
        work_orders.add_part(
            session, scope, order_id, description="Sealant",
            quantity=Decimal(1), unit_cost=Decimal("5"), chargeable=False,
        )  # fmt: skip
        work_orders.update_work_order(session, scope, order_id, {"chargeable": True})
    for to in ("assigned", "in_progress", "resolved"):
        move(plant, order_id, to, FRIDAY_5PM, team="plumbers")
    before_close = list(seen)

    move(plant, order_id, "closed", FRIDAY_5PM + timedelta(hours=1))

    assert before_close == []
    assert seen == [
        (
            order_id,
            "closed",
            [(f"Work order {order_id}: Tap washer × 3", Decimal("1.05"))],
        )
    ]


def test_a_chargeable_order_with_nobody_to_bill_is_not_closed(plant: Plant) -> None:
    order_id = report(plant, FRIDAY_5PM)  # staff report: no requester, no lease
    with plant.session() as (session, scope):
        work_orders.update_work_order(
            session,
            scope,
            order_id,
            {"chargeable": True, "charge_amount": Decimal("40")},
        )
    for to in ("assigned", "in_progress", "resolved"):
        move(plant, order_id, to, FRIDAY_5PM, team="plumbers")

    with pytest.raises(InvalidInputError) as refused:
        move(plant, order_id, "closed", FRIDAY_5PM + timedelta(hours=1))

    assert "has no tenant or requester to bill" in str(refused.value)
    with plant.session() as (session, _):
        assert session.get(WorkOrder, order_id).state == "resolved"
