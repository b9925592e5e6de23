"""The simulator's own encoders reproduce the published byte vectors.

If these hold, the end-to-end test (sim encoder → driver decoder) checks the driver
against an independent implementation of each format rather than against itself.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sim.ble.bthome import encode_objects, encrypted_frame, plain_frame
from sim.ble.ruuvi import encode_df5

SHELLY = "54:48:E6:8F:80:A5"
SHELLY_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
BUTTON = "B4:35:22:F5:3D:A4"
BUTTON_KEY = bytes.fromhex("90bffd73cb6b26ef58a7a8eba9232036")
TAG = "CB:B8:33:4C:88:4F"
D = Decimal


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(
            [("temperature", D("25.06")), ("humidity", D("50.55"))],
            "4002ca0903bf13",
            id="temp+hum",
        ),
        pytest.param(
            [
                ("packet_id", 9),
                ("battery", 93),
                ("temperature", D("23.97")),
                ("humidity", D("63.27")),
            ],
            "400009015d025d0903b718",
            id="packet+battery+temp+hum",
        ),
        pytest.param([("voltage", D("3.074"))], "400c020c", id="voltage"),
        pytest.param(
            [("packet_id", 82), ("battery", 100), ("button", 1)],
            "40005201643a01",
            id="button press",
        ),
        pytest.param([("moisture", True)], "402001", id="leak wet"),
        pytest.param([("moisture", False)], "402000", id="leak dry"),
    ],
)
def test_plain_bthome_frames_match_vectors(
    objects: list[tuple[str, Decimal | int | bool]], expected: str
) -> None:
    assert plain_frame(encode_objects(objects)).hex() == expected


def test_trigger_based_frame_sets_bit_2() -> None:
    payload = encode_objects([("packet_id", 33), ("battery", 94), ("button", 1)])

    assert plain_frame(payload, trigger_based=True).hex() == "440021015e3a01"


@pytest.mark.parametrize(
    ("plaintext", "key", "address", "counter", "options", "expected"),
    [
        pytest.param(
            "02ca0903bf13",
            SHELLY_KEY,
            SHELLY,
            0x33221100,
            {},
            "41a47266c95f730011223378237214",
            id="Shelly BLU H&T",
        ),
        pytest.param(
            "02ca0903bf13",
            SHELLY_KEY,
            SHELLY,
            0x33221100,
            {"include_mac": True},
            "43a5808fe64854f196c06ffb4900112233f08ecbde",
            id="MAC included",
        ),
        pytest.param(
            "02ca0903bf13",
            SHELLY_KEY,
            SHELLY,
            1122867,
            {},
            "41e445f3c9962b332211006c7c4519",
            id="counter 1122867",
        ),
        pytest.param(
            "2101",
            SHELLY_KEY,
            SHELLY,
            0x33221100,
            {},
            "4187b90011223372b0231f",
            id="motion",
        ),
        pytest.param(
            "000701643a01",
            BUTTON_KEY,
            BUTTON,
            442,
            {"trigger_based": True},
            "450aeb84467f85ba0100003188788c",
            id="button, trigger based",
        ),
    ],
)
def test_encrypted_bthome_frames_match_vectors(
    plaintext: str,
    key: bytes,
    address: str,
    counter: int,
    options: dict[str, bool],
    expected: str,
) -> None:
    frame = encrypted_frame(
        bytes.fromhex(plaintext),
        bindkey=key,
        address=address,
        counter=counter,
        **options,
    )

    assert frame.hex() == expected


def test_encrypting_encoded_objects_gives_the_vector() -> None:
    payload = encode_objects([("temperature", D("25.06")), ("humidity", D("50.55"))])

    frame = encrypted_frame(
        payload, bindkey=SHELLY_KEY, address=SHELLY, counter=0x33221100
    )

    assert frame.hex() == "41a47266c95f730011223378237214"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            {
                "temperature": D("24.3"),
                "humidity": D("53.49"),
                "pressure_pa": 100044,
                "acceleration_mg": (4, -4, 1036),
                "battery_mv": 2977,
                "tx_power_dbm": 4,
                "movement_counter": 66,
                "sequence": 205,
                "address": TAG,
            },
            "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
            id="valid",
        ),
        pytest.param(
            {
                "temperature": D("163.835"),
                "humidity": D("163.835"),
                "pressure_pa": 115534,
                "acceleration_mg": (32767,) * 3,
                "battery_mv": 3646,
                "tx_power_dbm": 20,
                "movement_counter": 254,
                "sequence": 65534,
                "address": TAG,
            },
            "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F",
            id="maximum",
        ),
        pytest.param(
            {
                "temperature": D("-163.835"),
                "humidity": D(0),
                "pressure_pa": 50000,
                "acceleration_mg": (-32767,) * 3,
                "battery_mv": 1600,
                "tx_power_dbm": -40,
                "movement_counter": 0,
                "sequence": 0,
                "address": TAG,
            },
            "058001000000008001800180010000000000CBB8334C884F",
            id="minimum",
        ),
        pytest.param(
            {
                "temperature": None,
                "humidity": None,
                "pressure_pa": None,
                "acceleration_mg": (None,) * 3,
                "battery_mv": None,
                "tx_power_dbm": None,
                "movement_counter": None,
                "sequence": None,
                "address": None,
            },
            "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF",
            id="invalid",
        ),
    ],
)
def test_ruuvi_df5_matches_the_official_vectors(
    values: dict[str, object], expected: str
) -> None:
    assert encode_df5(**values).hex().upper() == expected
