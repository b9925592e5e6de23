"""OSDP frames from public sources (shared/data/osdp/osdp_frames.md), checked byte for
byte: length field, check character, and the card and keypad payloads through the
driver's decoder. The CRC and checksum are computed here, independently of libosdp.
"""

from __future__ import annotations

import pytest

from drivers.osdp import ReaderDataError, decode_card, decode_keypad
from sim.osdp import encode_h10301, encode_keys

SOM = 0x53
CTRL_CRC = 0x04
CTRL_SCB = 0x08


def crc16_osdp(data: bytes) -> int:
    """CRC-16/AUG-CCITT as OSDP uses it: poly 0x1021, init 0x1D0F, no reflection."""
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def checksum_osdp(data: bytes) -> int:
    """Two's complement of the byte sum."""
    return -sum(data) & 0xFF


def strip_marks(frame: bytes) -> bytes:
    start = 0
    while frame[start] == 0xFF:
        start += 1
    return frame[start:]


def check_frame(frame: bytes) -> None:
    frame = strip_marks(frame)
    assert frame[0] == SOM
    assert int.from_bytes(frame[2:4], "little") == len(frame), "LEN field"
    if frame[4] & CTRL_CRC:
        assert int.from_bytes(frame[-2:], "little") == crc16_osdp(frame[:-2])
    else:
        assert frame[-1] == checksum_osdp(frame[:-1])


def payload(frame: bytes) -> tuple[int, bytes]:
    """(command or reply code, data) of a frame without a security block."""
    frame = strip_marks(frame)
    assert not frame[4] & CTRL_SCB
    check_len = 2 if frame[4] & CTRL_CRC else 1
    return frame[5], frame[6:-check_len]


FRAMES = [
    # (source, id, hex)
    ("L", "1-poll-crc", "53 65 08 00 04 60 60 90"),
    ("L", "2-id-crc", "53 65 09 00 04 61 00 D9 7A"),
    ("L", "3-chlng-crc", "53 65 10 00 04 76 01 02 03 04 05 06 07 08 0D 20"),
    ("L", "4-poll-checksum", "53 65 07 00 00 60 E1"),
    ("L", "5-ack-checksum", "53 E5 07 00 01 40 80"),
    ("L", "6-nak-crc", "53 E5 09 00 05 41 01 0E 8F"),
    (
        "L",
        "7-ccrypt-scs12",
        "53 E5 2A 00 09 03 12 01 76 "
        + " ".join(f"{b:02X}" for b in range(0x10, 0x30))
        + " 19",
    ),
    (
        "L",
        "8-rmac-i-scs14",
        "53 E5 1B 00 0D 03 14 01 78 "
        + " ".join(f"{b:02X}" for b in range(0xA0, 0xB0))
        + " CA BA",
    ),
    ("L", "9-bad-scb-type", "53 E5 09 00 09 02 19 40 5B"),
    ("L", "10-scs16-inactive", "53 E5 09 00 09 02 16 40 5E"),
    ("L", "11-scs16-zero-mac", "53 E5 0D 00 09 02 16 40 00 00 00 00 5A"),
    ("L", "13-leading-marks", "FF FF FF 53 65 08 00 04 60 60 90"),
    ("P", "14-ack-broadcast", "53 FF 07 00 01 40 66"),
    ("P", "15-ack-crc", "53 FF 08 00 07 40 75 81"),
    ("P", "16-raw-checksum", "53 FF 0F 00 02 50 FF 01 1A 00 CD 22 C7 16 67"),
    ("P", "17-raw-crc", "53 FF 10 00 05 50 FF 01 1A 00 CD 22 C7 16 00 C9"),
    ("P", "18-keypad-checksum", "53 FF 0D 00 02 53 FF 04 31 32 33 34 7F"),
    ("P", "19-keypad-crc", "53 FF 0E 00 05 53 FF 04 31 32 33 34 81 B6"),
    (
        "C",
        "20-raw-75-bits",
        "53 80 16 00 07 50 00 00 4B 00 09 A4 49 4A A3 27 4C D5 2B C0 00 74",
    ),
    ("C", "21-poll-addr-0", "53 00 08 00 04 60 EB AA"),
    ("#39", "pdid", "FF 53 80 14 00 04 45 CA 44 6C 01 00 C7 92 02 00 01 07 0F C4 42"),
    (
        "#39",
        "pdcap",
        "FF 53 80 23 00 05 46 01 01 02 02 01 01 03 01 00 04 02 01 08 01 00 09 01 01 "
        "0A 00 02 0D 00 01 10 01 00 D9 08",
    ),
    ("#39", "nak-06", "FF 53 80 09 00 06 41 06 A0 BA"),
    ("#274", "id-addr-1", "FF 53 01 09 00 04 61 00 60 23"),
    ("#274", "pdid", "53 81 14 00 04 45 18 68 CB 00 00 68 44 96 B7 02 01 00 F4 0C"),
    ("#22", "xwr", "ff 53 18 0c 00 06 a1 00 02 01 00 89 e8"),
    ("#22", "xwr-ack", "ff 53 98 08 00 06 40 4c cc"),
    ("#22", "lstatr-split", "ff 53 98 0a 00 07 48" + " 00 00 24 8e"),
    ("#22", "ack-crc-split", "ff 53 98 08 00 05 40 1f" + " 99"),
    ("#22", "xwr-2", "ff 53 18 0b 00 06 a1 01 04 00 9e 37"),
    ("#22", "nak-01", "ff 53 98 09 00 06 41 01 81 dd"),
]


