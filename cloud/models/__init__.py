"""The cloud's tables; importing this package registers all on ``Base.metadata``."""

from cloud.models.accounts import Organization, RefreshToken, Role, User
from cloud.models.base import Base, ExactDecimal, UtcDateTime, utc_now
from cloud.models.gateways import Gateway
from cloud.models.telemetry import Device, DevicePoint, EventRow, GapRow, ReadingRow

__all__ = [
    "Base",
    "Device",
    "DevicePoint",
    "EventRow",
    "ExactDecimal",
    "GapRow",
    "Gateway",
    "Organization",
    "ReadingRow",
    "RefreshToken",
    "Role",
    "User",
    "UtcDateTime",
    "utc_now",
]
