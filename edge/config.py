"""The site configuration: one TOML file that lists the gateway's buses and devices.

Loading validates everything a running gateway would otherwise trip over later: field
types and ranges, unknown keys (a typo is an error, not a silently ignored setting),
duplicate device ids, and every device's firmware profile, which must load and pass its
own validation. Errors name the file and the place in it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DeviceId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]


class ConfigError(Exception):
    """The site configuration cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySection(_Section):
    id: DeviceId
    data_dir: Path = Path("var/edge")


class CloudSection(_Section):
    url: str = Field(pattern=r"^https?://")
    token_file: Path | None = None
    ca_file: Path | None = None
    batch_max_records: int = Field(default=5000, ge=1, le=20_000)
    sync_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=15.0, gt=0)
    backoff_initial_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=5.0, gt=0)
    health_interval_s: float = Field(default=10.0, gt=0)
    config_trial_s: float = Field(default=30.0, gt=0)

    def token(self) -> str:
        """The gateway token: from ``PAMS_EDGE_TOKEN`` or the token file."""
        env = os.environ.get("PAMS_EDGE_TOKEN")
        if env:
            return env.strip()
        if self.token_file is None:
            raise ConfigError(
                "no gateway token: set PAMS_EDGE_TOKEN or [cloud] token_file"
            )
        try:
            return self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read [cloud] token_file {self.token_file}: {exc}"
            ) from exc


class BufferSection(_Section):
    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024 * 1024)
    max_age_days: float = Field(default=30, gt=0)
    commit_interval_ms: int = Field(default=50, ge=1, le=5000)
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"


class HealthSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9101, ge=0, le=65535)


class ModbusDevice(_Section):
    id: DeviceId
    unit_id: int = Field(ge=0, le=247)
    profile: str
    poll_interval_s: float = Field(default=5.0, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)


class _ModbusBus(_Section):
    """What both Modbus transports share: timeouts and the backoff of dead devices."""

    id: DeviceId
    timeout_s: float = Field(default=1.0, gt=0)
    backoff_base_s: float = Field(default=2.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)


class ModbusTcpBus(_ModbusBus):
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    devices: list[ModbusDevice] = Field(min_length=1)


