"""Billing runs: draft invoices for a property and period, and issuing them.

``run_billing`` gathers the charges of the period through the engine (see
``cloud.services.billing``), groups them per payer and lease, and stores one draft
invoice for each. Running again for the same property and period replaces the
drafts. ``approve_run`` issues every draft of the run in one transaction: numbers
come from ``take_number``, which locks the organization's counter row for the
series and year, so two approvals at once queue on it and numbers stay gapless
(a rolled-back approval gives its numbers back).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud import billing as engine
from cloud.db import is_postgresql
from cloud.models import (
    BillingRun,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    Lease,
    MeterPoint,
    OneOffCharge,
    Property,
    Unit,
)
from cloud.models.billing import DocumentKind, InvoiceStatus, RunStatus
from cloud.services.access import Permission, Scope
from cloud.services.billing import (
    BILLED_LEASE_STATUSES,
    Settings,
    engine_tariff,
    point_series,
    settings_of,
)
from cloud.services.errors import ConflictError, InvalidInputError

logger = logging.getLogger(__name__)

Key = tuple[int, int | None]  # payer, lease


@dataclass(frozen=True)
class RunContext:
    property_id: int
    window: engine.DateSpan
    settings: Settings
    now: datetime

    @property
    def period(self) -> engine.Period:
        return engine.Period.of_days(self.window, self.settings.timezone)


def run_billing(
    session: Session,
    scope: Scope,
    *,
    property_id: int,
    first: date,
    last: date,
    now: datetime,
) -> BillingRun:
    """Draft invoices of ``property_id`` for the days ``first`` to ``last``."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    if last < first:
        raise InvalidInputError(
            f"period_last {last} is before period_first {first}.", field="period_last"
        )
    settings = settings_of(session, scope.organization_id)
    context = RunContext(found.id, engine.DateSpan(first, last), settings, now)
    if context.period.start > now:
        raise InvalidInputError(
            f"The period starting {first} has not begun yet.", field="period_first"
        )
    run = _run_for(session, found.id, first, last, now)
    try:
        charges, held = _charges(session, context)
    except engine.BillingError as exc:
        # The data cannot be billed as it stands (a tariff with no price for the
        # period's first days, lease terms that cannot be right): say what, not 500.
        raise ConflictError(
            f"Property {found.id} cannot be billed for {first} to {last}: {exc}.",
            field="period_first",
        ) from exc
    run.status, run.computed_at, run.held_readings = RunStatus.DRAFT, now, held
    session.flush()
    for (payer, lease_id), items in sorted(charges.items(), key=_group_order):
        _store_draft(session, scope, run, context, payer, lease_id, items)
    session.flush()
    logger.info(
        "billing run %s of property %s for %s to %s: %d draft invoices",
        run.id,
        found.id,
        first,
        last,
        len(charges),
    )
    return run


def _group_order(item: tuple[Key, list[_Pending]]) -> tuple[int, int]:
    (payer, lease_id), _ = item
    return payer, lease_id or 0


def _run_for(
    session: Session, property_id: int, first: date, last: date, now: datetime
) -> BillingRun:
    """The run of this property and period, its drafts cleared; a new one if none.
    A period that overlaps another run of the property is refused: its days would
    be billed twice. The property's row is locked first, so two runs started at
    once for overlapping periods queue, and the second sees the first."""
    session.execute(
        sa.select(Property.id).where(Property.id == property_id).with_for_update()
    )
    runs = session.scalars(
        sa.select(BillingRun)
        .where(
            BillingRun.property_id == property_id,
            BillingRun.period_first <= last,
            BillingRun.period_last >= first,
        )
        .order_by(BillingRun.period_first)
    )
    run = None
    for found in runs:
        if (found.period_first, found.period_last) == (first, last):
            run = found
            continue
        what = (
            "correct its invoices with credit notes"
            if found.status == RunStatus.APPROVED
            else "delete that draft run first"
        )
        raise ConflictError(
            f"The period {first} to {last} overlaps billing run {found.id} "
            f"({found.period_first} to {found.period_last}, {found.status}); its "
            f"days would be billed twice: bill the days outside it, or {what}.",
            field="period_first",
        )
    if run is None:
        run = BillingRun(
            property_id=property_id,
            period_first=first,
            period_last=last,
            status=RunStatus.DRAFT.value,
            computed_at=now,
        )
        session.add(run)
        return run
    if run.status == RunStatus.APPROVED:
        raise ConflictError(
            f"Billing run {run.id} for {first} to {last} is approved; correct its "
            "invoices with credit notes.",
            field="period_first",
        )
    _clear_drafts(session, run)
    return run


