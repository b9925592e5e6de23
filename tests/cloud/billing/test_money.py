"""Money: exact amounts, refused floats, rounding modes and scopes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from cloud.billing import (
    AmountTypeError,
    CurrencyMismatchError,
    Money,
    MoneyError,
    RoundingMode,
    RoundingPolicy,
    RoundingScope,
    round_fraction,
    to_decimal,
)

D = Decimal


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Money(0.1, "CNY"), id="Money amount"),  # type: ignore[arg-type]
        pytest.param(lambda: Money.of(266.32), id="Money.of"),  # type: ignore[arg-type]
        pytest.param(lambda: Money.of("1") * 1.5, id="multiplier"),  # type: ignore[operator]
        pytest.param(lambda: RoundingPolicy(quantum=0.01), id="quantum"),  # type: ignore[arg-type]
    ],
)
def test_floats_are_refused_with_a_type_error_naming_the_value(build: object) -> None:
    with pytest.raises(TypeError, match=r"is a float") as caught:
        build()  # type: ignore[operator]
    assert isinstance(caught.value, AmountTypeError)
    assert any(text in str(caught.value) for text in ("0.1", "266.32", "1.5", "0.01"))


def test_other_bad_numbers_are_refused() -> None:
    with pytest.raises(MoneyError, match="'12,5' is not a decimal number"):
        to_decimal("12,5")
    with pytest.raises(MoneyError, match="not a finite number"):
        to_decimal(D("NaN"))
    with pytest.raises(TypeError, match="True is a bool"):
        to_decimal(True)
    with pytest.raises(MoneyError, match="'RMB1' is not a three-letter"):
        Money(D(1), "RMB1")


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatchError, match="CNY 1 with USD 1"):
        _ = Money.of(1) + Money.of(1, "USD")
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of(1) < Money.of(2, "HKD")


def test_arithmetic_is_exact() -> None:
    total = Money.total([Money.of("0.1")] * 10, "CNY")
    assert total == Money.of(1)
    assert Money.of("89.37") * D("2.98") == Money.of("266.3226")


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        pytest.param(RoundingMode.HALF_UP, "3.5475", "3.55", id="half-up 3.5475→3.55"),
        pytest.param(
            RoundingMode.HALF_UP, "0.125", "0.13", id="half-up tie 0.125→0.13"
        ),
        pytest.param(
            RoundingMode.HALF_UP, "-0.125", "-0.13", id="half-up −0.125→−0.13"
        ),
        pytest.param(
            RoundingMode.HALF_EVEN, "0.125", "0.12", id="half-even 0.125→0.12"
        ),
        pytest.param(
            RoundingMode.HALF_EVEN, "0.135", "0.14", id="half-even 0.135→0.14"
        ),
        pytest.param(
            RoundingMode.DOWN, "266.3299", "266.32", id="down 266.3299→266.32"
        ),
        pytest.param(RoundingMode.DOWN, "-1.239", "-1.23", id="down −1.239→−1.23"),
    ],
)
def test_rounding_modes(mode: RoundingMode, value: str, expected: str) -> None:
    assert RoundingPolicy(mode).round(D(value)) == D(expected)


def test_round_fraction_rounds_the_exact_rational() -> None:
    # 3000 × 17/31 = 1645.161290…; 1/8 exactly is a tie at 0.125.
    policy = RoundingPolicy()
    assert policy.round(Fraction(3000 * 17, 31)) == D("1645.16")
    assert round_fraction(Fraction(1, 8), D("0.01"), RoundingMode.HALF_EVEN) == D(
        "0.12"
    )


def test_per_invoice_scope_rounds_the_sum_once_and_spreads_it() -> None:
    # Three lines of 0.333 each: per line 0.33 × 3 = 0.99; per invoice 0.999 → 1.00
    # spread as 0.34 + 0.33 + 0.33 (the first of equal remainders gets the cent).
    lines = [D("0.333")] * 3
    assert RoundingPolicy().round_lines(lines) == [D("0.33")] * 3
    per_invoice = RoundingPolicy(scope=RoundingScope.PER_INVOICE).round_lines(lines)
    assert per_invoice == [D("0.34"), D("0.33"), D("0.33")]
    assert sum(per_invoice) == D("1.00")


def test_per_invoice_scope_with_a_negative_line() -> None:
    # 10.005 − 3.333 = 6.672 → 6.67; floors 10.00 and −3.34 = 6.66, one cent to the
    # larger remainder (10.005: .5 of a cent vs −3.333: .7 of a cent → the second).
    lines = [D("10.005"), D("-3.333")]
    rounded = RoundingPolicy(scope=RoundingScope.PER_INVOICE).round_lines(lines)
    assert rounded == [D("10.00"), D("-3.33")]
    assert sum(rounded) == D("6.67")
