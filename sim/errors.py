"""Errors raised by the simulator.

    SimError
    ├── ProfileError    a firmware profile the simulator cannot play
    ├── ScenarioError   a scenario file that is invalid (names the field)
    ├── EncodeError     a value that does not fit its point's register type
    ├── FaultError      a fault that cannot apply to this device or point
    └── RefusedWriteError  a simulated device refuses a written value (exception 3)

Simulated devices never raise into a transport: a bad request from the gateway becomes
a Modbus exception reply or silence, as on a real bus. These exceptions are for
configuration mistakes and for calls from tests that cannot be honoured.
"""


class SimError(Exception):
    """Base of every error the simulator raises."""


class ProfileError(SimError):
    """A firmware profile is invalid; the message names the profile and the point."""


class ScenarioError(SimError):
    """A scenario file is invalid; the message names the file and the field."""


class EncodeError(SimError):
    """A value cannot be written into its point's registers."""


class FaultError(SimError):
    """A fault was asked of a device or point that cannot have it."""


class RefusedWriteError(SimError):
    """A simulated device refuses a written value; the slave answers exception 3."""