def _clear_drafts(session: Session, run: BillingRun) -> None:
    """Delete a draft run's invoices; their one-off charges wait for a run again."""
    drafts = list(session.scalars(sa.select(Invoice).where(Invoice.run_id == run.id)))
    line_ids = [line.id for invoice in drafts for line in invoice.lines]
    if line_ids:
        for charge in session.scalars(
            sa.select(OneOffCharge).where(OneOffCharge.invoice_line_id.in_(line_ids))
        ):
            charge.invoice_line_id = None
        session.flush()
    for invoice in drafts:
        session.delete(invoice)
    session.flush()


def delete_run(session: Session, scope: Scope, run_id: int) -> None:
    """Delete a draft run and its draft invoices; an approved run stays."""
    run = scope.get_for_write(session, BillingRun, run_id)
    if run.status == RunStatus.APPROVED:
        raise ConflictError(
            f"Billing run {run.id} is approved; correct its invoices with credit notes."
        )
    _clear_drafts(session, run)
    session.delete(run)
    session.flush()
    logger.info("billing run %s of property %s deleted", run.id, run.property_id)


@dataclass(frozen=True)
class _Pending:
    """A charge on its way to a line, with what the engine's charge cannot hold."""

    charge: engine.Charge
    one_off: OneOffCharge | None = None


def _charges(
    session: Session, context: RunContext
) -> tuple[dict[Key, list[_Pending]], int]:
    """Every charge of the period, grouped by payer and lease; and how many readings
    were held for review."""
    grouped: dict[Key, list[_Pending]] = defaultdict(list)
    leases = list(
        session.scalars(
            sa.select(Lease)
            .where(
                Lease.property_id == context.property_id,
                Lease.status.in_(list(BILLED_LEASE_STATUSES)),
                Lease.start_date <= context.window.last,
                sa.or_(
                    Lease.end_date.is_(None),
                    Lease.end_date >= context.window.first,
                ),
            )
            .order_by(Lease.id)
        )
    )
    for lease in leases:
        for charge in _lease_charges(session, lease, context):
            grouped[(lease.tenant_id, lease.id)].append(_Pending(charge))
    held = 0
    for lease_id, charge in _usage_charges(session, context, leases):
        grouped[(int(charge.party_id), lease_id)].append(_Pending(charge))
    for point in _points(session, context.property_id):
        held += sum(
            1
            for item in point_series(session, point, now=context.now).held
            if item.code.needs_review and context.period.contains(item.reading.taken_at)
        )
    for record in _pending_one_offs(session, context):
        charge = engine.one_off_charge(
            party_id=str(record.person_id),
            unit_id=None if record.unit_id is None else str(record.unit_id),
            description=record.description,
            amount=engine.Money(record.amount, record.currency),
            on=record.charge_date,
            reference=f"{record.source}:{record.source_ref or record.id}",
        )
        if record.kind == engine.ChargeKind.LATE_FEE:
            charge = _as_late_fee(charge)
        grouped[(record.person_id or 0, record.lease_id)].append(
            _Pending(charge, record)
        )
    return grouped, held


def _as_late_fee(charge: engine.Charge) -> engine.Charge:
    from dataclasses import replace

    return replace(charge, kind=engine.ChargeKind.LATE_FEE)


def engine_lease(lease: Lease) -> engine.Lease:
    """The engine's view of a lease; rent is charged on its first unit."""
    return engine.Lease(
        lease_id=str(lease.id),
        unit_id=str(lease.unit_ids[0]),
        tenant_id=str(lease.tenant_id),
        start=lease.start_date,
        end=lease.end_date,
        rent=engine.RecurringTerms(
            engine.Money(lease.rent, lease.currency),
            engine.RentFrequency(lease.rent_period),
        ),
        deposit=None
        if lease.deposit is None
        else engine.Money(lease.deposit, lease.currency),
    )


