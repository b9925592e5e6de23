from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cloud.models import PropertyKind, UnitStatus, UnitUse
from cloud.schemas.common import Address, Area, Code, Day, Id, Label, Name, Strict

Floor = Annotated[int, Field(ge=-20, le=300, description="0 ground, below negative.")]
Share = Annotated[
    Decimal, Field(gt=0, le=1, max_digits=8, decimal_places=6, description="(0, 1]")
]


class PropertyCreate(Strict):
    code: Code = Field(description="Short unique code, used by CSV imports.")
    name: Name
    kind: PropertyKind
    address: Address | None = None


class PropertyUpdate(Strict):
    code: Code | None = None
    name: Name | None = None
    kind: PropertyKind | None = None
    address: Address | None = None


class PropertyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    address: str | None
    created_at: datetime


class BuildingCreate(Strict):
    property_id: Id
    code: Code
    name: Name
    address: Address | None = None


class BuildingUpdate(Strict):
    code: Code | None = None
    name: Name | None = None
    address: Address | None = None


class BuildingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    code: str
    name: str
    address: str | None
    created_at: datetime


class _UnitFields(Strict):
    floor: Floor | None = None
    address: Address | None = None
    gross_area_m2: Area | None = None
    usable_area_m2: Area | None = None
    layout: Label | None = Field(default=None, description="Such as 3 rooms 2 halls.")
    use: UnitUse | None = None

    @field_validator("usable_area_m2")
    @classmethod
    def _usable_within_gross(
        cls, usable: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        gross = info.data.get("gross_area_m2")
        if usable is not None and gross is not None and usable > gross:
            raise ValueError(f"{usable} m² is more than the gross area of {gross} m²")
        return usable


class UnitCreate(_UnitFields):
    building_id: Id
    number: Code
    use: UnitUse = UnitUse.RESIDENTIAL
    status: UnitStatus = UnitStatus.VACANT


class UnitUpdate(_UnitFields):
    number: Code | None = None
    status: UnitStatus | None = None
    status_note: Label | None = Field(
        default=None, description="Why the status changed; kept in its history."
    )


class UnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    building_id: int
    number: str
    floor: int | None
    address: str | None
    gross_area_m2: Decimal | None
    usable_area_m2: Decimal | None
    layout: str | None
    use: str
    status: str
    created_at: datetime


class UnitStatusChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    changed_at: datetime
    changed_by: str
    note: str | None


class OwnershipShareCreate(Strict):
    person_id: Id
    share: Share
    started_on: Day | None = None
    ended_on: Day | None = None

    @field_validator("ended_on")
    @classmethod
    def _after_start(cls, ended: date | None, info: ValidationInfo) -> date | None:
        started = info.data.get("started_on")
        if ended is not None and started is not None and ended < started:
            raise ValueError(f"{ended} is before started_on {started}")
        return ended


class OwnershipSharePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    property_id: int
    person_id: int
    share: Decimal
    started_on: date | None
    ended_on: date | None
