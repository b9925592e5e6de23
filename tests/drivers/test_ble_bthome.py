"""BTHome v2 through bthome-ble: the published vectors, and what gets refused why.

Vectors: /work/shared/data/ble/bthome_v2_cases.md (from bthome-ble's own
tests/test_parser_v2.py); encrypted ones were verified there with an independent
AES-CCM script. "Constructed" marks the leak/smoke payloads built by analogy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.ble.bthome import BTHOME_UUID, BTHomeDecoder
from drivers.ble.decoded import DecodedEvent
from drivers.ble.errors import BadAdvertisement, RejectReason

ATC = "A4:C1:38:8D:18:B2"
SHELLY = "54:48:E6:8F:80:A5"
SHELLY_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
BUTTON = "B4:35:22:F5:3D:A4"
BUTTON_KEY = bytes.fromhex("90bffd73cb6b26ef58a7a8eba9232036")
WRONG_KEY = bytes.fromhex("814aac74c4f17b6c1581e1ab87816b99")


def advert(
    address: str, service_data: str | None, name: str = "test"
) -> tuple[BLEDevice, AdvertisementData]:
    data = {} if service_data is None else {BTHOME_UUID: bytes.fromhex(service_data)}
    advertisement = AdvertisementData(name, {}, data, [], None, -60, ())
    return BLEDevice(address, name, None), advertisement


def decode(decoder: BTHomeDecoder, address: str, payload: str, now: float = 0.0) -> Any:
    device, advertisement = advert(address, payload)
    return decoder.decode(device, advertisement, now)


def refusal(
    decoder: BTHomeDecoder, address: str, payload: str, now: float = 0.0
) -> BadAdvertisement:
    with pytest.raises(BadAdvertisement) as caught:
        decode(decoder, address, payload, now)
    return caught.value


def D(text: str) -> Decimal:
    return Decimal(text)


# --- plain readings -----------------------------------------------------------------

PLAIN = [
    ("temp+hum", "4002ca0903bf13", {"temperature": D("25.06"), "humidity": D("50.55")}),
    (
        "packet+temp+hum+battery",
        "400009015d025d0903b718",
        {
            "packet_id": D("9"),
            "battery": D("93"),
            "temperature": D("23.97"),
            "humidity": D("63.27"),
        },
    ),
    ("pressure uint24", "4004138a01", {"pressure": D("1008.83")}),
    ("energy uint24", "400a138a14", {"energy": D("1346.067")}),
    ("energy uint32", "404d12138a14", {"energy": D("344593.17")}),
    ("power uint24", "400b021b00", {"power": D("69.14")}),
    ("power sint32", "405c02fbffff", {"power": D("-12.78")}),
    ("voltage 0.001", "400c020c", {"voltage": D("3.074")}),
    ("voltage 0.1", "404a020c", {"voltage": D("307.4")}),
    ("current signed", "405d02ea", {"current": D("-5.63")}),
    ("water meter", "404f87562a01", {"water": D("19551.879")}),
    ("volume flow rate", "4049dc87", {"volume_flow_rate": D("34.78")}),
    ("gas", "404b138a14", {"gas": D("1346.067")}),
    ("moisture percent (a sensor)", "4014020c", {"moisture": D("30.74")}),
    ("count uint8", "400960", {"count": D("96")}),
    ("count sint32", "405bea0234ea", {"count": D("-365690134")}),
    ("temperature sint8", "4057ea", {"temperature": D("-22")}),
    ("temperature sint8 x0.35", "4058ea", {"temperature": D("-7.7")}),
    ("timestamp", "44505d396164", {"timestamp": "2023-05-14T19:41:17+00:00"}),
    ("text", "44530c48656c6c6f20576f726c6421", {"text": "Hello World!"}),
    (
        "two temperatures get suffixes",
        "4002ca0902cf09",
        {"temperature_1": D("25.06"), "temperature_2": D("25.11")},
    ),
    (
        "mixed like a Shelly plug",
        "4000010b0000004a0d0901330ce90c",
        {
            "packet_id": D("1"),
            "power": D("0"),
            "voltage_1": D("231.7"),
            "battery": D("51"),
            "voltage_2": D("3.305"),
        },
    ),
    (
        "packet+voltage+power binary",
        "4000a70c780b1000",
        {"packet_id": D("167"), "voltage": D("2.936"), "binary:power": False},
    ),
    (
        "Shelly BLU H&T display",
        "40002e01641e012e34451601",
        {
            "packet_id": D("46"),
            "battery": D("100"),
            "binary:light": True,
            "humidity": D("52"),
            "temperature": D("27.8"),
        },
    ),
    (
        "objects out of order still parse",
        "4003bf1302ca09",
        {"humidity": D("50.55"), "temperature": D("25.06")},
    ),
]

BINARY = [
    ("generic", "400f01", {"binary:generic": True}),
    ("power", "401001", {"binary:power": True}),
    ("opening closed", "401100", {"binary:opening": False}),
    ("window open", "402d01", {"binary:window": True}),
    ("leak wet (constructed)", "402001", {"binary:moisture": True}),
    ("leak dry (constructed)", "402000", {"binary:moisture": False}),
    ("smoke (constructed)", "402901", {"binary:smoke": True}),
]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [pytest.param(p, e, id=i) for i, p, e in PLAIN + BINARY],
)
def test_plain_vector_decodes_to_published_values(
    payload: str, expected: dict[str, object]
) -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None)

    decoded = decode(decoder, ATC, payload)

    assert decoded.values == expected
    assert decoded.events == ()


# --- encrypted readings -------------------------------------------------------------

ENCRYPTED = [
    (
        "Shelly BLU H&T",
        SHELLY,
        SHELLY_KEY,
        "41a47266c95f730011223378237214",
        {"temperature": D("25.06"), "humidity": D("50.55")},
        (),
    ),
    (
        "MAC included in payload",
        SHELLY,
        SHELLY_KEY,
        "43a5808fe64854f196c06ffb4900112233f08ecbde",
        {"temperature": D("25.06"), "humidity": D("50.55")},
        (),
    ),
    (
        "Shelly BLU motion",
        SHELLY,
        SHELLY_KEY,
        "4187b90011223372b0231f",
        {"binary:motion": True},
        (),
    ),
    (
        "Shelly BLU button, trigger based",
        BUTTON,
        BUTTON_KEY,
        "450aeb84467f85ba0100003188788c",
        {"packet_id": D("7"), "battery": D("100")},
        (DecodedEvent("button", "press"),),
    ),
]


@pytest.mark.parametrize(
    ("address", "bindkey", "payload", "values", "events"),
    [pytest.param(*case[1:], id=case[0]) for case in ENCRYPTED],
)
def test_encrypted_vector_decrypts_to_published_values(
    address: str,
    bindkey: bytes,
    payload: str,
    values: dict[str, object],
    events: tuple[DecodedEvent, ...],
) -> None:
    decoder = BTHomeDecoder(address=address, bindkey=bindkey)

    decoded = decode(decoder, address, payload)

    assert decoded.values == values
    assert decoded.events == events


# Counter 1122867, 1122868, 1122866 (all temperature 25.06 / humidity 50.55).
COUNTER_67 = "41e445f3c9962b332211006c7c4519"
COUNTER_68 = "413e932cc7175f34221100553876af"
COUNTER_66 = "41723d3035fb88322211009e7414c0"
COUNTER_MAX = "41ba0db07aeef6ffffffff21fd4600"
COUNTER_ZERO = "41de40b50e676600000000d7cb95de"


def test_increasing_counter_is_taken_and_a_lower_one_refused_as_replay() -> None:
    decoder = BTHomeDecoder(address=SHELLY, bindkey=SHELLY_KEY)

    decode(decoder, SHELLY, COUNTER_67, now=0)
    decode(decoder, SHELLY, COUNTER_68, now=1)
    refused = refusal(decoder, SHELLY, COUNTER_66, now=2)

    assert refused.code is RejectReason.COUNTER_REPLAY
    assert "counter 1122866 is below the last accepted 1122868" in refused.message


def test_identical_encrypted_advertisement_is_a_duplicate() -> None:
    decoder = BTHomeDecoder(address=SHELLY, bindkey=SHELLY_KEY)
    decode(decoder, SHELLY, COUNTER_67, now=0)

    refused = refusal(decoder, SHELLY, COUNTER_67, now=10)

    assert refused.code is RejectReason.DUPLICATE
    assert "counter 1122867" in refused.message


def test_counter_restarting_from_zero_after_its_maximum_is_taken() -> None:
    decoder = BTHomeDecoder(address=SHELLY, bindkey=SHELLY_KEY)

    first = decode(decoder, SHELLY, COUNTER_MAX, now=0)
    second = decode(decoder, SHELLY, COUNTER_ZERO, now=1)

    assert first.values == {"temperature": D("25.07"), "humidity": D("50.55")}
    assert second.values == {"temperature": D("25.07"), "humidity": D("50.55")}


@pytest.mark.parametrize(
    ("address", "bindkey", "payload", "code", "words"),
    [
        pytest.param(
            SHELLY,
            SHELLY_KEY,
            "4004138a01",
            RejectReason.DOWNGRADE,
            "plain BTHome advertisement from a device configured with a bindkey",
            id="plain from a device with a bindkey is a downgrade",
        ),
        pytest.param(
            ATC,
            WRONG_KEY,
            "41d2fcefe52eb212d600112233bc38c966",
            RejectReason.DECRYPT_FAILED,
            "wrong bindkey",
            id="wrong bindkey",
        ),
        pytest.param(
            ATC,
            None,
            "41d2fcefe52eb212d600112233bc38c966",
            RejectReason.NO_BINDKEY,
            "no bindkey is configured",
            id="encrypted without a bindkey",
        ),
        pytest.param(
            SHELLY,
            SHELLY_KEY,
            "41ba0db07aeef600",
            RejectReason.TRUNCATED,
            "is 7 bytes; at least 10 are needed",
            id="encrypted too short",
        ),
        pytest.param(
            "54:48:E6:8F:80:A6",
            SHELLY_KEY,
            "43a5808fe64854f196c06ffb4900112233f08ecbde",
            RejectReason.MAC_MISMATCH,
            "payload carries MAC 54:48:E6:8F:80:A5, but the advertisement came "
            "from 54:48:E6:8F:80:A6",
            id="MAC in payload is not the sender",
        ),
        pytest.param(
            ATC,
            None,
            "4002ca0903bf",
            RejectReason.TRUNCATED,
            "BTHome object 0x03 needs 2 bytes at byte 4",
            id="truncated object",
        ),
        pytest.param(
            ATC,
            None,
            "40",
            RejectReason.TRUNCATED,
            "is 0 bytes",
            id="device-info byte only",
        ),
        pytest.param(ATC, None, "", RejectReason.TRUNCATED, "empty", id="empty"),
        pytest.param(
            ATC,
            None,
            "00",
            RejectReason.WRONG_VERSION,
            "BTHome version 0",
            id="version 0",
        ),
        pytest.param(
            ATC,
            None,
            "e102000c0404138a01",
            RejectReason.WRONG_VERSION,
            "BTHome version 7 (device-info byte 0xe1)",
            id="version 7",
        ),
        pytest.param(
            ATC,
            None,
            "40feca09",
            RejectReason.UNKNOWN_OBJECT,
            "unknown BTHome object id 0xfe at byte 0",
            id="unknown object first",
        ),
        pytest.param(
            ATC,
            None,
            "40015dfe5d0903b718",
            RejectReason.UNKNOWN_OBJECT,
            "unknown BTHome object id 0xfe at byte 2",
            id="unknown object after battery refuses the whole packet",
        ),
        pytest.param(
            ATC,
            None,
            "44530187",
            RejectReason.UNDECODABLE,
            "no object of payload 530187 yielded a value",
            id="text that is not UTF-8",
        ),
        pytest.param(
            ATC,
            None,
            None,
            RejectReason.NO_PAYLOAD,
            "no BTHome service data",
            id="no BTHome service data",
        ),
    ],
)
def test_bad_advertisement_is_refused_with_its_reason(
    address: str,
    bindkey: bytes | None,
    payload: str | None,
    code: RejectReason,
    words: str,
) -> None:
    decoder = BTHomeDecoder(address=address, bindkey=bindkey)
    device, advertisement = advert(address, payload)

    with pytest.raises(BadAdvertisement) as caught:
        decoder.decode(device, advertisement, 0.0)

    assert caught.value.code is code
    assert words in caught.value.message


# --- events -------------------------------------------------------------------------

EVENTS = [
    ("long press", "403a04", (DecodedEvent("button", "long_press"),)),
    ("hold press", "403a80", (DecodedEvent("button", "hold_press"),)),
    (
        "wall switch with three buttons",
        "403a003a013a03",
        (DecodedEvent("button_2", "press"), DecodedEvent("button_3", "triple_press")),
    ),
    ("invalid button code gives no event", "403afe", ()),
    (
        "dimmer",
        "403c0103",
        (DecodedEvent("dimmer", "rotate_left", {"steps": 3}),),
    ),
    (
        "button with packet and battery",
        "40005201643a01",
        (DecodedEvent("button", "press"),),
    ),
]


@pytest.mark.parametrize(
    ("payload", "expected"), [pytest.param(p, e, id=i) for i, p, e in EVENTS]
)
def test_event_vector_gives_published_events(
    payload: str, expected: tuple[DecodedEvent, ...]
) -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None)

    assert decode(decoder, ATC, payload).events == expected


def test_press_then_no_press_gives_one_event() -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None)

    pressed = decode(decoder, ATC, "440021015e3a01", now=0)
    released = decode(decoder, ATC, "440023015e3a00", now=1)

    assert pressed.events == (DecodedEvent("button", "press"),)
    assert released.events == ()
    assert released.values == {"packet_id": D("35"), "battery": D("94")}


# --- dedupe by packet id ------------------------------------------------------------


def test_repeated_packet_id_is_dropped_and_an_older_one_too() -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None, repeat_window_s=4)
    decode(decoder, ATC, "400009", now=0)

    repeat = refusal(decoder, ATC, "400009", now=1)
    older = refusal(decoder, ATC, "400008", now=2)

    assert repeat.code is RejectReason.DUPLICATE
    assert "packet id 9 is not newer than the last one (9)" in repeat.message
    assert older.code is RejectReason.DUPLICATE
    assert "packet id 8 is not newer than the last one (9)" in older.message


def test_same_packet_id_after_the_window_is_a_new_packet() -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None, repeat_window_s=4)
    decode(decoder, ATC, "400009", now=0)

    assert decode(decoder, ATC, "400009", now=5).sequence == 9


def test_beacon_repeats_beyond_the_library_window_are_still_one_press() -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None, repeat_window_s=60)
    press = "40005201643a01"

    first = decode(decoder, ATC, press, now=0)
    repeats = [refusal(decoder, ATC, press, now=t) for t in (5, 30, 80, 135)]
    next_press = decode(decoder, ATC, "40005301643a01", now=136)

    assert first.events == (DecodedEvent("button", "press"),)
    assert {r.code for r in repeats} == {RejectReason.DUPLICATE}
    assert "repeat of the last packet id 82" in repeats[-1].message
    assert next_press.events == (DecodedEvent("button", "press"),)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("4000bd", "4000be", id="189 to 190"),
        pytest.param("4000be", "4000fd", id="190 to 253"),
        pytest.param("4000fd", "40002f", id="253 rolls over to 47"),
    ],
)
def test_packet_id_moving_forward_is_taken(first: str, second: str) -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None)
    decode(decoder, ATC, first, now=0)

    assert decode(decoder, ATC, second, now=1).sequence == int(second[-2:], 16)


def test_identical_plain_frame_without_packet_id_is_dropped_within_the_window() -> None:
    decoder = BTHomeDecoder(address=ATC, bindkey=None, repeat_window_s=4)
    decode(decoder, ATC, "402001", now=0)

    refused = refusal(decoder, ATC, "402001", now=3)

    assert refused.code is RejectReason.DUPLICATE
    assert "repeat of the last frame" in refused.message
    assert decode(decoder, ATC, "402001", now=8).values == {"binary:moisture": True}
