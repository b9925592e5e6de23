from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.models import Urgency, WorkOrderState
from cloud.schemas.common import (
    Amount,
    Day,
    Id,
    Instant,
    Label,
    Money,
    Name,
    Strict,
)

Trade = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$"),
]
Note = Annotated[str, Field(max_length=4000)]
Quantity = Annotated[Decimal, Field(gt=0, le=10**6, max_digits=12, decimal_places=3)]


class WorkOrderCreate(Strict):
    property_id: Id | None = Field(
        default=None, description="Needed only when neither building nor unit is."
    )
    building_id: Id | None = None
    unit_id: Id | None = None
    equipment_id: Id | None = None
    location: Name | None = Field(default=None, description="Such as 'kitchen sink'.")
    category: Trade = Field(description="The trade: plumbing, electrical, hvac, …")
    urgency: Urgency = Urgency.NORMAL
    title: Name
    description: Note = ""


class WorkOrderUpdate(Strict):
    category: Trade | None = None
    description: Note | None = None
    location: Name | None = None
    chargeable: bool | None = None
    charge_amount: Money | None = Field(
        default=None,
        description="Agreed amount to charge the tenant; without it, the "
        "chargeable parts at cost.",
    )


class TransitionCreate(Strict):
    to: WorkOrderState
    note: Note | None = None
    assignee_user_id: Id | None = Field(
        default=None, description="With to=assigned: the technician."
    )
    team: Label | None = Field(default=None, description="With to=assigned.")
    pause_clock: bool = Field(
        default=False,
        description="With to=on_hold: waiting for the tenant, so the SLA clock "
        "stops until work resumes.",
    )


class TransitionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    from_state: str | None
    to_state: str
    at: datetime
    by_user_id: int | None
    by_label: str
    note: str | None


class WorkOrderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    building_id: int | None
    unit_id: int | None
    equipment_id: int | None
    location: str | None
    category: str
    urgency: str
    title: str
    description: str
    source: str
    source_ref: str | None
    requester_user_id: int | None
    requester_person_id: int | None
    lease_id: int | None
    state: str
    team: str | None
    assignee_user_id: int | None
    plan_id: int | None
    plan_due_on: date | None
    inspection_id: int | None
    estimated_hours: Decimal | None
    created_at: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    on_hold_since: datetime | None
    response_due_at: datetime
    resolution_due_at: datetime
    response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    chargeable: bool
    charge_amount: Decimal | None
    rating: int | None
    rating_comment: str | None


class ChecklistItemCreate(Strict):
    text: Annotated[str, Field(min_length=1, max_length=500)]


class ChecklistItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    position: int
    text: str
    done_at: datetime | None
    done_by: str | None


class LabourCreate(Strict):
    started_at: Instant
    ended_at: Instant
    hourly_rate: Amount = Decimal(0)
    technician_user_id: Id | None = Field(
        default=None, description="The caller when not given."
    )
    note: Note | None = None


class LabourPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    technician_user_id: int
    started_at: datetime
    ended_at: datetime
    hourly_rate: Decimal
    note: str | None


class PartCreate(Strict):
    description: Name
    quantity: Quantity
    unit_cost: Amount
    chargeable: bool = False


class PartPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    description: str
    quantity: Decimal
    unit_cost: Decimal
    chargeable: bool


class CostsPublic(BaseModel):
    labour_hours: Decimal
    labour_cost: Decimal
    parts_cost: Decimal
    total: Decimal
    chargeable: list[tuple[str, Decimal]]


class RatingCreate(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Note | None = None


class PhotoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime


class SlaTargetCreate(Strict):
    property_id: Id
    urgency: Urgency
    category: Trade | None = None
    response_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 90)]
    resolution_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 365)]
    warn_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 7)] = 15
    business_hours: bool = False
    timezone: Label = "UTC"
    day_starts: Annotated[int, Field(ge=0, lt=24 * 60)] = 8 * 60
    day_ends: Annotated[int, Field(gt=0, le=24 * 60)] = 18 * 60


class SlaTargetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    urgency: str
    category: str | None
    response_minutes: int
    resolution_minutes: int
    warn_minutes: int
    business_hours: bool
    timezone: str
    day_starts: int
    day_ends: int


class WatcherCreate(Strict):
    property_id: Id
    channel: Literal["webhook", "webpush", "apprise"]
    target: Annotated[str, Field(min_length=1, max_length=4000)]
    label: Name


class WatcherPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    channel: str
    label: str


# --- maintenance plans ----------------------------------------------------------


class MaintenancePlanCreate(Strict):
    equipment_id: Id
    name: Name
    interval_unit: Literal["days", "weeks", "months", "cron"]
    interval_count: Annotated[int, Field(ge=1, le=1000)] | None = None
    cron: Annotated[str, Field(min_length=9, max_length=100)] | None = None
    anchor: Literal["schedule", "completion"] = "schedule"
    first_due_on: Day
    lead_days: Annotated[int, Field(ge=0, le=365)] = 0
    category: Trade
    urgency: Urgency = Urgency.NORMAL
    title: Name
    checklist: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list
    )
    estimated_hours: (
        Annotated[Decimal, Field(ge=0, le=10000, max_digits=8, decimal_places=2)] | None
    ) = None


class MaintenancePlanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    equipment_id: int
    name: str
    interval_unit: str
    interval_count: int | None
    cron: str | None
    anchor: str
    first_due_on: date
    lead_days: int
    category: str
    urgency: str
    title: str
    checklist: list[str]
    estimated_hours: Decimal | None
    active: bool


class GenerationPublic(BaseModel):
    created: list[int]


# --- inspection rounds ----------------------------------------------------------


class CheckpointCreate(Strict):
    name: Name
    check_kind: Literal["ok", "reading", "photo"] = "ok"
    reader_gateway_id: Label | None = None
    reader_device_id: Label | None = None


class RoundPlanCreate(Strict):
    property_id: Id
    name: Name
    every_hours: Annotated[int, Field(ge=1, le=24 * 366)]
    window_minutes: Annotated[int, Field(ge=5, le=24 * 60 * 31)]
    first_starts_at: Instant
    assignee_user_id: Id | None = None
    category: Trade = "general"
    checkpoints: list[CheckpointCreate] = Field(min_length=1, max_length=500)


class CheckpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int
    name: str
    check_kind: str
    qr_token: str
    reader_gateway_id: str | None
    reader_device_id: str | None


class RoundPlanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    name: str
    every_hours: int
    window_minutes: int
    first_starts_at: datetime
    assignee_user_id: int | None
    active: bool


class RoundTaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    round_plan_id: int
    property_id: int
    assignee_user_id: int | None
    window_starts_at: datetime
    window_ends_at: datetime
    state: str
    missed: bool
    skipped_checkpoints: int
    closed_at: datetime | None


class RoundCheckCreate(Strict):
    qr_token: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Scanned at the checkpoint."
    )
    checkpoint_id: Id | None = Field(
        default=None,
        description="Instead of a QR token: the checkpoint whose reader you swiped "
        "your badge at.",
    )
    ok: bool
    reading: Annotated[Decimal, Field(max_digits=18, decimal_places=6)] | None = None
    note: Note | None = None


class RoundCheckPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    round_task_id: int
    checkpoint_id: int
    checked_at: datetime
    proof: str
    ok: bool
    reading: Decimal | None
    note: str | None
    work_order_id: int | None


class StaffBadgeCreate(Strict):
    user_id: Id
    card_hex: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{2,64}$")] = Field(
        description="The card data as the reader reports it (card_read 'hex')."
    )


class StaffBadgePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    card_hex: str
    created_at: datetime
