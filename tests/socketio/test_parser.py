"""The parser seam: the default JSON parser behaves as socket.io-parser's Encoder/Decoder."""

from __future__ import annotations

import pytest

from aiosocketio.errors import PayloadTooLarge, ProtocolError
from aiosocketio.socketio import packets
from aiosocketio.socketio.packets import BINARY_EVENT, CONNECT, EVENT, Packet
from aiosocketio.socketio.parser import JSON_PARSER, JSONParser, Parser


def test_default_parser_is_json_with_ten_attachments() -> None:
    assert isinstance(JSON_PARSER, JSONParser)
    assert JSON_PARSER.max_attachments == 10
    assert JSON_PARSER.decoder().max_attachments == 10


def test_json_parser_fits_the_parser_protocol() -> None:
    parser: Parser = JSONParser()
    assert callable(parser.encode)
    assert callable(parser.decoder)


def test_encode_is_the_packet_encoder() -> None:
    assert JSON_PARSER.encode(EVENT, "/admin", ["a"], 456) == ['2/admin,456["a"]']
    assert JSON_PARSER.encode(CONNECT, "/", {"sid": "x"}) == ['0{"sid":"x"}']
    assert JSON_PARSER.encode(EVENT, "/", ["a", b"\x00"]) == packets.encode(
        EVENT, "/", ["a", b"\x00"]
    )


def test_decoder_is_a_fresh_packet_decoder_each_time() -> None:
    first = JSON_PARSER.decoder()
    second = JSON_PARSER.decoder()
    assert isinstance(first, packets.Decoder)
    assert first is not second
    first.decode_text('51-["a",{"_placeholder":true,"num":0}]')
    # the state of one connection's decoder never leaks into another's
    assert second.decode_text('2["b"]') == Packet(EVENT, "/", ["b"])
    assert first.decode_binary(b"z") == Packet(BINARY_EVENT, "/", ["a", b"z"])


def test_max_attachments_reaches_the_decoder() -> None:
    parser = JSONParser(max_attachments=1)
    assert parser.decoder().decode_text('51-["a",{"_placeholder":true,"num":0}]') is None
    with pytest.raises(PayloadTooLarge):
        parser.decoder().decode_text(
            '52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        )


def test_round_trip_through_the_parser() -> None:
    messages = JSON_PARSER.encode(EVENT, "/chat", ["msg", {"text": "héllo", "img": b"\x89PNG"}], 3)
    decoder = JSON_PARSER.decoder()
    result = None
    for message in messages:
        if isinstance(message, str):
            result = decoder.decode_text(message)
        else:
            result = decoder.decode_binary(message)
    assert result == Packet(BINARY_EVENT, "/chat", ["msg", {"text": "héllo", "img": b"\x89PNG"}], 3)


def test_decoder_errors_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        JSON_PARSER.decoder().decode_text('40"str"'[1:])
