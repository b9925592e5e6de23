"""Exact money: ``Decimal`` amounts with their currency, and the rounding policy.

Every amount the engine computes stays exact (``Decimal``, or ``Fraction`` while a
division is in flight) until an invoice line is rounded once, under the
organization's ``RoundingPolicy``. Floats are refused wherever a number enters,
because ``0.1`` as a float is not one tenth and a bill must be right to the cent.

Divisions (proration by days, a reading interval split by time) cannot always end
in a ``Decimal``; they are carried as ``Fraction`` and rounded with
``round_fraction``, which rounds the exact rational value, never a float nor an
already-rounded decimal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Final

from cloud.billing.errors import AmountTypeError, CurrencyMismatchError, MoneyError

DEFAULT_CURRENCY: Final = "CNY"
CENT: Final = Decimal("0.01")
# Where a division cannot end (3000 × 15/31), amounts are kept to 10 places. The
# distance from any such quotient to a half-cent tie is at least 1/(10⁴ · 366)
# for day proration, far above 10⁻¹⁰, so rounding the 10-place value to the cent
# gives the same cent as rounding the exact quotient.
EXACT_QUANTUM: Final = Decimal("1e-10")

_CURRENCY = re.compile(r"^[A-Z]{3}$")

Number = Decimal | int | str


def to_decimal(value: object, what: str = "amount") -> Decimal:
    """``value`` as an exact, finite ``Decimal``.

    Accepts ``Decimal``, ``int`` and decimal strings (``"266.32"``); a float or a
    bool raises ``AmountTypeError`` (a ``TypeError``) naming the value, because
    its binary value is not the decimal the caller meant.
    """
    if isinstance(value, bool):
        raise AmountTypeError(f"{what} {value!r} is a bool, not a number")
    if isinstance(value, float):
        raise AmountTypeError(
            f"{what} {value!r} is a float; pass a Decimal, an int or a decimal "
            f"string such as {str(value)!r} so the value is exact"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError as exc:
            raise MoneyError(f"{what} {value!r} is not a decimal number") from exc
    else:
        raise AmountTypeError(
            f"{what} {value!r} is a {type(value).__name__}; "
            "pass a Decimal, an int or a decimal string"
        )
    if not result.is_finite():
        raise MoneyError(f"{what} {value!r} is not a finite number")
    return result


def exact_product(*factors: Decimal) -> Decimal:
    """The product of decimals, refusing to round: raises if it needs more than
    60 significant digits, which no bill does."""
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        result = Decimal(1)
        for factor in factors:
            result *= factor
        return result + 0


class RoundingMode(StrEnum):
    """How an exact amount becomes a payable one.

    ``HALF_UP`` is 四舍五入 (ties away from zero, so −0.005 → −0.01 and a credit
    note mirrors its invoice); ``HALF_EVEN`` is banker's rounding; ``DOWN``
    truncates toward zero (舍去分), never charging a fraction the customer did
    not use.
    """

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"


class RoundingScope(StrEnum):
    """Where rounding happens on an invoice.

    ``PER_LINE``: every line is rounded, the total is the sum of rounded lines.
    ``PER_INVOICE``: the exact lines are summed and the sum rounded once; the
    rounded total is then spread over the lines by largest remainder, so lines
    still add up to the total exactly and no line is off by more than one quantum.
    """

    PER_LINE = "per_line"
    PER_INVOICE = "per_invoice"


def round_fraction(value: Fraction, quantum: Decimal, mode: RoundingMode) -> Decimal:
    """Round an exact rational to a multiple of ``quantum``, without floats."""
    units = value / Fraction(quantum)
    return Decimal(_round_units(units, mode)) * quantum


def _round_units(units: Fraction, mode: RoundingMode) -> int:
    if mode is RoundingMode.DOWN:
        return math.trunc(units)
    if mode is RoundingMode.HALF_EVEN:
        return round(units)
    sign = -1 if units < 0 else 1
    return sign * math.floor(abs(units) + Fraction(1, 2))


@dataclass(frozen=True, slots=True)
class RoundingPolicy:
    """One organization's rounding: mode, quantum (0.01 元 by default) and scope."""

    mode: RoundingMode = RoundingMode.HALF_UP
    quantum: Decimal = CENT
    scope: RoundingScope = RoundingScope.PER_LINE

    def __post_init__(self) -> None:
        quantum = to_decimal(self.quantum, "rounding quantum")
        if quantum <= 0:
            raise MoneyError(f"rounding quantum {quantum} must be positive")
        object.__setattr__(self, "quantum", quantum)

    def round(self, amount: Decimal | Fraction) -> Decimal:
        """``amount`` rounded to the quantum under this policy's mode."""
        if isinstance(amount, Decimal):
            amount = Fraction(to_decimal(amount))
        return round_fraction(amount, self.quantum, self.mode)

    def round_lines(self, amounts: Sequence[Decimal]) -> list[Decimal]:
        """Rounded line amounts whose sum is the invoice total under this scope."""
        if self.scope is RoundingScope.PER_LINE:
            return [self.round(amount) for amount in amounts]
        exact = [Fraction(amount) for amount in amounts]
        total = self.round(sum(exact, Fraction(0)))
        quantum = Fraction(self.quantum)
        target = int(Fraction(total) / quantum)
        units = largest_remainder([value / quantum for value in exact], target)
        return [Decimal(unit) * self.quantum for unit in units]


