"""The serial channel under libosdp, on a real pseudo-terminal: it tells the bus
which address has stopped answering, and a failed port never raises into libosdp."""

from __future__ import annotations

import contextlib
import os
import tty
from collections import Counter
from collections.abc import Iterator

import pytest

from drivers.errors import TransportError
from drivers.osdp.channel import SerialChannel

POLL_TO_0X65 = bytes.fromhex("53 65 08 00 04 60 60 90")
ACK_FROM_0X65 = bytes.fromhex("53 E5 07 00 01 40 80")


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    for fd in (master, slave):
        tty.setraw(fd)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def read_all(channel: SerialChannel, size: int) -> bytes:
    data = b""
    for _ in range(1000):
        data += channel.read(size - len(data))
        if len(data) == size:
            return data
    raise AssertionError(f"read {data.hex()} of {size} bytes")


def test_an_address_that_does_not_answer_is_timed(pty: tuple[int, str]) -> None:
    master, port = pty
    clock, counts = Clock(), Counter[str]()
    channel = SerialChannel(port, 115200, counts=counts, now=clock)
    channel.open()

    assert channel.write(b"\xff\xff" + POLL_TO_0X65) == len(POLL_TO_0X65) + 2
    clock.now += 1.5
    channel.write(POLL_TO_0X65)  # a repeat does not restart the count
    clock.now += 1.0

    assert channel.unanswered_for(0x65) == 2.5
    assert os.read(master, 64).endswith(POLL_TO_0X65)
    channel.close()


def test_a_reply_clears_the_silence_and_counts_as_an_answer(
    pty: tuple[int, str],
) -> None:
    master, port = pty
    clock = Clock()
    channel = SerialChannel(port, 115200, counts=Counter(), now=clock)
    channel.open()
    channel.write(POLL_TO_0X65)
    clock.now += 1.0

    os.write(master, ACK_FROM_0X65)
    assert read_all(channel, len(ACK_FROM_0X65)) == ACK_FROM_0X65

    assert channel.unanswered_for(0x65) == 0.0
    assert channel.answered_since(0x65, 51.0)
    assert not channel.answered_since(0x65, 51.5)
    assert not channel.answered_since(0x01, 0.0)
    channel.close()


def test_a_port_that_fails_is_counted_and_reads_nothing(pty: tuple[int, str]) -> None:
    master, port = pty
    counts = Counter[str]()
    channel = SerialChannel(port, 115200, counts=counts)
    channel.open()
    os.close(master)  # the adapter is unplugged

    assert channel.read(64) == b""
    assert channel.write(POLL_TO_0X65) in (0, len(POLL_TO_0X65))
    assert counts["serial_error"] >= 1
    assert channel.read(64) == b""  # closed, reopening later; never raises


def test_a_port_that_does_not_exist_is_a_transport_error() -> None:
    channel = SerialChannel("/dev/does-not-exist", 115200, counts=Counter())

    with pytest.raises(TransportError, match="/dev/does-not-exist"):
        channel.open()