def _lease_charges(
    session: Session, lease: Lease, context: RunContext
) -> list[engine.Charge]:
    """Rent, the deposit in the period the lease starts, and its fee rules."""
    terms = engine_lease(lease)
    charges = engine.rent_charges(terms, context.window)
    deposit = engine.deposit_charge(terms)
    if deposit is not None and context.window.contains(lease.start_date):
        charges.append(deposit)
    units = list(session.scalars(sa.select(Unit).where(Unit.id.in_(lease.unit_ids))))
    for rule in lease.fee_rules:
        amount = Decimal(str(rule["amount"]))
        if rule.get("basis", "fixed") != "fixed":
            column = "gross_area_m2" if rule["basis"] == "gross" else "usable_area_m2"
            area = sum(
                (getattr(unit, column) or Decimal(0) for unit in units), Decimal(0)
            )
            amount = engine.money.exact_product(amount, area)
        charges += engine.recurring_charges(
            engine.RecurringTerms(
                engine.Money(amount, lease.currency),
                engine.RentFrequency(rule.get("period", "monthly")),
            ),
            kind=engine.ChargeKind.PROPERTY_FEE,
            party_id=str(lease.tenant_id),
            unit_id=terms.unit_id,
            start=lease.start_date,
            end=lease.end_date,
            window=context.window,
            label=str(rule["kind"]).replace("_", " ").capitalize(),
            source=engine.ChargeSource(lease_id=str(lease.id), reference=rule["kind"]),
        )
    return charges


def _points(session: Session, property_id: int) -> list[MeterPoint]:
    return list(
        session.scalars(
            sa.select(MeterPoint)
            .where(MeterPoint.property_id == property_id)
            .order_by(MeterPoint.id)
        )
    )


def _usage_charges(
    session: Session, context: RunContext, leases: list[Lease]
) -> list[tuple[int, engine.Charge]]:
    """Priced usage of every unit's meter points, split between its leases."""
    from cloud.services.billing import _tariff_book

    book = _tariff_book(session, context.property_id)
    result: list[tuple[int, engine.Charge]] = []
    period = context.period
    for point in _points(session, context.property_id):
        if point.unit_id is None:
            continue
        unit_leases = [lease for lease in leases if point.unit_id in lease.unit_ids]
        if not unit_leases:
            continue
        record = book.get(point.kind)
        if record is None:
            raise InvalidInputError(
                f"Property {context.property_id} has no {point.kind} tariff for meter "
                f"point {point.id} ({point.name}); add one before billing.",
                field="property_id",
            )
        tariff = engine_tariff(record)
        series = point_series(session, point, now=context.now)
        usage = series.period(period)
        split = engine.split_usage_by_lease(
            usage.intervals,
            [_unit_lease(lease, point.unit_id) for lease in unit_leases],
            tariff.timezone,
        )
        prior = engine.cycle_usage_before(series, tariff, period.start)
        for lease in unit_leases:
            intervals = split.by_lease.get(str(lease.id), ())
            if not intervals:
                continue
            pricing = engine.price_usage(
                tariff, intervals, period=period, prior_cycle_usage=prior
            )
            for charge in engine.usage_charges(
                pricing,
                kind=engine.ChargeKind.for_meter(engine.MeterKind(point.kind)),
                party_id=str(lease.tenant_id),
                unit_id=str(point.unit_id),
                timezone=tariff.timezone,
                meter_point_id=str(point.id),
                lease_id=str(lease.id),
            ):
                result.append((lease.id, charge))
    return result


def _unit_lease(lease: Lease, unit_id: int) -> engine.Lease:
    terms = engine_lease(lease)
    from dataclasses import replace

    return replace(terms, unit_id=str(unit_id))


def _pending_one_offs(session: Session, context: RunContext) -> list[OneOffCharge]:
    return list(
        session.scalars(
            sa.select(OneOffCharge)
            .where(
                OneOffCharge.property_id == context.property_id,
                OneOffCharge.invoice_line_id.is_(None),
                OneOffCharge.charge_date <= context.window.last,
            )
            .order_by(OneOffCharge.charge_date, OneOffCharge.id)
        )
    )


def _store_draft(
    session: Session,
    scope: Scope,
    run: BillingRun,
    context: RunContext,
    payer: int,
    lease_id: int | None,
    items: list[_Pending],
) -> Invoice:
    due = context.window.last + timedelta(days=context.settings.payment_terms_days)
    draft = engine.draft_invoice(
        [item.charge for item in items],
        organization_id=str(scope.organization_id),
        party_id=str(payer),
        due_date=due,
        policy=context.settings.policy,
    )
    units = {item.charge.unit_id for item in items if item.charge.unit_id}
    invoice = Invoice(
        organization_id=scope.organization_id,
        property_id=context.property_id,
        run_id=run.id,
        kind=DocumentKind.INVOICE.value,
        person_id=payer,
        lease_id=lease_id,
        unit_id=int(units.pop()) if len(units) == 1 else None,
        currency=draft.currency,
        status=InvoiceStatus.DRAFT.value,
        due_date=due,
        total=draft.total.amount,
        paid=Decimal(0),
    )
    session.add(invoice)
    session.flush()
    for line, item in zip(draft.lines, items, strict=True):
        stored = line_record(invoice, line)
        session.add(stored)
        if item.one_off is not None:
            session.flush()
            item.one_off.invoice_line_id = stored.id
            stored.source = item.one_off.source
            stored.source_ref = item.one_off.source_ref or str(item.one_off.id)
    session.flush()
    return invoice


