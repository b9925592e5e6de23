"""Credit notes: the only way to correct an issued invoice.

The stored invoice and its earlier credit notes are turned back into the engine's
documents, the engine's ``credit_note`` checks every amount against what remains
of each line, and the result is stored with its own number (series ``CN``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud import billing as engine
from cloud.models import Invoice
from cloud.models.billing import DocumentKind, InvoiceStatus
from cloud.services import payments
from cloud.services.access import Scope
from cloud.services.billing import settings_of
from cloud.services.billing_runs import line_record, take_number
from cloud.services.errors import ConflictError, InvalidInputError


class _Numbered:
    """Hands the engine a number already taken from the counter row."""

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence

    def allocate(self, organization_id: str, series: str, year: int) -> int:
        return self.sequence


def engine_document(invoice: Invoice, policy: engine.RoundingPolicy) -> engine.Invoice:
    """A stored, issued invoice or credit note as the engine's document."""
    lines = tuple(
        engine.InvoiceLine(
            line.line_no,
            engine.Charge(
                kind=engine.ChargeKind(line.kind),
                party_id=str(invoice.person_id),
                unit_id=None if line.unit_id is None else str(line.unit_id),
                description=line.description,
                amount=engine.Money(line.exact_amount, invoice.currency),
            ),
            engine.Money(line.amount, invoice.currency),
        )
        for line in invoice.lines
    )
    return engine.Invoice(
        number=invoice.number or "",
        kind=engine.DocumentKind(invoice.kind),
        organization_id=str(invoice.organization_id),
        party_id=str(invoice.person_id),
        currency=invoice.currency,
        issued_on=invoice.issued_on or invoice.due_date,
        due_date=invoice.due_date,
        policy=policy,
        lines=lines,
        original_number=None,
        reason=invoice.reason,
    )


def credit_note(
    session: Session,
    scope: Scope,
    invoice_id: int,
    *,
    reason: str,
    amounts: Mapping[int, Decimal] | None,
    today: date,
) -> Invoice:
    original = scope.get_for_write(session, Invoice, invoice_id)
    if original.kind != DocumentKind.INVOICE or original.number is None:
        raise ConflictError(
            f"Invoice {invoice_id} is a draft or a credit note; only issued invoices "
            "are credited (a draft is replaced by running the billing again)."
        )
    policy = settings_of(session, scope.organization_id).policy
    prior = list(
        session.scalars(
            sa.select(Invoice).where(Invoice.original_invoice_id == original.id)
        )
    )
    by_id = {line.id: line.line_no for line in original.lines}
    base = engine_document(original, policy)
    earlier = [_as_credit(note, base, by_id, policy) for note in prior]
    wanted = None
    if amounts is not None:
        wanted = {
            number: engine.Money(amount, original.currency)
            for number, amount in amounts.items()
        }
    sequence_number = take_number(session, _blank_note(original), today)
    sequence = int(sequence_number.rsplit("-", 1)[1])
    try:
        document = engine.credit_note(
            base,
            allocator=_Numbered(sequence),
            issued_on=today,
            reason=reason,
            amounts=wanted,
            prior_credit_notes=earlier,
        )
    except engine.BillingError as exc:
        raise InvalidInputError(str(exc), field="amounts") from exc
    note = _store(session, original, document, reason, today)
    payments.release_credited(session, original, today)
    return note


def _blank_note(original: Invoice) -> Invoice:
    return Invoice(
        organization_id=original.organization_id, kind=DocumentKind.CREDIT_NOTE.value
    )


def _as_credit(
    note: Invoice,
    original: engine.Invoice,
    line_numbers: dict[int, int],
    policy: engine.RoundingPolicy,
) -> engine.Invoice:
    document = engine_document(note, policy)
    lines = tuple(
        engine.InvoiceLine(
            line.line_no,
            line.charge,
            line.amount,
            credits_line=None
            if stored.credits_line_id is None
            else line_numbers[stored.credits_line_id],
        )
        for line, stored in zip(document.lines, note.lines, strict=True)
    )
    from dataclasses import replace

    return replace(document, lines=lines, original_number=original.number)


def _store(
    session: Session,
    original: Invoice,
    document: engine.Invoice,
    reason: str,
    today: date,
) -> Invoice:
    note = Invoice(
        organization_id=original.organization_id,
        property_id=original.property_id,
        kind=DocumentKind.CREDIT_NOTE.value,
        number=document.number,
        person_id=original.person_id,
        lease_id=original.lease_id,
        unit_id=original.unit_id,
        currency=original.currency,
        status=InvoiceStatus.ISSUED.value,
        issued_on=today,
        due_date=today,
        total=document.total.amount,
        paid=Decimal(0),
        original_invoice_id=original.id,
        reason=reason,
    )
    session.add(note)
    session.flush()
    line_ids = {line.line_no: line.id for line in original.lines}
    for line in document.lines:
        stored = line_record(note, line)
        if line.credits_line is not None:
            stored.credits_line_id = line_ids[line.credits_line]
        session.add(stored)
    session.flush()
    session.refresh(note, ["lines"])
    return note
