"""Engine.IO v4 packet and payload codec, one test per rule of engine.io-parser 5.2."""

from __future__ import annotations

import pytest

from aiosocketio.engineio.packets import (
    CLOSE,
    MESSAGE,
    NOOP,
    OPEN,
    PING,
    PONG,
    SEPARATOR,
    UPGRADE,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from aiosocketio.errors import ProtocolError

OPEN_DATA = '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000}'

# (type, data, wire form) for every packet type, as engine.io-parser writes them
WIRE_PACKETS = [
    (OPEN, OPEN_DATA, "0" + OPEN_DATA),
    (CLOSE, "", "1"),
    (PING, "", "2"),
    (PING, "probe", "2probe"),
    (PONG, "", "3"),
    (PONG, "probe", "3probe"),
    (MESSAGE, "hello", "4hello"),
    (MESSAGE, "", "4"),
    (UPGRADE, "", "5"),
    (NOOP, "", "6"),
]


def test_packet_type_numbers() -> None:
    assert (OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP) == (0, 1, 2, 3, 4, 5, 6)
    assert SEPARATOR == "\x1e"


@pytest.mark.parametrize(("kind", "data", "wire"), WIRE_PACKETS)
def test_each_packet_type_encodes_as_type_digit_then_data(kind: int, data: str, wire: str) -> None:
    assert encode_packet(kind, data) == wire


@pytest.mark.parametrize(("kind", "data", "wire"), WIRE_PACKETS)
def test_each_packet_type_decodes(kind: int, data: str, wire: str) -> None:
    assert decode_packet(wire) == (kind, data)


def test_encode_packet_data_defaults_to_empty() -> None:
    assert encode_packet(PING) == "2"
    assert encode_packet(NOOP) == "6"


def test_text_message_keeps_unicode_and_control_characters() -> None:
    text = 'héllo 😀 \x00 42["x"]'
    assert encode_packet(MESSAGE, text) == "4" + text
    assert decode_packet("4" + text) == (MESSAGE, text)


def test_binary_message_over_websocket_is_the_raw_bytes() -> None:
    data = b"\x00\x01\x02\xff"
    encoded = encode_packet(MESSAGE, data)
    assert encoded == data
    assert isinstance(encoded, bytes)


def test_binary_websocket_frame_decodes_to_message() -> None:
    assert decode_packet(b"\x01\x02\x03") == (MESSAGE, b"\x01\x02\x03")
    assert decode_packet(b"") == (MESSAGE, b"")


@pytest.mark.parametrize("raw", [bytearray(b"\x01\x02"), memoryview(b"\x01\x02")])
def test_binary_websocket_frame_of_any_buffer_type_decodes_to_bytes(
    raw: bytearray | memoryview,
) -> None:
    # a WebSocket library may hand over any buffer type
    kind, data = decode_packet(raw)  # type: ignore[arg-type]
    assert (kind, data) == (MESSAGE, b"\x01\x02")
    assert type(data) is bytes


@pytest.mark.parametrize("kind", [OPEN, CLOSE, PING, PONG, UPGRADE, NOOP])
def test_only_message_packets_carry_binary(kind: int) -> None:
    with pytest.raises(ValueError):
        encode_packet(kind, b"\x01")


def test_base64_text_frame_over_websocket_decodes_as_binary_message() -> None:
    # engine.io-parser's decodePacket reads `b<base64>` from any text frame: a client with
    # forceBase64 sends binary that way over WebSocket too.
    assert decode_packet("bAQID") == (MESSAGE, b"\x01\x02\x03")


def test_empty_packet_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_packet("")


@pytest.mark.parametrize("wire", ["7", "8", "9", "x", "-1", " 4", "\x1e", "é"])
def test_unknown_packet_type_is_a_protocol_error(wire: str) -> None:
    with pytest.raises(ProtocolError):
        decode_packet(wire)


# ------------------------------------------------------------------------------ payloads


def test_payload_joins_packets_with_record_separator() -> None:
    assert encode_payload(["4hello", "2", "6"]) == "4hello\x1e2\x1e6"


def test_payload_of_one_packet_has_no_separator() -> None:
    assert encode_payload(["4hello"]) == "4hello"
    assert decode_payload("4hello") == [(MESSAGE, "hello")]


def test_binary_in_payload_is_b_then_base64() -> None:
    # the example of the Engine.IO v4 protocol document
    assert encode_payload(["4hello", b"\x01\x02\x03\x04"]) == "4hello\x1ebAQIDBA=="


def test_payload_decodes_text_and_base64_binary() -> None:
    assert decode_payload("4hello\x1ebAQIDBA==") == [
        (MESSAGE, "hello"),
        (MESSAGE, b"\x01\x02\x03\x04"),
    ]


def test_payload_empty_binary_is_a_lone_b() -> None:
    assert encode_payload([b""]) == "b"
    assert decode_payload("b") == [(MESSAGE, b"")]


def test_payload_with_500_packets_is_decoded_entirely() -> None:
    # the official client batches a whole tick of emits in one POST: no packet count limit
    packets = [f'42["n",{i}]' for i in range(500)]
    payload = encode_payload(packets)
    assert payload.count(SEPARATOR) == 499
    decoded = decode_payload(payload)
    assert len(decoded) == 500
    assert decoded == [(MESSAGE, p[1:]) for p in packets]


def test_payload_with_500_mixed_packets_round_trips() -> None:
    packets: list[str | bytes] = [
        bytes([i % 256]) * (i % 7) if i % 3 == 0 else f"4msg {i}" for i in range(500)
    ]
    decoded = decode_payload(encode_payload(packets))
    assert decoded == [(MESSAGE, p) if isinstance(p, bytes) else (MESSAGE, p[1:]) for p in packets]


def test_payload_may_mix_control_packets() -> None:
    assert decode_payload("3\x1e4a\x1e1") == [(PONG, ""), (MESSAGE, "a"), (CLOSE, "")]


@pytest.mark.parametrize("bad", ["b!!!!", "bA", "bAQIDB", "bAQ=D", "béé", "bAQ ID", "b-_8="])
def test_invalid_base64_is_a_protocol_error(bad: str) -> None:
    with pytest.raises(ProtocolError):
        decode_payload("4ok\x1e" + bad)
    with pytest.raises(ProtocolError):
        decode_packet(bad)


def test_empty_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_payload("")


@pytest.mark.parametrize("payload", ["4a\x1e", "\x1e4a", "4a\x1e\x1e4b"])
def test_empty_packet_in_payload_is_a_protocol_error(payload: str) -> None:
    with pytest.raises(ProtocolError):
        decode_payload(payload)


def test_unknown_type_in_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_payload("4a\x1e7\x1e4b")


def test_message_packets_prefix_text_messages_only() -> None:
    from aiosocketio.engineio.outgoing import Outgoing
    from aiosocketio.engineio.packets import message_packets

    assert message_packets(['2["a"]']) == ['42["a"]']
    assert message_packets(['51-["a",{"_placeholder":true,"num":0}]', b"\x01"]) == [
        '451-["a",{"_placeholder":true,"num":0}]',
        b"\x01",
    ]
    assert message_packets([b"raw", "x"]) == [b"raw", "4x"]
    out = Outgoing.of_messages(["2[]"], volatile=True, compress=False)
    assert (out.packets, out.volatile, out.compress, out.size) == (["42[]"], True, False, 4)
