"""OSDP door readers over RS-485, through libosdp: see ``bus.OsdpBus``."""

from drivers.osdp.bus import LinkState, OsdpBus, ReaderStatus
from drivers.osdp.cards import WIEGAND_FORMATS, decode_card, decode_keypad
from drivers.osdp.errors import (
    CommandError,
    CommandFailedError,
    CommandRejectedError,
    OsdpError,
    ReaderDataError,
    ReaderOfflineError,
)
from drivers.osdp.profile import OsdpProfile, ReaderConfig, load_profile

__all__ = [
    "WIEGAND_FORMATS",
    "CommandError",
    "CommandFailedError",
    "CommandRejectedError",
    "LinkState",
    "OsdpBus",
    "OsdpError",
    "OsdpProfile",
    "ReaderConfig",
    "ReaderDataError",
    "ReaderOfflineError",
    "ReaderStatus",
    "decode_card",
    "decode_keypad",
    "load_profile",
]
