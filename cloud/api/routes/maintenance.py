"""Maintenance plans, inspection rounds and their tasks, and the caller's own
work (``/me``) for the mobile apps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import (
    MaintenancePlan,
    RoundPlan,
    RoundTask,
    StaffBadge,
    Urgency,
    WorkOrder,
    WorkOrderState,
)
from cloud.schemas.common import Listing
from cloud.schemas.work_orders import (
    CheckpointPublic,
    MaintenancePlanCreate,
    MaintenancePlanPublic,
    RoundCheckCreate,
    RoundCheckPublic,
    RoundPlanCreate,
    RoundPlanPublic,
    RoundTaskPublic,
    StaffBadgeCreate,
    StaffBadgePublic,
    WorkOrderPublic,
)
from cloud.services import maintenance, rounds
from cloud.services.access import Permission
from cloud.services.records import fetch_page, list_visible
from cloud.services.work_orders import OPEN_STATES

plans_router = APIRouter(prefix="/maintenance-plans", tags=["maintenance"])
rounds_router = APIRouter(prefix="/round-plans", tags=["inspection rounds"])
tasks_router = APIRouter(prefix="/round-tasks", tags=["inspection rounds"])
me_router = APIRouter(prefix="/me", tags=["mobile"])
badges_router = APIRouter(prefix="/staff-badges", tags=["inspection rounds"])

URGENCY_RANK = {u.value: rank for rank, u in enumerate(Urgency)}
# Resolved orders stay on the requester's list until closed: they confirm or rate.
SHOWN_OPEN = OPEN_STATES | {WorkOrderState.RESOLVED}


@plans_router.get("", response_model=Listing[MaintenancePlanPublic])
def list_plans(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    equipment_id: IdQuery = None,
) -> Any:
    filters = {
        MaintenancePlan.property_id: property_id,
        MaintenancePlan.equipment_id: equipment_id,
    }
    rows, count = list_visible(session, scope, MaintenancePlan, page, filters=filters)
    return {"data": rows, "count": count}


@plans_router.post(
    "", response_model=MaintenancePlanPublic, status_code=status.HTTP_201_CREATED
)
def create_plan(
    session: SessionDep, scope: ScopeDep, body: MaintenancePlanCreate
) -> Any:
    """Every ``interval_count`` days, weeks or months from ``first_due_on``, or on
    a ``cron`` expression; each work order is made ``lead_days`` ahead."""
    plan = maintenance.create_plan(session, scope, body.model_dump())
    session.commit()
    return plan


@plans_router.get("/{plan_id}", response_model=MaintenancePlanPublic)
def read_plan(session: SessionDep, scope: ScopeDep, plan_id: IdPath) -> Any:
    return scope.get(session, MaintenancePlan, plan_id)


# --- rounds -------------------------------------------------------------------------


@rounds_router.get("", response_model=Listing[RoundPlanPublic])
def list_round_plans(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    filters = {RoundPlan.property_id: property_id}
    rows, count = list_visible(session, scope, RoundPlan, page, filters=filters)
    return {"data": rows, "count": count}


@rounds_router.post(
    "", response_model=RoundPlanPublic, status_code=status.HTTP_201_CREATED
)
def create_round_plan(
    session: SessionDep, scope: ScopeDep, body: RoundPlanCreate
) -> Any:
    """The route's checkpoints in walking order; each gets a QR token to print."""
    fields = body.model_dump()
    plan = rounds.create_round_plan(session, scope, **fields)
    session.commit()
    return plan


@rounds_router.get("/{plan_id}/checkpoints", response_model=list[CheckpointPublic])
def list_checkpoints(session: SessionDep, scope: ScopeDep, plan_id: IdPath) -> Any:
    """With their QR tokens: staff who may change the plan only."""
    plan = scope.get_for_write(session, RoundPlan, plan_id)
    return rounds.checkpoints_of(session, plan.id)