class ModbusRtuBus(_ModbusBus):
    port: str
    baudrate: int = Field(default=9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(default=0.5, gt=0)
    frame_gap_ms: float = Field(default=5.0, ge=0)
    devices: list[ModbusDevice] = Field(min_length=1)


class BleDevice(_Section):
    id: DeviceId
    profile: str
    address: str = Field(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
    bindkey: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{32}$")


class BleSection(_Section):
    backend: Literal["platform", "sim"] = "platform"
    address: str | None = Field(default=None, description="simulator socket host:port")
    watchdog_s: float = Field(default=120.0, gt=0)
    devices: list[BleDevice] = Field(min_length=1)

    @model_validator(mode="after")
    def _sim_needs_address(self) -> BleSection:
        if self.backend == "sim" and not self.address:
            raise ValueError('backend "sim" needs address = "host:port"')
        return self


class OsdpReader(_Section):
    id: DeviceId
    address: int = Field(ge=0, le=126)
    profile: str = "osdp_generic_door"
    scbk: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{32}$")
    held_open_s: float | None = Field(default=None, gt=0)
    unlock_s: float | None = Field(default=None, gt=0)


class OsdpBus(_Section):
    id: DeviceId
    port: str
    baudrate: int = Field(default=115200, ge=1200, le=921_600)
    readers: list[OsdpReader] = Field(min_length=1)


class MqttDevice(_Section):
    id: DeviceId
    profile: str
    base_topic: str = Field(min_length=1)


class MqttSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    devices: list[MqttDevice] = Field(min_length=1)

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read [mqtt] password_file: {exc}") from exc


# --- alarms, rules and local actions (edge.alarms) ---------------------------------

Severity = Literal["critical", "major", "minor", "warning"]
AlarmType = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class AlarmsSection(_Section):
    """How the gateway's alarm engine behaves; see edge.alarms."""

    clear_hold_s: float = Field(default=2.0, ge=0, le=3600)
    tick_s: float = Field(default=0.25, gt=0, le=5)
    rules_version: int = Field(default=0, ge=0)
    severity: dict[AlarmType, Severity] = Field(default_factory=dict)


class RuleSection(_Section):
    """One alarm rule. Exactly one condition: ``above``/``below`` (a threshold),
    ``rate_per_min``, ``stale_s`` or ``offline_s``; see edge.alarms.rules."""

    id: DeviceId
    device: DeviceId
    point: str | None = Field(default=None, min_length=1, max_length=64)
    type: AlarmType | None = None
    severity: Severity | None = None
    above: Decimal | None = None
    below: Decimal | None = None
    clear_below: Decimal | None = None
    clear_above: Decimal | None = None
    rate_per_min: Decimal | None = None
    rate_window_s: float = Field(default=60.0, gt=0, le=86400)
    stale_s: float | None = Field(default=None, gt=0)
    offline_s: float | None = Field(default=None, ge=0)
    for_s: float = Field(default=0.0, ge=0)
    hold_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_condition(self) -> RuleSection:
        from edge.alarms.rules import check_rule

        check_rule(self)
        return self


class ActionSection(_Section):
    """A safe local action taken when an alarm of type ``on`` is raised."""

    on: AlarmType
    kind: Literal["close_valve", "release_doors"]
    device: DeviceId | None = None
    devices: list[DeviceId] = Field(default_factory=list)
    point: str = Field(default="valve", min_length=1, max_length=64)
    seconds: float = Field(default=25.0, gt=0)
    sources: list[DeviceId] | None = None
    verify_timeout_s: float = Field(default=5.0, gt=0, le=120)
    verify_interval_s: float = Field(default=0.1, gt=0, le=10)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_s: float = Field(default=2.0, ge=0, le=600)

    @model_validator(mode="after")
    def _targets(self) -> ActionSection:
        if self.kind == "close_valve" and (self.device is None or self.devices):
            raise ValueError('close_valve takes one device = "...", not devices')
        if self.kind == "release_doors" and (not self.devices or self.device):
            raise ValueError('release_doors takes devices = ["..."], not device')
        return self


# --- the whole file ------------------------------------------------------------------


class SiteConfig(_Section):
    gateway: GatewaySection
    cloud: CloudSection
    buffer: BufferSection = BufferSection()
    health: HealthSection = HealthSection()
    modbus_tcp: list[ModbusTcpBus] = Field(default_factory=list)
    modbus_rtu: list[ModbusRtuBus] = Field(default_factory=list)
    mqtt: MqttSection | None = None
    ble: BleSection | None = None
    osdp: list[OsdpBus] = Field(default_factory=list)
    alarms: AlarmsSection = AlarmsSection()
    rules: list[RuleSection] = Field(default_factory=list)
    actions: list[ActionSection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> SiteConfig:
        seen: set[str] = set()
        for device_id in self.device_ids():
            if device_id in seen:
                raise ValueError(f"device id {device_id!r} is used twice")
            seen.add(device_id)
        return self

    def device_ids(self) -> list[str]:
        ids = [d.id for bus in self.modbus_tcp for d in bus.devices]
        ids += [d.id for bus in self.modbus_rtu for d in bus.devices]
        ids += [d.id for d in self.mqtt.devices] if self.mqtt else []
        ids += [d.id for d in self.ble.devices] if self.ble else []
        ids += [r.id for bus in self.osdp for r in bus.readers]
        return ids


def load_config(path: Path) -> SiteConfig:
    """Read and validate a site configuration file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read site configuration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        config = SiteConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from exc
    _check_profiles(path, config)
    _check_alarms(path, config)
    return config


def _describe(exc: ValidationError) -> str:
    """One line per problem naming where it is: ``modbus_rtu[0].devices[1].unit_id``."""
    lines = []
    for err in exc.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
        ).lstrip(".")
        lines.append(f"{where or 'top level'}: {err['msg']}")
    return "; ".join(lines)


def _check_profiles(path: Path, config: SiteConfig) -> None:
    from drivers.errors import ProfileError
    from drivers.modbus import load_profile

    places = [
        (f"modbus_tcp[{b}].devices[{d}]", device)
        for b, bus in enumerate(config.modbus_tcp)
        for d, device in enumerate(bus.devices)
    ] + [
        (f"modbus_rtu[{b}].devices[{d}]", device)
        for b, bus in enumerate(config.modbus_rtu)
        for d, device in enumerate(bus.devices)
    ]
    for where, device in places:
        try:
            load_profile(device.profile)
        except ProfileError as exc:
            raise ConfigError(f"{path}: {where} ({device.id}): {exc}") from exc
    _check_push_profiles(path, config)


def _check_push_profiles(path: Path, config: SiteConfig) -> None:
    from drivers.ble import load_ble_profile
    from drivers.errors import DriverError
    from drivers.mqtt import load_profile as load_mqtt_profile
    from drivers.osdp import load_profile as load_osdp_profile

    checks: list[tuple[str, str, Callable[[str], object]]] = []
    if config.mqtt:
        checks += [
            (f"mqtt.devices[{d}]", dev.profile, load_mqtt_profile)
            for d, dev in enumerate(config.mqtt.devices)
        ]
    if config.ble:
        checks += [
            (f"ble.devices[{d}]", dev.profile, load_ble_profile)
            for d, dev in enumerate(config.ble.devices)
        ]
    checks += [
        (f"osdp[{b}].readers[{r}]", reader.profile, load_osdp_profile)
        for b, bus in enumerate(config.osdp)
        for r, reader in enumerate(bus.readers)
    ]
    for where, profile_id, load in checks:
        try:
            load(profile_id)
        except (DriverError, ValueError, OSError) as exc:
            raise ConfigError(
                f"{path}: {where}: profile {profile_id!r}: {exc}"
            ) from exc


def _check_alarms(path: Path, config: SiteConfig) -> None:
    """Rules and actions against the devices and profiles they name."""
    from edge.alarms.site import SiteError, check_site

    try:
        check_site(config)
    except SiteError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
