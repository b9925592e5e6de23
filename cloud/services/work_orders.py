"""Work orders: reporting, the state machine, SLA clocks, labour, parts and rating.

States run new → assigned → in_progress ⇄ on_hold → resolved → closed, or to
cancelled from any state before resolved; the requester may reopen a resolved order
(back to in_progress) within ``REOPEN_DAYS``. Every change of state is a row in
``work_order_transitions``. Staff holding work_orders:write on the property move
orders along; the requester (an owner or tenant) may cancel a new order, reopen,
close (confirm) and rate a resolved one.

Other services call ``create_work_order`` (alarms: a water leak opens a plumbing
order) and register ``on_closed`` callbacks (billing: charge the tenant).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    ChecklistItem,
    Equipment,
    LabourEntry,
    Lease,
    LeaseStatus,
    LeaseUnit,
    PartUsed,
    Property,
    RoleGrant,
    SlaTarget,
    User,
    WorkOrder,
    WorkOrderPhoto,
    WorkOrderSource,
    WorkOrderState,
    WorkOrderTransition,
    WorkOrderWatcher,
)
from cloud.services import outbox, sla
from cloud.services.access import Permission, Scope
from cloud.services.equipment import locate
from cloud.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

logger = logging.getLogger(__name__)

C = TypeVar(
    "C", ChecklistItem, LabourEntry, PartUsed, WorkOrderPhoto, WorkOrderTransition
)

S = WorkOrderState
REOPEN_DAYS = 14
OPEN_STATES = frozenset({S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.ON_HOLD})
# Moves staff may make; the requester's are in ``_REQUESTER_MOVES``.
_STAFF_MOVES: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.ON_HOLD, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ASSIGNED, S.ON_HOLD, S.RESOLVED, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
_REQUESTER_MOVES: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.CANCELLED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
}

ClosedCallback = Callable[[Session, WorkOrder], None]
_ON_CLOSED: list[ClosedCallback] = []


def on_closed(callback: ClosedCallback) -> ClosedCallback:
    """Register ``callback(session, work_order)``, called in the transaction that
    closes a work order (billing turns ``chargeable_items()`` into charges)."""
    _ON_CLOSED.append(callback)
    return callback


# --- creating -----------------------------------------------------------------------


def create_work_order(
    session: Session,
    scope: Scope,
    *,
    property_id: int | None,
    source: str,
    source_ref: str | None = None,
    title: str,
    description: str = "",
    category: str,
    urgency: str,
    building_id: int | None = None,
    unit_id: int | None = None,
    equipment_id: int | None = None,
    location: str | None = None,
    requester_user_id: int | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """A new work order with its SLA due times; the first transition (to new) is
    recorded. Owners and tenants may report only on their own units."""
    now = now or datetime.now(UTC)
    where = locate(
        session,
        scope,
        property_id=property_id,
        building_id=building_id,
        unit_id=unit_id,
    )
    _require_create(scope, where.property_id, where.unit_id)
    if equipment_id is not None:
        _equipment(session, equipment_id, where.property_id)
    requester = session.get(User, requester_user_id) if requester_user_id else None
    record = WorkOrder(
        property_id=where.property_id,
        building_id=where.building_id,
        unit_id=where.unit_id,
        equipment_id=equipment_id,
        location=location,
        category=category,
        urgency=urgency,
        title=title,
        description=description,
        source=source,
        source_ref=source_ref,
        requester_user_id=requester_user_id,
        requester_person_id=requester.person_id if requester else None,
        state=S.NEW,
        created_at=now,
    )
    record.lease_id = _lease_of(session, record, now)
    _set_due_times(session, record, now)
    session.add(record)
    session.flush()
    _record_transition(session, scope, record, None, S.NEW, now, note=None)
    return record


def _require_create(scope: Scope, property_id: int, unit_id: int | None) -> None:
    if scope.can(Permission.WORK_ORDERS_WRITE, property_id):
        return
    owns = property_id in scope.own_properties.get(Permission.WORK_ORDERS_WRITE, ())
    if owns and unit_id is not None and unit_id in scope.own_unit_ids:
        return
    raise PermissionDeniedError(
        f"None of your roles grants {Permission.WORK_ORDERS_WRITE} on property "
        f"{property_id}" + ("" if unit_id is None else f" for unit {unit_id}") + ".",
        field="unit_id" if unit_id is not None else "property_id",
    )


def _equipment(session: Session, equipment_id: int, property_id: int) -> Equipment:
    item = session.get(Equipment, equipment_id)
    if item is None or item.property_id != property_id:
        raise InvalidInputError(
            f"Equipment {equipment_id} is not in property {property_id}.",
            field="equipment_id",
        )
    return item


def _lease_of(session: Session, record: WorkOrder, now: datetime) -> int | None:
    """The requester's active lease of the unit: whom a chargeable repair bills."""
    if record.unit_id is None or record.requester_person_id is None:
        return None
    return session.scalar(
        sa.select(Lease.id)
        .join(LeaseUnit, LeaseUnit.lease_id == Lease.id)
        .where(
            LeaseUnit.unit_id == record.unit_id,
            Lease.tenant_id == record.requester_person_id,
            Lease.status == LeaseStatus.ACTIVE,
        )
        .limit(1)
    )


