"""Maintenance plans and statutory inspections turned into work orders, by a job.

``generate_plan_orders(session, now=…)`` and ``open_inspection_orders(session,
now=…)`` are jobs: run them as often as you like. Each due date of a plan gets one
work order, made ``lead_days`` ahead, never two: the job looks for it first and the
database refuses a second (unique plan + due date). After an outage the next run
makes the orders of every period missed, each for its own due date.

A plan anchored on the ``schedule`` is due on fixed dates (first due date plus whole
intervals, or a cron expression's days); one anchored on ``completion`` is due one
interval after the last order of the plan was resolved, so only one is open at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from sqlalchemy.orm import Session

from cloud.billing.periods import add_months
from cloud.models import (
    ChecklistItem,
    Equipment,
    Inspection,
    MaintenancePlan,
    WorkOrder,
    WorkOrderSource,
)
from cloud.services import notices, rounds, work_orders
from cloud.services.access import Permission, Scope
from cloud.services.errors import InvalidInputError

logger = logging.getLogger(__name__)

MAX_CATCH_UP = 1000  # periods made in one run for one plan, at most
INSPECTION_LEAD_DAYS = 30


def create_plan(
    session: Session, scope: Scope, fields: dict[str, Any]
) -> MaintenancePlan:
    item = scope.get(session, Equipment, fields["equipment_id"], field="equipment_id")
    scope.require_on(Permission.WORK_ORDERS_WRITE, item.property_id)
    _check_interval(fields)
    plan = MaintenancePlan(property_id=item.property_id, **fields)
    session.add(plan)
    session.flush()
    return plan


def _check_interval(fields: dict[str, Any]) -> None:
    if fields["interval_unit"] == "cron":
        expression = fields.get("cron")
        if not expression or not croniter.is_valid(expression):
            raise InvalidInputError(
                f"cron {expression!r} is not a valid cron expression "
                "(minute hour day month weekday).",
                field="cron",
            )
        if fields["anchor"] == "completion":
            raise InvalidInputError(
                "A cron plan runs on its schedule; anchor it on 'schedule'.",
                field="anchor",
            )
        return
    if fields.get("interval_count") is None:
        raise InvalidInputError(
            f"interval_count is needed with interval_unit {fields['interval_unit']!r}.",
            field="interval_count",
        )
    if fields.get("cron") is not None:
        raise InvalidInputError("cron is only for interval_unit 'cron'.", field="cron")


def next_due(plan: MaintenancePlan, after: date) -> date:
    """The plan's first due date after ``after`` (schedule anchor)."""
    if plan.interval_unit == "cron":
        assert plan.cron is not None
        day = max(after, plan.first_due_on - timedelta(days=1))
        start = datetime.combine(day, time(23, 59), tzinfo=UTC)
        found: datetime = croniter(plan.cron, start).get_next(datetime)
        return found.date()
    if after < plan.first_due_on:
        return plan.first_due_on
    step = 0
    due = plan.first_due_on
    while due <= after:
        step += 1
        due = _nth(plan, plan.first_due_on, step)
    return due


def _nth(plan: MaintenancePlan, start: date, step: int) -> date:
    """``start`` plus ``step`` intervals, counted from ``start`` so that monthly
    plans on the 31st do not drift to the 28th."""
    count = (plan.interval_count or 1) * step
    if plan.interval_unit == "days":
        return start + timedelta(days=count)
    if plan.interval_unit == "weeks":
        return start + timedelta(weeks=count)
    return add_months(start, count)


def _schedule(
    plan: MaintenancePlan, since: date | None, horizon: date
) -> Iterator[date]:
    """Due dates after ``since`` (from the first, when None) up to ``horizon``."""
    due = plan.first_due_on if since is None else next_due(plan, since)
    made = 0
    while due <= horizon and made < MAX_CATCH_UP:
        yield due
        made += 1
        due = next_due(plan, due)


def _due_dates(session: Session, plan: MaintenancePlan, today: date) -> list[date]:
    horizon = today + timedelta(days=plan.lead_days)
    orders = sa.select(WorkOrder).where(WorkOrder.plan_id == plan.id)
    if plan.anchor == "schedule":
        last = session.scalar(
            sa.select(sa.func.max(WorkOrder.plan_due_on)).where(
                WorkOrder.plan_id == plan.id
            )
        )
        return list(_schedule(plan, last, horizon))
    latest = session.scalar(orders.order_by(WorkOrder.plan_due_on.desc()).limit(1))
    if latest is None:
        due = plan.first_due_on
    else:
        finished = latest.resolved_at or latest.closed_at  # closed: cancelled
        if finished is None or latest.plan_due_on is None:
            return []  # the last one is still open
        due = max(
            _nth(plan, finished.date(), 1), latest.plan_due_on + timedelta(days=1)
        )
    return [due] if due <= horizon else []


