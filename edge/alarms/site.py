"""The site's devices as the alarm engine sees them, and the load-time checks.

Rules and actions name devices, points and alarm types; a typo there would leave a
water main open on a leak. Everything they name is checked against the site
configuration and the devices' firmware profiles when the configuration loads (and
when the cloud sends a rule set), and refused naming the place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge.config import ActionSection, RuleSection, SiteConfig


class SiteError(ValueError):
    """A rule or an action names what the site does not have; says which and why."""


@dataclass(frozen=True, slots=True)
class DevicePoints:
    """One configured device: its protocol, profile, points and own alarm types."""

    device_id: str
    protocol: str
    profile: Any
    points: frozenset[str]
    patterns: tuple[re.Pattern[str], ...] = ()
    alarm_types: frozenset[str] = frozenset()

    def has_point(self, name: str) -> bool:
        return name in self.points or any(p.fullmatch(name) for p in self.patterns)


class Catalogue:
    """Every device of a site with what its profile defines."""

    def __init__(self, devices: Mapping[str, DevicePoints]) -> None:
        self.devices = dict(devices)

    @classmethod
    def from_site(cls, config: SiteConfig) -> Catalogue:
        from drivers.modbus import load_profile as load_modbus

        devices: dict[str, DevicePoints] = {}
        meters = [d for bus in config.modbus_tcp for d in bus.devices]
        meters += [d for bus in config.modbus_rtu for d in bus.devices]
        for device in meters:
            profile = load_modbus(device.profile)
            names = frozenset(point.name for point in profile.points)
            devices[device.id] = DevicePoints(device.id, "modbus", profile, names)
        devices.update(_push_devices(config))
        return cls(devices)

    def alarm_types(self) -> frozenset[str]:
        """The alarm types the devices raise themselves."""
        return frozenset(t for d in self.devices.values() for t in d.alarm_types)

    def check_rules(self, rules: Sequence[RuleSection], *, where: str) -> None:
        for index, rule in enumerate(rules):
            place = f"{where}[{index}] ({rule.id})"
            device = self.devices.get(rule.device)
            if device is None:
                raise SiteError(
                    f"{place}: device {rule.device!r} is not in the site configuration"
                )
            if rule.point is not None and not device.has_point(rule.point):
                raise SiteError(
                    f"{place}: {rule.device} has no point {rule.point!r} "
                    f"(its profile {device.profile.id} has "
                    f"{', '.join(sorted(device.points)) or 'none'})"
                )

    def check_actions(
        self, actions: Sequence[ActionSection], raised: frozenset[str]
    ) -> None:
        for index, action in enumerate(actions):
            place = f"actions[{index}] ({action.kind} on {action.on})"
            if action.on not in raised:
                raise SiteError(
                    f"{place}: nothing on this site raises {action.on!r} (raised "
                    f"here: {', '.join(sorted(raised)) or 'none'})"
                )
            for source in action.sources or []:
                self._device(place, source, "source")
            if action.kind == "close_valve":
                assert action.device is not None
                self._check_valve(place, action.device, action.point)
            else:
                for door in action.devices:
                    self._check_door(place, door, action.seconds)

    def _device(self, place: str, device_id: str, role: str) -> DevicePoints:
        device = self.devices.get(device_id)
        if device is None:
            raise SiteError(
                f"{place}: {role} {device_id!r} is not in the site configuration"
            )
        return device

    def _check_valve(self, place: str, device_id: str, point_name: str) -> None:
        device = self._device(place, device_id, "device")
        if device.protocol != "modbus":
            raise SiteError(
                f"{place}: {device_id} is a {device.protocol} device; a valve is "
                "closed through a Modbus point"
            )
        try:
            point = device.profile.point(point_name)
        except KeyError:
            raise SiteError(
                f"{place}: profile {device.profile.id} of {device_id} has no point "
                f"{point_name!r}"
            ) from None
        if not point.writable:
            raise SiteError(
                f"{place}: point {point_name!r} of {device_id} is read-only "
                f"(profile {device.profile.id})"
            )
        if "closed" not in dict(point.states).values():
            raise SiteError(
                f"{place}: point {point_name!r} of {device_id} has no state 'closed'"
            )

    def _check_door(self, place: str, device_id: str, seconds: float) -> None:
        from drivers.osdp.profile import MAX_TIMER_S

        device = self._device(place, device_id, "door")
        if device.protocol != "osdp":
            raise SiteError(
                f"{place}: {device_id} is a {device.protocol} device, not an OSDP "
                "door reader"
            )
        if device.profile.relay_output is None:
            raise SiteError(
                f"{place}: profile {device.profile.id} of {device_id} has no lock "
                "output to release"
            )
        if seconds > MAX_TIMER_S:
            raise SiteError(
                f"{place}: seconds = {seconds:g} is over the {MAX_TIMER_S} s an OSDP "
                "output timer carries; the gateway re-issues the release while the "
                "alarm lasts"
            )


def _push_devices(config: SiteConfig) -> dict[str, DevicePoints]:
    from drivers.ble import load_ble_profile
    from drivers.mqtt import load_profile as load_mqtt
    from drivers.osdp import load_profile as load_osdp

    devices: dict[str, DevicePoints] = {}
    for mqtt_device in config.mqtt.devices if config.mqtt else []:
        profile = load_mqtt(mqtt_device.profile)
        exact = [p.name for p in profile.points if "{*}" not in p.name]
        patterns = tuple(
            re.compile(re.escape(p.name).replace(re.escape("{*}"), "[0-9a-z_]+"))
            for p in profile.points
            if "{*}" in p.name
        )
        alarms = frozenset(p.alarm for p in profile.points if p.alarm)
        devices[mqtt_device.id] = DevicePoints(
            mqtt_device.id, "mqtt", profile, frozenset(exact), patterns, alarms
        )
    for ble_device in config.ble.devices if config.ble else []:
        ble = load_ble_profile(ble_device.profile)
        devices[ble_device.id] = DevicePoints(
            ble_device.id,
            "ble",
            ble,
            frozenset(p.name for p in ble.points),
            alarm_types=frozenset(a.name for a in ble.alarms),
        )
    for bus in config.osdp:
        for reader in bus.readers:
            osdp = load_osdp(reader.profile)
            devices[reader.id] = DevicePoints(
                reader.id, "osdp", osdp, frozenset(), alarm_types=osdp.alarms
            )
    return devices


def check_site(config: SiteConfig) -> Catalogue | None:
    """Check the rules and actions of a loaded configuration; None if it has none."""
    from edge.alarms.rules import RuleSet, describe_errors, rule_type

    if not config.rules and not config.actions:
        return None
    try:
        RuleSet(version=config.alarms.rules_version, rules=config.rules)
    except ValidationError as exc:
        raise SiteError(f"rules: {describe_errors(exc)}") from exc
    catalogue = Catalogue.from_site(config)
    catalogue.check_rules(config.rules, where="rules")
    raised = catalogue.alarm_types() | {rule_type(r) for r in config.rules}
    catalogue.check_actions(config.actions, raised)
    return catalogue
