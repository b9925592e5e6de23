"""Device-side payload builders: the JSON that Zigbee2MQTT, Tasmota and Shelly send.

Written from the devices' documented formats, independently of ``drivers.mqtt``, so
that a decoding mistake in the gateway shows up instead of being mirrored. The
garbage builders reproduce what real firmware has been seen to send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

SIM_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Wall time of simulated second 0, so that payload timestamps are deterministic."""


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


# --- Zigbee2MQTT ------------------------------------------------------------------


def z2m_state(fields: Mapping[str, Any]) -> bytes:
    """The JSON object Zigbee2MQTT publishes on ``zigbee2mqtt/<friendly name>``."""
    return _dumps(fields)


def z2m_attribute(value: object) -> bytes:
    """Attribute output (``zigbee2mqtt/<name>/<attribute>``): the bare value."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()


def z2m_availability(online: bool) -> bytes:
    return _dumps({"state": "online" if online else "offline"})


# --- Tasmota ----------------------------------------------------------------------


def tasmota_time(elapsed_s: float) -> str:
    """Tasmota stamps local time without a zone; the simulator's local time is UTC."""
    moment = SIM_EPOCH + timedelta(seconds=int(elapsed_s))
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def tasmota_sensor(elapsed_s: float, sensors: Mapping[str, Any]) -> bytes:
    """``tele/<topic>/SENSOR``: Time first, then one object per sensor driver."""
    return _dumps({"Time": tasmota_time(elapsed_s), **sensors})


def tasmota_energy(
    *,
    total_kwh: float,
    today_kwh: float,
    yesterday_kwh: float,
    power_w: list[float],
    voltage_v: list[float],
    current_a: list[float],
    factor: list[float],
) -> dict[str, Any]:
    """The ENERGY object; one phase gives scalars, three phases give arrays."""

    def per_phase(values: list[float], digits: int) -> float | list[float]:
        rounded = [round(value, digits) for value in values]
        return rounded[0] if len(rounded) == 1 else rounded

    apparent = [v * i for v, i in zip(voltage_v, current_a, strict=True)]
    reactive = [
        max(s * s - p * p, 0.0) ** 0.5 for s, p in zip(apparent, power_w, strict=True)
    ]
    return {
        "TotalStartTime": tasmota_time(0),
        "Total": round(total_kwh, 3),
        "Yesterday": round(yesterday_kwh, 3),
        "Today": round(today_kwh, 3),
        "Power": per_phase(power_w, 0),
        "ApparentPower": per_phase(apparent, 0),
        "ReactivePower": per_phase(reactive, 0),
        "Factor": per_phase(factor, 2),
        "Voltage": per_phase(voltage_v, 0),
        "Current": per_phase(current_a, 3),
    }


def tasmota_lwt(online: bool) -> bytes:
    return b"Online" if online else b"Offline"


# --- Shelly Gen2 ------------------------------------------------------------------


def shelly_switch_status(
    switch_id: int,
    *,
    output: bool,
    apower_w: float,
    voltage_v: float,
    current_a: float,
    energy_wh: float,
    temperature_c: float,
    minute_ts: int,
) -> dict[str, Any]:
    """The full status of ``switch:N``, as on ``<id>/status/switch:N``."""
    return {
        "id": switch_id,
        "source": "init",
        "output": output,
        "apower": round(apower_w, 1),
        "voltage": round(voltage_v, 1),
        "freq": 50.0,
        "current": round(current_a, 3),
        "pf": 0.95 if apower_w else 0.0,
        "aenergy": {
            "total": round(energy_wh, 3),
            "by_minute": [0.0, 0.0, 0.0],
            "minute_ts": minute_ts,
        },
        "temperature": {
            "tC": round(temperature_c, 1),
            "tF": round(temperature_c * 9 / 5 + 32, 1),
        },
    }


def shelly_notify_status(
    shelly_id: str, ts: float, changes: Mapping[str, Mapping[str, Any]]
) -> bytes:
    """``<id>/events/rpc`` NotifyStatus: params carry only what changed."""
    return _dumps(
        {
            "src": shelly_id,
            "dst": f"{shelly_id}/events",
            "method": "NotifyStatus",
            "params": {"ts": round(ts, 2), **changes},
        }
    )


def shelly_status(component: Mapping[str, Any]) -> bytes:
    return _dumps(component)


def shelly_online(online: bool) -> bytes:
    return b"true" if online else b"false"


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What a Shelly puts in a NotifyStatus: the keys whose values differ."""
    delta: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict) and isinstance(before.get(key), dict):
            inner = changed_keys(before[key], value)
            if inner:
                delta[key] = inner
        elif before.get(key) != value:
            delta[key] = value
    return delta


# --- garbage that real firmware sends ---------------------------------------------


def with_bare_nan(
    document: Mapping[str, Any], key_path: tuple[str | int, ...]
) -> bytes:
    """The document with one value replaced by a bare ``nan`` (Tasmota#4147)."""
    marker = "__sim_nan__"
    patched = json.loads(json.dumps(document))
    node = patched
    for key in key_path[:-1]:
        node = node[key]
    node[key_path[-1]] = marker
    return _dumps(patched).replace(f'"{marker}"'.encode(), b"nan")


def with_strings(document: Mapping[str, Any]) -> bytes:
    """Booleans and numbers sent as JSON strings: ``"true"``, ``"100.00"``.

    Old Zigbee2MQTT sent battery as "100.00" (#391); attribute output and some
    bridges send "true"/"ON" for booleans. Values inside lists are left alone.
    """

    def as_text(value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, dict):
            return {key: as_text(inner) for key, inner in value.items()}
        return value

    return _dumps({key: as_text(value) for key, value in document.items()})


def truncated(payload: bytes) -> bytes:
    """A message cut off mid-way (a publisher's buffer too small)."""
    return payload[: max(1, len(payload) // 2)]


NOT_JSON = b"\xff\xfe\x00\x13garbage\x80"
"""Bytes that are not even UTF-8."""
