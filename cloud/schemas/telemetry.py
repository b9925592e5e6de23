from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer

from cloud.services.clock import clock_state


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    gateway_id: str
    device_id: str
    first_seen_at: datetime
    last_seen_at: datetime = Field(description="When a batch last carried it.")
    last_ts: datetime = Field(description="Newest sample time it reported.")


class DevicesPublic(BaseModel):
    data: list[DevicePublic]
    count: int


class ReadingPublic(BaseModel):
    """One stored reading; ``value`` is an exact decimal string."""

    model_config = ConfigDict(from_attributes=True)

    gateway_id: str
    seq: int
    device_id: str
    point: str
    ts: datetime
    value: Decimal | None
    text: str | None
    unit: str | None
    quality: str
    reason: str | None
    clock_trusted: bool
    reported_ts: datetime | None = Field(
        default=None, description="The gateway's own time, when the cloud re-dated it."
    )
    received_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clock(self) -> str:
        """trusted; corrected (re-dated from the boot's clock); quarantined."""
        return clock_state(self.clock_trusted, self.reported_ts)

    @field_serializer("value")
    def _exact(self, value: Decimal | None) -> str | None:
        # Fixed-point, never exponent notation: 1E-18 reads as 0.000000000000000001.
        return None if value is None else format(value, "f")


class ReadingsPublic(BaseModel):
    data: list[ReadingPublic]
    count: int = Field(description="Readings matching the query, on every page.")
