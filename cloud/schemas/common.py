"""Field types and the list envelope shared by every resource.

Bounds here keep a request from reaching the database with a value it would refuse
(an id past 32 bits, a NUL character in text, a date PostgreSQL and SQLite read
differently): such a request is a 422 naming the field, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

MAX_ID = 2**31 - 1
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)

T = TypeVar("T")


def _printable(value: str) -> str:
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters")
    return value


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


_NO_CONTROL = AfterValidator(_printable)


def _in_range_day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


def _in_range_instant(value: datetime) -> datetime:
    _in_range_day(value.date())
    return value


def _fixed_point(value: Decimal) -> Decimal:
    """``1E+2`` as ``100``: answers show plain decimals, never exponents."""
    return Decimal(format(value, "f"))


def _to_cents(value: Decimal) -> Decimal:
    """``1e3`` and ``1000.0`` as ``1000.00``: money is answered in cents."""
    return value.quantize(Decimal("0.01"))


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Day = Annotated[date, AfterValidator(_in_range_day)]
Instant = Annotated[AwareDatetime, AfterValidator(_in_range_instant)]
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_.\-]+$",
    ),
]
Label = Annotated[str, _text(64), _NO_CONTROL]
Name = Annotated[str, _text(200), _NO_CONTROL]
Address = Annotated[str, _text(500), _NO_CONTROL]
Email = Annotated[str, _text(320), _NO_CONTROL]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=40, pattern=r"^[0-9+()\- ./]+$"
    ),
]
Area = Annotated[
    Decimal,
    Field(ge=0, le=10**7, max_digits=12, decimal_places=2),
    AfterValidator(_fixed_point),
]
Amount = Annotated[
    Decimal,
    Field(ge=0, le=10**12, max_digits=16, decimal_places=4),
    AfterValidator(_fixed_point),
]
Money = Annotated[
    Decimal,
    Field(
        ge=0,
        le=10**12,
        max_digits=16,
        decimal_places=2,
        description="An amount of money in whole cents (at most 2 decimals).",
    ),
    AfterValidator(_to_cents),
]
Register = Annotated[
    Decimal,
    Field(ge=0, le=10**15, max_digits=24, decimal_places=6),
    AfterValidator(_fixed_point),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Listing(BaseModel, Generic[T]):
    """One page of a list, and how many rows match the filters on every page."""

    data: list[T]
    count: int


class Strict(BaseModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")