@pytest.mark.parametrize(
    "frame_hex", [pytest.param(hex_, id=f"{src}-{name}") for src, name, hex_ in FRAMES]
)
def test_length_and_check_character(frame_hex: str) -> None:
    check_frame(bytes.fromhex(frame_hex))


@pytest.mark.parametrize(
    "frame_hex",
    [
        pytest.param("53 65 08 00 04 60 60 91", id="crc-off-by-one"),
        pytest.param("53 65 07 00 00 60 E2", id="checksum-off-by-one"),
        pytest.param("53 65 09 00 04 60 60 90", id="len-too-long"),
    ],
)
def test_a_damaged_frame_fails_the_check(frame_hex: str) -> None:
    with pytest.raises(AssertionError):
        check_frame(bytes.fromhex(frame_hex))


def raw_card(frame_hex: str) -> tuple[int, int, bytes]:
    """(format, bits, data) of an osdp_RAW reply: reader, format, bits (LE), data."""
    code, data = payload(bytes.fromhex(frame_hex))
    assert code == 0x50
    return data[1], int.from_bytes(data[2:4], "little"), data[4:]


def frame(name: str) -> str:
    return next(hex_ for _, frame_name, hex_ in FRAMES if frame_name == name)


@pytest.mark.parametrize("name", ["16-raw-checksum", "17-raw-crc"])
def test_sample_card_decodes_as_h10301_with_its_bad_parity_reported(name: str) -> None:
    card_format, bits, data = raw_card(frame(name))

    decoded = decode_card(card_format, bits, data, ["h10301"])

    assert decoded == {
        "format": "wiegand",
        "bits": 26,
        "hex": "cd22c716",
        "card_format": "h10301",
        "facility": 154,
        "card": 17806,
        "parity_ok": False,
    }


def test_75_bit_unspecified_card_is_reported_raw() -> None:
    card_format, bits, data = raw_card(frame("20-raw-75-bits"))

    decoded = decode_card(card_format, bits, data, ["h10301"])

    assert decoded == {"format": "raw", "bits": 75, "hex": "09a4494aa3274cd52bc0"}


def test_26_bit_card_is_not_interpreted_without_the_format_configured() -> None:
    card_format, bits, data = raw_card(frame("16-raw-checksum"))

    assert "facility" not in decode_card(card_format, bits, data, [])


@pytest.mark.parametrize("name", ["18-keypad-checksum", "19-keypad-crc"])
def test_keypad_frames_decode_to_1234(name: str) -> None:
    code, data = payload(bytes.fromhex(frame(name)))
    assert code == 0x53
    reader, count, keys = data[0], data[1], data[2:]
    assert (reader, count) == (0xFF, len(keys))

    assert decode_keypad(keys) == "1234"


@pytest.mark.parametrize(
    ("facility", "card"), [(0, 0), (154, 17806), (255, 65535), (1, 1), (128, 32768)]
)
def test_simulator_h10301_decodes_with_good_parity(facility: int, card: int) -> None:
    bits, data = encode_h10301(facility, card)

    decoded = decode_card(1, bits, data, ["h10301"])

    assert (decoded["facility"], decoded["card"], decoded["parity_ok"]) == (
        facility,
        card,
        True,
    )


def test_sample_card_with_parity_repaired_is_what_the_simulator_encodes() -> None:
    # The sample differs only in the trailing parity bit (and padding).
    assert encode_h10301(154, 17806) == (26, bytes.fromhex("cd22c740"))


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        pytest.param(
            (1, 26, b"\xcd\x22\xc7"), "card_data_invalid", "need 4", id="short"
        ),
        pytest.param((1, 0, b""), "card_data_invalid", "0 bits", id="no-bits"),
        pytest.param((2, 8, b"A"), "card_format_unknown", "code 2", id="ascii"),
    ],
)
def test_inconsistent_card_data_is_refused_with_a_reason(
    args: tuple[int, int, bytes], code: str, words: str
) -> None:
    with pytest.raises(ReaderDataError) as caught:
        decode_card(*args, ["h10301"])

    assert caught.value.code == code
    assert words in str(caught.value)


def test_keypad_star_and_hash_round_trip() -> None:
    assert decode_keypad(encode_keys("0*9#")) == "0*9#"


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        pytest.param(b"1A", "keypad_key_unknown", "0x41", id="letter"),
        pytest.param(b"", "keypad_data_invalid", "without keys", id="empty"),
    ],
)
def test_unknown_keypad_data_is_refused_with_a_reason(
    data: bytes, code: str, words: str
) -> None:
    with pytest.raises(ReaderDataError) as caught:
        decode_keypad(data)

    assert caught.value.code == code
    assert words in str(caught.value)
