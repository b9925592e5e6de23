"""Simulated MQTT devices (Zigbee2MQTT, Tasmota, Shelly Gen2) and a broker to run them.

``mqtt_simulation(section, seed=...)`` returns ``(simulation, wiring)``; the simulation
is an async context manager that starts the broker (unless the section names one) and
the devices. ``MqttBroker`` alone is a broker as an async context manager.
"""

from sim.mqtt.broker import BrokerAddress, BrokerError, MqttBroker, free_loopback_port
from sim.mqtt.devices import (
    GARBAGE_KINDS,
    SIMULATED_PROFILES,
    Fault,
    SectionError,
    SimDevice,
    build_device,
)
from sim.mqtt.simulation import MqttSimulation, Published, mqtt_simulation

__all__ = [
    "GARBAGE_KINDS",
    "SIMULATED_PROFILES",
    "BrokerAddress",
    "BrokerError",
    "Fault",
    "MqttBroker",
    "MqttSimulation",
    "Published",
    "SectionError",
    "SimDevice",
    "build_device",
    "free_loopback_port",
    "mqtt_simulation",
]
