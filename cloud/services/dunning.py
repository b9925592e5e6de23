"""Dunning: late fees and payment reminders, applied by a job that takes ``now``.

``run_dunning`` does, for every issued invoice of one organization:

- late fees: each overdue line's fee is computed by the engine (``late_fee``, with
  the organization's effective-dated rules and the payments applied to the line),
  and only what was not charged before becomes a one-off charge of kind
  ``late_fee`` for the next billing run (``late_fee_charge``). One assessment per
  line and day, so running the job twice a day charges nothing twice;
- reminders: at each offset of the schedule (by default 3 days before the due
  date, on it, and 7 and 30 days after), while something is owed, one message
  through the transactional outbox (the organization's webhook or apprise
  target), recorded in ``payment_reminders``. A job that was down sends only the
  latest stage that fell due, not a burst of stale ones. Paid invoices get none.

Everything the job does is recorded with ``automatic`` true; the dunning report
counts the share of reminders sent without a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud import billing as engine
from cloud.models import (
    Invoice,
    LateFeeAssessment,
    OneOffCharge,
    PaymentAllocation,
    Reminder,
)
from cloud.models.billing import DocumentKind, InvoiceStatus
from cloud.services.billing import Settings, local_today, settings_of
from cloud.services.outbox import enqueue
from cloud.services.payments import open_items

logger = logging.getLogger(__name__)

OPEN = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


@dataclass
class DunningResult:
    late_fees: int = 0
    late_fee_total: Decimal = Decimal(0)
    reminders: int = 0

    def summary(self) -> dict[str, object]:
        return {
            "late_fees": self.late_fees,
            "late_fee_total": self.late_fee_total,
            "reminders": self.reminders,
        }


def run_dunning(
    session: Session, organization_id: int, *, now: datetime
) -> DunningResult:
    """Assess late fees and send due reminders for the organization's invoices."""
    settings = settings_of(session, organization_id)
    today = local_today(now, settings.timezone)
    result = DunningResult()
    invoices = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.number.is_not(None),
            Invoice.status != InvoiceStatus.VOID,
        )
        .order_by(Invoice.id)
    )
    for invoice in invoices:
        if invoice.due_date < today:
            _assess_late_fees(session, invoice, settings, today, now, result)
        if invoice.status in OPEN:
            _remind(session, invoice, settings, today, now, result)
    session.flush()
    logger.info(
        "dunning of organization %s on %s: %d late fees (%s), %d reminders",
        organization_id,
        today,
        result.late_fees,
        result.late_fee_total,
        result.reminders,
    )
    return result


def _assess_late_fees(
    session: Session,
    invoice: Invoice,
    settings: Settings,
    today: date,
    now: datetime,
    result: DunningResult,
) -> None:
    for line in invoice.lines:
        if line.kind == engine.ChargeKind.LATE_FEE or line.amount <= 0:
            continue
        if session.scalar(
            sa.select(LateFeeAssessment.id).where(
                LateFeeAssessment.invoice_line_id == line.id,
                LateFeeAssessment.through == today,
            )
        ):
            continue
        paid = [
            engine.Allocation(
                str(row.payment_id),
                str(line.id),
                _money(row.amount, invoice),
                row.applied_on,
            )
            for row in session.scalars(
                sa.select(PaymentAllocation).where(
                    PaymentAllocation.invoice_line_id == line.id
                )
            )
        ]
        fee = engine.late_fee(
            _money(line.amount, invoice),
            invoice.due_date,
            through=today,
            rules=settings.late_fee_rules,
            payments=paid,
            policy=settings.policy,
        )
        charged = _charged_before(session, line.id)
        charge = engine.late_fee_charge(
            fee,
            party_id=str(invoice.person_id),
            unit_id=None if line.unit_id is None else str(line.unit_id),
            item_id=f"{invoice.number}/{line.line_no}",
            already_charged=_money(charged, invoice),
        )
        if charge is None:
            continue
        record = OneOffCharge(
            organization_id=invoice.organization_id,
            property_id=invoice.property_id,
            kind=engine.ChargeKind.LATE_FEE.value,
            person_id=invoice.person_id,
            lease_id=invoice.lease_id,
            unit_id=line.unit_id,
            amount=charge.amount.amount,
            currency=invoice.currency,
            description=charge.description[:500],
            charge_date=today,
            source="late_fee",
            source_ref=f"{invoice.number}/{line.line_no}@{today}",
        )
        session.add(record)
        session.flush()
        session.add(
            LateFeeAssessment(
                invoice_id=invoice.id,
                property_id=invoice.property_id,
                invoice_line_id=line.id,
                through=today,
                days=fee.days,
                total=fee.amount.amount,
                charged=charge.amount.amount,
                one_off_charge_id=record.id,
                assessed_at=now,
            )
        )
        result.late_fees += 1
        result.late_fee_total += charge.amount.amount


def _money(amount: Decimal, invoice: Invoice) -> engine.Money:
    return engine.Money(amount, invoice.currency)


def _charged_before(session: Session, line_id: int) -> Decimal:
    amounts = session.scalars(
        sa.select(LateFeeAssessment.charged).where(
            LateFeeAssessment.invoice_line_id == line_id
        )
    )
    return sum(amounts, Decimal(0))


def _remind(
    session: Session,
    invoice: Invoice,
    settings: Settings,
    today: date,
    now: datetime,
    result: DunningResult,
) -> None:
    due_offsets = [
        offset
        for offset in sorted(settings.reminder_offsets)
        if invoice.due_date + timedelta(days=offset) <= today
    ]
    if not due_offsets:
        return
    offset = due_offsets[-1]
    if session.scalar(
        sa.select(Reminder.id).where(
            Reminder.invoice_id == invoice.id, Reminder.offset_days == offset
        )
    ):
        return
    outstanding = sum(
        (
            item.outstanding.amount
            for item in open_items(
                session,
                invoice.property_id,
                invoice.person_id,
                currency=invoice.currency,
            )
            if int(item.item_id) in {line.id for line in invoice.lines}
        ),
        Decimal(0),
    )
    if outstanding <= 0:
        return
    message_id = None
    if settings.reminder_channel and settings.reminder_target:
        message_id = enqueue(
            session,
            organization_id=invoice.organization_id,
            channel=settings.reminder_channel,
            recipient=f"person:{invoice.person_id}",
            target=settings.reminder_target,
            topic=f"invoice:{invoice.id}:reminder",
            payload={
                "kind": "payment_reminder",
                "invoice": invoice.number,
                "person_id": invoice.person_id,
                "due_date": invoice.due_date.isoformat(),
                "days_from_due": offset,
                "outstanding": str(outstanding),
                "currency": invoice.currency,
            },
            dedup_key=f"reminder:{invoice.id}:{offset}",
        )
    session.add(
        Reminder(
            invoice_id=invoice.id,
            property_id=invoice.property_id,
            offset_days=offset,
            outstanding=outstanding,
            channel=settings.reminder_channel if message_id else None,
            outbox_message_id=message_id,
            automatic=True,
            sent_at=now,
        )
    )
    result.reminders += 1
