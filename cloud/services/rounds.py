"""Inspection rounds: route plans, the tasks a job makes of them, and check-ins.

A round plan repeats every ``every_hours`` from ``first_starts_at``; each repetition
is a task with a time window, made by ``generate_round_tasks(session, now=…)``
(idempotent: unique plan + window start). At each checkpoint the walker proves
presence with the checkpoint's QR token, or by swiping their badge at the OSDP
reader placed there (a ``card_read`` event), inside the window, and records ok or
not ok (and a reading). A not-ok result opens a work order; the task stays open until
every checkpoint is done and every order it opened is closed. ``flag_overdue``
marks tasks whose window passed: missed when nothing was checked, otherwise the
number of checkpoints skipped.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    BadgeSwipe,
    Checkpoint,
    Gateway,
    Property,
    RoundCheck,
    RoundPlan,
    RoundTask,
    StaffBadge,
    User,
    WorkOrder,
    WorkOrderSource,
    WorkOrderState,
)
from cloud.services import events, work_orders
from cloud.services.access import Permission, Scope
from cloud.services.errors import (
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from sync.schema import Event

OPEN, COMPLETED, MISSED = "open", "completed", "missed"
MAX_CATCH_UP = 500  # tasks made per plan per run, at most
FINISHED = frozenset({WorkOrderState.CLOSED, WorkOrderState.CANCELLED})


def create_round_plan(
    session: Session,
    scope: Scope,
    *,
    property_id: int,
    name: str,
    every_hours: int,
    window_minutes: int,
    first_starts_at: datetime,
    assignee_user_id: int | None,
    category: str,
    checkpoints: list[dict[str, Any]],
) -> RoundPlan:
    scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.WORK_ORDERS_WRITE, property_id)
    if window_minutes > every_hours * 60:
        raise InvalidInputError(
            f"window_minutes {window_minutes} is longer than the {every_hours} h "
            "between rounds.",
            field="window_minutes",
        )
    if assignee_user_id is not None:
        user = session.get(User, assignee_user_id)
        if user is None or user.organization_id != scope.organization_id:
            raise InvalidInputError(
                f"User {assignee_user_id} not found.", field="assignee_user_id"
            )
    plan = RoundPlan(
        property_id=property_id,
        name=name,
        every_hours=every_hours,
        window_minutes=window_minutes,
        first_starts_at=first_starts_at,
        assignee_user_id=assignee_user_id,
        category=category,
    )
    session.add(plan)
    session.flush()
    for position, fields in enumerate(checkpoints, start=1):
        session.add(
            Checkpoint(
                round_plan_id=plan.id,
                property_id=property_id,
                position=position,
                qr_token=secrets.token_urlsafe(16),
                **fields,
            )
        )
    session.flush()
    return plan


def checkpoints_of(session: Session, plan_id: int) -> list[Checkpoint]:
    return list(
        session.scalars(
            sa.select(Checkpoint)
            .where(Checkpoint.round_plan_id == plan_id)
            .order_by(Checkpoint.position)
        )
    )


def tasks_of(session: Session, plan_id: int) -> list[RoundTask]:
    return list(
        session.scalars(
            sa.select(RoundTask)
            .where(RoundTask.round_plan_id == plan_id)
            .order_by(RoundTask.window_starts_at)
        )
    )


def checks_of(session: Session, task_id: int) -> list[RoundCheck]:
    return list(
        session.scalars(
            sa.select(RoundCheck)
            .where(RoundCheck.round_task_id == task_id)
            .order_by(RoundCheck.id)
        )
    )


# --- the jobs -----------------------------------------------------------------------


def generate_round_tasks(session: Session, *, now: datetime) -> list[int]:
    """A task for every window of every active plan started by ``now`` that has
    none yet; returns the ids made. Commit afterwards."""
    made: list[int] = []
    plans = session.scalars(
        sa.select(RoundPlan).where(RoundPlan.active.is_(True)).order_by(RoundPlan.id)
    ).all()
    for plan in plans:
        work_orders.act_for_property(session, plan.property_id, "round tasks")
        last = session.scalar(
            sa.select(sa.func.max(RoundTask.window_starts_at)).where(
                RoundTask.round_plan_id == plan.id
            )
        )
        every = timedelta(hours=plan.every_hours)
        start = plan.first_starts_at if last is None else last + every
        for _ in range(MAX_CATCH_UP):
            if start > now:
                break
            task = RoundTask(
                round_plan_id=plan.id,
                property_id=plan.property_id,
                assignee_user_id=plan.assignee_user_id,
                window_starts_at=start,
                window_ends_at=start + timedelta(minutes=plan.window_minutes),
            )
            session.add(task)
            session.flush()
            made.append(task.id)
            start += every
    return made


def flag_overdue(session: Session, *, now: datetime) -> list[int]:
    """Tasks whose window has passed: missed if nothing was checked, else the
    checkpoints skipped are counted (and the task completes once its work orders
    are closed or cancelled); returns the ids newly flagged."""
    overdue = session.scalars(
        sa.select(RoundTask).where(
            RoundTask.state == OPEN, RoundTask.window_ends_at < now
        )
    ).all()
    flagged: list[int] = []
    for task in overdue:
        work_orders.act_for_property(session, task.property_id, "overdue rounds")
        expected = len(checkpoints_of(session, task.round_plan_id))
        done = len(checks_of(session, task.id))
        if done == 0:
            task.missed, task.state, task.closed_at = True, MISSED, now
            flagged.append(task.id)
            session.flush()
            continue
        if done < expected and task.skipped_checkpoints == 0:
            task.skipped_checkpoints = expected - done
            flagged.append(task.id)
        _close_if_done(session, task, now)
        session.flush()
    return flagged


# --- checking in --------------------------------------------------------------------


def check_in(
    session: Session,
    scope: Scope,
    task_id: int,
    *,
    qr_token: str | None = None,
    checkpoint_id: int | None = None,
    ok: bool,
    reading: Decimal | None = None,
    note: str | None = None,
    now: datetime,
) -> RoundCheck:
    """Record one checkpoint's result, proved by its QR token, in the window."""
    task = scope.get(session, RoundTask, task_id)
    _check_walker(scope, task)
    if task.state != OPEN:
        raise ConflictError(f"Round task {task.id} is {task.state}.")
    if not task.window_starts_at <= now <= task.window_ends_at:
        raise ConflictError(
            f"Round task {task.id} runs from {task.window_starts_at.isoformat()} to "
            f"{task.window_ends_at.isoformat()}; it is {now.isoformat()}."
        )
    checkpoint, proof = _proved_checkpoint(
        session, scope, task, qr_token=qr_token, checkpoint_id=checkpoint_id
    )
    if checkpoint.check_kind == "reading" and reading is None:
        raise InvalidInputError(
            f"Checkpoint {checkpoint.name!r} needs a reading.", field="reading"
        )
    done = session.scalar(
        sa.select(RoundCheck.id).where(
            RoundCheck.round_task_id == task.id,
            RoundCheck.checkpoint_id == checkpoint.id,
        )
    )
    if done is not None:
        raise ConflictError(
            f"Checkpoint {checkpoint.name!r} of round task {task.id} is done already."
        )
    check = RoundCheck(
        round_task_id=task.id,
        checkpoint_id=checkpoint.id,
        property_id=task.property_id,
        checked_at=now,
        proof=proof,
        ok=ok,
        reading=reading,
        note=note,
        by_user_id=scope.actor.user_id,
    )
    if not ok:
        check.work_order_id = _report(session, scope, task, checkpoint, note, now).id
    session.add(check)
    session.flush()
    _close_if_done(session, task, now)
    return check


