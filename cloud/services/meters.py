"""Meter points, the meters installed at them, and meter replacement."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.billing import MeterInstallation, Register
from cloud.models import Gateway, Meter, MeterPoint
from cloud.schemas.meters import (
    MeterCreate,
    MeterInstall,
    MeterPointCreate,
    MeterRemoval,
    MeterReplacement,
    MeterUpdate,
)
from cloud.services.access import Permission, Scope
from cloud.services.equipment import locate
from cloud.services.errors import ConflictError, InvalidInputError
from cloud.services.records import apply_changes, changes


def create_meter_point(
    session: Session, scope: Scope, body: MeterPointCreate
) -> MeterPoint:
    where = locate(
        session,
        scope,
        property_id=body.property_id,
        building_id=body.building_id,
        unit_id=body.unit_id,
    )
    scope.require_on(Permission.METERS_WRITE, where.property_id)
    record = MeterPoint(
        property_id=where.property_id,
        building_id=where.building_id,
        unit_id=where.unit_id,
        kind=body.kind.value,
        name=body.name,
    )
    session.add(record)
    session.flush()
    return record


def install_meter(session: Session, scope: Scope, body: MeterCreate) -> Meter:
    """Install a meter at a point that has none in service."""
    point = scope.get_for_write(
        session, MeterPoint, body.meter_point_id, field="meter_point_id"
    )
    in_service = session.scalar(
        sa.select(Meter.id).where(
            Meter.meter_point_id == point.id, Meter.removed_at.is_(None)
        )
    )
    if in_service is not None:
        raise ConflictError(
            f"Meter point {point.id} already has meter {in_service} in service; "
            "replace it instead.",
            field="meter_point_id",
        )
    return _install(session, scope, point, body)


def _install(
    session: Session, scope: Scope, point: MeterPoint, body: MeterInstall
) -> Meter:
    _check_source(session, scope, point.property_id, body)
    fields = body.model_dump(exclude={"meter_point_id"})
    record = Meter(meter_point_id=point.id, property_id=point.property_id, **fields)
    session.add(record)
    session.flush()
    return record


def update_meter(
    session: Session, scope: Scope, meter_id: int, body: MeterUpdate
) -> Meter:
    """Correct what describes a meter; its readings and register stay as
    installed, since bills already computed rest on them."""
    record = scope.get_for_write(session, Meter, meter_id)
    given: dict[str, Any] = changes(body, required=frozenset({"serial"}))
    source = {
        "gateway_id": given.get("gateway_id", record.gateway_id),
        "device_id": given.get("device_id", record.device_id),
        "point": given.get("point", record.point),
    }
    _check_source(session, scope, record.property_id, MeterUpdate(**source))
    apply_changes(record, given)
    session.flush()
    return record


def remove_meter(
    session: Session, scope: Scope, meter_id: int, body: MeterRemoval
) -> Meter:
    record = scope.get_for_write(session, Meter, meter_id)
    if record.removed_at is not None:
        raise ConflictError(f"Meter {record.id} was removed at {record.removed_at}.")
    if body.removed_at <= record.installed_at:
        raise InvalidInputError(
            f"removed_at {body.removed_at} is not after the installation at "
            f"{record.installed_at}.",
            field="removed_at",
        )
    if body.final_reading >= record.register_modulus:
        raise InvalidInputError(
            f"final_reading {body.final_reading} does not fit the register, which "
            f"wraps at {record.register_modulus}.",
            field="final_reading",
        )
    record.removed_at = body.removed_at
    record.final_reading = body.final_reading
    session.flush()
    return record


def replace_meter(
    session: Session, scope: Scope, meter_id: int, body: MeterReplacement
) -> Meter:
    """Remove a meter and install the new one at the same point, in one step; the
    point's history keeps both."""
    if body.new.installed_at < body.removed_at:
        raise InvalidInputError(
            f"The new meter's installed_at {body.new.installed_at} is before the old "
            f"one's removal at {body.removed_at}.",
            field="new.installed_at",
        )
    old = remove_meter(session, scope, meter_id, body)
    point = scope.get(session, MeterPoint, old.meter_point_id)
    return _install(session, scope, point, body.new)


def _check_source(
    session: Session, scope: Scope, property_id: int, body: MeterInstall | MeterUpdate
) -> None:
    """A meter is read through a gateway of its own property, at a device point."""
    given = [body.gateway_id, body.device_id, body.point]
    if all(value is None for value in given):
        return
    if any(value is None for value in given):
        raise InvalidInputError(
            "gateway_id, device_id and point go together: give all three or none.",
            field="gateway_id",
        )
    gateway = scope.get(session, Gateway, str(body.gateway_id), field="gateway_id")
    if gateway.property_id != property_id:
        raise InvalidInputError(
            f"Gateway {gateway.id!r} is not placed in property {property_id}; place "
            "it in one of its buildings first.",
            field="gateway_id",
        )


def history(session: Session, scope: Scope, meter_point_id: int) -> list[Meter]:
    point = scope.get(session, MeterPoint, meter_point_id)
    return list(
        session.scalars(
            sa.select(Meter)
            .where(Meter.meter_point_id == point.id)
            .order_by(Meter.installed_at, Meter.id)
        )
    )


def installation_of(meter: Meter) -> MeterInstallation:
    """The billing engine's view of a meter (``cloud.billing.consumption``)."""
    return MeterInstallation(
        installation_id=str(meter.id),
        meter_point_id=str(meter.meter_point_id),
        register=Register(meter.register_modulus),
        installed_at=meter.installed_at,
        initial_reading=meter.initial_reading,
        removed_at=meter.removed_at,
        final_reading=meter.final_reading,
        multiplier=meter.multiplier,
    )