def line_record(invoice: Invoice, line: engine.InvoiceLine) -> InvoiceLine:
    """An engine invoice line as a row, with its source references."""
    charge, source = line.charge, line.charge.source
    span = charge.service_period
    return InvoiceLine(
        invoice_id=invoice.id,
        property_id=invoice.property_id,
        line_no=line.line_no,
        kind=charge.kind.value,
        description=charge.description[:500],
        unit_id=None if charge.unit_id is None else int(charge.unit_id),
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        exact_amount=charge.amount.amount,
        amount=line.amount.amount,
        service_first=None if span is None else span.first,
        service_last=None if span is None else span.last,
        estimated=charge.estimated,
        lease_id=None if source.lease_id is None else int(source.lease_id),
        tariff_id=None if source.tariff_id is None else int(source.tariff_id),
        tariff_version=source.tariff_version,
        tier=source.tier,
        band=source.band,
        meter_point_id=None
        if source.meter_point_id is None
        else int(source.meter_point_id),
        reading_ids=list(source.reading_ids),
        source="lease" if source.lease_id and not source.reference else None,
        source_ref=source.reference,
    )


# --- approval and numbers ---------------------------------------------------------


class CounterAllocator:
    """``engine.NumberAllocator`` over ``document_counters``: the row of the
    series and year is created if missing, then locked (``FOR UPDATE`` on
    PostgreSQL; SQLite serialises writers anyway) and incremented in the caller's
    transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def allocate(self, organization_id: str, series: str, year: int) -> int:
        org = int(organization_id)
        values = {"organization_id": org, "series": series, "year": year}
        dialect = postgresql if is_postgresql(self.session) else sqlite
        self.session.execute(
            dialect.insert(DocumentCounter)
            .values(**values, last_number=0)
            .on_conflict_do_nothing()
        )
        counter = self.session.scalar(
            sa.select(DocumentCounter)
            .where(
                DocumentCounter.organization_id == org,
                DocumentCounter.series == series,
                DocumentCounter.year == year,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert counter is not None  # inserted above when missing
        counter.last_number += 1
        self.session.flush()
        return counter.last_number


def take_number(session: Session, invoice: Invoice, issued_on: date) -> str:
    kind = engine.DocumentKind(invoice.kind)
    sequence = CounterAllocator(session).allocate(
        str(invoice.organization_id), kind.series, issued_on.year
    )
    return engine.format_document_number(kind.series, issued_on.year, sequence)


def approve_run(
    session: Session, scope: Scope, run_id: int, *, today: date
) -> BillingRun:
    """Issue every draft of the run: numbered, dated ``today``, frozen."""
    run = scope.get_for_write(session, BillingRun, run_id)
    if run.status == RunStatus.APPROVED:
        raise ConflictError(f"Billing run {run.id} is already approved.")
    drafts = session.scalars(
        sa.select(Invoice)
        .where(Invoice.run_id == run.id, Invoice.status == InvoiceStatus.DRAFT)
        .order_by(Invoice.id)
    )
    terms = settings_of(session, scope.organization_id).payment_terms_days
    for invoice in drafts:
        issue(session, invoice, today, terms)
    run.status = RunStatus.APPROVED.value
    run.approved_at = datetime.now(tz=run.computed_at.tzinfo)
    session.flush()
    return run


def issue(session: Session, invoice: Invoice, today: date, terms_days: int) -> None:
    """Number and issue a draft. Issued after the due date the run gave it, the
    invoice is due ``terms_days`` after issue, so a late approval never makes a
    payer overdue on the day they are billed."""
    invoice.number = take_number(session, invoice, today)
    invoice.issued_on = today
    invoice.status = InvoiceStatus.ISSUED.value
    if invoice.due_date < today:
        invoice.due_date = today + timedelta(days=terms_days)
