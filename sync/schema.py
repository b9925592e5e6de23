"""Version 1 of the batch a gateway sends and the answer the cloud gives.

Both sides import these models, so a change here is a change of the wire contract:
add fields with defaults, never rename, and bump ``SCHEMA_VERSION`` on anything the
other side cannot ignore.

Numbers travel as decimal strings (``"12345.678"``), never as JSON floats, so a 64-bit
energy counter scaled by 0.001 reaches the cloud exactly as the meter stated it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
MAX_BATCH_RECORDS = 20_000


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
DeviceId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
PointName = Annotated[str, Field(min_length=1, max_length=64)]


class Quality(StrEnum):
    """How far a value can be trusted; anything but GOOD carries a reason."""

    GOOD = "good"
    UNAVAILABLE = "unavailable"
    OUT_OF_RANGE = "out_of_range"
    STALE = "stale"


class Priority(IntEnum):
    """Eviction class in the gateway buffer; a lower class never evicts a higher."""

    TELEMETRY = 0
    EVENT = 1
    ALARM = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(
        ge=1, description="Gateway-wide sequence number, shared by all kinds."
    )
    device_id: DeviceId
    ts: UtcDatetime = Field(description="Wall-clock time of the sample, UTC.")
    boot_id: str = Field(
        default="", max_length=64, description="Gateway boot it was taken in."
    )
    mono_ns: int = Field(default=0, ge=0, description="Monotonic clock at the sample.")
    clock_trusted: bool = Field(
        default=True,
        description="False when the gateway's wall clock was not yet trusted.",
    )


class Reading(_Record):
    """One value of one point of one device at one time."""

    point: PointName
    value: Decimal | None = Field(default=None, description="Numeric value, exact.")
    text: str | None = Field(
        default=None, max_length=256, description="Non-numeric state."
    )
    unit: str | None = Field(default=None, max_length=16)
    quality: Quality = Quality.GOOD
    reason: str | None = Field(default=None, max_length=512)


class Event(_Record):
    """Something that happened once: a card read, a door forced, a button pressed."""

    kind: str = Field(min_length=1, max_length=64)
    priority: Priority = Priority.EVENT
    data: dict[str, Any] = Field(default_factory=dict)


class Gap(BaseModel):
    """Sequence numbers the gateway dropped on purpose (evicted), so the cloud knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)
    reason: str = Field(max_length=256)


class Batch(BaseModel):
    """What the uplink posts to ``/api/v1/ingest``: every seq in [first_seq, last_seq]
    is in exactly one of readings, events or gaps."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    gateway_id: DeviceId
    batch_id: str = Field(min_length=1, max_length=128)
    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)
    sent_at: UtcDatetime
    readings: list[Reading] = Field(default_factory=list, max_length=MAX_BATCH_RECORDS)
    events: list[Event] = Field(default_factory=list, max_length=MAX_BATCH_RECORDS)
    gaps: list[Gap] = Field(default_factory=list)


class Command(BaseModel):
    """Something the cloud asks a gateway to do, delivered with a sync answer.

    ``id`` makes it idempotent: a gateway executes a command id at most once, and
    reports the outcome as an ``Event`` of kind ``command_result`` with
    ``data = {"command_id", "status", "detail"}``, status being one of
    ``succeeded``, ``failed``, ``rejected``, ``expired`` or ``unknown`` (the gateway
    restarted while executing it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    kind: str = Field(
        min_length=1, max_length=64, description="unlock, write_point, ..."
    )
    device_id: str | None = Field(default=None, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    expires_at: UtcDatetime | None = None


class BatchAck(BaseModel):
    """The cloud's answer: the batch it took, and how many records were new."""

    model_config = ConfigDict(extra="ignore")

    batch_id: str
    first_seq: int
    last_seq: int
    accepted: int = Field(ge=0, description="Records stored by this request.")
    duplicates: int = Field(ge=0, description="Records already stored before.")
    commands: list[Command] = Field(default_factory=list)


class DeviceHealth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: DeviceId
    protocol: str = Field(max_length=32)
    online: bool
    last_error: str | None = Field(default=None, max_length=512)


class HealthReport(BaseModel):
    """What a gateway says of itself every few seconds.

    Posted to ``/api/v1/gateway/health`` with the gateway's token.
    The answer is a ``HealthAnswer``: the commands queued for the gateway and the
    cloud's clock, so an idle gateway still gets its commands, and a gateway whose
    wall clock agrees with the cloud's can trust it.
    """

    model_config = ConfigDict(extra="forbid")

    gateway_id: DeviceId
    sent_at: UtcDatetime
    boot_id: str = Field(max_length=64)
    clock_trusted: bool
    buffer_depth: int = Field(ge=0)
    oldest_unsent_age_s: float = Field(ge=0)
    last_seq: int = Field(ge=0)
    evicted_total: int = Field(ge=0)
    set_aside_total: int = Field(ge=0)
    config_version: str | None = Field(default=None, max_length=64)
    devices: list[DeviceHealth] = Field(default_factory=list, max_length=10_000)


class HealthAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server_time: UtcDatetime
    commands: list[Command] = Field(default_factory=list)
