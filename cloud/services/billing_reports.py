"""Billing reports: income by month, property and charge type; arrears aging;
collection rate; consumption per unit and building; dunning figures.

Reports cover the properties where the caller reads billing for every record
(owners and tenants see their own invoices instead). Amounts are sums of stored,
rounded lines and payments: the reports add up, they never price anything again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    Invoice,
    InvoiceLine,
    Payment,
    Property,
    Refund,
    Reminder,
    Unit,
)
from cloud.models.billing import DocumentKind, InvoiceStatus
from cloud.services.access import Permission, Scope
from cloud.services.errors import InvalidInputError, PermissionDeniedError
from cloud.services.payments import open_items

AGING_BUCKETS = (("not_due", None), ("0-30", 30), ("31-60", 60), ("61-90", 90))


def report_properties(
    session: Session, scope: Scope, property_id: int | None
) -> list[int]:
    """The properties a report covers: ``property_id`` or every one billed."""
    if Permission.BILLING_READ in scope.org_wide:
        ids = list(
            session.scalars(
                sa.select(Property.id).where(
                    Property.organization_id == scope.organization_id
                )
            )
        )
    else:
        ids = sorted(scope.properties.get(Permission.BILLING_READ, ()))
    if not ids:
        raise PermissionDeniedError(
            "Reports need billing:read over whole properties; none of your roles "
            "grants it."
        )
    if property_id is not None:
        if property_id not in ids:
            raise PermissionDeniedError(
                f"None of your roles grants billing:read on property {property_id}.",
                field="property_id",
            )
        return [property_id]
    return ids


def _check_span(first: date, last: date) -> None:
    if last < first:
        raise InvalidInputError(f"last {last} is before first {first}.", field="last")


def income(
    session: Session, scope: Scope, property_id: int | None, first: date, last: date
) -> dict[str, Any]:
    """Invoiced (credit notes netted) and received, per month, property and kind;
    refunds as money out."""
    _check_span(first, last)
    ids = report_properties(session, scope, property_id)
    invoiced: dict[tuple[str, int, str], Decimal] = defaultdict(Decimal)
    rows = session.execute(
        sa.select(
            Invoice.issued_on, Invoice.property_id, InvoiceLine.kind, InvoiceLine.amount
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.property_id.in_(ids),
            Invoice.number.is_not(None),
            Invoice.issued_on.between(first, last),
        )
    )
    for issued_on, prop, kind, amount in rows:
        assert issued_on is not None  # numbered documents carry their issue day
        invoiced[(issued_on.strftime("%Y-%m"), prop, kind)] += amount
    received = _by_month(
        session.execute(
            sa.select(Payment.received_at, Payment.property_id, Payment.amount).where(
                Payment.property_id.in_(ids)
            )
        ),
        first,
        last,
    )
    refunded = _by_month(
        session.execute(
            sa.select(Refund.refunded_at, Refund.property_id, Refund.amount).where(
                Refund.property_id.in_(ids)
            )
        ),
        first,
        last,
    )
    return {
        "income": [
            {"month": m, "property_id": p, "charge_type": k, "amount": amount}
            for (m, p, k), amount in sorted(invoiced.items())
        ],
        "received": [
            {"month": m, "property_id": p, "amount": amount}
            for (m, p), amount in sorted(received.items())
        ],
        "expense": [
            {"month": m, "property_id": p, "kind": "refund", "amount": amount}
            for (m, p), amount in sorted(refunded.items())
        ],
    }


def _by_month(rows: Any, first: date, last: date) -> dict[tuple[str, int], Decimal]:
    totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for moment, prop, amount in rows:
        if first <= moment.date() <= last:
            totals[(moment.strftime("%Y-%m"), prop)] += amount
    return totals


def arrears(
    session: Session, scope: Scope, property_id: int | None, today: date
) -> dict[str, Any]:
    """What is owed on ``today`` by days past due: not yet due, 0–30, 31–60,
    61–90 and over 90."""
    ids = report_properties(session, scope, property_id)
    buckets: dict[str, Decimal] = {name: Decimal(0) for name, _ in AGING_BUCKETS}
    buckets[">90"] = Decimal(0)
    people = session.execute(
        sa.select(Invoice.property_id, Invoice.person_id, Invoice.currency)
        .where(
            Invoice.property_id.in_(ids),
            Invoice.status.in_([InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID]),
        )
        .distinct()
    ).all()
    for prop, person, currency in people:
        for item in open_items(session, prop, person, currency=currency):
            buckets[_bucket((today - item.due_date).days)] += item.outstanding.amount
    return {
        "as_of": today,
        "buckets": [
            {"days": name, "amount": amount} for name, amount in buckets.items()
        ],
        "total": sum(buckets.values(), Decimal(0)),
    }


def _bucket(days_past_due: int) -> str:
    """Due today is not overdue yet (late fees start the day after)."""
    if days_past_due <= 0:
        return "not_due"
    for name, limit in AGING_BUCKETS[1:]:
        assert limit is not None
        if days_past_due <= limit:
            return name
    return ">90"


def collection(
    session: Session, scope: Scope, property_id: int | None, first: date, last: date
) -> dict[str, Any]:
    """Of the invoices due in the span: how much was billed and how much paid."""
    _check_span(first, last)
    ids = report_properties(session, scope, property_id)
    totals = session.execute(
        sa.select(Invoice.total, Invoice.paid).where(
            Invoice.property_id.in_(ids),
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.number.is_not(None),
            Invoice.due_date.between(first, last),
        )
    ).all()
    billed = sum((total for total, _ in totals), Decimal(0))
    paid = sum((done for _, done in totals), Decimal(0))
    return {
        "first": first,
        "last": last,
        "invoices": len(totals),
        "billed": billed,
        "paid": paid,
        "collection_rate": None
        if billed == 0
        else (paid / billed).quantize(Decimal("0.0001")),
    }


def consumption(
    session: Session, scope: Scope, property_id: int | None, first: date, last: date
) -> dict[str, Any]:
    """Billed metered quantity per unit and per building, by supply."""
    _check_span(first, last)
    ids = report_properties(session, scope, property_id)
    rows = session.execute(
        sa.select(
            Unit.building_id,
            InvoiceLine.unit_id,
            InvoiceLine.kind,
            InvoiceLine.quantity,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Unit, Unit.id == InvoiceLine.unit_id)
        .where(
            Invoice.property_id.in_(ids),
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.status != InvoiceStatus.VOID,
            InvoiceLine.meter_point_id.is_not(None),
            # Tier adders re-price usage already on a band line; count it once.
            InvoiceLine.band.is_not(None) | InvoiceLine.tier.is_not(None),
            sa.not_(
                InvoiceLine.band.is_(None) & InvoiceLine.description.contains(" adder:")
            ),
            InvoiceLine.service_first.between(first, last),
        )
    )
    per_unit: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    per_building: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for building, unit, kind, quantity in rows:
        assert unit is not None  # joined to units
        per_unit[(unit, kind)] += quantity or Decimal(0)
        per_building[(building, kind)] += quantity or Decimal(0)
    return {
        "units": [
            {"unit_id": u, "supply": k, "quantity": q}
            for (u, k), q in sorted(per_unit.items())
        ],
        "buildings": [
            {"building_id": b, "supply": k, "quantity": q}
            for (b, k), q in sorted(per_building.items())
        ],
    }


def dunning(
    session: Session, scope: Scope, property_id: int | None, first: date, last: date
) -> dict[str, Any]:
    """Reminders sent in the span, the share sent by the job without a person, and
    the collection rate of the invoices due in the span."""
    ids = report_properties(session, scope, property_id)
    sent = session.execute(
        sa.select(
            Reminder.automatic, Reminder.outbox_message_id, Reminder.sent_at
        ).where(Reminder.property_id.in_(ids))
    ).all()
    in_span = [row for row in sent if first <= row.sent_at.date() <= last]
    automatic = sum(1 for row in in_span if row.automatic)
    delivered = sum(1 for row in in_span if row.outbox_message_id is not None)
    rate = collection(session, scope, property_id, first, last)
    return {
        "reminders": len(in_span),
        "automatic": automatic,
        "through_outbox": delivered,
        "automatic_share": None
        if not in_span
        else (Decimal(automatic) / len(in_span)).quantize(Decimal("0.0001")),
        "collection_rate": rate["collection_rate"],
    }
