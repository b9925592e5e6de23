"""Properties, buildings, units, unit status history and ownership shares.

Write functions flush and leave the commit to the caller, so a CSV import can run
many of them in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    Building,
    OwnershipShare,
    Person,
    Property,
    Unit,
    UnitStatusChange,
)
from cloud.schemas.properties import (
    BuildingCreate,
    BuildingUpdate,
    OwnershipShareCreate,
    PropertyCreate,
    PropertyUpdate,
    UnitCreate,
    UnitUpdate,
)
from cloud.services.access import Permission, Scope
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.records import apply_changes, changes

# --- properties ------------------------------------------------------------------


def create_property(session: Session, scope: Scope, body: PropertyCreate) -> Property:
    """A new property; only organization administrators create properties, as
    nobody else holds a role before it exists."""
    scope.require_org_wide(Permission.PROPERTIES_WRITE)
    _free_property_code(session, scope.organization_id, body.code)
    record = Property(organization_id=scope.organization_id, **body.model_dump())
    session.add(record)
    session.flush()
    return record


def update_property(
    session: Session, scope: Scope, property_id: int, body: PropertyUpdate
) -> Property:
    record = scope.get_for_write(session, Property, property_id)
    given = changes(body, required=frozenset({"code", "name", "kind"}))
    if given.get("code", record.code) != record.code:
        _free_property_code(session, scope.organization_id, given["code"])
    apply_changes(record, given)
    session.flush()
    return record


def _free_property_code(session: Session, organization_id: int, code: str) -> None:
    taken = session.scalar(
        sa.select(Property.id).where(
            Property.organization_id == organization_id, Property.code == code
        )
    )
    if taken is not None:
        raise ConflictError(f"Property code {code!r} is already used.", field="code")


def property_by_code(session: Session, scope: Scope, code: str) -> Property | None:
    return session.scalar(scope.visible(Property).where(Property.code == code))


# --- buildings -------------------------------------------------------------------


def create_building(session: Session, scope: Scope, body: BuildingCreate) -> Building:
    parent = scope.get(session, Property, body.property_id, field="property_id")
    scope.require_on(Permission.PROPERTIES_WRITE, parent.id)
    _free_building_code(session, parent.id, body.code)
    record = Building(**body.model_dump())
    session.add(record)
    session.flush()
    return record


def update_building(
    session: Session, scope: Scope, building_id: int, body: BuildingUpdate
) -> Building:
    record = scope.get_for_write(session, Building, building_id)
    given = changes(body, required=frozenset({"code", "name"}))
    if given.get("code", record.code) != record.code:
        _free_building_code(session, record.property_id, given["code"])
    apply_changes(record, given)
    session.flush()
    return record


def _free_building_code(session: Session, property_id: int, code: str) -> None:
    taken = session.scalar(
        sa.select(Building.id).where(
            Building.property_id == property_id, Building.code == code
        )
    )
    if taken is not None:
        raise ConflictError(
            f"Building code {code!r} is already used in property {property_id}.",
            field="code",
        )


# --- units -----------------------------------------------------------------------


def create_unit(session: Session, scope: Scope, body: UnitCreate) -> Unit:
    building = scope.get(session, Building, body.building_id, field="building_id")
    scope.require_on(Permission.PROPERTIES_WRITE, building.property_id)
    _free_unit_number(session, building.id, body.number)
    record = Unit(property_id=building.property_id, **body.model_dump())
    session.add(record)
    session.flush()
    _record_status(session, scope, record, note="created")
    return record


def update_unit(session: Session, scope: Scope, unit_id: int, body: UnitUpdate) -> Unit:
    record = scope.get_for_write(session, Unit, unit_id)
    given = changes(body, required=frozenset({"number", "use", "status"}))
    note = given.pop("status_note", None)
    if given.get("number", record.number) != record.number:
        _free_unit_number(session, record.building_id, given["number"])
    status_changed = given.get("status", record.status) != record.status
    apply_changes(record, given)
    _check_areas(record.gross_area_m2, record.usable_area_m2)
    session.flush()
    if status_changed:
        _record_status(session, scope, record, note=note)
    return record


def _check_areas(gross: Decimal | None, usable: Decimal | None) -> None:
    if gross is not None and usable is not None and usable > gross:
        raise InvalidInputError(
            f"The usable area {usable} m² is more than the gross area {gross} m².",
            field="usable_area_m2",
        )


def _free_unit_number(session: Session, building_id: int, number: str) -> None:
    taken = session.scalar(
        sa.select(Unit.id).where(Unit.building_id == building_id, Unit.number == number)
    )
    if taken is not None:
        raise ConflictError(
            f"Unit {number!r} already exists in building {building_id}.",
            field="number",
        )


def _record_status(
    session: Session, scope: Scope, unit: Unit, *, note: str | None
) -> None:
    session.add(
        UnitStatusChange(
            unit_id=unit.id,
            property_id=unit.property_id,
            status=unit.status,
            changed_at=datetime.now(UTC),
            changed_by=scope.actor.label[:200],
            note=note,
        )
    )
    session.flush()


def status_history(
    session: Session, scope: Scope, unit_id: int
) -> list[UnitStatusChange]:
    unit = scope.get(session, Unit, unit_id)
    return list(
        session.scalars(
            sa.select(UnitStatusChange)
            .where(UnitStatusChange.unit_id == unit.id)
            .order_by(UnitStatusChange.changed_at, UnitStatusChange.id)
        )
    )


# --- ownership shares ------------------------------------------------------------


def add_ownership_share(
    session: Session, scope: Scope, unit_id: int, body: OwnershipShareCreate
) -> OwnershipShare:
    """Record a share; the shares of a unit current on any one day add up to 1 at
    most (checked on the day the new share starts)."""
    unit = scope.get_for_write(session, Unit, unit_id)
    person = scope.get(session, Person, body.person_id, field="person_id")
    held = _shares_held(session, unit.id, body)
    if held + body.share > 1:
        raise ConflictError(
            f"Unit {unit.id} already has shares adding up to {held}; another "
            f"{body.share} would exceed 1.",
            field="share",
        )
    record = OwnershipShare(
        unit_id=unit.id,
        property_id=unit.property_id,
        person_id=person.id,
        share=body.share,
        started_on=body.started_on,
        ended_on=body.ended_on,
    )
    session.add(record)
    session.flush()
    return record


def _shares_held(session: Session, unit_id: int, body: OwnershipShareCreate) -> Decimal:
    day = body.started_on or datetime.now(UTC).date()
    shares = session.scalars(
        sa.select(OwnershipShare.share).where(
            OwnershipShare.unit_id == unit_id,
            sa.or_(
                OwnershipShare.started_on.is_(None), OwnershipShare.started_on <= day
            ),
            sa.or_(OwnershipShare.ended_on.is_(None), OwnershipShare.ended_on >= day),
        )
    )
    return sum(shares, Decimal(0))


def list_ownership_shares(
    session: Session, scope: Scope, unit_id: int
) -> list[OwnershipShare]:
    unit = scope.get(session, Unit, unit_id)
    return list(
        session.scalars(
            scope.visible(OwnershipShare)
            .where(OwnershipShare.unit_id == unit.id)
            .order_by(OwnershipShare.id)
        )
    )


def remove_ownership_share(
    session: Session, scope: Scope, unit_id: int, share_id: int
) -> None:
    unit = scope.get(session, Unit, unit_id)
    share = scope.get_for_write(session, OwnershipShare, share_id)
    if share.unit_id != unit.id:
        raise NotFoundError(f"Unit {unit.id} has no ownership share {share_id}.")
    session.delete(share)
    session.flush()
