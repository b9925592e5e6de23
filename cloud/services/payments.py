"""Payments, refunds and balances; bank statements in, finance export out.

A payment is spread over the payer's open items by the engine
(``allocate_payment``, in the organization's ``AllocationOrder``: late fees, then
the oldest charges first, by default); what is left stays as the payer's credit,
which only a refund (``refund_credit``) pays out. An open item is one line of an
issued invoice, less what payments and credit notes already took off it.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud import billing as engine
from cloud.models import (
    Invoice,
    InvoiceLine,
    Lease,
    LeaseUnit,
    OwnershipShare,
    Payment,
    PaymentAllocation,
    Person,
    Property,
    Refund,
)
from cloud.models.billing import DocumentKind, InvoiceStatus
from cloud.services.access import Permission, Scope
from cloud.services.billing import local_today, require_unit_in, settings_of
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
STATEMENT_COLUMNS = ("transaction_id", "date", "amount", "reference")


def open_items(
    session: Session, property_id: int, person_id: int, *, currency: str
) -> list[engine.OpenItem]:
    """The person's invoice lines in the property that still have something owed."""
    lines = session.execute(
        sa.select(InvoiceLine, Invoice)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.property_id == property_id,
            Invoice.person_id == person_id,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.status.in_(list(OPEN_STATUSES)),
            InvoiceLine.amount > 0,
        )
    ).all()
    taken = _taken_off([line.id for line, _ in lines], session)
    items = []
    for line, invoice in lines:
        outstanding = line.amount - taken.get(line.id, Decimal(0))
        if outstanding > 0:
            items.append(
                engine.OpenItem(
                    item_id=str(line.id),
                    party_id=str(person_id),
                    unit_id=None if line.unit_id is None else str(line.unit_id),
                    kind=engine.ChargeKind(line.kind),
                    due_date=invoice.due_date,
                    outstanding=engine.Money(outstanding, currency),
                    issued_on=invoice.issued_on,
                )
            )
    return items


def _taken_off(line_ids: list[int], session: Session) -> dict[int, Decimal]:
    """Per line: paid to it, and credited by credit notes."""
    taken: dict[int, Decimal] = defaultdict(Decimal)
    if not line_ids:
        return taken
    paid = session.execute(
        sa.select(PaymentAllocation.invoice_line_id, PaymentAllocation.amount).where(
            PaymentAllocation.invoice_line_id.in_(line_ids)
        )
    )
    for line_id, amount in paid:
        taken[line_id] += amount
    credited = session.execute(
        sa.select(InvoiceLine.credits_line_id, InvoiceLine.amount).where(
            InvoiceLine.credits_line_id.in_(line_ids)
        )
    )
    for credited_id, amount in credited:
        if credited_id is not None:
            taken[credited_id] -= amount  # credit note lines are negative
    return taken


@dataclass
class PaymentResult:
    payment: Payment
    allocations: list[PaymentAllocation] = field(default_factory=list)


def record_payment(
    session: Session,
    scope: Scope,
    *,
    property_id: int,
    person_id: int,
    amount: Decimal,
    received_at: datetime,
    method: str,
    reference: str | None,
    unit_id: int | None = None,
    designated: tuple[str, ...] = (),
) -> Payment:
    """Store a payment and apply it; the rest is the payer's credit."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    _check_payer(session, scope, found.id, person_id, unit_id)
    if amount <= 0:
        raise InvalidInputError(f"amount {amount} must be positive.", field="amount")
    _unique_reference(session, found.id, method, reference)
    settings = settings_of(session, scope.organization_id)
    received_on = _not_after_today(received_at, settings.timezone, "received_at")
    record = Payment(
        property_id=found.id,
        person_id=person_id,
        unit_id=unit_id,
        amount=amount,
        unallocated=amount,
        currency=settings.currency,
        received_at=received_at,
        method=method,
        reference=reference,
    )
    session.add(record)
    session.flush()
    result = engine.allocate_payment(
        engine.Payment(
            str(record.id),
            str(person_id),
            received_on,
            engine.Money(amount, settings.currency),
            None if unit_id is None else str(unit_id),
        ),
        open_items(session, found.id, person_id, currency=settings.currency),
        order=settings.allocation_order,
        designated=designated,
    )
    _store_allocations(session, record, result)
    return record


def _check_payer(
    session: Session,
    scope: Scope,
    property_id: int,
    person_id: int,
    unit_id: int | None,
) -> None:
    """The person exists in the organization and, when a unit is named, leases or
    leased it, or owns a share of it: money is never kept on someone else's unit."""
    person = session.get(Person, person_id)
    if person is None or person.organization_id != scope.organization_id:
        raise NotFoundError(f"Person {person_id!r} not found.", field="person_id")
    if unit_id is None:
        return
    require_unit_in(session, property_id, unit_id)
    leased = sa.select(LeaseUnit.unit_id).where(
        LeaseUnit.unit_id == unit_id,
        LeaseUnit.lease_id.in_(sa.select(Lease.id).where(Lease.tenant_id == person_id)),
    )
    owned = sa.select(OwnershipShare.unit_id).where(
        OwnershipShare.unit_id == unit_id, OwnershipShare.person_id == person_id
    )
    if session.scalar(leased.union(owned).limit(1)) is None:
        raise InvalidInputError(
            f"Person {person_id} has no lease or ownership share of unit {unit_id}; "
            "name one of their units, or none.",
            field="unit_id",
        )


