"""From decoded advertisements to the gateway's readings, alarms and events."""

from __future__ import annotations

import logging
from decimal import Decimal

from drivers.ble.decoded import DecodedAdvert, DecodedEvent
from drivers.ble.profile import BleAlarm, BleEventMap, BlePoint, BleProfile
from drivers.types import DeviceEvent, Quality, Reading

_LOG = logging.getLogger(__name__)


class PointMapper:
    """Applies one device's profile: points, plausibility, alarm transitions, events.

    An alarm is reported on a transition only: the first advertisement of a dry leak
    sensor says nothing, the first wet one raises ``water_leak``, the next dry one
    clears it. Both directions are ``DeviceEvent(kind="alarm", alarm=True)`` so the
    clearing travels with the same priority as the raising.
    """

    def __init__(self, device_id: str, profile: BleProfile) -> None:
        self._device_id = device_id
        self._profile = profile
        self._alarm_active: dict[str, bool] = {}
        self._complained: set[str] = set()

    def translate(self, decoded: DecodedAdvert) -> list[Reading | DeviceEvent]:
        readings = {
            point.name: reading
            for point in self._profile.points
            if (reading := self._reading(point, decoded)) is not None
        }
        items: list[Reading | DeviceEvent] = list(readings.values())
        for alarm in self._profile.alarms:
            alarm_event = self._alarm(alarm, readings.get(alarm.point))
            if alarm_event is not None:
                items.append(alarm_event)
        for decoded_event in decoded.events:
            event = self._event(decoded_event)
            if event is not None:
                items.append(event)
        return items

    def _reading(self, point: BlePoint, decoded: DecodedAdvert) -> Reading | None:
        if point.source in decoded.unavailable:
            return self._flagged(
                point, None, Quality.UNAVAILABLE, decoded.unavailable[point.source]
            )
        if point.source not in decoded.values:
            return None
        value = decoded.values[point.source]
        if value is None:
            return self._flagged(
                point, None, Quality.UNAVAILABLE, f"{point.name}: no value decoded"
            )
        if point.range is not None and isinstance(value, Decimal):
            low, high = point.range
            if not low <= value <= high:
                unit = f" {point.unit}" if point.unit else ""
                reason = (
                    f"{point.name} {value}{unit} is outside the plausible range "
                    f"{low}..{high}{unit}"
                )
                return self._flagged(point, value, Quality.OUT_OF_RANGE, reason)
        return Reading(self._device_id, point.name, value, point.unit)

    def _flagged(
        self, point: BlePoint, value: Decimal | None, quality: Quality, reason: str
    ) -> Reading:
        """A reading that cannot be trusted, logged loudly the first time per point."""
        level = logging.DEBUG if point.name in self._complained else logging.WARNING
        self._complained.add(point.name)
        _LOG.log(level, "%s: %s (%s)", self._device_id, reason, quality.value)
        return Reading(self._device_id, point.name, value, point.unit, quality, reason)

    def _alarm(self, alarm: BleAlarm, reading: Reading | None) -> DeviceEvent | None:
        if reading is None or reading.quality is not Quality.GOOD:
            return None
        active = reading.value == alarm.when
        previous = self._alarm_active.get(alarm.name)
        self._alarm_active[alarm.name] = active
        if previous == active or (previous is None and not active):
            return None
        _LOG.warning(
            "%s: alarm %s %s",
            self._device_id,
            alarm.name,
            "raised" if active else "cleared",
        )
        return DeviceEvent(
            self._device_id,
            "alarm",
            {
                "type": alarm.name,
                "state": "active" if active else "cleared",
                "point": alarm.point,
            },
            alarm=True,
        )

    def _event_map(self, event: DecodedEvent) -> BleEventMap | None:
        for mapping in self._profile.events:
            suffix = event.source.removeprefix(mapping.source)
            if suffix == "" or (suffix.startswith("_") and suffix[1:].isdigit()):
                return mapping
        return None

    def _event(self, event: DecodedEvent) -> DeviceEvent | None:
        mapping = self._event_map(event)
        if mapping is None:
            _LOG.debug(
                "%s: %s %s is not in the profile",
                self._device_id,
                event.source,
                event.event,
            )
            return None
        _LOG.info("%s: %s %s", self._device_id, event.source, event.event)
        data = {"event": event.event, "source": event.source, **event.properties}
        return DeviceEvent(self._device_id, mapping.kind, data)
