"""Engine.IO v3 packets and payloads (socket.io-client 2.x), one test per rule of the v3
parser that engine.io 6.6 keeps for ``allowEIO3`` (``build/parser-v3``). The expected bytes
are what that parser writes (checked against it in tests/interop/test_eio3_vs_node.py)."""

from __future__ import annotations

import pytest

from aiosocketio.engineio.packets import CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE
from aiosocketio.engineio.payload_v3 import (
    decode_packet,
    decode_payload,
    decode_payload_binary,
    encode_base64,
    encode_binary,
    encode_payload,
    encode_payload_binary,
    encode_payload_text,
    js_length,
)
from aiosocketio.errors import ProtocolError


# ---------------------------------------------------------------------------------- packets
@pytest.mark.parametrize(
    ("wire", "packet"),
    [
        ("0{}", (OPEN, "{}")),
        ("1", (CLOSE, "")),
        ("2", (PING, "")),
        ("2probe", (PING, "probe")),
        ("3probe", (PONG, "probe")),
        ('42["a"]', (MESSAGE, '42["a"]'[1:])),
        ("5", (UPGRADE, "")),
        ("6", (NOOP, "")),
    ],
)
def test_text_packets_are_the_type_digit_then_the_data(wire: str, packet: tuple[int, str]) -> None:
    assert decode_packet(wire) == packet


def test_a_binary_packet_starts_with_its_type_byte() -> None:
    assert encode_binary(b"\x01\x02") == b"\x04\x01\x02"
    assert decode_packet(b"\x04\x01\x02") == (MESSAGE, b"\x01\x02")
    assert decode_packet(bytearray(b"\x04")) == (MESSAGE, b"")


def test_the_base64_form_has_the_type_digit_after_b() -> None:
    assert encode_base64(b"\x01\x02\x03") == "b4AQID"
    assert decode_packet("b4AQID") == (MESSAGE, b"\x01\x02\x03")
    assert decode_packet("b4") == (MESSAGE, b"")


@pytest.mark.parametrize("bad", ["", "7", "x", "b", "bx", "b4*", "b4AQI"])
def test_bad_text_packets_are_refused(bad: str) -> None:
    with pytest.raises(ProtocolError):
        decode_packet(bad)


@pytest.mark.parametrize("bad", [b"", b"\x07", b"\xff\x01"])
def test_bad_binary_packets_are_refused(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_packet(bad)


# ---------------------------------------------------------------------------------- lengths
@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("abc", 3), ("é", 1), ("😀", 2), ("a😀é😀", 6), ("\ud800", 1)],
)
def test_lengths_count_utf16_code_units(text: str, length: int) -> None:
    assert js_length(text) == length


# ---------------------------------------------------------------------------------- text payload
def test_text_payload_prefixes_each_packet_with_its_length() -> None:
    assert encode_payload_text(["40", '42["a"]']) == '2:407:42["a"]'


def test_text_payload_lengths_are_in_utf16_units() -> None:
    assert encode_payload_text(['42["😀é"]']) == '9:42["😀é"]'


def test_text_payload_writes_binary_as_base64() -> None:
    assert encode_payload_text(["451-[]", b"\x01\x02\x03"]) == "6:451-[]6:b4AQID"
    assert encode_payload_text([b""]) == "2:b4"


def test_an_empty_text_payload_is_zero_colon() -> None:
    assert encode_payload_text([]) == "0:"


def test_text_payload_decodes_into_packets() -> None:
    assert decode_payload('2:407:42["a"]1:26:b4AQID') == [
        (MESSAGE, "0"),
        (MESSAGE, '2["a"]'),
        (PING, ""),
        (MESSAGE, b"\x01\x02\x03"),
    ]


def test_text_payload_decodes_lengths_in_utf16_units() -> None:
    payload = encode_payload_text(['42["😀"]', '42["a😀b😀"]'])
    assert decode_payload(payload) == [(MESSAGE, '2["😀"]'), (MESSAGE, '2["a😀b😀"]')]


def test_empty_packets_in_a_text_payload_are_skipped() -> None:
    assert decode_payload("0:1:20:") == [(PING, "")]


def test_leading_zeros_in_a_length_are_read() -> None:
    assert decode_payload("01:2") == [(PING, "")]


