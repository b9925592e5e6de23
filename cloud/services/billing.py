"""The billing service: settings, tariffs, readings, runs, invoices, one-off charges.

It gathers what the engine (``cloud.billing``) needs from the database, lets the
engine compute, and stores the result. Nothing here prices, prorates, rounds or
validates a reading itself:

- usage: a unit's meter points → every meter installed there
  (``services.meters.installation_of``) → its gateway readings (the meter's device
  point) and manual readings → ``build_series`` → ``split_usage_by_lease`` →
  ``price_usage`` → ``usage_charges``;
- rent and deposits: ``rent_charges``, ``deposit_charge``; fixed and per-m² fees
  of a lease's ``fee_rules``: ``recurring_charges``;
- one-off charges (work orders, late fees): ``one_off_charge``;
- invoices: ``draft_invoice`` under the organization's ``RoundingPolicy``; numbers
  from ``format_document_number`` with a counter row per organization, series and
  year, locked while a number is taken.

A run for the same property and period replaces its drafts (idempotent) until it is
approved; an approved run is final, and corrections are credit notes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud import billing as engine
from cloud.models import (
    BillingSettings,
    Lease,
    LeaseStatus,
    ManualReading,
    Meter,
    MeterPoint,
    OneOffCharge,
    Person,
    Property,
    ReadingReview,
    ReadingRow,
    Tariff,
    TariffVersion,
    Unit,
    WorkOrder,
)
from cloud.models.billing import (
    ReviewDecision,
    TariffKind,
)
from cloud.services import work_orders
from cloud.services.access import Permission, Scope
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.meters import installation_of

logger = logging.getLogger(__name__)

DEFAULT_REMINDER_OFFSETS = (-3, 0, 7, 30)
DEFAULT_LATE_FEE_RULES: tuple[dict[str, str], ...] = (
    {
        "effective_from": "2000-01-01",
        "daily_rate": "0.001",
        "minimum": "1.00",
        "cap_fraction": "1",
    },
)
BILLED_LEASE_STATUSES = (LeaseStatus.ACTIVE, LeaseStatus.ENDED, LeaseStatus.TERMINATED)


# --- settings -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """An organization's billing rules as the engine takes them."""

    currency: str = engine.DEFAULT_CURRENCY
    timezone: str = engine.DEFAULT_TIMEZONE
    policy: engine.RoundingPolicy = field(default_factory=engine.RoundingPolicy)
    allocation_order: engine.AllocationOrder = engine.AllocationOrder.LATE_FEES_FIRST
    payment_terms_days: int = 15
    late_fee_rules: tuple[engine.LateFeeRule, ...] = ()
    reminder_offsets: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS
    reminder_channel: str | None = None
    reminder_target: str | None = None


def late_fee_rules(raw: Iterable[dict[str, Any]]) -> tuple[engine.LateFeeRule, ...]:
    """Stored rules (decimal strings) as the engine's, refusing what it refuses."""
    rules = []
    for number, item in enumerate(raw):
        try:
            rules.append(
                engine.LateFeeRule(
                    effective_from=date.fromisoformat(str(item["effective_from"])),
                    daily_rate=engine.to_decimal(str(item["daily_rate"])),
                    minimum=engine.to_decimal(str(item.get("minimum", "0"))),
                    cap_fraction=_optional_decimal(item.get("cap_fraction")),
                    cap_amount=_optional_decimal(item.get("cap_amount")),
                )
            )
        except (KeyError, ValueError, engine.BillingError) as exc:
            raise InvalidInputError(
                f"Late-fee rule {number} is not valid: {exc}", field="late_fee_rules"
            ) from exc
    return tuple(rules)


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None else engine.to_decimal(str(value))


def settings_of(session: Session, organization_id: int) -> Settings:
    record = session.get(BillingSettings, organization_id)
    if record is None:
        return Settings(late_fee_rules=late_fee_rules(DEFAULT_LATE_FEE_RULES))
    return Settings(
        currency=record.currency,
        timezone=record.timezone,
        policy=engine.RoundingPolicy(
            engine.RoundingMode(record.rounding_mode),
            record.rounding_quantum,
            engine.RoundingScope(record.rounding_scope),
        ),
        allocation_order=engine.AllocationOrder(record.allocation_order),
        payment_terms_days=record.payment_terms_days,
        late_fee_rules=late_fee_rules(record.late_fee_rules),
        reminder_offsets=tuple(record.reminder_offsets),
        reminder_channel=record.reminder_channel,
        reminder_target=record.reminder_target,
    )


