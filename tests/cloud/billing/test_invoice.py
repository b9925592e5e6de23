"""Invoices: rounded lines, totals, gapless numbers, credit notes."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from cloud.billing import (
    Charge,
    ChargeKind,
    CurrencyMismatchError,
    DocumentKind,
    InMemoryNumberAllocator,
    Invoice,
    InvoiceError,
    Money,
    NumberingError,
    RoundingPolicy,
    RoundingScope,
    credit_note,
    draft_invoice,
    format_document_number,
    issue_invoice,
)

DUE = date(2026, 4, 10)


def charge(
    amount: str, party: str = "t1", kind: ChargeKind = ChargeKind.RENT
) -> Charge:
    return Charge(kind, party, "101", f"{kind} {amount}", Money.of(amount))


def issue(
    charges: list[Charge],
    allocator: InMemoryNumberAllocator,
    on: date = date(2026, 4, 1),
    policy: RoundingPolicy | None = None,
) -> Invoice:
    draft = draft_invoice(
        charges, organization_id="org-1", party_id="t1", due_date=DUE, policy=policy
    )
    return issue_invoice(draft, allocator=allocator, issued_on=on)


def test_lines_are_rounded_and_the_total_is_their_sum() -> None:
    # 266.3226 → 266.32; 1645.1612903226 → 1645.16; 3.5475 → 3.55; total 1915.03
    invoice = issue(
        [charge("266.3226"), charge("1645.1612903226"), charge("3.5475")],
        InMemoryNumberAllocator(),
    )
    assert [line.amount for line in invoice.lines] == [
        Money.of("266.32"),
        Money.of("1645.16"),
        Money.of("3.55"),
    ]
    assert invoice.total == Money.of("1915.03")
    assert invoice.lines[0].exact_amount == Money.of("266.3226")


def test_per_invoice_rounding_keeps_lines_summing_to_the_total() -> None:
    # 3 × 0.005: per line 0.01 × 3 = 0.03; per invoice 0.015 → 0.02 = 0.01 + 0.01 + 0.
    policy = RoundingPolicy(scope=RoundingScope.PER_INVOICE)
    invoice = issue([charge("0.005")] * 3, InMemoryNumberAllocator(), policy=policy)
    assert invoice.total == Money.of("0.02")
    assert [line.amount.amount for line in invoice.lines] == [
        Money.of("0.01").amount,
        Money.of("0.01").amount,
        Money.of("0").amount,
    ]


def test_numbers_are_gapless_per_organization_series_and_year() -> None:
    allocator = InMemoryNumberAllocator()
    numbers = [issue([charge("1")], allocator).number for _ in range(3)]
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    assert (
        issue([charge("1")], allocator, on=date(2027, 1, 2)).number == "INV-2027-000001"
    )
    other = draft_invoice(
        [charge("1")], organization_id="org-2", party_id="t1", due_date=DUE
    )
    assert (
        issue_invoice(other, allocator=allocator, issued_on=date(2026, 5, 1)).number
        == "INV-2026-000001"
    )
    assert format_document_number("INV", 2026, 1234567) == "INV-2026-1234567"
    with pytest.raises(NumberingError, match="sequence number 0 of INV 2026"):
        format_document_number("INV", 2026, 0)


def test_an_issued_invoice_cannot_be_edited() -> None:
    invoice = issue([charge("100")], InMemoryNumberAllocator())
    with pytest.raises(dataclasses.FrozenInstanceError):
        invoice.number = "INV-2026-999999"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        invoice.lines[0].amount = Money.of("1")  # type: ignore[misc]


def test_credit_notes_are_negative_and_reference_the_original() -> None:
    allocator = InMemoryNumberAllocator()
    invoice = issue([charge("266.3226"), charge("100.00")], allocator)
    first = credit_note(
        invoice,
        allocator=allocator,
        issued_on=date(2026, 4, 5),
        reason="area was measured wrong",
        amounts={1: Money.of("66.32")},
    )
    assert (first.number, first.kind, first.original_number) == (
        "CN-2026-000001",
        DocumentKind.CREDIT_NOTE,
        invoice.number,
    )
    assert first.total == Money.of("-66.32")
    assert first.lines[0].credits_line == 1
    assert first.lines[0].charge.source == invoice.lines[0].charge.source

    # The rest: 200.00 of line 1 and all 100.00 of line 2.
    rest = credit_note(
        invoice,
        allocator=allocator,
        issued_on=date(2026, 4, 6),
        reason="lease cancelled",
        prior_credit_notes=[first],
    )
    assert [line.amount for line in rest.lines] == [
        Money.of("-200.00"),
        Money.of("-100.00"),
    ]
    assert rest.number == "CN-2026-000002"
    with pytest.raises(InvoiceError, match="nothing remains to credit"):
        credit_note(
            invoice,
            allocator=allocator,
            issued_on=date(2026, 4, 7),
            reason="again",
            prior_credit_notes=[first, rest],
        )


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        pytest.param(
            {1: Money.of("100.01")}, "more than the 100.00 CNY that remains", id="above"
        ),
        pytest.param({1: Money.of("0.005")}, "multiple of 0.01", id="sub-cent"),
        pytest.param({1: Money.of("-5")}, "must be positive", id="negative"),
        pytest.param({9: Money.of("1")}, "has no line 9", id="no such line"),
    ],
)
def test_credit_note_refusals(amounts: dict[int, Money], message: str) -> None:
    allocator = InMemoryNumberAllocator()
    invoice = issue([charge("100.00")], allocator)
    with pytest.raises(InvoiceError, match=message):
        credit_note(
            invoice, allocator=allocator, issued_on=DUE, reason="x", amounts=amounts
        )


def test_draft_refusals() -> None:
    with pytest.raises(InvoiceError, match="needs at least one charge"):
        draft_invoice([], organization_id="o", party_id="t1", due_date=DUE)
    with pytest.raises(InvoiceError, match="owed by t2, not by t1"):
        draft_invoice(
            [charge("1", "t2")], organization_id="o", party_id="t1", due_date=DUE
        )
    usd = Charge(ChargeKind.RENT, "t1", "101", "rent", Money.of("1", "USD"))
    with pytest.raises(CurrencyMismatchError, match="is in USD; the invoice is in CNY"):
        draft_invoice(
            [charge("1"), usd], organization_id="o", party_id="t1", due_date=DUE
        )
