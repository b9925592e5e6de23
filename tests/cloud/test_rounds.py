"""Inspection rounds: tasks made by a job, QR check-ins in the window, a not-ok
checkpoint opening a work order that keeps the round open until it closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import BadgeSwipe, RoundTask, User, WorkOrder
from cloud.services import rounds, work_orders
from cloud.services.access import load_scope
from cloud.services.errors import ConflictError, InvalidInputError
from tests.cloud.helpers import (
    Login,
    RegisteredGateway,
    batch,
    created,
    make_user,
)
from tests.cloud.maintenance_setup import API, Plant, make_plant, me

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


def test_a_badge_swipe_at_the_checkpoint_reader_proves_presence(
    app: FastAPI,
    client: TestClient,
    admin: Login,
    gateway: RegisteredGateway,
    plant: Plant,
) -> None:
    walker = make_user(app, client, admin, [(plant.property_id, "technician")])
    walker_id = me(client, walker)["id"]
    created(
        client.post(
            f"{API}/staff-badges",
            json={"user_id": walker_id, "card_hex": "02A4C9F1"},
            headers=admin.headers,
        )
    )
    with plant.session() as (session, scope):
        plan = rounds.create_round_plan(
            session,
            scope,
            property_id=plant.property_id,
            name="Door round",
            every_hours=24,
            window_minutes=60,
            first_starts_at=START,
            assignee_user_id=walker_id,
            category="security",
            checkpoints=[
                {
                    "name": "Back door",
                    "reader_gateway_id": gateway.id,
                    "reader_device_id": "door-1",
                }
            ],
        )
        (checkpoint,) = rounds.checkpoints_of(session, plan.id)
        checkpoint_id, plan_id = checkpoint.id, plan.id
    task_id = task_of(plant, plan_id, START)

    def swipe(seq: int, card: str, minutes: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "device_id": "door-1",
            "ts": (START + timedelta(minutes=minutes)).isoformat(),
            "kind": "card_read",
            "data": {"format": "wiegand", "bits": 26, "hex": card},
        }

    events = [
        swipe(1, "02a4c9f1", 10),  # the walker, in the window
        swipe(2, "ffffffff", 11),  # a card nobody holds
        swipe(3, "02a4c9f1", 90),  # the walker, after the window
    ]
    for _ in range(2):  # the same batch twice
        answer = client.post(
            f"{API}/ingest",
            json=batch(gateway.id, 1, 3, readings=[], events=events),
            headers=gateway.headers,
        )
        assert answer.status_code == 200, answer.text

    with app.state.pams.session_factory() as session:
        swipes = session.scalars(
            sa.select(BadgeSwipe.seq).where(BadgeSwipe.round_task_id == task_id)
        ).all()
        user = session.get(User, walker_id)
        assert user is not None
        scope = load_scope(session, user)
        scope.bind(session)
        check = rounds.check_in(
            session,
            scope,
            task_id,
            checkpoint_id=checkpoint_id,
            ok=True,
            now=START + timedelta(minutes=12),
        )
        session.commit()
        proof = check.proof

    assert swipes == [1]
    assert proof == "badge"
    assert state_of(plant, task_id) == "completed"


def test_a_check_in_by_badge_needs_a_swipe(plant: Plant) -> None:
    plan_id, _ = make_round(plant)
    task_id = task_of(plant, plan_id, START)
    with plant.session() as (session, scope):
        (checkpoint, _) = rounds.checkpoints_of(session, plan_id)
        with pytest.raises(InvalidInputError) as no_swipe:
            rounds.check_in(
                session,
                scope,
                task_id,
                checkpoint_id=checkpoint.id,
                ok=True,
                now=START + timedelta(minutes=5),
            )
        with pytest.raises(InvalidInputError) as both:
            rounds.check_in(
                session,
                scope,
                task_id,
                qr_token=checkpoint.qr_token,
                checkpoint_id=checkpoint.id,
                ok=True,
                now=START + timedelta(minutes=5),
            )

    assert no_swipe.value.field == "checkpoint_id"
    assert "No swipe of your badge" in no_swipe.value.message
    assert "Give either qr_token" in both.value.message
