"""Errors raised by drivers.

    DriverError
    ├── ProfileError      a firmware profile that cannot be right (refused at load)
    └── TransportError    the bus or connection failed (port gone, connection refused)

Bad input from a device is never raised into a poll loop: it becomes a reading with
quality ``unavailable`` and a reason. These exceptions are for configuration mistakes
and for transports that cannot be used at all.
"""


class DriverError(Exception):
    """Base of every error a driver raises."""


class ProfileError(DriverError):
    """A firmware profile is invalid; the message names the profile and the point."""


class TransportError(DriverError):
    """A bus or connection cannot be opened or was lost."""
