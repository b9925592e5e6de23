"""The equipment ledger and statutory inspections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cloud.billing.periods import add_months
from cloud.models import Building, Equipment, Inspection, Property, Unit
from cloud.schemas.equipment import (
    EquipmentCreate,
    EquipmentUpdate,
    InspectionCreate,
    InspectionUpdate,
)
from cloud.services.access import Permission, Scope
from cloud.services.errors import InvalidInputError
from cloud.services.records import apply_changes, changes

MAX_PARENT_DEPTH = 50


@dataclass(frozen=True)
class Location:
    property_id: int
    building_id: int | None
    unit_id: int | None


def locate(
    session: Session,
    scope: Scope,
    *,
    property_id: int | None,
    building_id: int | None,
    unit_id: int | None,
) -> Location:
    """The property, building and unit of a location given as any of them, each
    checked to be visible and to agree with the others."""
    if unit_id is not None:
        unit = scope.get(session, Unit, unit_id, field="unit_id")
        _agree("building_id", building_id, unit.building_id, f"unit {unit.id}")
        _agree("property_id", property_id, unit.property_id, f"unit {unit.id}")
        return Location(unit.property_id, unit.building_id, unit.id)
    if building_id is not None:
        building = scope.get(session, Building, building_id, field="building_id")
        _agree("property_id", property_id, building.property_id, "the building")
        return Location(building.property_id, building.id, None)
    if property_id is None:
        raise InvalidInputError(
            "Give where it is: property_id, building_id or unit_id.",
            field="property_id",
        )
    found = scope.get(session, Property, property_id, field="property_id")
    return Location(found.id, None, None)


def _agree(field: str, given: int | None, actual: int, of: str) -> None:
    if given is not None and given != actual:
        raise InvalidInputError(
            f"{field} {given} is not the one of {of}, which is {actual}.", field=field
        )


def create_equipment(
    session: Session, scope: Scope, body: EquipmentCreate
) -> Equipment:
    where = locate(
        session,
        scope,
        property_id=body.property_id,
        building_id=body.building_id,
        unit_id=body.unit_id,
    )
    scope.require_on(Permission.EQUIPMENT_WRITE, where.property_id)
    if body.parent_id is not None:
        _check_parent(session, scope, body.parent_id, where.property_id, child=None)
    fields = body.model_dump(exclude={"property_id", "building_id", "unit_id"})
    record = Equipment(
        property_id=where.property_id,
        building_id=where.building_id,
        unit_id=where.unit_id,
        **fields,
    )
    session.add(record)
    session.flush()
    return record


def update_equipment(
    session: Session, scope: Scope, equipment_id: int, body: EquipmentUpdate
) -> Equipment:
    record = scope.get_for_write(session, Equipment, equipment_id)
    given: dict[str, Any] = changes(
        body, required=frozenset({"category", "name", "status"})
    )
    location = {key: given.pop(key) for key in _LOCATION if key in given}
    if location:
        where = locate(
            session,
            scope,
            property_id=location.get("property_id", record.property_id),
            building_id=location.get("building_id"),
            unit_id=location.get("unit_id"),
        )
        if where.property_id != record.property_id:
            raise InvalidInputError(
                f"Equipment {record.id} cannot move to another property; record it "
                "there anew.",
                field="property_id",
            )
        record.building_id, record.unit_id = where.building_id, where.unit_id
    if given.get("parent_id") is not None:
        _check_parent(
            session, scope, given["parent_id"], record.property_id, child=record.id
        )
    apply_changes(record, given)
    session.flush()
    return record


_LOCATION = ("property_id", "building_id", "unit_id")


def _check_parent(
    session: Session, scope: Scope, parent_id: int, property_id: int, child: int | None
) -> None:
    """The parent is in the same property, and not the equipment itself or one of
    its parts."""
    parent = scope.get(session, Equipment, parent_id, field="parent_id")
    if parent.property_id != property_id:
        raise InvalidInputError(
            f"Parent equipment {parent_id} is in another property.", field="parent_id"
        )
    seen: Equipment | None = parent
    for _ in range(MAX_PARENT_DEPTH):
        if seen is None:
            return
        if seen.id == child:
            raise InvalidInputError(
                f"Equipment {child} cannot be a part of itself (through {parent_id}).",
                field="parent_id",
            )
        seen = session.get(Equipment, seen.parent_id) if seen.parent_id else None
    raise InvalidInputError(
        f"Parent equipment {parent_id} is nested more than {MAX_PARENT_DEPTH} deep.",
        field="parent_id",
    )


# --- inspections -------------------------------------------------------------------


def add_inspection(
    session: Session, scope: Scope, equipment_id: int, body: InspectionCreate
) -> Inspection:
    equipment = scope.get_for_write(session, Equipment, equipment_id)
    record = Inspection(
        equipment_id=equipment.id,
        property_id=equipment.property_id,
        **body.model_dump(exclude={"next_due_on"}),
        next_due_on=_next_due(
            body.last_inspected_on, body.interval_months, body.next_due_on
        ),
    )
    session.add(record)
    session.flush()
    return record


def update_inspection(
    session: Session, scope: Scope, inspection_id: int, body: InspectionUpdate
) -> Inspection:
    """Recording a new inspection date moves the due date on, unless one is given."""
    record = scope.get_for_write(session, Inspection, inspection_id)
    given = changes(body, required=frozenset({"kind", "authority", "interval_months"}))
    explicit_due = given.pop("next_due_on", None)
    apply_changes(record, given)
    if explicit_due is not None:
        record.next_due_on = explicit_due
    elif {"last_inspected_on", "interval_months"} & given.keys():
        record.next_due_on = _next_due(
            record.last_inspected_on, record.interval_months, None
        )
    session.flush()
    return record


def _next_due(last: date | None, interval_months: int, given: date | None) -> date:
    if given is not None:
        return given
    if last is None:
        raise InvalidInputError(
            "Without last_inspected_on, next_due_on is needed.", field="next_due_on"
        )
    return add_months(last, interval_months)