def test_a_text_payload_of_many_packets_decodes_entirely() -> None:
    packets = [f'42["n",{i}]' for i in range(500)]
    assert decode_payload(encode_payload_text(packets)) == [(MESSAGE, p[1:]) for p in packets]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty payload"),
        ("2:4", "length beyond the payload"),
        ("3:4a😀", "length that cuts a character: the rest is no packet"),
        ("1:2x", "bytes after the last packet"),
        (":2", "no length"),
        ("a:2", "a non-digit length"),
        (" 1:2", "a length with a space"),
        ("0x1:2", "a hexadecimal length"),
        ("1e0:2", "an exponent"),
        ("-1:2", "a negative length"),
        ("¹:2", "a non-ASCII digit"),
        ("1" * 16 + ":2", "a length of 16 digits"),
        ("99999999999:2", "a length beyond any buffer"),
        ("2", "no colon"),
        ("1:7", "an unknown packet type"),
        ("2:b4*", "bad base64"),
    ],
)
def test_bad_text_payloads_are_refused(bad: str, why: str) -> None:
    with pytest.raises(ProtocolError):
        decode_payload(bad)


# ---------------------------------------------------------------------------------- binary payload
def test_binary_payload_marks_text_and_binary_packets() -> None:
    # text: 0, the length's digits as bytes, 255, UTF-8; binary: 1, ..., 255, type byte + data
    assert encode_payload_binary(["4héllo😀", b"\x01\x02\x03"]) == bytes(
        [0, 1, 1, 255, *"4héllo😀".encode(), 1, 4, 255, 4, 1, 2, 3]
    )


def test_binary_payload_lengths_have_one_byte_per_digit() -> None:
    assert encode_payload_binary(["4" + "x" * 12, bytes(10)]) == bytes(
        [0, 1, 3, 255, *b"4xxxxxxxxxxxx", 1, 1, 1, 255, 4, *bytes(10)]
    )


def test_binary_payload_writes_a_lone_surrogate_as_the_replacement_character() -> None:
    assert encode_payload_binary(["4a\ud800b", b""]) == bytes(
        [0, 6, 255, 52, 97, 0xEF, 0xBF, 0xBD, 98, 1, 1, 255, 4]
    )
    assert encode_payload_binary(["4\ud83d\ude00"]) == bytes([0, 5, 255, 52, *"😀".encode()])


def test_binary_payload_decodes_into_packets() -> None:
    payload = encode_payload_binary(["40", '451-["x",{"_placeholder":true,"num":0}]', b"\x00\xff"])
    assert decode_payload_binary(payload) == [
        (MESSAGE, "0"),
        (MESSAGE, '51-["x",{"_placeholder":true,"num":0}]'),
        (MESSAGE, b"\x00\xff"),
    ]


def test_binary_payload_text_may_be_any_unicode() -> None:
    assert decode_payload_binary(encode_payload_binary(['42["é😀"]'])) == [(MESSAGE, '2["é😀"]')]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"", "empty payload"),
        (bytes([2, 1, 255, 50]), "a marker that is neither 0 nor 1"),
        (bytes([0, 1, 50]), "no 255 after the length"),
        (bytes([0, 255, 50]), "no length"),
        (bytes([0, 2, 255, 50]), "length beyond the payload"),
        (bytes([0, 1, 255, 50, 0]), "a truncated second packet"),
        (bytes([0, 10, 255, 50]), "a length digit over 9"),
        (bytes([0, *[9] * 16, 255, 50]), "a length of 16 digits"),
        (bytes([0, 1, 255, 0xFF]), "invalid UTF-8"),
        (bytes([0, 1, 255, 55]), "an unknown packet type"),
        (bytes([1, 1, 255, 9]), "an unknown binary packet type"),
        (bytes([1, 0, 255]), "an empty binary packet"),
    ],
)
def test_bad_binary_payloads_are_refused(bad: bytes, why: str) -> None:
    with pytest.raises(ProtocolError):
        decode_payload_binary(bad)


# ---------------------------------------------------------------------------------- choice
def test_the_answer_is_binary_only_for_a_binary_client_with_binary_packets() -> None:
    assert encode_payload(["40"], binary=True) == (b"2:40", False)
    assert encode_payload(["40", b"\x01"], binary=False) == (b"2:406:b4AQ==", False)
    assert encode_payload(["40", b"\x01"], binary=True) == (
        bytes([0, 2, 255, *b"40", 1, 2, 255, 4, 1]),
        True,
    )
