"""Invoices and credit notes: rounded lines, a total that is their sum, numbers.

An invoice is built as a draft from charges (each line keeps its charge, hence its
source: lease, tariff version and tier, readings) and rounded once under the
organization's ``RoundingPolicy``: per line, or per invoice with the rounded total
spread back over the lines, so in both cases the total is exactly the sum of the
lines on paper. Issuing gives it a number and freezes it.

An issued document is never edited. A mistake is corrected by a credit note: a
negative document referencing the original invoice and the lines it credits, never
more than what remains of each line after earlier credit notes. Credit notes have
their own number series.

Numbers are gapless per organization, series and calendar year of the issue date:
``INV-2026-000001``. The ``NumberAllocator`` protocol is what issuing needs; a
database-backed allocator must take the next number inside the transaction that
stores the document (a counter row locked for update), so a rolled-back issue
gives its number back instead of leaving a gap. ``InMemoryNumberAllocator`` is the
reference behaviour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Protocol

from cloud.billing.charges import Charge
from cloud.billing.errors import CurrencyMismatchError, InvoiceError, NumberingError
from cloud.billing.money import Money, RoundingPolicy


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def series(self) -> str:
        return "INV" if self is DocumentKind.INVOICE else "CN"


class NumberAllocator(Protocol):
    """Hands out document numbers without gaps."""

    def allocate(self, organization_id: str, series: str, year: int) -> int:
        """The next sequence number (1, 2, 3 ...) of ``series`` for the organization
        in ``year``; never the same twice, never skipping one that was kept."""


@dataclass
class InMemoryNumberAllocator:
    """A gapless counter per (organization, series, year), for tests and tools."""

    counters: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def allocate(self, organization_id: str, series: str, year: int) -> int:
        key = (organization_id, series, year)
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


def format_document_number(series: str, year: int, sequence: int) -> str:
    """``INV-2026-000001``: series, year, sequence of at least six digits."""
    if sequence < 1:
        raise NumberingError(
            f"sequence number {sequence} of {series} {year} is not positive"
        )
    return f"{series}-{year:04d}-{sequence:06d}"


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """A charge and its rounded amount; ``credits_line`` on a credit note names the
    original line it reverses."""

    line_no: int
    charge: Charge
    amount: Money
    credits_line: int | None = None

    @property
    def exact_amount(self) -> Money:
        return self.charge.amount


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    organization_id: str
    party_id: str
    currency: str
    due_date: date
    policy: RoundingPolicy
    lines: tuple[InvoiceLine, ...]

    @property
    def total(self) -> Money:
        return Money.total([line.amount for line in self.lines], self.currency)


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued invoice or credit note. Frozen: corrections are credit notes."""

    number: str
    kind: DocumentKind
    organization_id: str
    party_id: str
    currency: str
    issued_on: date
    due_date: date
    policy: RoundingPolicy
    lines: tuple[InvoiceLine, ...]
    original_number: str | None = None
    reason: str | None = None

    @property
    def total(self) -> Money:
        return Money.total([line.amount for line in self.lines], self.currency)


def draft_invoice(
    charges: Sequence[Charge],
    *,
    organization_id: str,
    party_id: str,
    due_date: date,
    policy: RoundingPolicy | None = None,
) -> InvoiceDraft:
    """Lines from ``charges`` in the given order, rounded under ``policy``."""
    policy = policy or RoundingPolicy()
    if not charges:
        raise InvoiceError(f"an invoice for {party_id} needs at least one charge")
    currency = charges[0].amount.currency
    for charge in charges:
        if charge.party_id != party_id:
            raise InvoiceError(
                f"charge {charge.description!r} is owed by {charge.party_id}, not by "
                f"{party_id}"
            )
        if charge.amount.currency != currency:
            raise CurrencyMismatchError(
                f"charge {charge.description!r} is in {charge.amount.currency}; the "
                f"invoice is in {currency}"
            )
    rounded = policy.round_lines([charge.amount.amount for charge in charges])
    lines = tuple(
        InvoiceLine(number, charge, Money(amount, currency))
        for number, (charge, amount) in enumerate(zip(charges, rounded, strict=True), 1)
    )
    return InvoiceDraft(organization_id, party_id, currency, due_date, policy, lines)


