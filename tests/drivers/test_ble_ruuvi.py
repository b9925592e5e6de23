"""RuuviTag data format 5: the official vectors, markers, refusals and dedupe.

Vectors: /work/shared/data/ble/ruuvi_df5_cases.md (ruuvi-sensor-protocols,
dataformat_05.md "Test vectors"). Pressure is published in hPa (spec: Pa).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.ble.errors import BadAdvertisement, RejectReason
from drivers.ble.ruuvi import (
    DF5_FIELDS,
    RUUVI_COMPANY_ID,
    RuuviDecoder,
    decode_df5,
)
from drivers.types import Value

TAG = "CB:B8:33:4C:88:4F"
VALID = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
MAXIMUM = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F"
MINIMUM = "058001000000008001800180010000000000CBB8334C884F"
INVALID = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"


def D(text: str) -> Decimal:
    return Decimal(text)


def advert(address: str, payload: str | None) -> tuple[BLEDevice, AdvertisementData]:
    data = {} if payload is None else {RUUVI_COMPANY_ID: bytes.fromhex(payload)}
    return BLEDevice(address, "Ruuvi", None), AdvertisementData(
        "Ruuvi 884F", data, {}, [], None, -70, ()
    )


def table(
    temp: str,
    hum: str,
    hpa: str,
    acc: tuple[str, str, str],
    tx: str,
    volts: str,
    move: str,
    seq: str,
) -> dict[str, Value]:
    return {
        "temperature": D(temp),
        "humidity": D(hum),
        "pressure": D(hpa),
        "acceleration_x": D(acc[0]),
        "acceleration_y": D(acc[1]),
        "acceleration_z": D(acc[2]),
        "tx_power": D(tx),
        "battery_voltage": D(volts),
        "movement_counter": D(move),
        "measurement_sequence": D(seq),
        "mac": TAG,
    }


VECTORS = [
    pytest.param(
        VALID,
        table(
            "24.3",
            "53.49",
            "1000.44",
            ("0.004", "-0.004", "1.036"),
            "4",
            "2.977",
            "66",
            "205",
        ),
        id="valid",
    ),
    pytest.param(
        MAXIMUM,
        table(
            "163.835",
            "163.835",
            "1155.34",
            ("32.767",) * 3,
            "20",
            "3.646",
            "254",
            "65534",
        ),
        id="maximum",
    ),
    pytest.param(
        MINIMUM,
        table("-163.835", "0", "500", ("-32.767",) * 3, "-40", "1.6", "0", "0"),
        id="minimum",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), VECTORS)
def test_vector_decodes_to_the_specified_values(
    payload: str, expected: dict[str, Value]
) -> None:
    decoded = decode_df5(bytes.fromhex(payload))

    assert decoded.values == expected
    assert decoded.unavailable == {}
    assert decoded.sequence == int(str(expected["measurement_sequence"]))


def test_invalid_vector_marks_every_field_not_available() -> None:
    decoded = decode_df5(bytes.fromhex(INVALID))

    assert decoded.values == {}
    assert set(decoded.unavailable) == {f.name for f in DF5_FIELDS} | {"mac"}
    assert decoded.unavailable["temperature"] == (
        "temperature: the tag sent the not-available marker 0x8000"
    )
    assert "marker 0x7ff" in decoded.unavailable["battery_voltage"]
    assert "marker 0x1f" in decoded.unavailable["tx_power"]
    assert "marker 0xffff" in decoded.unavailable["measurement_sequence"]
    assert decoded.sequence is None


@pytest.mark.parametrize(
    ("address", "payload", "code", "words"),
    [
        pytest.param(
            TAG,
            VALID[:20],
            RejectReason.TRUNCATED,
            "is 10 bytes; 24 are needed",
            id="truncated",
        ),
        pytest.param(TAG, "", RejectReason.TRUNCATED, "empty", id="empty"),
        pytest.param(
            TAG,
            "03" + VALID[2:],
            RejectReason.WRONG_VERSION,
            "RuuviTag data format 3; only format 5",
            id="data format 3",
        ),
        pytest.param(
            "CB:B8:33:4C:88:40",
            VALID,
            RejectReason.MAC_MISMATCH,
            "payload carries MAC CB:B8:33:4C:88:4F",
            id="MAC is not the sender",
        ),
        pytest.param(
            TAG,
            None,
            RejectReason.NO_PAYLOAD,
            "company 0x0499",
            id="no Ruuvi manufacturer data",
        ),
    ],
)
def test_bad_advertisement_is_refused_with_its_reason(
    address: str, payload: str | None, code: RejectReason, words: str
) -> None:
    decoder = RuuviDecoder(address=address)

    with pytest.raises(BadAdvertisement) as caught:
        decoder.decode(*advert(address, payload), 0.0)

    assert caught.value.code is code
    assert words in caught.value.message


def test_same_measurement_sequence_is_a_duplicate_within_the_window() -> None:
    decoder = RuuviDecoder(address=TAG, repeat_window_s=10)
    decoder.decode(*advert(TAG, VALID), 0.0)

    with pytest.raises(BadAdvertisement) as caught:
        decoder.decode(*advert(TAG, VALID), 1.0)
    later = decoder.decode(*advert(TAG, VALID), 12.0)

    assert caught.value.code is RejectReason.DUPLICATE
    assert caught.value.message == "repeat of measurement sequence 205"
    assert later.sequence == 205


def test_next_measurement_sequence_is_taken() -> None:
    decoder = RuuviDecoder(address=TAG)
    decoder.decode(*advert(TAG, VALID), 0.0)
    next_sequence = VALID[:32] + "00CE" + VALID[36:]

    assert decoder.decode(*advert(TAG, next_sequence), 0.5).sequence == 206


def test_trailing_bytes_after_the_mac_are_ignored() -> None:
    decoded = decode_df5(bytes.fromhex(VALID + "C6"))

    assert decoded.values["temperature"] == D("24.3")
