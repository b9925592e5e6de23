from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cloud.billing import DEFAULT_CURRENCY, RentFrequency
from cloud.models import LeaseStatus
from cloud.schemas.common import Amount, Currency, Day, Id, Label, Strict

LeaseReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="The contract number; unique in its property.",
    ),
]
UnitIds = Annotated[list[Id], Field(min_length=1, max_length=50)]


class FeeBasis(StrEnum):
    """A fee per period as a fixed amount, or per m² of the units' area
    (``gross``/``usable`` as in ``cloud.billing.AreaBasis``)."""

    FIXED = "fixed"
    GROSS = "gross"
    USABLE = "usable"


class FeeRule(Strict):
    """A charge besides rent: a property fee per m², a parking fee."""

    kind: Label = Field(description="Such as property_fee, parking, service.")
    basis: FeeBasis = FeeBasis.FIXED
    amount: Amount = Field(description="Per period; per m² and period by area.")
    period: RentFrequency = RentFrequency.MONTHLY


def _unique(ids: list[int] | None) -> list[int] | None:
    if ids is not None and len(set(ids)) != len(ids):
        raise ValueError("names a unit more than once")
    return ids


def _ends_after_start(end: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if end is not None and start is not None and end < start:
        raise ValueError(f"{end} is before start_date {start}")
    return end


class LeaseCreate(Strict):
    reference: LeaseReference
    unit_ids: UnitIds
    tenant_id: Id
    start_date: Day
    end_date: Day | None = Field(default=None, description="Inclusive; null: open.")
    rent: Amount
    rent_period: RentFrequency = RentFrequency.MONTHLY
    currency: Currency = DEFAULT_CURRENCY
    deposit: Amount | None = None
    fee_rules: list[FeeRule] = Field(default_factory=list, max_length=20)
    status: LeaseStatus = LeaseStatus.DRAFT

    _unique_units = field_validator("unit_ids")(_unique)
    _end = field_validator("end_date")(_ends_after_start)


class LeaseUpdate(Strict):
    unit_ids: UnitIds | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    rent: Amount | None = None
    rent_period: RentFrequency | None = None
    currency: Currency | None = None
    deposit: Amount | None = None
    fee_rules: list[FeeRule] | None = Field(default=None, max_length=20)
    status: LeaseStatus | None = None

    _unique_units = field_validator("unit_ids")(_unique)
    _end = field_validator("end_date")(_ends_after_start)


class LeasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    reference: str
    unit_ids: list[int]
    tenant_id: int
    start_date: date
    end_date: date | None
    rent: Decimal
    rent_period: str
    currency: str
    deposit: Decimal | None
    fee_rules: list[dict[str, Any]]
    status: str
    created_at: datetime