def settings_record(session: Session, organization_id: int) -> BillingSettings:
    """The stored settings row, created with the defaults when there is none."""
    record = session.get(BillingSettings, organization_id)
    if record is None:
        defaults = Settings()
        record = BillingSettings(
            organization_id=organization_id,
            currency=defaults.currency,
            timezone=defaults.timezone,
            rounding_mode=defaults.policy.mode.value,
            rounding_scope=defaults.policy.scope.value,
            rounding_quantum=defaults.policy.quantum,
            allocation_order=defaults.allocation_order.value,
            payment_terms_days=defaults.payment_terms_days,
            late_fee_rules=list(DEFAULT_LATE_FEE_RULES),
            reminder_offsets=list(DEFAULT_REMINDER_OFFSETS),
        )
        session.add(record)
    return record


CLEARABLE_SETTINGS = frozenset({"reminder_channel", "reminder_target"})


def update_settings(
    session: Session, scope: Scope, given: dict[str, Any]
) -> BillingSettings:
    """Change the organization's billing rules (organization administrators)."""
    scope.require_org_wide(Permission.BILLING_WRITE)
    record = settings_record(session, scope.organization_id)
    for name, value in given.items():
        if value is None and name not in CLEARABLE_SETTINGS:
            raise InvalidInputError(
                f"{name} cannot be null; leave it out to keep it.", field=name
            )
        if name == "timezone":
            try:
                engine.periods.zone(value)
            except engine.BillingError as exc:
                raise InvalidInputError(str(exc), field=name) from exc
        setattr(record, name, value)
    record.updated_at = datetime.now(UTC)
    session.flush()
    settings_of(session, scope.organization_id)  # refuses rules the engine refuses
    return record


def local_today(now: datetime, timezone: str) -> date:
    """The calendar day ``now`` falls on in the organization's time zone."""
    return now.astimezone(engine.periods.zone(timezone)).date()


# --- tariffs --------------------------------------------------------------------


def engine_tariff(record: Tariff) -> engine.Tariff:
    """The engine's tariff from its row and versions; raises ``BillingError``."""
    versions = []
    for version in record.versions:
        tiers = tuple(
            engine.Tier(
                up_to=_optional_decimal(tier.get("up_to")),
                rate=engine.to_decimal(str(tier["rate"]), "tier rate"),
            )
            for tier in version.tiers
        )
        tou = None
        if version.tou is not None:
            windows = tuple(
                engine.TouWindow(
                    time.fromisoformat(window["start"]),
                    time.fromisoformat(window["end"]),
                    window["band"],
                )
                for window in version.tou["windows"]
            )
            tou = engine.TouPricing(
                engine.TouSchedule(windows),
                {
                    band: engine.to_decimal(str(rate), f"{band} rate")
                    for band, rate in version.tou["band_rates"].items()
                },
            )
        versions.append(engine.TariffVersion(version.effective_from, tiers, tou))
    return engine.Tariff(
        tariff_id=str(record.id),
        meter_kind=engine.MeterKind(record.meter_kind),
        versions=tuple(versions),
        cycle=engine.TierCycle(record.cycle_months, record.cycle_start_month),
        timezone=record.timezone,
        currency=record.currency,
        boundary=engine.BoundaryRule(record.boundary),
    )


