"""Charges that follow floor area: the property fee and common-area shares.

The property fee (物业费) is quoted per m² per month. Which area counts is a term of
the contract: the gross building area (建筑面积, the usual basis in China) or the
usable area (套内面积). The monthly fee is exact (89.37 m² × 2.98 = 266.3226); the
invoice rounds it (266.32 at half-up to the cent).

Common-area consumption (corridor lights, lifts, shared water) is shared by area.
Shares are computed from the exact ratio and rounded by largest remainder, so they
add up to the total to the cent: each unit gets the floor of its exact share and
the cents still missing go one each to the largest remainders (ties to the larger
area, then to the smaller unit id, so the result never depends on input order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from cloud.billing.errors import MoneyError
from cloud.billing.money import (
    CENT,
    DEFAULT_CURRENCY,
    Money,
    exact_product,
    largest_remainder,
    to_decimal,
)


class AreaBasis(StrEnum):
    GROSS = "gross"
    USABLE = "usable"


@dataclass(frozen=True, slots=True)
class UnitArea:
    """A unit's floor areas in m²."""

    unit_id: str
    gross_m2: Decimal
    usable_m2: Decimal

    def __post_init__(self) -> None:
        for name in ("gross_m2", "usable_m2"):
            value = to_decimal(getattr(self, name), f"unit {self.unit_id} {name}")
            if value < 0:
                raise MoneyError(f"unit {self.unit_id} {name} {value} is negative")
            object.__setattr__(self, name, value)

    def on(self, basis: AreaBasis) -> Decimal:
        return self.gross_m2 if basis is AreaBasis.GROSS else self.usable_m2


@dataclass(frozen=True, slots=True)
class PropertyFeeTerms:
    """A contract's property fee: ``rate_per_m2_month`` on the chosen area."""

    rate_per_m2_month: Decimal
    basis: AreaBasis = AreaBasis.GROSS
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        rate = to_decimal(self.rate_per_m2_month, "property fee rate")
        if rate < 0:
            raise MoneyError(f"property fee rate {rate} is negative")
        object.__setattr__(self, "rate_per_m2_month", rate)


def monthly_property_fee(unit: UnitArea, terms: PropertyFeeTerms) -> Money:
    """Area × rate for one month, exact (not rounded)."""
    return Money(
        exact_product(unit.on(terms.basis), terms.rate_per_m2_month), terms.currency
    )


def apportion_by_area(
    total: Money, areas: Mapping[str, Decimal], *, quantum: Decimal = CENT
) -> dict[str, Money]:
    """``total`` shared by area, each share a multiple of ``quantum``, summing to it.

    ``total`` must itself be a multiple of ``quantum`` (round it first); every area
    must be non-negative and at least one positive.
    """
    units = Fraction(total.amount) / Fraction(quantum)
    if units.denominator != 1:
        raise MoneyError(
            f"total {total} is not a multiple of {quantum}; round it first"
        )
    weights = {
        unit: to_decimal(area, f"area of {unit}") for unit, area in areas.items()
    }
    if any(area < 0 for area in weights.values()):
        raise MoneyError(f"areas must not be negative: {weights}")
    whole = sum(weights.values(), Decimal(0))
    if whole <= 0:
        raise MoneyError("cannot apportion over a total area of zero")

    keys = list(weights)
    shares = [units * Fraction(weights[key]) / Fraction(whole) for key in keys]
    tie_order = sorted(range(len(keys)), key=lambda i: (-weights[keys[i]], keys[i]))
    counts = largest_remainder(shares, int(units), tie_order)
    return {
        key: Money(Decimal(count) * quantum, total.currency)
        for key, count in zip(keys, counts, strict=True)
    }
