"""What the BLE driver raises, and how it names a refused advertisement.

    DriverError (drivers.errors)
    ├── ProfileError      a BLE firmware profile that cannot be right (refused at load)
    └── BleConfigError    a device entry that cannot work: bad address, bindkey of the
                          wrong length, no bindkey for a profile that requires one

    BadAdvertisement      one advertisement refused; never leaves the connector, which
                          counts it by ``code`` and records the message

A refused advertisement is radio input, not a failure of the driver: the connector
turns it into "no reading" plus a counted reason and keeps scanning.
"""

from __future__ import annotations

from enum import StrEnum

from drivers.errors import DriverError


class BleConfigError(DriverError):
    """A device entry is unusable; the message names the device and the field."""


class RejectReason(StrEnum):
    """Why an advertisement from a configured device gave no reading."""

    NO_PAYLOAD = "no_payload"  # no service/manufacturer data of the profile's format
    TRUNCATED = "truncated"  # shorter than its own structure says
    WRONG_VERSION = "wrong_version"  # BTHome version other than 2, Ruuvi format not 5
    UNKNOWN_OBJECT = "unknown_object"  # BTHome object id not in the specification
    UNDECODABLE = "undecodable"  # well-formed, but no object yielded a value
    DOWNGRADE = "downgrade"  # plain advertisement from a device with a bindkey
    NO_BINDKEY = "no_bindkey"  # encrypted advertisement, no bindkey configured
    DECRYPT_FAILED = "decrypt_failed"  # wrong bindkey or corrupted ciphertext
    COUNTER_REPLAY = "counter_replay"  # encryption counter went backwards
    MAC_MISMATCH = "mac_mismatch"  # MAC inside the payload is not the sender's
    DUPLICATE = "duplicate"  # repeat of a packet already taken (dedupe)


class BadAdvertisement(Exception):  # noqa: N818 - a verdict on input, not an error
    """An advertisement was refused; ``code`` is counted, ``message`` recorded."""

    def __init__(self, code: RejectReason, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