def _proved_checkpoint(
    session: Session,
    scope: Scope,
    task: RoundTask,
    *,
    qr_token: str | None,
    checkpoint_id: int | None,
) -> tuple[Checkpoint, str]:
    """The checkpoint the walker proved to be at: by its QR token, or by a badge
    swipe of theirs at its reader during this task."""
    if (qr_token is None) == (checkpoint_id is None):
        raise InvalidInputError(
            "Give either qr_token (scanned) or checkpoint_id (badge swiped).",
            field="qr_token",
        )
    if qr_token is not None:
        checkpoint = session.scalar(
            sa.select(Checkpoint).where(
                Checkpoint.qr_token == qr_token,
                Checkpoint.round_plan_id == task.round_plan_id,
            )
        )
        if checkpoint is None:
            raise InvalidInputError(
                f"The QR token is not one of the checkpoints of round task {task.id}.",
                field="qr_token",
            )
        return checkpoint, "qr"
    swiped = session.scalar(
        sa.select(Checkpoint)
        .join(BadgeSwipe, BadgeSwipe.checkpoint_id == Checkpoint.id)
        .where(
            BadgeSwipe.round_task_id == task.id,
            BadgeSwipe.checkpoint_id == checkpoint_id,
            BadgeSwipe.user_id == scope.actor.user_id,
        )
        .limit(1)
    )
    if swiped is None:
        raise InvalidInputError(
            f"No swipe of your badge at checkpoint {checkpoint_id}'s reader during "
            f"round task {task.id}.",
            field="checkpoint_id",
        )
    return swiped, "badge"


def _check_walker(scope: Scope, task: RoundTask) -> None:
    if not scope.can(Permission.WORK_ORDERS_WRITE, task.property_id):
        raise PermissionDeniedError(
            f"None of your roles grants {Permission.WORK_ORDERS_WRITE} on round task "
            f"{task.id}."
        )
    user_id = scope.actor.user_id
    if task.assignee_user_id is not None and user_id not in (
        None,
        task.assignee_user_id,
    ):
        raise PermissionDeniedError(
            f"Round task {task.id} is assigned to user {task.assignee_user_id}."
        )