def issue_invoice(
    draft: InvoiceDraft, *, allocator: NumberAllocator, issued_on: date
) -> Invoice:
    """Number the draft and freeze it as an issued invoice."""
    number = _allocate(
        allocator, draft.organization_id, DocumentKind.INVOICE, issued_on
    )
    return Invoice(
        number=number,
        kind=DocumentKind.INVOICE,
        organization_id=draft.organization_id,
        party_id=draft.party_id,
        currency=draft.currency,
        issued_on=issued_on,
        due_date=draft.due_date,
        policy=draft.policy,
        lines=draft.lines,
    )


def credit_note(
    original: Invoice,
    *,
    allocator: NumberAllocator,
    issued_on: date,
    reason: str,
    amounts: Mapping[int, Money] | None = None,
    prior_credit_notes: Sequence[Invoice] = (),
) -> Invoice:
    """A negative document crediting lines of ``original``.

    ``amounts`` maps original line numbers to the (positive, rounded) amount to
    credit; None credits everything that remains of the positive lines.
    ``prior_credit_notes`` are the credit notes already issued against ``original``.
    """
    if original.kind is not DocumentKind.INVOICE:
        raise InvoiceError(
            f"{original.number} is a credit note; only invoices are credited"
        )
    remaining = remaining_by_line(original, prior_credit_notes)
    wanted = (
        dict(amounts)
        if amounts is not None
        else {line_no: left for line_no, left in remaining.items() if left.amount > 0}
    )
    lines = [
        _credit_line(original, remaining, number, line_no, amount)
        for number, (line_no, amount) in enumerate(sorted(wanted.items()), start=1)
    ]
    if not lines:
        raise InvoiceError(f"nothing remains to credit on {original.number}")
    return Invoice(
        number=_allocate(
            allocator, original.organization_id, DocumentKind.CREDIT_NOTE, issued_on
        ),
        kind=DocumentKind.CREDIT_NOTE,
        organization_id=original.organization_id,
        party_id=original.party_id,
        currency=original.currency,
        issued_on=issued_on,
        due_date=issued_on,
        policy=original.policy,
        lines=tuple(lines),
        original_number=original.number,
        reason=reason,
    )


def remaining_by_line(
    original: Invoice, credit_notes: Sequence[Invoice]
) -> dict[int, Money]:
    """What each line of ``original`` still amounts to after ``credit_notes``."""
    credited: dict[int, Money] = defaultdict(lambda: Money.zero(original.currency))
    for note in credit_notes:
        if note.original_number != original.number:
            raise InvoiceError(
                f"{note.number} credits {note.original_number}, not {original.number}"
            )
        for line in note.lines:
            if line.credits_line is not None:
                credited[line.credits_line] = credited[line.credits_line] - line.amount
    return {
        line.line_no: line.amount - credited[line.line_no] for line in original.lines
    }


def _credit_line(
    original: Invoice,
    remaining: dict[int, Money],
    number: int,
    line_no: int,
    amount: Money,
) -> InvoiceLine:
    """Line ``number`` of a credit note reversing ``amount`` of line ``line_no``."""
    lines = {line.line_no: line for line in original.lines}
    if line_no not in lines:
        raise InvoiceError(f"{original.number} has no line {line_no}")
    if amount.currency != original.currency:
        raise CurrencyMismatchError(
            f"credit of {amount} on {original.number}, which is in {original.currency}"
        )
    if amount.amount <= 0 or amount != amount.rounded(original.policy):
        raise InvoiceError(
            f"credit {amount} on {original.number} line {line_no} must be positive and "
            f"a multiple of {original.policy.quantum}"
        )
    if amount > remaining[line_no]:
        raise InvoiceError(
            f"credit {amount} on {original.number} line {line_no} is more than the "
            f"{remaining[line_no]} that remains of it"
        )
    credited = lines[line_no].charge
    charge = replace(
        credited,
        description=f"Credit of {original.number} line {line_no}: "
        f"{credited.description}",
        amount=-amount,
    )
    return InvoiceLine(number, charge, -amount, credits_line=line_no)


def _allocate(
    allocator: NumberAllocator,
    organization_id: str,
    kind: DocumentKind,
    issued_on: date,
) -> str:
    sequence = allocator.allocate(organization_id, kind.series, issued_on.year)
    return format_document_number(kind.series, issued_on.year, sequence)
