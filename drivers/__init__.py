"""Device protocols: bytes to readings and events, commands to bytes.

A driver knows its protocol and nothing of the gateway around it: it gets a firmware
profile and a transport, and hands back ``Reading`` and ``DeviceEvent`` values.
"""

from drivers.types import DeviceEvent, DeviceSink, Quality, Reading

__all__ = ["DeviceEvent", "DeviceSink", "Quality", "Reading"]