def _not_after_today(moment: datetime, timezone: str, field: str) -> date:
    """The local day of ``moment``; a day after today is refused (money that has
    not moved yet would start late fees and allocations on a day to come)."""
    day = local_today(moment, timezone)
    today = local_today(datetime.now(UTC), timezone)
    if day > today:
        raise InvalidInputError(
            f"{field} {moment.isoformat()} is on {day}, after today ({today}) in "
            f"{timezone}.",
            field=field,
        )
    return day


def _unique_reference(
    session: Session, property_id: int, method: str, reference: str | None
) -> None:
    if reference is None:
        return
    taken = session.scalar(
        sa.select(Payment.id).where(
            Payment.property_id == property_id,
            Payment.method == method,
            Payment.reference == reference,
        )
    )
    if taken is not None:
        raise ConflictError(
            f"Payment {taken} already has {method} reference {reference!r}.",
            field="reference",
        )


def _store_allocations(
    session: Session, record: Payment, result: engine.PaymentAllocation
) -> None:
    touched: set[int] = set()
    for allocation in result.allocations:
        line = session.get(InvoiceLine, int(allocation.item_id))
        assert line is not None  # open items are lines read just before
        session.add(
            PaymentAllocation(
                payment_id=record.id,
                property_id=record.property_id,
                invoice_id=line.invoice_id,
                invoice_line_id=line.id,
                amount=allocation.amount.amount,
                applied_on=allocation.applied_on,
            )
        )
        touched.add(line.invoice_id)
    record.unallocated = result.unallocated.amount
    session.flush()
    for invoice_id in touched:
        refresh_invoice_status(session, invoice_id)


def release_credited(session: Session, original: Invoice, today: date) -> Decimal:
    """After a credit note on ``original``: what was paid on a line beyond what the
    line still asks is taken off it and becomes its payer's credit again, newest
    payment first. Allocations are never edited: the release is a negative
    allocation of the same payment, dated ``today``. Returns the amount released."""
    line_ids = [line.id for line in original.lines]
    taken = _taken_off(line_ids, session)
    released = Decimal(0)
    for line in original.lines:
        excess = taken.get(line.id, Decimal(0)) - line.amount
        if excess <= 0:
            continue
        per_payment = session.execute(
            sa.select(
                PaymentAllocation.payment_id, sa.func.sum(PaymentAllocation.amount)
            )
            .where(PaymentAllocation.invoice_line_id == line.id)
            .group_by(PaymentAllocation.payment_id)
            .order_by(PaymentAllocation.payment_id.desc())
        ).all()
        for payment_id, net in per_payment:
            give_back = min(excess, Decimal(net))
            if give_back <= 0:
                continue
            payment = session.get(Payment, payment_id)
            assert payment is not None  # an allocation's payment exists
            session.add(
                PaymentAllocation(
                    payment_id=payment.id,
                    property_id=payment.property_id,
                    invoice_id=original.id,
                    invoice_line_id=line.id,
                    amount=-give_back,
                    applied_on=today,
                )
            )
            payment.unallocated += give_back
            excess -= give_back
            released += give_back
            if excess <= 0:
                break
    if released:
        session.flush()
        refresh_invoice_status(session, original.id)
        logger.info(
            "credit on invoice %s released %s of its payments as credit",
            original.id,
            released,
        )
    return released


def refresh_invoice_status(session: Session, invoice_id: int) -> None:
    """``paid`` and the status of an issued invoice from its allocations."""
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    amounts = session.scalars(
        sa.select(PaymentAllocation.amount).where(
            PaymentAllocation.invoice_id == invoice_id
        )
    )
    total_paid = sum(amounts, Decimal(0))
    invoice.paid = total_paid
    left = open_items(
        session, invoice.property_id, invoice.person_id, currency=invoice.currency
    )
    line_ids = {str(line.id) for line in invoice.lines}
    if not any(item.item_id in line_ids for item in left):
        invoice.status = InvoiceStatus.PAID.value
    elif total_paid > 0:
        invoice.status = InvoiceStatus.PARTIALLY_PAID.value
    session.flush()


