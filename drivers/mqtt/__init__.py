"""MQTT devices: Zigbee2MQTT, Tasmota and Shelly Gen2 JSON through the site broker.

``load_profile`` reads a firmware profile, ``decode`` turns one message into readings
and events (pure), ``MqttConnector`` runs the broker connection for all devices.
"""

from drivers.mqtt.connector import DeviceConfig, DeviceStats, MqttConnector
from drivers.mqtt.decode import (
    DecodeResult,
    DeviceState,
    SilenceResult,
    check_silence,
    decode,
)
from drivers.mqtt.payload import NotANumber, PayloadError, parse_json
from drivers.mqtt.profile import (
    MqttProfile,
    PointKind,
    PointSpec,
    TopicFormat,
    TopicSpec,
    load_profile,
    profile_from_dict,
)

__all__ = [
    "DecodeResult",
    "DeviceConfig",
    "DeviceState",
    "DeviceStats",
    "MqttConnector",
    "MqttProfile",
    "NotANumber",
    "PayloadError",
    "PointKind",
    "PointSpec",
    "SilenceResult",
    "TopicFormat",
    "TopicSpec",
    "check_silence",
    "decode",
    "load_profile",
    "parse_json",
    "profile_from_dict",
]