def source_of(scope: Scope, property_id: int) -> str:
    """How a report through the API is filed: by the reporter's role."""
    if scope.can(Permission.WORK_ORDERS_WRITE, property_id):
        return WorkOrderSource.STAFF
    if scope.own_lease_ids and scope.person_id is not None:
        return WorkOrderSource.TENANT
    return WorkOrderSource.OWNER


# --- SLA ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    response_minutes: int
    resolution_minutes: int
    warn_minutes: int
    calendar: sla.Calendar | None


def target_for(session: Session, record: WorkOrder) -> Target:
    """The property's target for the category and urgency, else for the urgency,
    else the defaults."""
    rows = session.scalars(
        sa.select(SlaTarget).where(
            SlaTarget.property_id == record.property_id,
            SlaTarget.urgency == record.urgency,
            sa.or_(SlaTarget.category.is_(None), SlaTarget.category == record.category),
        )
    ).all()
    row = max(rows, key=lambda r: r.category is not None, default=None)
    if row is None:
        respond, resolve = sla.DEFAULT_TARGETS[record.urgency]
        return Target(respond, resolve, sla.DEFAULT_WARN_MINUTES, None)
    calendar = (
        sla.Calendar(row.timezone, row.day_starts, row.day_ends)
        if row.business_hours
        else None
    )
    return Target(
        row.response_minutes, row.resolution_minutes, row.warn_minutes, calendar
    )


def _set_due_times(session: Session, record: WorkOrder, now: datetime) -> None:
    target = target_for(session, record)
    record.business_hours = target.calendar is not None
    record.response_due_at = sla.add_time(now, target.response_minutes, target.calendar)
    record.resolution_due_at = sla.add_time(
        now, target.resolution_minutes, target.calendar
    )


