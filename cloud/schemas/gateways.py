from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.schemas.common import Id, Name, Strict
from cloud.services.gateways import GatewayHealth
from sync.schema import DeviceId


class GatewayCreate(Strict):
    id: DeviceId
    name: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f]*$")
    building_id: Id | None = Field(
        default=None, description="Where it is installed; org admins may omit it."
    )


class GatewayUpdate(Strict):
    name: Name | None = None
    building_id: Id | None = Field(
        default=None, description="Move to this building; null: unplace it."
    )


class GatewayPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    building_id: int | None
    property_id: int | None
    token_prefix: str = Field(description="First characters of the current token.")
    revoked_at: datetime | None
    last_seen_at: datetime | None
    health: GatewayHealth = Field(
        description="never_seen, ok, stale (silent past the stale time) or revoked."
    )
    rejected_batches: int = Field(description="Batches refused since registration.")
    last_rejection: str | None = Field(description="Why the latest one was refused.")
    last_rejected_at: datetime | None
    created_at: datetime
    reported_health: dict[str, Any] | None = Field(
        default=None,
        description="The gateway's last health report: buffer depth, oldest unsent "
        "age, evictions, devices online and their last errors.",
    )
    health_reported_at: datetime | None = None


class GatewayTokenPublic(GatewayPublic):
    """A gateway with its token in clear: shown once, at creation or rotation."""

    token: str


class GatewayStats(BaseModel):
    readings: int
    events: int
    gaps_records: int = Field(description="Seqs the gateway declared as dropped.")
    max_seq: int | None
    last_seen_at: datetime | None
    rejected_batches: int
    last_rejection: str | None
    events_by_kind: dict[str, int] = Field(
        default_factory=dict, description="Events stored, per kind (card_read, ...)."
    )


class GatewayIntegrity(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    upto: int = Field(description="Seqs 1..upto were examined.")
    stored_records: int = Field(description="Seqs stored as readings or events.")
    reported_gaps: int = Field(description="Seqs the gateway declared dropped.")
    missing: int = Field(description="Seqs neither stored nor declared: lost.")
    missing_ranges: list[tuple[int, int]] = Field(description="The first 100 of them.")
    overlapping: int = Field(description="Seqs held twice (a record and a gap).")
    duplicate_readings: int = Field(
        description="Extra copies of one device point at one timestamp."
    )


class CommandCreate(BaseModel):
    """A command for a gateway: ``unlock`` (device_id, args.seconds ≤ 25.5),
    ``write_point`` (device_id, args.point, args.value), ``update_config``
    (args.config: the whole site TOML), ``rules_update`` (args: a rule set)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64)
    device_id: DeviceId | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    expires_in_s: int = Field(default=3600, ge=1, le=7 * 86400)


class CommandPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    gateway_id: str
    kind: str
    device_id: str | None
    status: str = Field(description="queued, delivered, succeeded, failed, ...")
    detail: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    delivered_at: datetime | None
    deliveries: int
    finished_at: datetime | None
