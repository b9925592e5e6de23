"""Payment allocation, credit balances, refunds; late fees with partial payments."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.billing import (
    AllocationOrder,
    Charge,
    ChargeKind,
    InMemoryNumberAllocator,
    LateFeeError,
    LateFeeRule,
    Money,
    OpenItem,
    Payment,
    PaymentError,
    account_balances,
    allocate_payment,
    credit_note,
    draft_invoice,
    issue_invoice,
    late_fee,
    late_fee_charge,
    open_items_from_invoice,
    refund_credit,
)
from tests.cloud.billing.helpers import D


def item(
    item_id: str,
    amount: str,
    due: date,
    kind: ChargeKind = ChargeKind.RENT,
    unit: str = "101",
) -> OpenItem:
    return OpenItem(item_id, "t1", unit, kind, due, Money.of(amount))


ITEMS = [
    item("mar-rent", "3000.00", date(2026, 3, 5)),
    item("late-fee", "3.55", date(2026, 3, 25), ChargeKind.LATE_FEE),
    item("feb-rent", "3000.00", date(2026, 2, 5)),
]


def pay(amount: str, unit: str | None = None) -> Payment:
    return Payment("p1", "t1", date(2026, 3, 26), Money.of(amount), unit_id=unit)


def test_late_fees_first_then_oldest() -> None:
    # 4000.00 → late fee 3.55, February 3000.00, March 996.45.
    result = allocate_payment(pay("4000.00"), ITEMS)
    assert [(a.item_id, a.amount) for a in result.allocations] == [
        ("late-fee", Money.of("3.55")),
        ("feb-rent", Money.of("3000.00")),
        ("mar-rent", Money.of("996.45")),
    ]
    assert result.unallocated == Money.of(0)


def test_oldest_first_and_designated_items() -> None:
    result = allocate_payment(pay("3001.00"), ITEMS, order=AllocationOrder.OLDEST_FIRST)
    assert [(a.item_id, a.amount.amount) for a in result.allocations] == [
        ("feb-rent", D("3000.00")),
        ("mar-rent", D("1.00")),
    ]
    chosen = allocate_payment(pay("100.00"), ITEMS, designated=["mar-rent"])
    assert [a.item_id for a in chosen.allocations] == ["mar-rent"]
    with pytest.raises(PaymentError, match=r"designated items \['nope'\]"):
        allocate_payment(pay("1"), ITEMS, designated=["nope"])


def test_overpayment_becomes_a_credit_that_can_be_refunded() -> None:
    # 7000.00 − 6003.55 owed = 996.45 credit; refund 500.00 leaves 496.45.
    result = allocate_payment(pay("7000.00"), ITEMS)
    assert result.allocated == Money.of("6003.55")
    assert result.unallocated == Money.of("996.45")
    balances = account_balances(ITEMS, [result])
    balance = balances[("t1", None)]
    assert (balance.outstanding, balance.credit) == (Money.of(0), Money.of("996.45"))
    assert balances[("t1", "101")].outstanding == Money.of(0)

    refund = refund_credit(
        balance,
        refund_id="r1",
        amount=Money.of("500.00"),
        refunded_on=date(2026, 3, 27),
    )
    after = account_balances(ITEMS, [result], [refund])[("t1", None)]
    assert after.credit == Money.of("496.45")
    assert after.net == Money.of("-496.45")
    with pytest.raises(PaymentError, match=r"more than the credit balance 996\.45"):
        refund_credit(
            balance,
            refund_id="r2",
            amount=Money.of("996.46"),
            refunded_on=date(2026, 3, 27),
        )


def test_partial_payment_leaves_the_rest_outstanding() -> None:
    result = allocate_payment(pay("1000.00"), ITEMS)
    balances = account_balances(ITEMS, [result])
    # 6003.55 − 1000.00 = 5003.55
    assert balances[("t1", "101")].outstanding == Money.of("5003.55")


def test_a_payment_for_one_unit_pays_only_that_unit() -> None:
    items = [*ITEMS, item("shop-rent", "500.00", date(2026, 1, 5), unit="S1")]
    result = allocate_payment(pay("600.00", unit="S1"), items)
    assert [(a.item_id, a.amount) for a in result.allocations] == [
        ("shop-rent", Money.of("500.00"))
    ]
    assert account_balances(items, [result])[("t1", "S1")].credit == Money.of("100.00")


def test_payment_refusals() -> None:
    with pytest.raises(PaymentError, match="payment p0 of 0 CNY is not positive"):
        Payment("p0", "t1", date(2026, 3, 1), Money.of(0))
    stranger = OpenItem(
        "x", "t2", "101", ChargeKind.RENT, date(2026, 3, 1), Money.of(1)
    )
    with pytest.raises(PaymentError, match="owed by t2, not by payer t1"):
        allocate_payment(pay("1"), [stranger])


def test_open_items_come_from_invoice_lines_less_credits_and_payments() -> None:
    allocator = InMemoryNumberAllocator()
    charges = [
        Charge(ChargeKind.RENT, "t1", "101", "rent", Money.of("3000.00")),
        Charge(ChargeKind.PROPERTY_FEE, "t1", "101", "fee", Money.of("266.3226")),
    ]
    draft = draft_invoice(
        charges, organization_id="o", party_id="t1", due_date=date(2026, 3, 10)
    )
    invoice = issue_invoice(draft, allocator=allocator, issued_on=date(2026, 3, 1))
    note = credit_note(
        invoice,
        allocator=allocator,
        issued_on=date(2026, 3, 2),
        reason="fee discount",
        amounts={2: Money.of("66.32")},
    )
    items = open_items_from_invoice(invoice, [note])
    assert [(i.item_id, i.outstanding) for i in items] == [
        ("INV-2026-000001/1", Money.of("3000.00")),
        ("INV-2026-000001/2", Money.of("200.00")),
    ]
    paid = allocate_payment(
        Payment("p", "t1", date(2026, 3, 5), Money.of("3100.00")), items
    )
    left = open_items_from_invoice(invoice, [note], paid.allocations)
    assert [(i.item_id, i.outstanding) for i in left] == [
        ("INV-2026-000001/2", Money.of("100.00"))
    ]


RESIDENTIAL = [LateFeeRule(date(2000, 1, 1), D("0.001"))]


def test_late_fee_after_a_partial_payment_is_traceable_by_segment() -> None:
    # 300.00 due 10 Mar; 63.50 paid 10 Mar (on time); 236.50 paid 25 Mar.
    # 11–25 Mar: 15 days × 236.50 × 0.001 = 3.5475 → 3.55.
    allocations = [
        allocate_payment(
            Payment("a", "t1", date(2026, 3, 10), Money.of("63.50")),
            [item("i", "300.00", date(2026, 3, 10))],
        ).allocations[0],
        allocate_payment(
            Payment("b", "t1", date(2026, 3, 25), Money.of("236.50")),
            [item("i", "236.50", date(2026, 3, 10))],
        ).allocations[0],
    ]
    fee = late_fee(
        Money.of("300.00"),
        date(2026, 3, 10),
        through=date(2026, 3, 31),
        rules=RESIDENTIAL,
        payments=allocations,
    )
    assert fee.days == 15
    assert [(s.days.first, s.days.last, s.base.amount) for s in fee.segments] == [
        (date(2026, 3, 11), date(2026, 3, 25), D("236.50"))
    ]
    assert fee.exact == Money.of("3.5475")
    assert fee.amount == Money.of("3.55")
    assert not fee.minimum_applied


def test_the_minimum_is_charged_once_however_often_the_fee_is_assessed() -> None:
    # 20.00 overdue: 3 days 0.06 → 1.00; 40 days 0.80 → still 1.00; 60 days 1.20.
    due = date(2026, 3, 10)
    principal = Money.of("20.00")
    after_3 = late_fee(principal, due, through=date(2026, 3, 13), rules=RESIDENTIAL)
    assert (after_3.exact, after_3.amount, after_3.minimum_applied) == (
        Money.of("0.06"),
        Money.of("1.00"),
        True,
    )
    first = late_fee_charge(after_3, party_id="t1", unit_id="101", item_id="i")
    assert first is not None
    assert (first.kind, first.amount, first.source.reference) == (
        ChargeKind.LATE_FEE,
        Money.of("1.00"),
        "i",
    )
    after_40 = late_fee(principal, due, through=date(2026, 4, 19), rules=RESIDENTIAL)
    assert (
        late_fee_charge(
            after_40,
            party_id="t1",
            unit_id="101",
            item_id="i",
            already_charged=first.amount,
        )
        is None
    )
    after_60 = late_fee(principal, due, through=date(2026, 5, 9), rules=RESIDENTIAL)
    more = late_fee_charge(
        after_60,
        party_id="t1",
        unit_id="101",
        item_id="i",
        already_charged=first.amount,
    )
    assert more is not None
    assert more.amount == Money.of("0.20")


def test_the_due_date_itself_does_not_count() -> None:
    due = date(2026, 3, 10)
    on_time = late_fee(Money.of("100"), due, through=due, rules=RESIDENTIAL)
    assert (on_time.days, on_time.amount) == (0, Money.of(0))
    one_day = late_fee(
        Money.of("1000"), due, through=date(2026, 3, 11), rules=RESIDENTIAL
    )
    assert (one_day.days, one_day.amount) == (1, Money.of("1.00"))


def test_a_fixed_cap_wins_over_the_minimum() -> None:
    rules = [LateFeeRule(date(2000, 1, 1), D("0.001"), cap_amount=D("0.50"))]
    fee = late_fee(
        Money.of("20.00"), date(2026, 3, 10), through=date(2026, 3, 13), rules=rules
    )
    assert (fee.amount, fee.minimum_applied, fee.cap_applied) == (
        Money.of("0.50"),
        True,
        True,
    )


def test_no_rule_in_force_is_an_error() -> None:
    rules = [LateFeeRule(date(2026, 3, 15), D("0.001"))]
    with pytest.raises(
        LateFeeError, match="no late-fee rule is in force on 2026-03-11"
    ):
        late_fee(
            Money.of("100"), date(2026, 3, 10), through=date(2026, 3, 20), rules=rules
        )