def largest_remainder(
    shares: Sequence[Fraction], target: int, order: Sequence[int] | None = None
) -> list[int]:
    """Whole units per share, summing to ``target`` exactly.

    Each share gets its floor; the units still missing go one each to the shares
    with the largest fractional remainders. Ties go to the share earlier in
    ``order`` (default: input order), so the result is deterministic.
    """
    floors = [math.floor(share) for share in shares]
    missing = target - sum(floors)
    if not 0 <= missing <= len(shares):
        raise MoneyError(
            f"cannot spread {target} units over shares summing to "
            f"{sum(shares, Fraction(0))}: off by {missing}"
        )
    rank = list(order) if order is not None else list(range(len(shares)))
    position = {index: place for place, index in enumerate(rank)}
    by_remainder = sorted(
        range(len(shares)),
        key=lambda i: (-(shares[i] - floors[i]), position[i]),
    )
    for index in by_remainder[:missing]:
        floors[index] += 1
    return floors


def _currency_code(code: str) -> str:
    if not isinstance(code, str) or not _CURRENCY.match(code):
        raise MoneyError(f"currency {code!r} is not a three-letter ISO 4217 code")
    return code


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount in one currency.

    Arithmetic keeps full precision (``Decimal`` with an inexact-trap), so a sum of
    many lines never loses a cent; ``rounded`` applies a policy. Adding or comparing
    two currencies raises ``CurrencyMismatchError``.
    """

    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        _currency_code(self.currency)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def of(cls, amount: Number, currency: str = DEFAULT_CURRENCY) -> Money:
        """Money from a Decimal, int or decimal string (floats refused)."""
        return cls(to_decimal(amount), currency)

    @classmethod
    def total(cls, amounts: Sequence[Money], currency: str) -> Money:
        """The sum of ``amounts``; the currency is needed for an empty sequence."""
        result = cls.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    def rounded(self, policy: RoundingPolicy) -> Money:
        return Money(policy.round(self.amount), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} {self.amount} with "
                f"{other.currency} {other.amount}"
            )
        return other

    def __add__(self, other: Money) -> Money:
        other = self._same(other)
        with localcontext() as ctx:
            ctx.prec = 60
            ctx.traps[Inexact] = True
            return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return self + (-self._same(other))

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Number) -> Money:
        return Money(
            exact_product(self.amount, to_decimal(factor, "factor")), self.currency
        )

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
