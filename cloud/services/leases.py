"""Leases, and the rule that a unit is in at most one active lease on any day.

The rule holds under concurrency: before looking for an overlapping lease the
service locks the lease's units (``SELECT … FOR UPDATE`` on PostgreSQL, the
database write lock on SQLite), so a second writer waits and then sees the first
one's lease. On PostgreSQL the exclusion constraint on ``lease_units`` backs this
up: an overlap that got past the service would still be refused at commit.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.db import is_postgresql
from cloud.models import (
    LEASE_OVERLAP_CONSTRAINT,
    Lease,
    LeaseStatus,
    LeaseUnit,
    Person,
    Unit,
)
from cloud.schemas.leases import LeaseCreate, LeaseUpdate
from cloud.services.access import Permission, Scope
from cloud.services.errors import ConflictError, InvalidInputError
from cloud.services.records import changes

# Which status a lease may move to from each status.
TRANSITIONS: dict[LeaseStatus, frozenset[LeaseStatus]] = {
    LeaseStatus.DRAFT: frozenset({LeaseStatus.ACTIVE, LeaseStatus.TERMINATED}),
    LeaseStatus.ACTIVE: frozenset({LeaseStatus.ENDED, LeaseStatus.TERMINATED}),
    LeaseStatus.ENDED: frozenset(),
    LeaseStatus.TERMINATED: frozenset(),
}


def create_lease(session: Session, scope: Scope, body: LeaseCreate) -> Lease:
    units = _units(session, scope, body.unit_ids)
    property_id = units[0].property_id
    scope.require_on(Permission.LEASES_WRITE, property_id)
    tenant = scope.get(session, Person, body.tenant_id, field="tenant_id")
    _free_reference(session, property_id, body.reference)
    lease = Lease(
        property_id=property_id,
        reference=body.reference,
        tenant_id=tenant.id,
        start_date=body.start_date,
        end_date=body.end_date,
        rent=body.rent,
        rent_period=body.rent_period.value,
        currency=body.currency,
        deposit=body.deposit,
        fee_rules=[rule.model_dump(mode="json") for rule in body.fee_rules],
        status=body.status.value,
    )
    lease.units = [_link(lease, unit.id) for unit in units]
    _refuse_overlap(session, lease)
    session.add(lease)
    _flush(session, lease)
    return lease


def update_lease(
    session: Session, scope: Scope, lease_id: int, body: LeaseUpdate
) -> Lease:
    lease = scope.get_for_write(session, Lease, lease_id)
    given: dict[str, Any] = changes(
        body,
        required=frozenset(
            {"unit_ids", "start_date", "rent", "rent_period", "currency", "status"}
        ),
    )
    if "status" in given:
        _check_transition(LeaseStatus(lease.status), LeaseStatus(given["status"]))
    unit_ids = given.pop("unit_ids", None)
    for name, value in given.items():
        if name == "fee_rules":
            value = [rule.model_dump(mode="json") for rule in body.fee_rules or []]
        setattr(lease, name, value)
    if lease.end_date is not None and lease.end_date < lease.start_date:
        raise InvalidInputError(
            f"end_date {lease.end_date} is before start_date {lease.start_date}.",
            field="end_date",
        )
    if unit_ids is not None:
        units = _units(session, scope, unit_ids)
        if any(unit.property_id != lease.property_id for unit in units):
            raise InvalidInputError(
                f"Every unit of lease {lease.id} must be in its property "
                f"{lease.property_id}.",
                field="unit_ids",
            )
        lease.units = [_link(lease, unit.id) for unit in units]
    for link in lease.units:
        _copy_terms(lease, link)
    _refuse_overlap(session, lease)
    _flush(session, lease)
    return lease


def _units(session: Session, scope: Scope, unit_ids: list[int]) -> list[Unit]:
    units = [scope.get(session, Unit, uid, field="unit_ids") for uid in unit_ids]
    properties = {unit.property_id for unit in units}
    if len(properties) > 1:
        raise InvalidInputError(
            f"The units of a lease must be in one property; these are in "
            f"{sorted(properties)}.",
            field="unit_ids",
        )
    return units


def _link(lease: Lease, unit_id: int) -> LeaseUnit:
    link = LeaseUnit(unit_id=unit_id, property_id=lease.property_id)
    _copy_terms(lease, link)
    return link


def _copy_terms(lease: Lease, link: LeaseUnit) -> None:
    link.start_date = lease.start_date
    link.end_date = lease.end_date
    link.blocks = LeaseStatus(lease.status).blocks


def _check_transition(current: LeaseStatus, wanted: LeaseStatus) -> None:
    if wanted != current and wanted not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise InvalidInputError(
            f"A lease that is {current} cannot become {wanted} (allowed: {allowed}).",
            field="status",
        )


def _free_reference(session: Session, property_id: int, reference: str) -> None:
    taken = session.scalar(
        sa.select(Lease.id).where(
            Lease.property_id == property_id, Lease.reference == reference
        )
    )
    if taken is not None:
        raise ConflictError(
            f"Lease reference {reference!r} is already used in property {property_id}.",
            field="reference",
        )


def _refuse_overlap(session: Session, lease: Lease) -> None:
    if not LeaseStatus(lease.status).blocks:
        return
    unit_ids = [link.unit_id for link in lease.units]
    with session.no_autoflush:
        lock_units(session, unit_ids)
        conflict = _first_overlap(session, lease, unit_ids)
    if conflict is not None:
        reference, unit_id, start, end = conflict
        raise ConflictError(
            f"Unit {unit_id} is already in active lease {reference!r} from {start} "
            f"to {end or 'open end'}, which overlaps {lease.start_date} to "
            f"{lease.end_date or 'open end'}.",
            field="unit_ids",
        )


def _first_overlap(
    session: Session, lease: Lease, unit_ids: list[int]
) -> sa.Row[str, int, date, date | None] | None:
    return session.execute(
        sa.select(Lease.reference, LeaseUnit.unit_id, Lease.start_date, Lease.end_date)
        .join(Lease, Lease.id == LeaseUnit.lease_id)
        .where(
            LeaseUnit.unit_id.in_(unit_ids),
            LeaseUnit.blocks,
            LeaseUnit.lease_id != (lease.id or 0),
            _overlaps(lease.start_date, lease.end_date),
        )
        .limit(1)
    ).first()


def _overlaps(start: date, end: date | None) -> sa.ColumnElement[bool]:
    """Inclusive date ranges, a null end meaning open-ended."""
    condition = sa.or_(LeaseUnit.end_date.is_(None), LeaseUnit.end_date >= start)
    if end is None:
        return condition
    return sa.and_(condition, LeaseUnit.start_date <= end)


def lock_units(session: Session, unit_ids: list[int]) -> None:
    """Hold the units until the transaction ends, so that checking them and
    writing a lease of them happen as one step for concurrent writers."""
    if is_postgresql(session):
        session.execute(
            sa.select(Unit.id)
            .where(Unit.id.in_(unit_ids))
            .order_by(Unit.id)
            .with_for_update()
        )
        return
    # SQLite locks the whole database for a writer; a write statement takes that
    # lock now (waiting for another writer to commit) instead of at the flush.
    session.connection().exec_driver_sql("UPDATE units SET id = id WHERE 0")


def _flush(session: Session, lease: Lease) -> None:
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        if LEASE_OVERLAP_CONSTRAINT not in str(exc.orig):
            raise
        session.rollback()
        raise ConflictError(
            f"Lease {lease.reference!r} overlaps another active lease of one of its "
            "units.",
            field="unit_ids",
        ) from exc


def delete_draft(session: Session, scope: Scope, lease_id: int) -> None:
    lease = scope.get_for_write(session, Lease, lease_id)
    if lease.status != LeaseStatus.DRAFT:
        raise ConflictError(
            f"Lease {lease.id} is {lease.status}; only drafts can be deleted. End "
            "or terminate it instead."
        )
    session.delete(lease)
    session.flush()
