"""Socket.IO v5 packets: the encoder writes what socket.io-parser 4.2 writes, the decoder
reads it back and refuses every bad input that socket.io-parser (or WIRE.md) refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.errors import PayloadTooLarge, ProtocolError
from aiosocketio.socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Decoder,
    Packet,
    _parse_fast,
    encode,
    encode_text,
    has_binary,
)


def placeholder(num: Any) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


def decode(text: str, *attachments: bytes) -> Packet:
    """Decode one complete packet with a fresh decoder."""
    decoder = Decoder()
    packet = decoder.decode_text(text)
    for data in attachments:
        assert packet is None
        packet = decoder.decode_binary(data)
    assert packet is not None
    assert not decoder.reconstructing
    return packet


def refused(text: str, *attachments: bytes) -> ProtocolError:
    """Assert the decoder refuses the text (or one of its attachments)."""
    decoder = Decoder()
    with pytest.raises(ProtocolError) as info:
        decoder.decode_text(text)
        for data in attachments:
            decoder.decode_binary(data)
    return info.value


def test_packet_type_numbers() -> None:
    assert [CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR] == [0, 1, 2, 3, 4]
    assert [BINARY_EVENT, BINARY_ACK] == [5, 6]


def test_reserved_event_names_are_those_of_socket_io_parser() -> None:
    expected = ["connect", "connect_error", "disconnect", "disconnecting", "newListener"]
    assert frozenset([*expected, "removeListener"]) == RESERVED_EVENTS


# ================================================================================ encoding

# (type, nsp, data, id, wire) exactly as socket.io-parser's Encoder writes them
ENCODED = [
    pytest.param(CONNECT, "/", None, None, "0", id="connect"),
    pytest.param(CONNECT, "/", {"token": "x"}, None, '0{"token":"x"}', id="connect-auth"),
    pytest.param(CONNECT, "/admin", None, None, "0/admin,", id="connect-nsp"),
    pytest.param(
        CONNECT, "/admin", {"token": "x"}, None, '0/admin,{"token":"x"}', id="connect-nsp-auth"
    ),
    pytest.param(CONNECT, "/", {"sid": "abc"}, None, '0{"sid":"abc"}', id="connect-reply"),
    pytest.param(DISCONNECT, "/", None, None, "1", id="disconnect"),
    pytest.param(DISCONNECT, "/admin", None, None, "1/admin,", id="disconnect-nsp"),
    pytest.param(EVENT, "/", ["hello", 1], None, '2["hello",1]', id="event"),
    pytest.param(EVENT, "/admin", ["a"], None, '2/admin,["a"]', id="event-nsp"),
    pytest.param(EVENT, "/", ["a"], 1, '21["a"]', id="event-ack-id"),
    pytest.param(EVENT, "/", ["a"], 0, '20["a"]', id="event-ack-id-zero"),
    pytest.param(EVENT, "/admin", ["a"], 456, '2/admin,456["a"]', id="event-nsp-ack-id"),
    pytest.param(EVENT, "/", ["héllo", "😀"], None, '2["héllo","😀"]', id="event-unicode"),
    pytest.param(
        EVENT, "/", ["a", {"b": [1, 2.5, None, True]}], None, '2["a",{"b":[1,2.5,null,true]}]',
        id="event-nested",
    ),
    pytest.param(ACK, "/admin", [], 456, "3/admin,456[]", id="ack-empty"),
    pytest.param(ACK, "/", ["ok"], 1, '31["ok"]', id="ack"),
    pytest.param(
        CONNECT_ERROR, "/", {"message": "Invalid namespace"}, None,
        '4{"message":"Invalid namespace"}', id="connect-error",
    ),
    pytest.param(
        CONNECT_ERROR, "/x", {"message": "Invalid namespace"}, None,
        '4/x,{"message":"Invalid namespace"}', id="connect-error-nsp",
    ),
    pytest.param(
        CONNECT_ERROR, "/nsp", {"message": "no", "data": {"code": 7}}, None,
        '4/nsp,{"message":"no","data":{"code":7}}', id="connect-error-data",
    ),
    pytest.param(CONNECT_ERROR, "/", "not authorized", None, '4"not authorized"', id="ce-str"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "nsp", "data", "id", "wire"), ENCODED)
def test_encode_writes_what_socket_io_parser_writes(
    kind: int, nsp: str, data: Any, id: int | None, wire: str
) -> None:
    assert encode(kind, nsp, data, id) == [wire]
    assert encode_text(kind, nsp, data, id) == wire


def test_connect_reply_on_the_wire_is_engine_message_then_socket_io_connect() -> None:
    (text,) = encode(CONNECT, "/", {"sid": "abc"})
    assert isinstance(text, str)
    assert "4" + text == '40{"sid":"abc"}'


def test_empty_namespace_is_omitted_like_the_default() -> None:
    # socket.io-parser writes the namespace only when it is truthy and not "/"
    assert encode(EVENT, "", ["a"]) == ['2["a"]']


def test_encode_event_with_bytes_becomes_binary_event() -> None:
    assert encode(EVENT, "/", ["a", b"\x01\x02"]) == [
        '51-["a",{"_placeholder":true,"num":0}]',
        b"\x01\x02",
    ]


def test_engine_message_of_binary_event() -> None:
    text, *_ = encode(EVENT, "/", ["a", b"\x01"])
    assert "4" + str(text) == '451-["a",{"_placeholder":true,"num":0}]'


def test_encode_binary_event_with_namespace_and_ack_id() -> None:
    assert encode(EVENT, "/admin", ["up", b"x"], 12) == [
        '51-/admin,12["up",{"_placeholder":true,"num":0}]',
        b"x",
    ]


def test_encode_ack_with_bytes_becomes_binary_ack() -> None:
    assert encode(ACK, "/admin", [b"\xff"], 7) == [
        '61-/admin,7[{"_placeholder":true,"num":0}]',
        b"\xff",
    ]


def test_attachments_are_numbered_depth_first_in_order() -> None:
    data = ["x", b"0", {"a": b"1", "b": [b"2", {"c": b"3"}]}, b"4"]
    text, *buffers = encode(EVENT, "/", data)
    assert text == (
        '55-["x",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1},'
        '"b":[{"_placeholder":true,"num":2},{"c":{"_placeholder":true,"num":3}}]},'
        '{"_placeholder":true,"num":4}]'
    )
    assert buffers == [b"0", b"1", b"2", b"3", b"4"]


@pytest.mark.parametrize("buffer", [bytearray(b"ab"), memoryview(b"ab")])
def test_every_buffer_type_is_an_attachment_sent_as_bytes(
    buffer: bytearray | memoryview,
) -> None:
    text, attachment = encode(EVENT, "/", ["a", buffer])
    assert text == '51-["a",{"_placeholder":true,"num":0}]'
    assert attachment == b"ab"
    assert type(attachment) is bytes


def test_empty_bytes_are_still_an_attachment() -> None:
    assert encode(EVENT, "/", ["a", b""]) == ['51-["a",{"_placeholder":true,"num":0}]', b""]


def test_tuples_encode_as_arrays() -> None:
    assert encode(EVENT, "/", ("a", (1, 2))) == ['2["a",[1,2]]']
    assert encode(EVENT, "/", ("a", (1, b"z"))) == [
        '51-["a",[1,{"_placeholder":true,"num":0}]]',
        b"z",
    ]


def test_encode_does_not_mutate_the_data() -> None:
    data = ["a", {"b": b"1"}]
    encode(EVENT, "/", data)
    assert data == ["a", {"b": b"1"}]


def test_has_binary_finds_buffers_anywhere() -> None:
    assert has_binary(b"")
    assert has_binary(["a", {"b": [1, {"c": bytearray()}]}])
    assert has_binary(("a", memoryview(b"x")))
    assert not has_binary(["a", {"b": [1, 2.0, None, True, "bytes"]}])
    assert not has_binary(None)


# ================================================================================ decoding


@pytest.mark.parametrize(("kind", "nsp", "data", "id", "wire"), ENCODED)
def test_decode_reads_what_socket_io_parser_writes(
    kind: int, nsp: str, data: Any, id: int | None, wire: str
) -> None:
    assert decode(wire) == Packet(kind, nsp, data, id)


def test_decode_connect_of_default_namespace_without_auth() -> None:
    # engine message "40" carries the socket.io packet "0"
    assert decode("0") == Packet(CONNECT, "/", None, None)


def test_decode_namespace_without_trailing_comma() -> None:
    assert decode("0/admin") == Packet(CONNECT, "/admin")
    assert decode("1/admin") == Packet(DISCONNECT, "/admin")


def test_decode_namespace_with_query_characters() -> None:
    assert decode('2/a-b_c.d/é,["x"]') == Packet(EVENT, "/a-b_c.d/é", ["x"])


def test_decode_disconnect_of_namespace() -> None:
    assert decode("1/admin,") == Packet(DISCONNECT, "/admin")


def test_decode_ack_id_with_leading_zeros() -> None:
    assert decode('2007["a"]').id == 7


def test_decode_max_safe_ack_id() -> None:
    assert decode(f'2{2**53 - 1}["a"]').id == 2**53 - 1


def test_decode_binary_event_waits_for_its_attachment() -> None:
    decoder = Decoder()
    assert decoder.decode_text('51-["a",{"_placeholder":true,"num":0}]') is None
    assert decoder.reconstructing
    packet = decoder.decode_binary(b"\x01\x02")
    assert packet == Packet(BINARY_EVENT, "/", ["a", b"\x01\x02"])
    assert not decoder.reconstructing


def test_decode_binary_ack_with_namespace_and_id() -> None:
    packet = decode('61-/admin,7[{"_placeholder":true,"num":0}]', b"\xff")
    assert packet == Packet(BINARY_ACK, "/admin", [b"\xff"], 7)


def test_decode_attachments_arrive_in_order() -> None:
    decoder = Decoder()
    text = (
        '53-["a",{"_placeholder":true,"num":2},[{"_placeholder":true,"num":0}],'
        '{"k":{"_placeholder":true,"num":1}}]'
    )
    assert decoder.decode_text(text) is None
    assert decoder.decode_binary(b"A") is None
    assert decoder.decode_binary(b"B") is None
    packet = decoder.decode_binary(b"C")
    assert packet is not None
    assert packet.data == ["a", b"C", [b"A"], {"k": b"B"}]


def test_decode_ten_attachments_is_the_default_maximum() -> None:
    data = ["a", *(placeholder(i) for i in range(10))]
    text = "510-" + encode_text(EVENT, "/", data)[1:]
    packet = decode(text, *(bytes([i]) for i in range(10)))
    assert packet.data == ["a", *(bytes([i]) for i in range(10))]


def test_decoder_is_reusable_after_a_binary_packet() -> None:
    decoder = Decoder()
    decoder.decode_text('51-["a",{"_placeholder":true,"num":0}]')
    decoder.decode_binary(b"x")
    assert decoder.decode_text('2["b"]') == Packet(EVENT, "/", ["b"])


def test_decode_event_named_error_is_an_ordinary_event() -> None:
    assert decode('2["error",1]') == Packet(EVENT, "/", ["error", 1])


@pytest.mark.parametrize("name", [1, 0, -3, 1.5])
def test_decode_numeric_event_name_is_accepted(name: float) -> None:
    # socket.io-parser: typeof payload[0] === "number"
    assert decode(f'2[{name},"x"]').data == [name, "x"]


def test_decode_connect_error_with_string() -> None:
    assert decode('4"not authorized"') == Packet(CONNECT_ERROR, "/", "not authorized")


def test_decode_connect_error_with_object() -> None:
    packet = decode('4/nsp,{"message":"no","data":{"a":1}}')
    assert packet == Packet(CONNECT_ERROR, "/nsp", {"message": "no", "data": {"a": 1}})


def test_decode_keeps_unicode_and_escapes() -> None:
    assert decode('2["é","\\u00e9","😀","\\ud83d\\ude00"]').data == ["é", "é", "😀", "😀"]


def test_decode_lone_surrogate_escape_like_json_parse() -> None:
    assert decode('2["a","\\ud800"]').data == ["a", "\ud800"]


# ============================================================================ bad inputs


@pytest.mark.parametrize(
    "text",
    [
        '5a-["a",{"_placeholder":true,"num":0}]',
        '51.23-["a",{"_placeholder":true,"num":0}]',
        '5-["a",{"_placeholder":true,"num":0}]',
        '5+1-["a",{"_placeholder":true,"num":0}]',
        '5 1-["a",{"_placeholder":true,"num":0}]',
        '5\u0661-["a",{"_placeholder":true,"num":0}]',  # an Arabic-Indic digit
        '51["a",{"_placeholder":true,"num":0}]',
        "5",
        "51",
        '6a-[{"_placeholder":true,"num":0}]',
    ],
)
def test_illegal_attachment_count_is_refused(text: str) -> None:
    refused(text)


def test_zero_attachments_is_refused() -> None:
    refused('50-["a",{"_placeholder":true,"num":0}]')
    refused("60-[]")


def test_eleven_attachments_is_payload_too_large() -> None:
    data = ["a", *(placeholder(i) for i in range(11))]
    text = "511-" + encode_text(EVENT, "/", data)[1:]
    error = refused(text)
    assert isinstance(error, PayloadTooLarge)
    assert error.close_code == 1009


def test_huge_attachment_count_is_refused() -> None:
    refused("5" + "9" * 50 + '-["a"]')


def test_max_attachments_is_configurable() -> None:
    with pytest.raises(PayloadTooLarge):
        Decoder(max_attachments=2).decode_text('53-["a"]')
    assert Decoder(max_attachments=20).decode_text('520-["a"]') is None


@pytest.mark.parametrize(
    "num",
    ['"splice"', '"0"', "-1", "1", "2", "0.5", "null", "true", "[0]", '{"a":0}'],
    ids=["splice", "str", "negative", "out-of-range", "far-out", "float", "null", "bool",
         "list", "object"],
)  # fmt: skip
def test_bad_placeholder_num_is_refused(num: str) -> None:
    refused(f'51-["a",{{"_placeholder":true,"num":{num}}}]', b"x")


def test_placeholder_without_num_is_refused() -> None:
    refused('51-["a",{"_placeholder":true}]', b"x")


def test_binary_frame_without_pending_attachments_is_refused() -> None:
    with pytest.raises(ProtocolError):
        Decoder().decode_binary(b"\x01")


def test_binary_frame_after_the_last_attachment_is_refused() -> None:
    decoder = Decoder()
    decoder.decode_text('51-["a",{"_placeholder":true,"num":0}]')
    assert decoder.decode_binary(b"x") is not None
    with pytest.raises(ProtocolError):
        decoder.decode_binary(b"y")


def test_text_while_reconstructing_is_refused() -> None:
    decoder = Decoder()
    decoder.decode_text('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    decoder.decode_binary(b"x")
    with pytest.raises(ProtocolError):
        decoder.decode_text('2["b"]')


@pytest.mark.parametrize(
    "payload",
    ['[{"a":1}]', '[["a"]]', "[null]", "[true]", "[]", '{"0":"a"}', '"a"', "1", "null"],
    ids=["object", "array", "null", "bool", "empty", "not-array", "string", "number", "null-data"],
)
def test_event_name_must_be_a_string_or_number(payload: str) -> None:
    refused("2" + payload)
    refused("21" + payload)


def test_object_event_name_in_binary_event_is_refused() -> None:
    refused('51-[{"a":1},{"_placeholder":true,"num":0}]')


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_names_are_refused(name: str) -> None:
    refused(f'2["{name}"]')
    refused(f'2/admin,3["{name}",1]')
    refused(f'51-["{name}",{{"_placeholder":true,"num":0}}]')


def test_reserved_names_are_case_sensitive() -> None:
    assert decode('2["Connect"]').data == ["Connect"]


@pytest.mark.parametrize(
    "id",
    ["9" * 17, "1" * 400, str(2**53), "9" * 16],
    ids=["17-digits", "400-digits", "2**53", "16-nines"],
)
def test_ack_ids_beyond_safe_integers_are_refused(id: str) -> None:
    refused(f'2{id}["a"]')
    refused(f"3/admin,{id}[]")


@pytest.mark.parametrize("payload", ['"str"', "[]", "-1", "null", "true", '["a"]'])
def test_connect_with_a_non_object_is_refused(payload: str) -> None:
    refused("0" + payload)
    refused("0/admin," + payload)


@pytest.mark.parametrize("text", ['2["some","data"', '2["a"]x', '2["a",]', "2[", '2["a"] ["b"]'])
def test_malformed_json_is_refused(text: str) -> None:
    refused(text)


def test_truncated_event_of_known_bad_inputs_is_refused() -> None:
    engine_message = '442["some","data"'
    refused(engine_message[1:])


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_tokens_are_refused_like_json_parse(token: str) -> None:
    refused(f'2["a",{token}]')


def test_deeply_nested_json_is_a_protocol_error() -> None:
    refused("2" + "[" * 100_000)
    refused('2["a",' + "[" * 50_000 + "]" * 50_000 + "]")


def test_deeply_nested_binary_event_is_a_protocol_error() -> None:
    depth = 1000
    text = '51-["a",' + "[" * depth + '{"_placeholder":true,"num":0}' + "]" * depth + "]"
    decoder = Decoder()
    # refusing is fine, accepting is fine (socket.io-parser does); crashing is not
    try:
        assert decoder.decode_text(text) is None
        packet = decoder.decode_binary(b"x")
    except ProtocolError:
        return
    assert packet is not None
    inner = packet.data[1]
    for _ in range(depth):
        (inner,) = inner
    assert inner == b"x"


@pytest.mark.parametrize("char", ["7", "8", "9", "a", "/", "[", " ", "-", "é"])
def test_unknown_packet_type_is_refused(char: str) -> None:
    refused(char + '["a"]')


def test_empty_packet_is_refused() -> None:
    refused("")


@pytest.mark.parametrize("text", ["1/admin,{}", "1{}", '1"bye"', "1[]", "1/admin,null"])
def test_disconnect_with_payload_is_refused(text: str) -> None:
    refused(text)


@pytest.mark.parametrize("payload", ["{}", '"ok"', "1", "null"])
def test_ack_payload_must_be_an_array(payload: str) -> None:
    refused("31" + payload)


@pytest.mark.parametrize("payload", ["[]", '["a"]', "-1", "true", "null"])
def test_connect_error_payload_must_be_a_string_or_object(payload: str) -> None:
    refused("4" + payload)


def test_protocol_errors_are_remote() -> None:
    assert refused("7").remote is True


# ---------------------------------------------------------------------- the fast path

FAST_CASES = [
    '2["x"]',
    '2["x",1,{"a":[1,2]}]',
    "2[1]",
    "2[1.5]",
    "2[]",  # invalid: no event name
    '2["connect"]',  # invalid: reserved name
    "2[null]",
    "3[]",
    '312[{"n":1,"s":"hello"}]',
    '30["a"]',
    '3007["a"]',
    '3{"a":1}',  # invalid: ACK data is an array
    "3123",  # invalid: no payload
    '39007199254740991["max"]',
    '39007199254740992["too big"]',
    '31234567890123456["16 digits"]',
    '312345678901234567["17 digits"]',
    '3\u0661\u0662["arabic digits"]',
    '3²["superscript"]',
    '312/nsp,["x"]',
    '2/nsp,["x"]',
    '3-1["x"]',
    "312[1,",  # broken JSON
    '2["x",1e400]',  # orjson refuses, JSON.parse reads it
    '2["x","\\ud800"]',  # a lone surrogate
    "2[" + "[" * 300 + "]" * 300 + "]",
    "2[" + "1," * 200 + "1]",
]


@pytest.mark.parametrize("text", FAST_CASES)
def test_fast_path_agrees_with_the_general_parser(text: str) -> None:
    fast = _parse_fast(EVENT if text[0] == "2" else ACK, text)
    try:
        expected = Decoder()._parse(text)
    except ProtocolError:
        assert fast is None  # errors are the general parser's to raise
        with pytest.raises(ProtocolError):
            Decoder().decode_text(text)
        return
    if fast is not None:
        assert (fast, 0) == expected
    assert Decoder().decode_text(text) == expected[0]


@given(st.text(alphabet='23[]{}",/-0123456789abn:.e', max_size=40))
def test_fast_path_never_disagrees(text: str) -> None:
    if text[:1] not in ("2", "3"):
        return
    fast = _parse_fast(EVENT if text[0] == "2" else ACK, text)
    if fast is None:
        return
    assert Decoder()._parse(text) == (fast, 0)