def generate_plan_orders(session: Session, *, now: datetime) -> list[int]:
    """Make the work orders of every active plan that are due by ``now`` plus
    their lead time; returns the ids made. Commit afterwards."""
    made: list[int] = []
    plans = session.scalars(
        sa.select(MaintenancePlan)
        .where(MaintenancePlan.active.is_(True))
        .order_by(MaintenancePlan.id)
    ).all()
    for plan in plans:
        scope = work_orders.act_for_property(
            session, plan.property_id, "maintenance plans"
        )
        for due in _due_dates(session, plan, now.date()):
            order = _order_for(session, scope, plan, due, now)
            if order is not None:
                made.append(order.id)
    return made


def _order_for(
    session: Session, scope: Scope, plan: MaintenancePlan, due: date, now: datetime
) -> WorkOrder | None:
    exists = session.scalar(
        sa.select(WorkOrder.id).where(
            WorkOrder.plan_id == plan.id, WorkOrder.plan_due_on == due
        )
    )
    if exists is not None:
        return None
    equipment = session.get(Equipment, plan.equipment_id)
    assert equipment is not None
    try:
        with session.begin_nested():
            order = work_orders.create_work_order(
                session,
                scope,
                property_id=plan.property_id,
                building_id=equipment.building_id,
                unit_id=equipment.unit_id,
                equipment_id=equipment.id,
                source=WorkOrderSource.PLAN,
                source_ref=f"plan:{plan.id}:{due.isoformat()}",
                title=f"{plan.title} (due {due.isoformat()})",
                category=plan.category,
                urgency=plan.urgency,
                now=now,
            )
            order.plan_id, order.plan_due_on = plan.id, due
            order.checklist_template = list(plan.checklist)
            order.estimated_hours = plan.estimated_hours
            for position, text in enumerate(plan.checklist, start=1):
                session.add(
                    ChecklistItem(
                        work_order_id=order.id,
                        property_id=order.property_id,
                        position=position,
                        text=text,
                    )
                )
            session.flush()
    except sa.exc.IntegrityError:
        logger.info("plan %d: the order due %s was made by another run", plan.id, due)
        return None
    return order


# --- statutory inspections ---------------------------------------------------------


def open_inspection_orders(
    session: Session, *, now: datetime, lead_days: int = INSPECTION_LEAD_DAYS
) -> list[int]:
    """A work order for each statutory inspection due within ``lead_days`` (or
    overdue) that has none for that due date; overdue ones are urgent."""
    today = now.date()
    due_soon = session.scalars(
        sa.select(Inspection)
        .where(Inspection.next_due_on <= today + timedelta(days=lead_days))
        .where(
            ~sa.exists().where(
                WorkOrder.inspection_id == Inspection.id,
                WorkOrder.inspection_due_on == Inspection.next_due_on,
            )
        )
        .order_by(Inspection.id)
    ).all()
    made: list[int] = []
    for inspection in due_soon:
        scope = work_orders.act_for_property(
            session, inspection.property_id, "statutory inspections"
        )
        equipment = session.get(Equipment, inspection.equipment_id)
        assert equipment is not None
        with session.begin_nested():
            order = work_orders.create_work_order(
                session,
                scope,
                property_id=inspection.property_id,
                building_id=equipment.building_id,
                unit_id=equipment.unit_id,
                equipment_id=equipment.id,
                source=WorkOrderSource.INSPECTION,
                source_ref=f"inspection:{inspection.id}:{inspection.next_due_on}",
                title=f"{inspection.kind} by {inspection.authority}, due "
                f"{inspection.next_due_on.isoformat()}",
                category="inspection",
                urgency="urgent" if inspection.next_due_on <= today else "normal",
                now=now,
            )
            order.inspection_id = inspection.id
            order.inspection_due_on = inspection.next_due_on
            session.flush()
        made.append(order.id)
    return made


@dataclass(frozen=True)
class JobRun:
    plan_orders: int
    inspection_orders: int
    round_tasks: int
    rounds_flagged: int
    sla_alerts: int
    notices_published: int


def run_jobs(session: Session, *, now: datetime) -> JobRun:
    """Every maintenance job once, each committed on its own: plans, statutory
    inspections, round tasks and overdue rounds, SLA warnings, due notices. Safe
    to run from a timer every minute; each job is idempotent."""
    counts = []
    for job in (
        generate_plan_orders,
        open_inspection_orders,
        rounds.generate_round_tasks,
        rounds.flag_overdue,
        work_orders.check_slas,
        notices.publish_due,
    ):
        counts.append(len(job(session, now=now)))
        session.commit()
    return JobRun(*counts)
