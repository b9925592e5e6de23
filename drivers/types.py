"""The values every driver hands to the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


class Quality(StrEnum):
    """How far a value can be trusted; anything but GOOD carries a reason."""

    GOOD = "good"
    UNAVAILABLE = "unavailable"
    OUT_OF_RANGE = "out_of_range"
    STALE = "stale"


Value = Decimal | bool | str | None


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one point of one device.

    Numbers are ``Decimal`` so that scaled integer counters stay exact; a float32
    register becomes the shortest decimal that round-trips to the same float32.
    ``ts`` is set by drivers whose devices stamp their own samples; otherwise the
    gateway stamps the reading when it takes it.
    """

    device_id: str
    point: str
    value: Value
    unit: str | None = None
    quality: Quality = Quality.GOOD
    reason: str | None = None
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened once on a device.

    ``kind`` is one of a small vocabulary shared by all drivers: ``card_read``,
    ``keypad``, ``door_opened``, ``door_closed``, ``door_forced``, ``door_held_open``,
    ``tamper``, ``button_press``, ``device_offline``, ``device_online``, ``alarm``.
    """

    device_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    alarm: bool = False
    ts: datetime | None = None


class DeviceSink(Protocol):
    """What the gateway gives push-style drivers (MQTT, BLE, OSDP) to report into."""

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        """Take readings and events; must not block (the gateway buffers them)."""

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        """Report a device coming online or going offline, with the reason."""