def create_tariff(session: Session, scope: Scope, body: Any) -> Tariff:
    """A tariff with its first versions, refused (422) if the engine refuses it."""
    found = scope.get(session, Property, body.property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    record = Tariff(
        property_id=found.id,
        meter_kind=body.meter_kind.value,
        name=body.name,
        kind=body.kind.value,
        currency=body.currency,
        timezone=body.timezone,
        cycle_months=body.cycle_months,
        cycle_start_month=body.cycle_start_month,
        boundary=body.boundary.value,
    )
    session.add(record)
    session.flush()
    for version in body.versions:
        _add_version(session, record, version)
    return record


def add_tariff_version(
    session: Session, scope: Scope, tariff_id: int, body: Any
) -> Tariff:
    """A price change from ``effective_from`` on; earlier versions stay."""
    record = scope.get_for_write(session, Tariff, tariff_id)
    taken = {version.effective_from for version in record.versions}
    if body.effective_from in taken:
        raise ConflictError(
            f"Tariff {tariff_id} already has a version from {body.effective_from}.",
            field="effective_from",
        )
    _add_version(session, record, body)
    return record


def _add_version(session: Session, record: Tariff, body: Any) -> None:
    kind = TariffKind(record.kind)
    if kind is TariffKind.FLAT and len(body.tiers) != 1:
        raise InvalidInputError(
            f"A flat tariff has one rate; this version has {len(body.tiers)} tiers.",
            field="tiers",
        )
    if (kind is TariffKind.TOU) != (body.tou is not None):
        raise InvalidInputError(
            "A time-of-use tariff needs tou windows and band rates in every version; "
            "flat and tiered tariffs take none.",
            field="tou",
        )
    version = TariffVersion(
        tariff_id=record.id,
        property_id=record.property_id,
        effective_from=body.effective_from,
        tiers=[
            {"up_to": None if t.up_to is None else str(t.up_to), "rate": str(t.rate)}
            for t in body.tiers
        ],
        tou=None if body.tou is None else body.tou.stored(),
    )
    session.add(version)
    session.flush()
    session.refresh(record, ["versions"])
    try:
        engine_tariff(record)
    except engine.BillingError as exc:
        raise InvalidInputError(
            f"The tariff is not valid: {exc}", field="tiers"
        ) from exc


def _tariff_book(session: Session, property_id: int) -> dict[str, Tariff]:
    """The newest tariff of each meter kind of the property."""
    rows = session.scalars(
        sa.select(Tariff).where(Tariff.property_id == property_id).order_by(Tariff.id)
    )
    return {row.meter_kind: row for row in rows}


# --- readings -------------------------------------------------------------------


def gateway_reading_id(gateway_id: str, seq: int) -> str:
    return f"gw:{gateway_id}:{seq}"


def manual_reading_id(reading_id: int) -> str:
    return f"manual:{reading_id}"


def add_manual_reading(
    session: Session,
    scope: Scope,
    meter_id: int,
    *,
    value: Decimal,
    taken_at: datetime,
    estimated: bool,
    now: datetime,
    photo_sha256: str | None = None,
) -> ManualReading:
    meter = scope.get(session, Meter, meter_id, field="meter_id")
    scope.require_on(Permission.METERS_WRITE, meter.property_id)
    if taken_at > now:
        raise InvalidInputError(
            f"taken_at {taken_at} is in the future (now is {now}).", field="taken_at"
        )
    if value >= meter.register_modulus:
        raise InvalidInputError(
            f"value {value} does not fit the register of meter {meter.id}, which "
            f"wraps at {meter.register_modulus}.",
            field="value",
        )
    if taken_at < meter.installed_at or (
        meter.removed_at is not None and taken_at > meter.removed_at
    ):
        raise InvalidInputError(
            f"taken_at {taken_at} is outside the service time of meter {meter.id} "
            f"({meter.installed_at} to {meter.removed_at or 'now'}).",
            field="taken_at",
        )
    record = ManualReading(
        meter_id=meter.id,
        property_id=meter.property_id,
        value=value,
        taken_at=taken_at,
        estimated=estimated,
        photo_sha256=photo_sha256,
        entered_by=scope.actor.label,
    )
    session.add(record)
    session.flush()
    return record


def point_series(
    session: Session, point: MeterPoint, *, now: datetime
) -> engine.ConsumptionSeries:
    """Every reading of every meter that served ``point``, judged by the engine."""
    meters = list(
        session.scalars(
            sa.select(Meter)
            .where(Meter.meter_point_id == point.id)
            .order_by(Meter.installed_at)
        )
    )
    rejected = set(
        session.scalars(
            sa.select(ReadingReview.reading_ref).where(
                ReadingReview.meter_id.in_([meter.id for meter in meters]),
                ReadingReview.decision == ReviewDecision.REJECTED,
            )
        )
    )
    readings = [
        reading
        for meter in meters
        for reading in meter_readings(session, meter, now=now)
        if reading.reading_id not in rejected
    ]
    return engine.build_series(
        str(point.id), [installation_of(meter) for meter in meters], readings, now=now
    )


def meter_readings(
    session: Session, meter: Meter, *, now: datetime
) -> list[engine.MeterReading]:
    """The meter's gateway readings (dated by a trusted clock, good quality) and
    manual readings, as the engine's readings."""
    readings: list[engine.MeterReading] = []
    installation = str(meter.id)
    if meter.gateway_id and meter.device_id and meter.point:
        until = meter.removed_at or now
        rows = session.execute(
            sa.select(ReadingRow.seq, ReadingRow.ts, ReadingRow.value).where(
                ReadingRow.gateway_id == meter.gateway_id,
                ReadingRow.device_id == meter.device_id,
                ReadingRow.point == meter.point,
                ReadingRow.ts >= meter.installed_at,
                ReadingRow.ts <= until,
                ReadingRow.quality == "good",
                ReadingRow.value.is_not(None),
                sa.or_(ReadingRow.clock_trusted, ReadingRow.reported_ts.is_not(None)),
            )
        )
        readings += [
            engine.MeterReading(
                gateway_reading_id(meter.gateway_id, seq), installation, ts, value
            )
            for seq, ts, value in rows
            if value is not None
        ]
    manual = session.scalars(
        sa.select(ManualReading).where(ManualReading.meter_id == meter.id)
    )
    readings += [
        engine.MeterReading(
            manual_reading_id(row.id),
            installation,
            row.taken_at,
            row.value,
            estimated=row.estimated,
        )
        for row in manual
    ]
    return readings


def held_readings(
    session: Session, scope: Scope, property_id: int, *, now: datetime
) -> list[dict[str, Any]]:
    """Readings the engine set aside that need a person, with its reason."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_READ, found.id)
    points = session.scalars(
        sa.select(MeterPoint).where(MeterPoint.property_id == found.id)
    )
    held = []
    for point in points:
        series = point_series(session, point, now=now)
        held += [
            {
                "meter_point_id": point.id,
                "meter_id": int(item.reading.installation_id),
                "reading_ref": item.reading.reading_id,
                "taken_at": item.reading.taken_at,
                "value": item.reading.value,
                "code": item.code.value,
                "needs_review": item.code.needs_review,
                "reason": item.reason,
            }
            for item in series.held
        ]
    return held


def review_reading(
    session: Session,
    scope: Scope,
    meter_id: int,
    *,
    reading_ref: str,
    decision: ReviewDecision,
    note: str | None,
) -> ReadingReview:
    meter = scope.get(session, Meter, meter_id, field="meter_id")
    scope.require_on(Permission.BILLING_WRITE, meter.property_id)
    record = session.scalar(
        sa.select(ReadingReview).where(
            ReadingReview.meter_id == meter.id,
            ReadingReview.reading_ref == reading_ref,
        )
    )
    if record is None:
        record = ReadingReview(
            meter_id=meter.id, property_id=meter.property_id, reading_ref=reading_ref
        )
        session.add(record)
    record.decision = decision.value
    record.note = note
    record.decided_by = scope.actor.label
    record.decided_at = datetime.now(UTC)
    session.flush()
    return record


# --- one-off charges ------------------------------------------------------------


def add_one_off_charge(
    session: Session,
    scope: Scope,
    *,
    property_id: int,
    amount: Decimal,
    description: str,
    person_id: int | None = None,
    lease_id: int | None = None,
    unit_id: int | None = None,
    source: str = "work_order",
    source_ref: str | None = None,
    charge_date: date,
) -> OneOffCharge:
    """A charge for the next billing run of ``property_id`` (a work order's cost
    passed on). Idempotent on (``source``, ``source_ref``): the same pair again
    answers the charge already recorded. The payer is ``person_id``, else the
    tenant of ``lease_id``, else of the lease that covered ``unit_id`` on
    ``charge_date``."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    if source_ref is not None:
        existing = session.scalar(
            sa.select(OneOffCharge).where(
                OneOffCharge.organization_id == scope.organization_id,
                OneOffCharge.source == source,
                OneOffCharge.source_ref == source_ref,
            )
        )
        if existing is not None:
            return existing
    payer, lease = _payer(session, found.id, person_id, lease_id, unit_id, charge_date)
    return _record_one_off(
        session,
        scope.organization_id,
        found.id,
        amount=amount,
        description=description,
        person_id=payer,
        lease_id=lease,
        unit_id=unit_id,
        source=source,
        source_ref=source_ref,
        charge_date=charge_date,
    )


def _record_one_off(
    session: Session,
    organization_id: int,
    property_id: int,
    *,
    amount: Decimal,
    description: str,
    person_id: int,
    lease_id: int | None,
    unit_id: int | None,
    source: str,
    source_ref: str | None,
    charge_date: date,
) -> OneOffCharge:
    amount = engine.to_decimal(amount, "amount")
    if amount <= 0:
        raise InvalidInputError(f"amount {amount} must be positive.", field="amount")
    payer, lease = person_id, lease_id
    record = OneOffCharge(
        organization_id=organization_id,
        property_id=property_id,
        kind=engine.ChargeKind.ONE_OFF.value,
        person_id=payer,
        lease_id=lease,
        unit_id=unit_id,
        amount=amount,
        currency=settings_of(session, organization_id).currency,
        description=description,
        charge_date=charge_date,
        source=source,
        source_ref=source_ref,
    )
    session.add(record)
    session.flush()
    return record


def require_unit_in(session: Session, property_id: int, unit_id: int) -> None:
    """404 on ``unit_id`` unless the unit belongs to the property."""
    if (
        session.scalar(
            sa.select(Unit.id).where(
                Unit.id == unit_id, Unit.property_id == property_id
            )
        )
        is None
    ):
        raise NotFoundError(
            f"Unit {unit_id} not found in property {property_id}.", field="unit_id"
        )


def _payer(
    session: Session,
    property_id: int,
    person_id: int | None,
    lease_id: int | None,
    unit_id: int | None,
    on: date,
) -> tuple[int, int | None]:
    if unit_id is not None:
        require_unit_in(session, property_id, unit_id)
    if lease_id is not None:
        lease = session.scalar(
            sa.select(Lease).where(
                Lease.id == lease_id, Lease.property_id == property_id
            )
        )
        if lease is None:
            raise NotFoundError(
                f"Lease {lease_id} not found in property {property_id}.",
                field="lease_id",
            )
        return person_id or lease.tenant_id, lease.id
    if person_id is not None:
        if session.get(Person, person_id) is None:
            raise NotFoundError(f"Person {person_id} not found.", field="person_id")
        return person_id, None
    if unit_id is not None:
        lease = _lease_on(session, unit_id, on)
        if lease is not None:
            return lease.tenant_id, lease.id
        raise InvalidInputError(
            f"Unit {unit_id} had no active lease on {on}; name the person to charge.",
            field="person_id",
        )
    raise InvalidInputError(
        "Name who pays: person_id, lease_id, or a unit_id with a lease.",
        field="person_id",
    )


def _lease_on(session: Session, unit_id: int, on: date) -> Lease | None:
    from cloud.models import LeaseUnit

    return session.scalar(
        sa.select(Lease)
        .join(LeaseUnit, LeaseUnit.lease_id == Lease.id)
        .where(
            LeaseUnit.unit_id == unit_id,
            Lease.status.in_(list(BILLED_LEASE_STATUSES)),
            Lease.start_date <= on,
            sa.or_(Lease.end_date.is_(None), Lease.end_date >= on),
        )
    )


@work_orders.on_closed
def charge_closed_work_order(session: Session, order: WorkOrder) -> None:
    """Pass a closed chargeable work order on to billing: one one-off charge per
    item (``WorkOrder.chargeable_items``), dated the day it closed in the
    organization's time zone, billed to the lease it was reported under, else to
    its requester. Idempotent per item. A chargeable order with nobody to bill is
    refused, so its cost is not dropped."""
    items = order.chargeable_items()
    if not items:
        return
    payer, lease = None, order.lease_id
    if lease is not None:
        payer = session.scalar(sa.select(Lease.tenant_id).where(Lease.id == lease))
    payer = payer or order.requester_person_id
    if payer is None:
        raise InvalidInputError(
            f"Work order {order.id} is chargeable but has no tenant or requester "
            "to bill; clear 'chargeable' or add the charge in billing.",
            field="chargeable",
        )
    organization_id = session.scalar(
        sa.select(Property.organization_id).where(Property.id == order.property_id)
    )
    assert organization_id is not None  # a work order's property exists
    settings = settings_of(session, organization_id)
    closed = order.closed_at or datetime.now(UTC)
    charge_date = local_today(closed, settings.timezone)
    for number, (description, amount) in enumerate(items, start=1):
        source_ref = f"{order.id}/{number}"
        if session.scalar(
            sa.select(OneOffCharge.id).where(
                OneOffCharge.organization_id == organization_id,
                OneOffCharge.source == "work_order",
                OneOffCharge.source_ref == source_ref,
            )
        ):
            continue
        _record_one_off(
            session,
            organization_id,
            order.property_id,
            amount=amount,
            description=description,
            person_id=payer,
            lease_id=lease,
            unit_id=order.unit_id,
            source="work_order",
            source_ref=source_ref,
            charge_date=charge_date,
        )
