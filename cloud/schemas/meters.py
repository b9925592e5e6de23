from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cloud.models import MeterKind
from cloud.schemas.common import Id, Instant, Label, Name, Register, Strict
from cloud.schemas.equipment import Serial
from sync.schema import DeviceId

Multiplier = Annotated[Decimal, Field(gt=0, le=10**6, max_digits=16, decimal_places=6)]
Modulus = Annotated[
    Decimal,
    Field(
        gt=0,
        le=10**15,
        max_digits=24,
        decimal_places=6,
        description="Where the register rolls over: 100000 for 6 digits with one "
        "decimal (99999.9 → 0.0).",
    ),
]


class MeterPointCreate(Strict):
    kind: MeterKind
    name: Name = Field(description="Such as unit 101 electricity, common lighting.")
    property_id: Id | None = None
    building_id: Id | None = None
    unit_id: Id | None = Field(default=None, description="Null: a common area.")


class MeterPointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    building_id: int | None
    unit_id: int | None
    kind: str
    name: str
    created_at: datetime


class _Source(Strict):
    gateway_id: DeviceId | None = Field(
        default=None, description="The gateway the meter is read through."
    )
    device_id: DeviceId | None = None
    point: Label | None = Field(default=None, description="Such as import_energy.")


class MeterInstall(_Source):
    serial: Serial
    manufacturer: Name | None = None
    model: Name | None = None
    multiplier: Multiplier = Decimal(1)
    register_modulus: Modulus
    installed_at: Instant
    initial_reading: Register

    @field_validator("initial_reading")
    @classmethod
    def _within_register(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        modulus = info.data.get("register_modulus")
        if modulus is not None and value >= modulus:
            raise ValueError(f"{value} does not fit a register that wraps at {modulus}")
        return value


class MeterCreate(MeterInstall):
    meter_point_id: Id


class MeterUpdate(_Source):
    serial: Serial | None = None
    manufacturer: Name | None = None
    model: Name | None = None


class MeterRemoval(Strict):
    removed_at: Instant
    final_reading: Register


class MeterReplacement(MeterRemoval):
    new: MeterInstall = Field(description="The meter installed in its place.")


class MeterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    meter_point_id: int
    property_id: int
    serial: str
    manufacturer: str | None
    model: str | None
    multiplier: Decimal
    register_modulus: Decimal
    installed_at: datetime
    initial_reading: Decimal
    removed_at: datetime | None
    final_reading: Decimal | None
    gateway_id: str | None
    device_id: str | None
    point: str | None
    created_at: datetime


class MeterPointHistory(MeterPointPublic):
    meters: list[MeterPublic] = Field(description="Installations, oldest first.")
