"""Bodies and answers of the billing routes; money and quantities as decimals."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.billing import (
    AllocationOrder,
    BoundaryRule,
    MeterKind,
    RoundingMode,
    RoundingScope,
)
from cloud.models.billing import ReviewDecision, TariffKind
from cloud.schemas.common import (
    Currency,
    Day,
    Id,
    Instant,
    Label,
    Money,
    Name,
    Register,
    Strict,
)

Rate = Annotated[Decimal, Field(ge=0, le=10**6, max_digits=16, decimal_places=6)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Reference = Annotated[str, Field(min_length=1, max_length=128)]


class TierIn(Strict):
    up_to: Register | None = None
    rate: Rate


class TouWindowIn(Strict):
    start: time
    end: time
    band: Label


class TouIn(Strict):
    windows: list[TouWindowIn] = Field(min_length=1, max_length=24)
    band_rates: dict[str, Rate]

    def stored(self) -> dict[str, Any]:
        return {
            "windows": [
                {"start": w.start.isoformat(), "end": w.end.isoformat(), "band": w.band}
                for w in self.windows
            ],
            "band_rates": {band: str(rate) for band, rate in self.band_rates.items()},
        }


class TariffVersionIn(Strict):
    effective_from: Instant
    tiers: list[TierIn] = Field(min_length=1, max_length=10)
    tou: TouIn | None = None


class TariffCreate(Strict):
    property_id: Id
    meter_kind: MeterKind
    name: Name
    kind: TariffKind = TariffKind.FLAT
    currency: Currency = "CNY"
    timezone: Label = "Asia/Shanghai"
    cycle_months: int = Field(default=12, ge=1, le=12)
    cycle_start_month: int = Field(default=1, ge=1, le=12)
    boundary: BoundaryRule = BoundaryRule.INCLUSIVE_UPPER
    versions: list[TariffVersionIn] = Field(min_length=1, max_length=50)


class TariffVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    effective_from: datetime
    tiers: list[dict[str, Any]]
    tou: dict[str, Any] | None


class TariffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    meter_kind: str
    name: str
    kind: str
    currency: str
    timezone: str
    cycle_months: int
    cycle_start_month: int
    boundary: str
    versions: list[TariffVersionPublic]


class LateFeeRuleIn(Strict):
    effective_from: Day
    daily_rate: Rate
    minimum: Money = Decimal("0")
    cap_fraction: Rate | None = None
    cap_amount: Money | None = None

    def stored(self) -> dict[str, Any]:
        return {
            key: None if value is None else str(value)
            for key, value in self.model_dump().items()
        }


class BillingSettingsUpdate(Strict):
    currency: Currency | None = None
    timezone: Label | None = None
    rounding_mode: RoundingMode | None = None
    rounding_scope: RoundingScope | None = None
    rounding_quantum: Annotated[Decimal, Field(gt=0, le=100)] | None = None
    allocation_order: AllocationOrder | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    late_fee_rules: list[LateFeeRuleIn] | None = Field(default=None, max_length=20)
    reminder_offsets: list[Annotated[int, Field(ge=-60, le=365)]] | None = Field(
        default=None, max_length=10
    )
    reminder_channel: Annotated[str, Field(pattern="^(webhook|apprise)$")] | None = None
    reminder_target: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class BillingSettingsPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organization_id: int
    currency: str
    timezone: str
    rounding_mode: str
    rounding_scope: str
    rounding_quantum: Decimal
    allocation_order: str
    payment_terms_days: int
    late_fee_rules: list[dict[str, Any]]
    reminder_offsets: list[int]
    reminder_channel: str | None


class ManualReadingCreate(Strict):
    value: Register
    taken_at: Instant
    estimated: bool = False
    photo_sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")] | None = None


class ManualReadingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    meter_id: int
    property_id: int
    value: Decimal
    taken_at: datetime
    estimated: bool
    photo_sha256: str | None
    entered_by: str


class ReadingReviewCreate(Strict):
    reading_ref: Reference
    decision: ReviewDecision
    note: Text | None = None


class ReadingReviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    meter_id: int
    reading_ref: str
    decision: str
    note: str | None
    decided_by: str


class HeldReadingPublic(BaseModel):
    meter_point_id: int
    meter_id: int
    reading_ref: str
    taken_at: datetime
    value: Decimal
    code: str
    needs_review: bool
    reason: str


class BillingRunCreate(Strict):
    period_first: Day
    period_last: Day
    property_id: Id | None = Field(
        default=None, description="One property; omitted with all=true: every one."
    )
    all: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> BillingRunCreate:
        if (self.property_id is None) == self.all:
            return self
        raise ValueError("give either property_id or all=true, not both")


class BillingRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    period_first: date
    period_last: date
    status: str
    computed_at: datetime
    approved_at: datetime | None
    held_readings: int
    invoice_ids: list[int] = []


class InvoiceLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    line_no: int
    kind: str
    description: str
    unit_id: int | None
    quantity: Decimal | None
    unit_price: Decimal | None
    exact_amount: Decimal
    amount: Decimal
    service_first: date | None
    service_last: date | None
    estimated: bool
    lease_id: int | None
    tariff_id: int | None
    tariff_version: datetime | None
    tier: int | None
    band: str | None
    meter_point_id: int | None
    reading_ids: list[str]
    source: str | None
    source_ref: str | None
    credits_line_id: int | None


class InvoicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    run_id: int | None
    kind: str
    number: str | None
    person_id: int
    lease_id: int | None
    unit_id: int | None
    currency: str
    status: str
    issued_on: date | None
    due_date: date
    total: Decimal
    paid: Decimal
    original_invoice_id: int | None
    reason: str | None
    lines: list[InvoiceLinePublic]


class CreditNoteCreate(Strict):
    reason: Text
    amounts: dict[int, Money] | None = Field(
        default=None, description="Line number → amount; omitted: everything left."
    )


class OneOffChargeCreate(Strict):
    property_id: Id
    amount: Money
    description: Text
    person_id: Id | None = None
    lease_id: Id | None = None
    unit_id: Id | None = None
    source: Label = "manual"
    source_ref: Reference | None = None
    charge_date: Day


class OneOffChargePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    kind: str
    person_id: int | None
    lease_id: int | None
    unit_id: int | None
    amount: Decimal
    currency: str
    description: str
    charge_date: date
    source: str
    source_ref: str | None
    invoice_line_id: int | None


class PaymentCreate(Strict):
    property_id: Id
    person_id: Id
    unit_id: Id | None = None
    amount: Money
    received_at: Instant
    method: Label = "bank_transfer"
    reference: Reference | None = None


class AllocationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_id: int
    invoice_line_id: int
    amount: Decimal
    applied_on: date


class PaymentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    person_id: int
    unit_id: int | None
    amount: Decimal
    unallocated: Decimal
    currency: str
    received_at: datetime
    method: str
    reference: str | None
    allocations: list[AllocationPublic] = []


class RefundCreate(Strict):
    property_id: Id
    person_id: Id
    unit_id: Id | None = None
    amount: Money
    refunded_at: Instant
    reference: Reference | None = None


class RefundPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    person_id: int
    unit_id: int | None
    amount: Decimal
    currency: str
    refunded_at: datetime
    reference: str | None


class BalancePublic(BaseModel):
    person_id: int
    unit_id: int | None
    currency: str
    outstanding: Decimal
    credit: Decimal
    net: Decimal


class StatementRowError(BaseModel):
    line: int
    message: str


class StatementPublic(BaseModel):
    imported: int
    rejected: int
    payment_ids: list[int]
    errors: list[StatementRowError]


class DunningPublic(BaseModel):
    late_fees: int
    late_fee_total: Decimal
    reminders: int
