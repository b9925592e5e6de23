"""Maintenance plans and statutory inspections becoming work orders, by a job
driven with a controlled clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import AuditEntry, ChecklistItem, WorkOrder
from cloud.services import maintenance, work_orders
from cloud.services.errors import InvalidInputError
from tests.cloud.helpers import Login, created
from tests.cloud.maintenance_setup import Plant, make_plant

API = "/api/v1"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def plan_fields(plant: Plant, **fields: Any) -> dict[str, Any]:
    return {
        "equipment_id": plant.equipment_id,
        "name": "Monthly pump service",
        "interval_unit": "months",
        "interval_count": 1,
        "cron": None,
        "anchor": "schedule",
        "first_due_on": date(2026, 1, 31),
        "lead_days": 0,
        "category": "pump",
        "urgency": "normal",
        "title": "Service booster pump",
        "checklist": ["Check pressure", "Grease bearings"],
        "estimated_hours": None,
    } | fields


def make_plan(plant: Plant, **fields: Any) -> int:
    with plant.session() as (session, scope):
        return maintenance.create_plan(session, scope, plan_fields(plant, **fields)).id


def due_dates(plant: Plant, plan_id: int) -> list[date]:
    with plant.session() as (session, _):
        return list(
            session.scalars(
                sa.select(WorkOrder.plan_due_on)
                .where(WorkOrder.plan_id == plan_id)
                .order_by(WorkOrder.plan_due_on)
            )
        )


def run(plant: Plant, now: datetime) -> list[int]:
    with plant.session() as (session, _):
        return maintenance.generate_plan_orders(session, now=now)


@pytest.fixture
def plant(app: FastAPI, client: TestClient, admin: Login) -> Plant:
    return make_plant(app, client, admin)


def test_a_plan_makes_one_order_per_period_across_a_three_month_outage(
    plant: Plant,
) -> None:
    plan_id = make_plan(plant)

    run(plant, at(2026, 1, 31, 6))
    first = due_dates(plant, plan_id)
    # The service is down from February to the end of April.
    run(plant, at(2026, 5, 2, 6))
    caught_up = due_dates(plant, plan_id)
    run(plant, at(2026, 5, 2, 6))
    run(plant, at(2026, 5, 20, 6))

    assert first == [date(2026, 1, 31)]
    assert len(caught_up) == 4
    assert due_dates(plant, plan_id) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_each_order_carries_the_whole_template(plant: Plant) -> None:
    plan_id = make_plan(plant, estimated_hours="1.5", lead_days=10)

    run(plant, at(2026, 1, 21, 0))

    with plant.session() as (session, _):
        (order_id,) = session.scalars(
            sa.select(WorkOrder.id).where(WorkOrder.plan_id == plan_id)
        )
        order = session.get(WorkOrder, order_id)
        items = work_orders.children(session, ChecklistItem, order_id)
    assert order is not None
    assert (order.category, order.source, order.equipment_id) == (
        "pump",
        "plan",
        plant.equipment_id,
    )
    assert order.plan_due_on == date(2026, 1, 31)  # made 10 days ahead
    assert str(order.estimated_hours) == "1.5"
    assert order.building_id == plant.building_id
    assert [item.text for item in items] == ["Check pressure", "Grease bearings"]


def test_weekly_and_cron_plans(plant: Plant) -> None:
    weekly = make_plan(
        plant, interval_unit="weeks", interval_count=2, first_due_on=date(2026, 3, 2)
    )
    # 08:00 on the first Monday of a quarter-month: cron "day 1 and 15".
    cron = make_plan(
        plant,
        interval_unit="cron",
        interval_count=None,
        cron="0 8 1,15 * *",
        first_due_on=date(2026, 3, 1),
    )

    run(plant, at(2026, 4, 1, 12))

    assert due_dates(plant, weekly) == [
        date(2026, 3, 2),
        date(2026, 3, 16),
        date(2026, 3, 30),
    ]
    assert due_dates(plant, cron) == [
        date(2026, 3, 1),
        date(2026, 3, 15),
        date(2026, 4, 1),
    ]


def test_a_completion_anchored_plan_waits_for_the_last_order(
    app: FastAPI, client: TestClient, admin: Login, plant: Plant
) -> None:
    plan_id = make_plan(
        plant, anchor="completion", interval_unit="days", interval_count=30
    )
    run(plant, at(2026, 1, 31, 6))
    with plant.session() as (session, _):
        (first,) = session.scalars(
            sa.select(WorkOrder.id).where(WorkOrder.plan_id == plan_id)
        )

    run(plant, at(2026, 4, 1, 6))
    while_open = due_dates(plant, plan_id)
    with plant.session() as (session, scope):
        for to in ("assigned", "in_progress", "resolved"):
            work_orders.transition(
                session, scope, first, to, team="pumps", now=at(2026, 4, 2, 9)
            )
    run(plant, at(2026, 4, 30, 6))
    before_due = due_dates(plant, plan_id)
    run(plant, at(2026, 5, 2, 6))

    assert while_open == before_due == [date(2026, 1, 31)]
    assert due_dates(plant, plan_id) == [date(2026, 1, 31), date(2026, 5, 2)]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"interval_unit": "cron", "cron": "every day"}, "cron", "not a valid cron"),
        ({"interval_count": None}, "interval_count", "interval_count is needed"),
        (
            {"interval_unit": "cron", "cron": "0 8 * * *", "anchor": "completion"},
            "anchor",
            "anchor it on 'schedule'",
        ),
    ],
    ids=["bad-cron", "no-count", "cron-on-completion"],
)
def test_a_plan_that_cannot_run_is_refused(
    plant: Plant, fields: dict[str, Any], field: str, reason: str
) -> None:
    with plant.session() as (session, scope), pytest.raises(InvalidInputError) as err:
        maintenance.create_plan(session, scope, plan_fields(plant, **fields))

    assert err.value.field == field
    assert reason in err.value.message


def test_a_statutory_inspection_opens_an_order_ahead_of_its_deadline(
    client: TestClient, admin: Login, plant: Plant
) -> None:
    inspection = created(
        client.post(
            f"{API}/equipment/{plant.equipment_id}/inspections",
            json={
                "kind": "Pressure vessel inspection",
                "authority": "City boiler office",
                "interval_months": 12,
                "next_due_on": "2026-06-30",
            },
            headers=admin.headers,
        )
    )

    with plant.session() as (session, _):
        too_early = maintenance.open_inspection_orders(session, now=at(2026, 5, 1))
        ahead = maintenance.open_inspection_orders(session, now=at(2026, 6, 1))
        once = maintenance.open_inspection_orders(session, now=at(2026, 6, 2))
        order = session.get(WorkOrder, ahead[0])
        assert order is not None
        urgency, source = order.urgency, order.source
        inspection_id = order.inspection_id

    assert too_early == once == []
    assert len(ahead) == 1
    assert (urgency, source, inspection_id) == (
        "normal",
        "inspection",
        inspection["id"],
    )


def test_the_jobs_run_without_a_caller_and_are_audited_per_organization(
    plant: Plant,
) -> None:
    plan_id = make_plan(plant)

    with plant.app.state.pams.session_factory() as session:  # no actor bound
        first = maintenance.run_jobs(session, now=at(2026, 3, 1, 6))
        again = maintenance.run_jobs(session, now=at(2026, 3, 1, 6))
        audited = session.scalars(
            sa.select(AuditEntry.organization_id).where(
                AuditEntry.entity == "work_orders",
                AuditEntry.actor == "system: maintenance plans",
                AuditEntry.property_id == plant.property_id,
            )
        ).all()

    assert first.plan_orders >= 2
    assert again.plan_orders == 0
    assert due_dates(plant, plan_id) == [date(2026, 1, 31), date(2026, 2, 28)]
    assert set(audited) == {plant.organization_id}
