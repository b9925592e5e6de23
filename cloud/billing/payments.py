"""Applying payments to what is owed, credit balances and refunds.

A payment is spread over a party's open items in a fixed order until it runs out:
by default late fees first, then the oldest charge first (earliest due date, then
earliest issue, then item id, so the order never depends on how the items were
fetched). ``AllocationOrder.OLDEST_FIRST`` leaves late fees in date order with the
rest; items the payer designates go before either. No item ever gets more than it
has outstanding and the allocations never exceed the payment: what is left is an
unallocated credit balance of the payer (for the unit the payment names, if any).

Refunds come out of that credit balance only, never more than it holds. Balances
are per party and unit: outstanding charges, and the credit held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from cloud.billing.charges import ChargeKind
from cloud.billing.errors import CurrencyMismatchError, PaymentError
from cloud.billing.invoice import DocumentKind, Invoice, remaining_by_line
from cloud.billing.money import Money


@dataclass(frozen=True, slots=True)
class OpenItem:
    """Something a party still owes: usually one invoice line (``INV-…/3``)."""

    item_id: str
    party_id: str
    unit_id: str | None
    kind: ChargeKind
    due_date: date
    outstanding: Money
    issued_on: date | None = None

    def __post_init__(self) -> None:
        if self.outstanding.amount < 0:
            raise PaymentError(
                f"open item {self.item_id} has negative outstanding {self.outstanding}"
            )


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received from a party; ``unit_id`` when the payer named a unit."""

    payment_id: str
    party_id: str
    received_on: date
    amount: Money
    unit_id: str | None = None

    def __post_init__(self) -> None:
        if self.amount.amount <= 0:
            raise PaymentError(
                f"payment {self.payment_id} of {self.amount} is not positive"
            )


class AllocationOrder(StrEnum):
    LATE_FEES_FIRST = "late_fees_first"
    OLDEST_FIRST = "oldest_first"


@dataclass(frozen=True, slots=True)
class Allocation:
    payment_id: str
    item_id: str
    amount: Money
    applied_on: date


@dataclass(frozen=True, slots=True)
class PaymentAllocation:
    """Where one payment went; ``allocated + unallocated == payment.amount``."""

    payment: Payment
    allocations: tuple[Allocation, ...]
    unallocated: Money

    @property
    def allocated(self) -> Money:
        return Money.total(
            [a.amount for a in self.allocations], self.payment.amount.currency
        )


def allocate_payment(
    payment: Payment,
    open_items: Sequence[OpenItem],
    *,
    order: AllocationOrder = AllocationOrder.LATE_FEES_FIRST,
    designated: Sequence[str] = (),
) -> PaymentAllocation:
    """Spread ``payment`` over ``open_items`` of its party (see the module docstring).

    Items of another unit are passed over when the payment names a unit; an item
    of another party or in another currency is an error.
    """
    currency = payment.amount.currency
    for item in open_items:
        if item.party_id != payment.party_id:
            raise PaymentError(
                f"open item {item.item_id} is owed by {item.party_id}, not by payer "
                f"{payment.party_id} of {payment.payment_id}"
            )
        if item.outstanding.currency != currency:
            raise CurrencyMismatchError(
                f"open item {item.item_id} is in {item.outstanding.currency}; payment "
                f"{payment.payment_id} is in {currency}"
            )
    eligible = [
        item
        for item in open_items
        if payment.unit_id is None or item.unit_id == payment.unit_id
    ]
    left = payment.amount
    allocations = []
    for item in _in_order(eligible, order, designated):
        if left.is_zero():
            break
        share = min(left, item.outstanding)
        if share.is_zero():
            continue
        allocations.append(
            Allocation(payment.payment_id, item.item_id, share, payment.received_on)
        )
        left = left - share
    return PaymentAllocation(payment, tuple(allocations), left)


def _in_order(
    items: list[OpenItem], order: AllocationOrder, designated: Sequence[str]
) -> list[OpenItem]:
    by_id = {item.item_id: item for item in items}
    unknown = [item_id for item_id in designated if item_id not in by_id]
    if unknown:
        raise PaymentError(
            f"designated items {unknown} are not open items of the payer"
        )
    chosen = [by_id[item_id] for item_id in dict.fromkeys(designated)]

    def key(item: OpenItem) -> tuple[int, date, date, str]:
        late = (
            0
            if order is AllocationOrder.LATE_FEES_FIRST
            and item.kind is ChargeKind.LATE_FEE
            else 1
        )
        return (late, item.due_date, item.issued_on or item.due_date, item.item_id)

    rest = sorted((item for item in items if item.item_id not in designated), key=key)
    return chosen + rest


