"""Errors of the OSDP driver.

DriverError (drivers.errors)
└── OsdpError
    ├── ReaderDataError        card, keypad or status data that cannot be decoded;
    │                          the bus counts it with a reason and never raises it
    └── CommandError           a command to a reader did not take effect
        ├── ReaderOfflineError    the reader is not online, so nothing was sent
        ├── CommandRejectedError  refused before sending: the reader lacks the
        │                         output, LED or buzzer the command names
        └── CommandFailedError    sent, but not acknowledged in time or refused
"""

from __future__ import annotations

from drivers.errors import DriverError


class OsdpError(DriverError):
    """Base of the errors of the OSDP driver."""


class ReaderDataError(OsdpError):
    """Data from a reader cannot be decoded; ``code`` is the counted reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CommandError(OsdpError):
    """A command to a reader did not take effect."""


class ReaderOfflineError(CommandError):
    """The reader is offline; the command was not sent."""


class CommandRejectedError(CommandError):
    """The reader cannot carry out the command (capability missing); not sent."""


class CommandFailedError(CommandError):
    """The command was sent but the reader did not acknowledge it."""
