"""Turning driver values into buffer rows, and buffer rows into the wire format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from drivers.types import DeviceEvent, Reading
from edge.buffer import KIND_EVENT, KIND_READING, NewRecord, StoredRecord
from edge.clock import ClockSample
from sync.schema import Priority


def reading_row(reading: Reading, clock: ClockSample) -> NewRecord:
    value, text = _split_value(reading.value)
    ts_us = _ts_us(reading.ts) if reading.ts is not None else clock.wall_us
    return NewRecord(
        KIND_READING,
        int(Priority.TELEMETRY),
        reading.device_id,
        reading.point,
        ts_us,
        value,
        text,
        reading.unit,
        str(reading.quality),
        reading.reason,
        None,
        clock.mono_ns,
        int(clock.trusted),
    )


def event_row(event: DeviceEvent, clock: ClockSample) -> NewRecord:
    priority = Priority.ALARM if event.alarm else Priority.EVENT
    ts_us = _ts_us(event.ts) if event.ts is not None else clock.wall_us
    return NewRecord(
        KIND_EVENT,
        int(priority),
        event.device_id,
        event.kind,
        ts_us,
        None,
        None,
        None,
        None,
        None,
        json.dumps(event.data, separators=(",", ":"), default=str),
        clock.mono_ns,
        int(clock.trusted),
    )


def _split_value(value: Decimal | bool | str | None) -> tuple[str | None, str | None]:
    """A numeric value as exact decimal text, or a state as text."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return ("1" if value else "0"), ("true" if value else "false")
    if isinstance(value, Decimal):
        return (str(value) if value.is_finite() else None), None
    return None, str(value)


def _ts_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"driver gave a naive timestamp {ts!r}; drivers must use UTC")
    return int(ts.timestamp() * 1_000_000)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts_datetime(ts_us: int) -> datetime:
    """Exact to the microsecond (a float of seconds is not, this far from 1970)."""
    return EPOCH + timedelta(microseconds=ts_us)


def wire_record(record: StoredRecord) -> tuple[bool, dict[str, Any]]:
    """(is_reading, dict) in the shape of ``sync.schema.Reading`` or ``Event``."""
    wire: dict[str, Any] = {
        "seq": record.seq,
        "device_id": record.device_id,
        "ts": ts_datetime(record.ts_us),
        "boot_id": record.boot_id,
        "mono_ns": record.mono_ns,
        "clock_trusted": record.clock_trusted == 1,
    }
    if record.kind == KIND_EVENT:
        wire["kind"] = record.name
        wire["priority"] = record.priority
        wire["data"] = json.loads(record.data) if record.data else {}
        return False, wire
    wire["point"] = record.name
    wire["quality"] = record.quality or "good"
    if record.value is not None:
        wire["value"] = record.value
    if record.text is not None:
        wire["text"] = record.text
    if record.unit is not None:
        wire["unit"] = record.unit
    if record.reason is not None:
        wire["reason"] = record.reason
    return True, wire