def allocations_of(session: Session, payment_id: int) -> list[PaymentAllocation]:
    return list(
        session.scalars(
            sa.select(PaymentAllocation)
            .where(PaymentAllocation.payment_id == payment_id)
            .order_by(PaymentAllocation.id)
        )
    )


# --- credit and refunds ----------------------------------------------------------


def credit_of(
    session: Session, property_id: int, person_id: int, unit_id: int | None
) -> Decimal:
    """Unallocated payments less refunds, of the person on the unit (or none)."""
    unallocated = session.scalars(
        sa.select(Payment.unallocated).where(
            Payment.property_id == property_id,
            Payment.person_id == person_id,
            _same_unit(Payment.unit_id, unit_id),
        )
    )
    refunded = session.scalars(
        sa.select(Refund.amount).where(
            Refund.property_id == property_id,
            Refund.person_id == person_id,
            _same_unit(Refund.unit_id, unit_id),
        )
    )
    return sum(unallocated, Decimal("0.00")) - sum(refunded, Decimal("0.00"))


def _same_unit(column: Any, unit_id: int | None) -> Any:
    return column.is_(None) if unit_id is None else column == unit_id


def refund(
    session: Session,
    scope: Scope,
    *,
    property_id: int,
    person_id: int,
    amount: Decimal,
    refunded_at: datetime,
    reference: str | None,
    unit_id: int | None = None,
) -> Refund:
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    _check_payer(session, scope, found.id, person_id, unit_id)
    settings = settings_of(session, scope.organization_id)
    refunded_on = _not_after_today(refunded_at, settings.timezone, "refunded_at")
    credit = credit_of(session, found.id, person_id, unit_id)
    balance = engine.AccountBalance(
        str(person_id),
        None if unit_id is None else str(unit_id),
        engine.Money.zero(settings.currency),
        engine.Money(credit, settings.currency),
    )
    try:
        engine.refund_credit(
            balance,
            refund_id="new",
            amount=engine.Money(amount, settings.currency),
            refunded_on=refunded_on,
        )
    except engine.PaymentError as exc:
        raise InvalidInputError(str(exc), field="amount") from exc
    record = Refund(
        property_id=found.id,
        person_id=person_id,
        unit_id=unit_id,
        amount=amount,
        currency=settings.currency,
        refunded_at=refunded_at,
        reference=reference,
    )
    session.add(record)
    session.flush()
    return record


