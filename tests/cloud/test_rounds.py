"""Inspection rounds: tasks made by a job, QR check-ins in the window, a not-ok
checkpoint opening a work order that keeps the round open until it closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import RoundTask, WorkOrder
from cloud.services import rounds, work_orders
from cloud.services.errors import ConflictError, InvalidInputError
from tests.cloud.helpers import Login
from tests.cloud.maintenance_setup import Plant, make_plant

START = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


@pytest.fixture
def plant(app: FastAPI, client: TestClient, admin: Login) -> Plant:
    return make_plant(app, client, admin)


def make_round(plant: Plant) -> tuple[int, list[str]]:
    """A nightly round of two checkpoints; its plan id and QR tokens."""
    with plant.session() as (session, scope):
        plan = rounds.create_round_plan(
            session,
            scope,
            property_id=plant.property_id,
            name="Night walk",
            every_hours=24,
            window_minutes=120,
            first_starts_at=START,
            assignee_user_id=None,
            category="plumbing",
            checkpoints=[
                {"name": "Pump room", "check_kind": "ok"},
                {"name": "Water tank", "check_kind": "reading"},
            ],
        )
        tokens = [c.qr_token for c in rounds.checkpoints_of(session, plan.id)]
        return plan.id, tokens


def task_of(plant: Plant, plan_id: int, now: datetime) -> int:
    with plant.session() as (session, _):
        rounds.generate_round_tasks(session, now=now)
        return rounds.tasks_of(session, plan_id)[-1].id


def state_of(plant: Plant, task_id: int) -> str:
    with plant.session() as (session, _):
        task = session.get(RoundTask, task_id)
        assert task is not None
        return task.state


def test_a_not_ok_checkpoint_opens_an_order_and_the_round_waits_for_it(
    plant: Plant,
) -> None:
    plan_id, (pump_room, tank) = make_round(plant)
    task_id = task_of(plant, plan_id, START + timedelta(minutes=1))
    walk = START + timedelta(minutes=20)

    with plant.session() as (session, scope):
        rounds.check_in(session, scope, task_id, qr_token=pump_room, ok=True, now=walk)
        leak = rounds.check_in(
            session,
            scope,
            task_id,
            qr_token=tank,
            ok=False,
            reading=Decimal("3.2"),
            note="Overflow pipe dripping",
            now=walk + timedelta(minutes=5),
        )
        order_id = leak.work_order_id
    after_walk = state_of(plant, task_id)
    with plant.session() as (session, _):
        rounds.flag_overdue(session, now=START + timedelta(hours=3))
    after_window = state_of(plant, task_id)
    with plant.session() as (session, scope):
        assert order_id is not None
        for to in ("assigned", "in_progress", "resolved"):
            work_orders.transition(session, scope, order_id, to, team="plumbers")
        resolved_only = session.get(RoundTask, task_id).state  # type: ignore[union-attr]
        work_orders.transition(session, scope, order_id, "closed")
        order = session.get(WorkOrder, order_id)
        assert order is not None
        source, title = order.source, order.title

    assert (after_walk, after_window, resolved_only) == ("open", "open", "open")
    assert state_of(plant, task_id) == "completed"
    assert source == "round"
    assert title == "Water tank: not OK on round 'Night walk'"


def test_missed_rounds_and_skipped_checkpoints_are_flagged(plant: Plant) -> None:
    plan_id, (pump_room, _tank) = make_round(plant)
    # Two nights pass with the job running only after both.
    with plant.session() as (session, _):
        rounds.generate_round_tasks(session, now=START + timedelta(days=1, hours=1))
        first, second = (t.id for t in rounds.tasks_of(session, plan_id))
    with plant.session() as (session, scope):
        rounds.check_in(
            session,
            scope,
            second,
            qr_token=pump_room,
            ok=True,
            now=START + timedelta(days=1, minutes=30),
        )
        flagged = rounds.flag_overdue(session, now=START + timedelta(days=2))
        tasks = {t.id: t for t in rounds.tasks_of(session, plan_id)}
        missed = (tasks[first].state, tasks[first].missed)
        skipped = (tasks[second].state, tasks[second].skipped_checkpoints)

    assert set(flagged) >= {first, second}
    assert missed == ("missed", True)
    assert skipped == ("completed", 1)


def test_check_ins_need_the_right_token_in_the_window(plant: Plant) -> None:
    plan_id, (pump_room, tank) = make_round(plant)
    _, (foreign_token, _) = make_round(plant)
    task_id = task_of(plant, plan_id, START)

    def check(token: str, minutes: int, **extra: object) -> None:
        with plant.session() as (session, scope):
            rounds.check_in(
                session,
                scope,
                task_id,
                qr_token=token,
                ok=True,
                now=START + timedelta(minutes=minutes),
                **extra,  # type: ignore[arg-type]
            )

    with pytest.raises(InvalidInputError) as wrong_round:
        check(foreign_token, 10)
    with pytest.raises(InvalidInputError) as no_reading:
        check(tank, 10)
    with pytest.raises(ConflictError) as too_late:
        check(pump_room, 121)
    check(pump_room, 10)
    with pytest.raises(ConflictError) as twice:
        check(pump_room, 11)

    assert wrong_round.value.field == "qr_token"
    assert "not one of the checkpoints" in wrong_round.value.message
    assert "needs a reading" in no_reading.value.message
    assert "runs from 2026-03-02T22:00:00+00:00 to 2026-03-03T00:00:00" in (
        too_late.value.message
    )
    assert "is done already" in twice.value.message