def _resume_clock(session: Session, record: WorkOrder, now: datetime) -> None:
    """Move the due times on by the time the SLA clock ran while paused."""
    if record.on_hold_since is None:
        return
    calendar = target_for(session, record).calendar
    paused = sla.running_between(record.on_hold_since, now, calendar)
    minutes = int(paused.total_seconds() // 60)
    if record.responded_at is None:
        record.response_due_at = sla.add_time(record.response_due_at, minutes, calendar)
    record.resolution_due_at = sla.add_time(record.resolution_due_at, minutes, calendar)
    record.on_hold_since = None


# --- moving along -------------------------------------------------------------------


def transition(
    session: Session,
    scope: Scope,
    work_order_id: int,
    to: str,
    *,
    note: str | None = None,
    assignee_user_id: int | None = None,
    team: str | None = None,
    pause_clock: bool = False,
    now: datetime | None = None,
) -> WorkOrder:
    now = now or datetime.now(UTC)
    record = scope.get(session, WorkOrder, work_order_id)
    if scope.can(Permission.WORK_ORDERS_WRITE, record.property_id):
        allowed = _STAFF_MOVES[record.state]
    elif _is_requester(scope, record):
        allowed = _REQUESTER_MOVES.get(record.state, frozenset())
    else:
        raise PermissionDeniedError(
            f"None of your roles grants {Permission.WORK_ORDERS_WRITE} on work "
            f"order {record.id}."
        )
    if to not in allowed:
        raise ConflictError(
            f"Work order {record.id} is {record.state}; it cannot move to {to} "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'}).",
        )
    _apply(session, scope, record, to, now, assignee_user_id, team, pause_clock)
    _record_transition(session, scope, record, record.state, to, now, note=note)
    record.state = to
    if to == S.CLOSED:
        for callback in list(_ON_CLOSED):
            callback(session, record)
    session.flush()
    return record


def _apply(
    session: Session,
    scope: Scope,
    record: WorkOrder,
    to: str,
    now: datetime,
    assignee_user_id: int | None,
    team: str | None,
    pause_clock: bool,
) -> None:
    if to == S.ASSIGNED:
        if assignee_user_id is None and team is None:
            raise InvalidInputError(
                "Assigning needs assignee_user_id or team.", field="assignee_user_id"
            )
        if assignee_user_id is not None:
            _check_technician(session, scope, record.property_id, assignee_user_id)
        record.assignee_user_id, record.team = assignee_user_id, team
    if to in (S.ASSIGNED, S.IN_PROGRESS) and record.responded_at is None:
        record.responded_at = now
        if now > record.response_due_at and record.response_breached_at is None:
            record.response_breached_at = record.response_due_at
    if record.state == S.ON_HOLD:
        _resume_clock(session, record, now)
    if to == S.ON_HOLD and pause_clock:
        record.on_hold_since = now
    if to == S.RESOLVED:
        record.resolved_at = now
        if now > record.resolution_due_at and record.resolution_breached_at is None:
            record.resolution_breached_at = record.resolution_due_at
    if record.state == S.RESOLVED and to == S.IN_PROGRESS:
        _check_reopen(scope, record, now)
        record.resolved_at = None
    if to in (S.CLOSED, S.CANCELLED):
        record.closed_at = now


def _check_reopen(scope: Scope, record: WorkOrder, now: datetime) -> None:
    assert record.resolved_at is not None
    if _is_requester(scope, record) and now - record.resolved_at > timedelta(
        days=REOPEN_DAYS
    ):
        raise ConflictError(
            f"Work order {record.id} was resolved on {record.resolved_at:%Y-%m-%d}, "
            f"more than {REOPEN_DAYS} days ago; report it anew."
        )


def _check_technician(
    session: Session,
    scope: Scope,
    property_id: int,
    user_id: int,
    field: str = "assignee_user_id",
) -> None:
    user = session.get(User, user_id)
    holds = session.scalar(
        sa.select(sa.func.count())
        .select_from(RoleGrant)
        .where(RoleGrant.user_id == user_id, RoleGrant.property_id == property_id)
        .where(RoleGrant.role.in_(("technician", "property_manager")))
    )
    if user is None or user.organization_id != scope.organization_id or not holds:
        raise InvalidInputError(
            f"User {user_id} is not a technician or manager of property {property_id}.",
            field=field,
        )


def _is_requester(scope: Scope, record: WorkOrder) -> bool:
    return (
        scope.actor.user_id is not None
        and record.requester_user_id == scope.actor.user_id
    )


def _record_transition(
    session: Session,
    scope: Scope,
    record: WorkOrder,
    from_state: str | None,
    to: str,
    now: datetime,
    *,
    note: str | None,
) -> None:
    session.add(
        WorkOrderTransition(
            work_order_id=record.id,
            property_id=record.property_id,
            from_state=from_state,
            to_state=to,
            at=now,
            by_user_id=scope.actor.user_id,
            by_label=scope.actor.label[:200],
            note=note,
        )
    )


def get_for_work(session: Session, scope: Scope, work_order_id: int) -> WorkOrder:
    """A work order the caller works on (staff with work_orders:write): labour,
    parts, checklists. Owners and tenants see the order but may not."""
    record = scope.get(session, WorkOrder, work_order_id)
    if not scope.can(Permission.WORK_ORDERS_WRITE, record.property_id):
        raise PermissionDeniedError(
            f"Only staff of property {record.property_id} work on work order "
            f"{record.id}."
        )
    return record


def _still_open(record: WorkOrder, what: str) -> None:
    """A closed order has been billed and a cancelled one is void: neither changes."""
    if record.state in (S.CLOSED, S.CANCELLED):
        raise ConflictError(
            f"Work order {record.id} is {record.state}; {what} cannot change now "
            "(open a new work order for further work)."
        )


def update_work_order(
    session: Session, scope: Scope, work_order_id: int, given: dict[str, object]
) -> WorkOrder:
    record = get_for_work(session, scope, work_order_id)
    _still_open(record, "its details")
    for name, value in given.items():
        if value is None and name in ("category", "description", "chargeable"):
            raise InvalidInputError(f"{name} cannot be null.", field=name)
        setattr(record, name, value)
    session.flush()
    return record


# --- checklists, labour, parts ----------------------------------------------------


def add_checklist_item(
    session: Session, scope: Scope, work_order_id: int, text: str
) -> ChecklistItem:
    record = get_for_work(session, scope, work_order_id)
    _still_open(record, "its checklist")
    last = session.scalar(
        sa.select(sa.func.max(ChecklistItem.position)).where(
            ChecklistItem.work_order_id == record.id
        )
    )
    item = ChecklistItem(
        work_order_id=record.id,
        property_id=record.property_id,
        position=(last or 0) + 1,
        text=text,
    )
    session.add(item)
    session.flush()
    return item


def tick_checklist_item(
    session: Session,
    scope: Scope,
    work_order_id: int,
    item_id: int,
    now: datetime | None = None,
) -> ChecklistItem:
    record = get_for_work(session, scope, work_order_id)
    item = session.get(ChecklistItem, item_id)
    if item is None or item.work_order_id != record.id:
        raise NotFoundError(f"Checklist item {item_id} not found.")
    item.done_at = now or datetime.now(UTC)
    item.done_by = scope.actor.label[:200]
    session.flush()
    return item


def add_labour(
    session: Session,
    scope: Scope,
    work_order_id: int,
    *,
    started_at: datetime,
    ended_at: datetime,
    hourly_rate: Decimal,
    technician_user_id: int | None = None,
    note: str | None = None,
) -> LabourEntry:
    record = get_for_work(session, scope, work_order_id)
    _still_open(record, "its labour")
    if ended_at <= started_at:
        raise InvalidInputError(
            f"ended_at {ended_at.isoformat()} is not after started_at "
            f"{started_at.isoformat()}.",
            field="ended_at",
        )
    technician = technician_user_id or scope.actor.user_id
    if technician is None:
        raise InvalidInputError(
            "Name the technician: technician_user_id.", field="technician_user_id"
        )
    if technician != scope.actor.user_id:
        _check_technician(
            session, scope, record.property_id, technician, "technician_user_id"
        )
    entry = LabourEntry(
        work_order_id=record.id,
        property_id=record.property_id,
        technician_user_id=technician,
        started_at=started_at,
        ended_at=ended_at,
        hourly_rate=hourly_rate,
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


def add_part(
    session: Session,
    scope: Scope,
    work_order_id: int,
    *,
    description: str,
    quantity: Decimal,
    unit_cost: Decimal,
    chargeable: bool,
) -> PartUsed:
    record = get_for_work(session, scope, work_order_id)
    _still_open(record, "its parts")
    part = PartUsed(
        work_order_id=record.id,
        property_id=record.property_id,
        description=description,
        quantity=quantity,
        unit_cost=unit_cost,
        chargeable=chargeable,
    )
    session.add(part)
    session.flush()
    return part


@dataclass(frozen=True)
class Costs:
    labour_hours: Decimal
    labour_cost: Decimal
    parts_cost: Decimal

    @property
    def total(self) -> Decimal:
        return self.labour_cost + self.parts_cost


SECONDS_PER_HOUR = Decimal(3600)
CENT = Decimal("0.01")


def labour_totals(entries: Iterable[LabourEntry]) -> tuple[Decimal, Decimal]:
    """Hours and cost, counting one technician's overlapping time once: each entry
    adds only the part of it no earlier-starting entry of theirs covered, at its
    own rate."""
    seconds = Decimal(0)
    cost = Decimal(0)
    by_technician: dict[int, list[LabourEntry]] = {}
    for entry in entries:
        by_technician.setdefault(entry.technician_user_id, []).append(entry)
    for own in by_technician.values():
        covered_until: datetime | None = None
        for entry in sorted(own, key=lambda e: (e.started_at, e.ended_at)):
            start = entry.started_at
            if covered_until is not None:
                start = max(start, covered_until)
            if entry.ended_at > start:
                span = Decimal(int((entry.ended_at - start).total_seconds()))
                seconds += span
                cost += span * entry.hourly_rate / SECONDS_PER_HOUR
            if covered_until is None or entry.ended_at > covered_until:
                covered_until = entry.ended_at
    return seconds / SECONDS_PER_HOUR, cost.quantize(CENT)


def costs(session: Session, record: WorkOrder) -> Costs:
    entries = session.scalars(
        sa.select(LabourEntry).where(LabourEntry.work_order_id == record.id)
    ).all()
    hours, labour_cost = labour_totals(entries)
    parts = session.scalars(
        sa.select(PartUsed).where(PartUsed.work_order_id == record.id)
    ).all()
    parts_cost = sum((p.quantity * p.unit_cost for p in parts), Decimal(0))
    return Costs(hours.quantize(CENT), labour_cost, parts_cost.quantize(CENT))


def chargeable_parts(record: WorkOrder) -> list[tuple[str, Decimal]]:
    session = sa.orm.object_session(record)
    if session is None:
        return []
    parts = session.scalars(
        sa.select(PartUsed)
        .where(PartUsed.work_order_id == record.id, PartUsed.chargeable.is_(True))
        .order_by(PartUsed.id)
    ).all()
    return [
        (
            f"Work order {record.id}: {p.description} × {p.quantity}",
            (p.quantity * p.unit_cost).quantize(CENT),
        )
        for p in parts
    ]


# --- rating -------------------------------------------------------------------------


def rate(
    session: Session,
    scope: Scope,
    work_order_id: int,
    *,
    rating: int,
    comment: str | None,
    now: datetime | None = None,
) -> WorkOrder:
    """The requester rates a resolved or closed order, once."""
    record = scope.get(session, WorkOrder, work_order_id)
    if not _is_requester(scope, record):
        raise PermissionDeniedError(
            f"Only the requester of work order {record.id} rates it."
        )
    if record.state not in (S.RESOLVED, S.CLOSED):
        raise ConflictError(
            f"Work order {record.id} is {record.state}; it can be rated once resolved."
        )
    if record.rating is not None:
        raise ConflictError(f"Work order {record.id} was rated already.")
    record.rating, record.rating_comment = rating, comment
    record.rated_at = now or datetime.now(UTC)
    session.flush()
    return record


# --- what hangs under an order; targets and watchers --------------------------------


def children(session: Session, model: type[C], work_order_id: int) -> list[C]:
    """The rows of ``model`` under one work order (already checked visible), in
    the order they were made."""
    return list(
        session.scalars(
            sa.select(model)
            .where(model.work_order_id == work_order_id)
            .order_by(model.id)
        )
    )


def create_sla_target(
    session: Session, scope: Scope, fields: dict[str, Any]
) -> SlaTarget:
    scope.get(session, Property, fields["property_id"], field="property_id")
    scope.require_on(Permission.WORK_ORDERS_WRITE, fields["property_id"])
    if fields["day_ends"] <= fields["day_starts"]:
        raise InvalidInputError(
            f"day_ends {fields['day_ends']} is not after day_starts "
            f"{fields['day_starts']}.",
            field="day_ends",
        )
    try:
        ZoneInfo(fields["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"{fields['timezone']!r} is not a known time zone.", field="timezone"
        ) from None
    clash = session.scalar(
        sa.select(SlaTarget.id).where(
            SlaTarget.property_id == fields["property_id"],
            SlaTarget.urgency == fields["urgency"],
            SlaTarget.category.is_(None)
            if fields["category"] is None
            else SlaTarget.category == fields["category"],
        )
    )
    if clash is not None:
        raise ConflictError(
            f"SLA target {clash} already covers {fields['urgency']} "
            f"{fields['category'] or 'work'} in property {fields['property_id']}."
        )
    record = SlaTarget(**fields)
    session.add(record)
    session.flush()
    return record


def create_watcher(
    session: Session, scope: Scope, fields: dict[str, Any]
) -> WorkOrderWatcher:
    scope.get(session, Property, fields["property_id"], field="property_id")
    scope.require_on(Permission.WORK_ORDERS_WRITE, fields["property_id"])
    record = WorkOrderWatcher(**fields)
    session.add(record)
    session.flush()
    return record


def act_for_property(session: Session, property_id: int, label: str) -> Scope:
    """Bind the system scope of the property's organization to the session, for a
    job's writes about that property (flush them before acting for another)."""
    organization_id = session.scalar(
        sa.select(Property.organization_id).where(Property.id == property_id)
    )
    assert organization_id is not None
    scope = Scope.system(organization_id, label)
    scope.bind(session)
    return scope


# --- the SLA job ----------------------------------------------------------------------


@dataclass(frozen=True)
class SlaAlert:
    work_order_id: int
    kind: str  # response_warning, response_breach, resolution_warning, …


def check_slas(session: Session, *, now: datetime) -> list[SlaAlert]:
    """Warn before a response or resolution target is missed and record the
    breach once it is, each once per order, through the outbox to the property's
    watchers. Orders whose clock is paused are skipped. Commit afterwards."""
    alerts: list[SlaAlert] = []
    running = session.scalars(
        sa.select(WorkOrder)
        .where(WorkOrder.state.in_(OPEN_STATES), WorkOrder.on_hold_since.is_(None))
        .where(
            sa.or_(
                WorkOrder.response_breached_at.is_(None),
                WorkOrder.resolution_breached_at.is_(None),
            )
        )
        .order_by(WorkOrder.id)
    ).all()
    for record in running:
        act_for_property(session, record.property_id, "SLA check")
        warn = timedelta(minutes=target_for(session, record).warn_minutes)
        for kind in ("response", "resolution"):
            if kind == "response" and record.responded_at is not None:
                continue
            alert = _sla_step(record, kind, now, warn)
            if alert is not None:
                alerts.append(alert)
                _notify(session, record, alert)
        session.flush()
    return alerts


def _sla_step(
    record: WorkOrder, kind: str, now: datetime, warn: timedelta
) -> SlaAlert | None:
    due: datetime = getattr(record, f"{kind}_due_at")
    if getattr(record, f"{kind}_breached_at") is not None:
        return None
    if now >= due:
        setattr(record, f"{kind}_breached_at", due)
        return SlaAlert(record.id, f"{kind}_breach")
    if now >= due - warn and getattr(record, f"{kind}_warned_at") is None:
        setattr(record, f"{kind}_warned_at", now)
        return SlaAlert(record.id, f"{kind}_warning")
    return None


def _notify(session: Session, record: WorkOrder, alert: SlaAlert) -> None:
    organization_id = session.scalar(
        sa.select(Property.organization_id).where(Property.id == record.property_id)
    )
    assert organization_id is not None
    watchers = session.scalars(
        sa.select(WorkOrderWatcher).where(
            WorkOrderWatcher.property_id == record.property_id
        )
    ).all()
    due = getattr(record, alert.kind.split("_")[0] + "_due_at")
    payload = {
        "kind": alert.kind,
        "work_order_id": record.id,
        "title": record.title,
        "urgency": record.urgency,
        "state": record.state,
        "due_at": due.isoformat(),
        "assignee_user_id": record.assignee_user_id,
    }
    for watcher in watchers:
        outbox.enqueue(
            session,
            organization_id=organization_id,
            channel=watcher.channel,
            recipient=watcher.label,
            target=watcher.target,
            topic=f"work_order:{record.id}",
            payload=payload,
            dedup_key=f"work_order:{record.id}:{alert.kind}:{watcher.id}",
        )