def balances(session: Session, scope: Scope, property_id: int) -> list[dict[str, Any]]:
    """Per person and unit: what is outstanding, the credit held, and the net."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_READ, found.id)
    settings = settings_of(session, scope.organization_id)
    people = set(
        session.scalars(
            sa.select(Invoice.person_id).where(Invoice.property_id == found.id)
        )
    ) | set(
        session.scalars(
            sa.select(Payment.person_id).where(Payment.property_id == found.id)
        )
    )
    rows: dict[tuple[int, int | None], dict[str, Decimal]] = defaultdict(
        lambda: {"outstanding": Decimal("0.00"), "credit": Decimal("0.00")}
    )
    for person_id in people:
        for item in open_items(
            session, found.id, person_id, currency=settings.currency
        ):
            unit = None if item.unit_id is None else int(item.unit_id)
            rows[(person_id, unit)]["outstanding"] += item.outstanding.amount
        units = set(
            session.scalars(
                sa.select(Payment.unit_id).where(
                    Payment.property_id == found.id, Payment.person_id == person_id
                )
            )
        )
        for unit_id in units:
            rows[(person_id, unit_id)]["credit"] = credit_of(
                session, found.id, person_id, unit_id
            )
    return [
        {
            "person_id": person_id,
            "unit_id": unit_id,
            "currency": settings.currency,
            "outstanding": values["outstanding"],
            "credit": values["credit"],
            "net": values["outstanding"] - values["credit"],
        }
        for (person_id, unit_id), values in sorted(
            rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
        )
    ]


# --- bank statements -------------------------------------------------------------


@dataclass
class StatementResult:
    imported: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "imported": len(self.imported),
            "rejected": len(self.rejected),
            "payment_ids": self.imported,
            "errors": self.rejected,
        }


def import_statement(
    session: Session, scope: Scope, property_id: int, content: bytes
) -> StatementResult:
    """Payments from a bank or payment-provider CSV (``transaction_id, date,
    amount, reference``), each matched to its invoice by the invoice number in
    ``reference``. A bad row is rejected with its line and reason; good rows are
    kept (each in a savepoint, so one row's failure cannot undo another)."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_WRITE, found.id)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            "The statement is not UTF-8 text.", field="file"
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = set(STATEMENT_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise InvalidInputError(
            f"The statement lacks the columns {sorted(missing)}.", field="file"
        )
    result = StatementResult()
    for row in reader:
        line = reader.line_num
        try:
            with session.begin_nested():
                payment = _statement_payment(session, scope, found.id, row)
            result.imported.append(payment.id)
        except (InvalidInputError, ConflictError, NotFoundError) as exc:
            result.rejected.append({"line": line, "message": exc.message})
    logger.info(
        "statement for property %s: %d payments imported, %d rows rejected",
        found.id,
        len(result.imported),
        len(result.rejected),
    )
    return result


def _statement_payment(
    session: Session, scope: Scope, property_id: int, row: dict[str, str]
) -> Payment:
    transaction = (row.get("transaction_id") or "").strip()
    if not transaction:
        raise InvalidInputError("transaction_id is empty.")
    try:
        day = date.fromisoformat((row.get("date") or "").strip())
    except ValueError as exc:
        raise InvalidInputError(f"date {row.get('date')!r} is not YYYY-MM-DD.") from exc
    try:
        amount = Decimal((row.get("amount") or "").strip())
    except InvalidOperation as exc:
        raise InvalidInputError(
            f"amount {row.get('amount')!r} is not a number."
        ) from exc
    if (
        not amount.is_finite()
        or amount <= 0
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise InvalidInputError(
            f"amount {row.get('amount')!r} is not a positive amount in cents."
        )
    reference = (row.get("reference") or "").strip()
    invoice = session.scalar(
        sa.select(Invoice).where(
            Invoice.property_id == property_id,
            Invoice.number.is_not(None),
            sa.literal(reference).contains(Invoice.number),
        )
    )
    if invoice is None:
        raise InvalidInputError(
            f"reference {reference!r} names no issued invoice of this property."
        )
    line_ids = tuple(str(line.id) for line in invoice.lines)
    left = open_items(
        session, property_id, invoice.person_id, currency=invoice.currency
    )
    designated = tuple(item.item_id for item in left if item.item_id in line_ids)
    return record_payment(
        session,
        scope,
        property_id=property_id,
        person_id=invoice.person_id,
        amount=amount,
        received_at=datetime.combine(day, time(12), tzinfo=UTC),
        method="bank_statement",
        reference=transaction,
        designated=designated,
    )


# --- export ---------------------------------------------------------------------

EXPORT_COLUMNS = (
    "record",
    "number",
    "date",
    "person_id",
    "unit_id",
    "kind",
    "description",
    "amount",
    "currency",
    "reference",
)


def export_rows(
    session: Session, scope: Scope, property_id: int, first: date, last: date
) -> list[dict[str, Any]]:
    """Issued documents' lines and payments of the days, for the finance system."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.BILLING_READ, found.id)
    rows: list[dict[str, Any]] = []
    documents = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.property_id == found.id,
            Invoice.issued_on.between(first, last),
        )
        .order_by(Invoice.issued_on, Invoice.number)
    )
    for invoice in documents:
        rows += [
            {
                "record": invoice.kind,
                "number": f"{invoice.number}/{line.line_no}",
                "date": invoice.issued_on.isoformat() if invoice.issued_on else "",
                "person_id": invoice.person_id,
                "unit_id": line.unit_id,
                "kind": line.kind,
                "description": line.description,
                "amount": str(line.amount),
                "currency": invoice.currency,
                "reference": line.source_ref or "",
            }
            for line in invoice.lines
        ]
    timezone = settings_of(session, scope.organization_id).timezone
    payments = session.scalars(
        sa.select(Payment)
        .where(Payment.property_id == found.id)
        .order_by(Payment.received_at, Payment.id)
    )
    refunds = session.scalars(
        sa.select(Refund)
        .where(Refund.property_id == found.id)
        .order_by(Refund.refunded_at, Refund.id)
    )
    moved: list[tuple[str, Payment | Refund, datetime, str, Decimal, str]] = [
        ("payment", p, p.received_at, p.method, p.amount, "Payment") for p in payments
    ] + [("refund", r, r.refunded_at, "refund", -r.amount, "Refund") for r in refunds]
    for record_kind, record, at, kind, amount, label in moved:
        day = local_today(at, timezone)
        if first <= day <= last:
            rows.append(
                {
                    "record": record_kind,
                    "number": str(record.id),
                    "date": day.isoformat(),
                    "person_id": record.person_id,
                    "unit_id": record.unit_id,
                    "kind": kind,
                    "description": f"{label} {record.id}",
                    "amount": str(amount),
                    "currency": record.currency,
                    "reference": record.reference or "",
                }
            )
    # by day; on one day documents, then payments, then refunds, each in order
    return sorted(rows, key=lambda row: row["date"])


def export_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