def open_items_from_invoice(
    invoice: Invoice,
    credit_notes: Sequence[Invoice] = (),
    allocations: Sequence[Allocation] = (),
) -> list[OpenItem]:
    """The lines of ``invoice`` still owed after credit notes and allocations.

    Item ids are ``<invoice number>/<line number>``.
    """
    if invoice.kind is not DocumentKind.INVOICE:
        raise PaymentError(f"{invoice.number} is a credit note, not something owed")
    remaining = remaining_by_line(invoice, credit_notes)
    paid: dict[str, Money] = defaultdict(lambda: Money.zero(invoice.currency))
    for allocation in allocations:
        paid[allocation.item_id] = paid[allocation.item_id] + allocation.amount
    items = []
    for line in invoice.lines:
        item_id = f"{invoice.number}/{line.line_no}"
        outstanding = remaining[line.line_no] - paid[item_id]
        if outstanding.amount < 0:
            raise PaymentError(f"allocations to {item_id} exceed what it amounts to")
        if outstanding.amount > 0:
            items.append(
                OpenItem(
                    item_id=item_id,
                    party_id=invoice.party_id,
                    unit_id=line.charge.unit_id,
                    kind=line.charge.kind,
                    due_date=invoice.due_date,
                    outstanding=outstanding,
                    issued_on=invoice.issued_on,
                )
            )
    return items


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    party_id: str
    unit_id: str | None
    amount: Money
    refunded_on: date


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One party's position on one unit (``unit_id`` None: not tied to a unit)."""

    party_id: str
    unit_id: str | None
    outstanding: Money
    credit: Money

    @property
    def net(self) -> Money:
        """Positive: the party owes; negative: the company owes the party."""
        return self.outstanding - self.credit


def account_balances(
    open_items: Sequence[OpenItem],
    allocations: Sequence[PaymentAllocation],
    refunds: Sequence[Refund] = (),
    *,
    currency: str = "CNY",
) -> dict[tuple[str, str | None], AccountBalance]:
    """Balances per (party, unit) from items as issued, payments and refunds."""
    outstanding: dict[tuple[str, str | None], Money] = defaultdict(
        lambda: Money.zero(currency)
    )
    credit: dict[tuple[str, str | None], Money] = defaultdict(
        lambda: Money.zero(currency)
    )
    left = {item.item_id: item.outstanding for item in open_items}
    owner = {item.item_id: (item.party_id, item.unit_id) for item in open_items}
    for result in allocations:
        for allocation in result.allocations:
            if allocation.item_id not in left:
                raise PaymentError(f"allocation to unknown item {allocation.item_id}")
            left[allocation.item_id] = left[allocation.item_id] - allocation.amount
            if left[allocation.item_id].amount < 0:
                raise PaymentError(
                    f"allocations to {allocation.item_id} exceed its amount"
                )
        payer = (result.payment.party_id, result.payment.unit_id)
        credit[payer] = credit[payer] + result.unallocated
    for item_id, amount in left.items():
        outstanding[owner[item_id]] = outstanding[owner[item_id]] + amount
    for refund in refunds:
        key = (refund.party_id, refund.unit_id)
        credit[key] = credit[key] - refund.amount
        if credit[key].amount < 0:
            raise PaymentError(
                f"refund {refund.refund_id} of {refund.amount} is more than the credit "
                f"of {refund.party_id} on unit {refund.unit_id}"
            )
    keys = outstanding.keys() | credit.keys()
    return {
        key: AccountBalance(key[0], key[1], outstanding[key], credit[key])
        for key in sorted(keys, key=lambda k: (k[0], k[1] or ""))
    }


def refund_credit(
    balance: AccountBalance, *, refund_id: str, amount: Money, refunded_on: date
) -> Refund:
    """A refund of part or all of ``balance.credit``; never more than it."""
    if amount.amount <= 0:
        raise PaymentError(f"refund {refund_id} of {amount} is not positive")
    if amount > balance.credit:
        raise PaymentError(
            f"refund {refund_id} of {amount} is more than the credit balance "
            f"{balance.credit} of {balance.party_id}"
        )
    return Refund(refund_id, balance.party_id, balance.unit_id, amount, refunded_on)
