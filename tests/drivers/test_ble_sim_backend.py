"""The simulator backend seen from bleak: lines on a real socket become the same
BLEDevice / AdvertisementData a radio backend hands to the detection callback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from drivers.ble import SimScanner, scanner_backend, sim_scanner_backend
from drivers.ble.sim_backend import SimEndpoint

BTHOME = "0000fcd2-0000-1000-8000-00805f9b34fb"
LINE = {
    "address": "a4:c1:38:8d:18:b2",
    "name": "ATC_8D18B2",
    "rssi": -61,
    "manufacturer_data": {"1177": "0512fc"},
    "service_data": {"fcd2": "4002ca0903bf13"},
    "service_uuids": ["fcd2"],
    "tx_power": 4,
}


class Heard:
    def __init__(self) -> None:
        self.adverts: list[tuple[BLEDevice, AdvertisementData]] = []
        self.arrived = asyncio.Event()

    def __call__(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        self.adverts.append((device, advertisement))
        self.arrived.set()


async def serve_lines(lines: list[bytes], **where: object) -> asyncio.Server:
    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for line in lines:
            writer.write(line)
        await writer.drain()

    if "path" in where:
        return await asyncio.start_unix_server(handle, path=str(where["path"]))
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_bleak_scanner_with_the_sim_backend_calls_back_like_a_radio() -> None:
    server = await serve_lines([b"garbage\n", json.dumps(LINE).encode() + b"\n"])
    port = server.sockets[0].getsockname()[1]
    heard = Heard()

    scanner = BleakScanner(
        detection_callback=heard, backend=sim_scanner_backend(f"127.0.0.1:{port}")
    )
    async with scanner, asyncio.timeout(5):
        await heard.arrived.wait()
    server.close()

    device, advertisement = heard.adverts[0]
    assert (device.address, device.name) == ("A4:C1:38:8D:18:B2", "ATC_8D18B2")
    assert advertisement == AdvertisementData(
        local_name="ATC_8D18B2",
        manufacturer_data={0x0499: bytes.fromhex("0512fc")},
        service_data={BTHOME: bytes.fromhex("4002ca0903bf13")},
        service_uuids=[BTHOME],
        tx_power=4,
        rssi=-61,
        platform_data=(),
    )
    assert scanner.backend_id == "SimScanner"
    assert scanner.discovered_devices == [device]


async def test_unix_socket_and_service_uuid_filter(tmp_path: Path) -> None:
    ruuvi_only = {"address": "CB:B8:33:4C:88:4F", "manufacturer_data": {"1177": "05"}}
    path = tmp_path / "ble.sock"
    server = await serve_lines(
        [json.dumps(ruuvi_only).encode() + b"\n", json.dumps(LINE).encode() + b"\n"],
        path=path,
    )
    heard = Heard()

    scanner = BleakScanner(
        detection_callback=heard,
        service_uuids=[BTHOME],
        backend=sim_scanner_backend(f"unix:{path}"),
    )
    async with scanner, asyncio.timeout(5):
        await heard.arrived.wait()
    server.close()

    assert [device.address for device, _ in heard.adverts] == ["A4:C1:38:8D:18:B2"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        pytest.param(b"not json\n", "Expecting value", id="not JSON"),
        pytest.param(b"[1, 2]\n", "expected a JSON object", id="not an object"),
        pytest.param(b'{"rssi": -60}\n', "address", id="no address"),
        pytest.param(
            b'{"address": "A4:C1:38:8D:18:B2", "service_data": {"fcd2": "zz"}}\n',
            "non-hexadecimal",
            id="bad hex",
        ),
        pytest.param(
            b'{"address": "A4:C1:38:8D:18:B2", "manufacturer_data": {"x": "00"}}\n',
            "invalid literal",
            id="company id not a number",
        ),
        pytest.param(
            b'{"address": "A4:C1:38:8D:18:B2", "rssi": "-60"}\n',
            "must be integers",
            id="rssi as text",
        ),
    ],
)
def test_bad_line_is_counted_and_skipped(
    line: bytes, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()
    backend = sim_scanner_backend("127.0.0.1:1")(heard, None)

    backend.deliver(line)

    assert backend.bad_lines == 1
    assert heard.adverts == []
    assert words in caplog.text


async def test_unreachable_simulator_is_a_bleak_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    scanner = BleakScanner(backend=sim_scanner_backend(f"127.0.0.1:{port}"))

    with pytest.raises(BleakError, match="Cannot reach the BLE simulator"):
        await scanner.start()


def test_backend_is_chosen_by_configuration() -> None:
    sim = scanner_backend("sim", "tcp://127.0.0.1:9000")

    assert scanner_backend("platform") is None
    assert sim is not None and issubclass(sim, SimScanner)
    assert sim.endpoint == SimEndpoint(host="127.0.0.1", port=9000)
    with pytest.raises(ValueError, match="needs the simulator socket address"):
        scanner_backend("sim")
    with pytest.raises(ValueError, match="is not"):
        scanner_backend("bluetooth")


@pytest.mark.parametrize(
    ("address", "endpoint"),
    [
        ("127.0.0.1:9000", SimEndpoint(host="127.0.0.1", port=9000)),
        ("tcp://localhost:1", SimEndpoint(host="localhost", port=1)),
        ("tcp://[::1]:9000", SimEndpoint(host="::1", port=9000)),
        ("unix:/run/pams/ble.sock", SimEndpoint(path="/run/pams/ble.sock")),
    ],
)
def test_simulator_address_forms(address: str, endpoint: SimEndpoint) -> None:
    assert SimEndpoint.parse(address) == endpoint


def test_backend_without_an_address_is_refused() -> None:
    with pytest.raises(BleakError, match="no simulator address"):
        SimScanner(None, None)