@tasks_router.get("", response_model=Listing[RoundTaskPublic])
def list_round_tasks(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    round_plan_id: IdQuery = None,
    state: str | None = None,
) -> Any:
    filters = {
        RoundTask.property_id: property_id,
        RoundTask.round_plan_id: round_plan_id,
        RoundTask.state: state,
    }
    rows, count = list_visible(session, scope, RoundTask, page, filters=filters)
    return {"data": rows, "count": count}


@tasks_router.get("/{task_id}", response_model=RoundTaskPublic)
def read_round_task(session: SessionDep, scope: ScopeDep, task_id: IdPath) -> Any:
    return scope.get(session, RoundTask, task_id)


@tasks_router.get("/{task_id}/checks", response_model=list[RoundCheckPublic])
def list_checks(session: SessionDep, scope: ScopeDep, task_id: IdPath) -> Any:
    task = scope.get(session, RoundTask, task_id)
    return rounds.checks_of(session, task.id)


@tasks_router.post(
    "/{task_id}/checks",
    response_model=RoundCheckPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Outside the window, or done already."}},
)
def check_in(
    session: SessionDep, scope: ScopeDep, task_id: IdPath, body: RoundCheckCreate
) -> Any:
    """At a checkpoint, inside the task's window: its QR token proves presence;
    ``ok: false`` opens a work order, and the round stays open until it closes."""
    check = rounds.check_in(
        session, scope, task_id, **body.model_dump(), now=datetime.now(UTC)
    )
    session.commit()
    return check


# --- the caller's own ---------------------------------------------------------------


@me_router.get("/work-orders", response_model=Listing[WorkOrderPublic])
def my_work_orders(
    session: SessionDep, scope: ScopeDep, page: PageDep, open_only: bool = True
) -> Any:
    """Owners and tenants: what they reported and the orders of their units.
    Technicians: what is assigned to them. Most urgent first, then by due time."""
    scope.require(Permission.WORK_ORDERS_READ)
    mine = sa.or_(
        WorkOrder.requester_user_id == scope.actor.user_id,
        WorkOrder.assignee_user_id == scope.actor.user_id,
        WorkOrder.unit_id.in_(scope.own_unit_ids),
    )
    query = scope.visible(WorkOrder).where(mine)
    if open_only:
        query = query.where(WorkOrder.state.in_(sorted(SHOWN_OPEN)))
    rank = sa.case(URGENCY_RANK, value=WorkOrder.urgency, else_=len(URGENCY_RANK))
    query = query.order_by(rank, WorkOrder.resolution_due_at, WorkOrder.id)
    rows, count = fetch_page(session, query, page)
    return {"data": rows, "count": count}


@me_router.get("/round-tasks", response_model=Listing[RoundTaskPublic])
def my_round_tasks(session: SessionDep, scope: ScopeDep, page: PageDep) -> Any:
    """Open round tasks assigned to the caller, earliest window first."""
    scope.require(Permission.WORK_ORDERS_READ)
    query = (
        scope.visible(RoundTask)
        .where(
            RoundTask.assignee_user_id == scope.actor.user_id,
            RoundTask.state == rounds.OPEN,
        )
        .order_by(RoundTask.window_starts_at, RoundTask.id)
    )
    rows, count = fetch_page(session, query, page)
    return {"data": rows, "count": count}


# --- staff badges ---------------------------------------------------------------------


@badges_router.get("", response_model=Listing[StaffBadgePublic])
def list_badges(
    session: SessionDep, scope: ScopeDep, page: PageDep, user_id: IdQuery = None
) -> Any:
    rows, count = list_visible(
        session, scope, StaffBadge, page, filters={StaffBadge.user_id: user_id}
    )
    return {"data": rows, "count": count}


@badges_router.post(
    "", response_model=StaffBadgePublic, status_code=status.HTTP_201_CREATED
)
def add_badge(session: SessionDep, scope: ScopeDep, body: StaffBadgeCreate) -> Any:
    """A card a staff member swipes at checkpoint readers (organization
    administrators)."""
    badge = rounds.add_badge(
        session, scope, user_id=body.user_id, card_hex=body.card_hex
    )
    session.commit()
    return badge