def _report(
    session: Session,
    scope: Scope,
    task: RoundTask,
    checkpoint: Checkpoint,
    note: str | None,
    now: datetime,
) -> WorkOrder:
    plan = session.get(RoundPlan, task.round_plan_id)
    assert plan is not None
    return work_orders.create_work_order(
        session,
        scope,
        property_id=task.property_id,
        building_id=checkpoint.building_id,
        source=WorkOrderSource.ROUND,
        source_ref=f"round_task:{task.id}:checkpoint:{checkpoint.id}",
        title=f"{checkpoint.name}: not OK on round {plan.name!r}",
        description=note or "",
        category=plan.category,
        urgency="normal",
        location=checkpoint.name,
        now=now,
    )


def _close_if_done(session: Session, task: RoundTask, now: datetime) -> None:
    """Completed once the window is over or every checkpoint is done, and every
    work order the round opened is closed or cancelled."""
    checks = checks_of(session, task.id)
    expected = len(checkpoints_of(session, task.round_plan_id))
    if len(checks) < expected and now <= task.window_ends_at:
        return
    orders = [c.work_order_id for c in checks if c.work_order_id is not None]
    if orders:
        states = session.scalars(
            sa.select(WorkOrder.state).where(WorkOrder.id.in_(orders))
        ).all()
        if any(state not in FINISHED for state in states):
            return
    task.state, task.closed_at = COMPLETED, now
    session.flush()


@work_orders.on_closed
def _order_closed(session: Session, order: WorkOrder) -> None:
    """A work order a round opened has closed: its round may be complete now."""
    if order.source != WorkOrderSource.ROUND:
        return
    task = session.scalar(
        sa.select(RoundTask)
        .join(RoundCheck, RoundCheck.round_task_id == RoundTask.id)
        .where(RoundCheck.work_order_id == order.id)
    )
    if task is not None and task.state == OPEN:
        _close_if_done(session, task, order.closed_at or task.window_ends_at)


# --- badge swipes ---------------------------------------------------------------------


@events.on_event("card_read")
def record_swipe(session: Session, gateway: Gateway, event: Event) -> None:
    """A card read at a checkpoint's reader, by a staff badge, inside an open task
    of that round meant for the badge's holder: keep it as proof. A batch sent
    twice records nothing new (unique gateway + seq + task)."""
    card = str(event.data.get("hex", "")).lower()
    if not card:
        return
    holder = session.scalar(
        sa.select(StaffBadge.user_id).where(
            StaffBadge.organization_id == gateway.organization_id,
            StaffBadge.card_hex == card,
        )
    )
    if holder is None:
        return
    at_reader = session.execute(
        sa.select(Checkpoint, RoundTask)
        .join(RoundTask, RoundTask.round_plan_id == Checkpoint.round_plan_id)
        .where(
            Checkpoint.reader_gateway_id == gateway.id,
            Checkpoint.reader_device_id == event.device_id,
            RoundTask.state == OPEN,
            RoundTask.window_starts_at <= event.ts,
            RoundTask.window_ends_at >= event.ts,
            sa.or_(
                RoundTask.assignee_user_id.is_(None),
                RoundTask.assignee_user_id == holder,
            ),
        )
    ).all()
    for checkpoint, task in at_reader:
        known = session.scalar(
            sa.select(BadgeSwipe.id).where(
                BadgeSwipe.gateway_id == gateway.id,
                BadgeSwipe.seq == event.seq,
                BadgeSwipe.round_task_id == task.id,
            )
        )
        if known is None:
            session.add(
                BadgeSwipe(
                    round_task_id=task.id,
                    checkpoint_id=checkpoint.id,
                    property_id=task.property_id,
                    user_id=holder,
                    gateway_id=gateway.id,
                    seq=event.seq,
                    at=event.ts,
                )
            )
    session.flush()


def add_badge(
    session: Session, scope: Scope, *, user_id: int, card_hex: str
) -> StaffBadge:
    scope.require_org_wide(Permission.USERS_MANAGE)
    user = session.get(User, user_id)
    if user is None or user.organization_id != scope.organization_id:
        raise InvalidInputError(f"User {user_id} not found.", field="user_id")
    card = card_hex.lower()
    taken = session.scalar(
        sa.select(StaffBadge.user_id).where(
            StaffBadge.organization_id == scope.organization_id,
            StaffBadge.card_hex == card,
        )
    )
    if taken is not None:
        raise ConflictError(f"Card {card} is already the badge of user {taken}.")
    badge = StaffBadge(
        organization_id=scope.organization_id, user_id=user_id, card_hex=card
    )
    session.add(badge)
    session.flush()
    return badge
