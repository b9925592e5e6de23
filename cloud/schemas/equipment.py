from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cloud.models import EquipmentCategory, EquipmentStatus
from cloud.schemas.common import Day, Id, Label, Name, Strict
from cloud.schemas.properties import Floor

Serial = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")]


class _Location(Strict):
    property_id: Id | None = Field(
        default=None, description="Needed only when neither building nor unit is."
    )
    building_id: Id | None = None
    unit_id: Id | None = None
    floor: Floor | None = None


class EquipmentCreate(_Location):
    category: EquipmentCategory
    name: Name
    manufacturer: Name | None = None
    model: Name | None = None
    serial: Serial | None = None
    purchase_date: Day | None = None
    installed_on: Day | None = None
    warranty_until: Day | None = None
    parent_id: Id | None = Field(default=None, description="The larger equipment.")
    status: EquipmentStatus = EquipmentStatus.IN_SERVICE


class EquipmentUpdate(_Location):
    category: EquipmentCategory | None = None
    name: Name | None = None
    manufacturer: Name | None = None
    model: Name | None = None
    serial: Serial | None = None
    purchase_date: Day | None = None
    installed_on: Day | None = None
    warranty_until: Day | None = None
    parent_id: Id | None = None
    status: EquipmentStatus | None = None


class EquipmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    building_id: int | None
    unit_id: int | None
    floor: int | None
    parent_id: int | None
    category: str
    name: str
    manufacturer: str | None
    model: str | None
    serial: str | None
    purchase_date: date | None
    installed_on: date | None
    warranty_until: date | None
    status: str
    created_at: datetime


IntervalMonths = Annotated[int, Field(ge=1, le=240)]


class InspectionCreate(Strict):
    kind: Name = Field(description="Such as annual elevator inspection.")
    authority: Name
    certificate_number: Label | None = None
    last_inspected_on: Day | None = None
    interval_months: IntervalMonths
    next_due_on: Day | None = Field(
        default=None,
        description="Computed from the last date and interval when not given; "
        "needed when there is no last date.",
    )


class InspectionUpdate(Strict):
    kind: Name | None = None
    authority: Name | None = None
    certificate_number: Label | None = None
    last_inspected_on: Day | None = None
    interval_months: IntervalMonths | None = None
    next_due_on: Day | None = None


class InspectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    equipment_id: int
    property_id: int
    kind: str
    authority: str
    certificate_number: str | None
    last_inspected_on: date | None
    interval_months: int
    next_due_on: date
    created_at: datetime


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    equipment_id: int | None
    lease_id: int | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
