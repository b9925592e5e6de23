"""The edge-cloud contract: batch schema, versions, and the uplink client."""

from sync.schema import (
    SCHEMA_VERSION,
    Batch,
    BatchAck,
    Command,
    DeviceHealth,
    Event,
    Gap,
    HealthAnswer,
    HealthReport,
    Priority,
    Quality,
    Reading,
)

__all__ = [
    "SCHEMA_VERSION",
    "Batch",
    "BatchAck",
    "Command",
    "DeviceHealth",
    "Event",
    "Gap",
    "HealthAnswer",
    "HealthReport",
    "Priority",
    "Quality",
    "Reading",
]
