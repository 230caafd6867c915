"""RFC 7692 permessage-deflate: negotiation, compression and the parser's RSV1 handling."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.errors import PayloadTooLarge, ProtocolError
from aiosocketio.ws.deflate import (
    Deflate,
    DeflateParams,
    client_offer,
    negotiate_client,
    negotiate_server,
    parse_extensions,
)
from aiosocketio.ws.frames import BINARY, CONT, PING, TEXT, FrameParser, encode_frame

MASK = b"\x01\x02\x03\x04"


def pair(params: DeflateParams) -> tuple[Deflate, Deflate]:
    return Deflate(params, client_side=False), Deflate(params, client_side=True)


class TestParams:
    def test_defaults(self) -> None:
        params = DeflateParams()
        assert not params.server_no_context_takeover
        assert not params.client_no_context_takeover
        assert params.server_max_window_bits == params.client_max_window_bits == 15

    @pytest.mark.parametrize("bits", [7, 16, 0])
    def test_window_bits_range(self, bits: int) -> None:
        with pytest.raises(ValueError):
            DeflateParams(server_max_window_bits=bits)
        with pytest.raises(ValueError):
            DeflateParams(client_max_window_bits=bits)


class TestHeaderParsing:
    """Section 9.1 of RFC 6455: the Sec-WebSocket-Extensions grammar."""

    def test_several_extensions(self) -> None:
        header = (
            'foo, permessage-deflate; client_max_window_bits; server_max_window_bits="10", bar;x=1'
        )
        assert parse_extensions(header) == [
            ("foo", []),
            (
                "permessage-deflate",
                [("client_max_window_bits", None), ("server_max_window_bits", "10")],
            ),
            ("bar", [("x", "1")]),
        ]

    def test_empty_elements_and_blanks(self) -> None:
        assert parse_extensions(" ,\tfoo ;  a = b , , ") == [("foo", [("a", "b")])]

    @pytest.mark.parametrize(
        "header",
        [
            "foo;",
            "foo;=1",
            "foo;a=",
            "foo;a=b=c",
            ";a",
            "foo bar",
            'foo;a="b c"',
            'foo;a="x',
            "f@o",
        ],
    )
    def test_malformed_element(self, header: str) -> None:
        assert parse_extensions(header) == [None]

    def test_malformed_element_does_not_spoil_others(self) -> None:
        assert parse_extensions("f@o, bar") == [None, ("bar", [])]

    def test_quoted_escapes(self) -> None:
        assert parse_extensions(r'foo; a="\1\0"') == [("foo", [("a", "10")])]


class TestServerNegotiation:
    """Section 7.1: the server's answer to offers."""

    @pytest.mark.parametrize("offer", [None, "", "  ", "foo", "x-webkit-deflate-frame"])
    def test_nothing_to_accept(self, offer: str | None) -> None:
        assert negotiate_server(offer) == (None, None)

    def test_disabled(self) -> None:
        assert negotiate_server("permessage-deflate", enabled=False) == (None, None)

    def test_plain_offer(self) -> None:
        assert negotiate_server("permessage-deflate") == ("permessage-deflate", DeflateParams())

    def test_browser_offer(self) -> None:
        response, params = negotiate_server("permessage-deflate; client_max_window_bits")
        assert response == "permessage-deflate"
        assert params == DeflateParams()

    def test_all_params(self) -> None:
        offer = (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
            " server_max_window_bits=10; client_max_window_bits=12"
        )
        response, params = negotiate_server(offer)
        assert response == (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
            " server_max_window_bits=10"
        )
        assert params == DeflateParams(True, True, 10, 15)

    def test_quoted_value(self) -> None:
        response, params = negotiate_server('permessage-deflate; server_max_window_bits="9"')
        assert response == "permessage-deflate; server_max_window_bits=9"
        assert params is not None and params.server_max_window_bits == 9

    def test_case_insensitive_names(self) -> None:
        response, _ = negotiate_server("Permessage-Deflate; Server_No_Context_Takeover")
        assert response == "permessage-deflate; server_no_context_takeover"

    @pytest.mark.parametrize(
        "bad",
        [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
            "permessage-deflate; a=",
        ],
    )
    def test_invalid_offer_is_skipped(self, bad: str) -> None:
        assert negotiate_server(bad) == (None, None)
        response, params = negotiate_server(
            f"{bad}, permessage-deflate; client_no_context_takeover"
        )
        assert response == "permessage-deflate; client_no_context_takeover"
        assert params == DeflateParams(client_no_context_takeover=True)

    def test_first_acceptable_offer_wins(self) -> None:
        offer = "foo, permessage-deflate; server_max_window_bits=11, permessage-deflate"
        assert negotiate_server(offer)[0] == "permessage-deflate; server_max_window_bits=11"

    @given(st.text(max_size=80))
    def test_never_raises(self, offer: str) -> None:
        response, params = negotiate_server(offer)
        assert (response is None) == (params is None)


class TestClientNegotiation:
    """Section 7.1: the client checks the server's answer."""

    def test_offer_is_accepted_by_server(self) -> None:
        response, params = negotiate_server(client_offer())
        assert response is not None
        assert negotiate_client(response) == params

    @pytest.mark.parametrize(
        ("response", "params"),
        [
            ("permessage-deflate", DeflateParams()),
            (
                "permessage-deflate; client_max_window_bits=9",
                DeflateParams(client_max_window_bits=9),
            ),
            (
                "permessage-deflate; server_max_window_bits=8; server_no_context_takeover",
                DeflateParams(server_no_context_takeover=True, server_max_window_bits=8),
            ),
            (
                "permessage-deflate;client_no_context_takeover",
                DeflateParams(client_no_context_takeover=True),
            ),
        ],
    )
    def test_valid(self, response: str, params: DeflateParams) -> None:
        assert negotiate_client(response) == params

    @pytest.mark.parametrize(
        "response",
        [
            "",
            "foo",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate, foo",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; unknown",
            "permessage-deflate; server_max_window_bits=20",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; =",
        ],
    )
    def test_invalid(self, response: str) -> None:
        with pytest.raises(ProtocolError) as info:
            negotiate_client(response)
        assert info.value.close_code == 1002


class TestCompression:
    """Sections 7.2: compressing and decompressing messages."""

    def test_roundtrip_with_context_takeover(self) -> None:
        server, client = pair(DeflateParams())
        message = b"a fairly repetitive message, " * 10
        first = server.compress(message)
        second = server.compress(message)
        assert len(second) < len(first)  # the second one refers to the first
        assert not first.endswith(b"\x00\x00\xff\xff")
        assert client.decompress(first, 10_000) == message
        assert client.decompress(second, 10_000) == message

    @pytest.mark.parametrize("client_side", [False, True])
    def test_roundtrip_without_context_takeover(self, client_side: bool) -> None:
        params = DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
        sender = Deflate(params, client_side=client_side)
        receiver = Deflate(params, client_side=not client_side)
        message = b"a fairly repetitive message, " * 10
        first = sender.compress(message)
        second = sender.compress(message)
        assert first == second
        # each message inflates on its own, with a fresh window
        assert zlib.decompressobj(-15).decompress(second + b"\x00\x00\xff\xff") == message
        assert receiver.decompress(first, 10_000) == message
        assert receiver.decompress(second, 10_000) == message

    def test_only_the_flagged_side_resets(self) -> None:
        params = DeflateParams(client_no_context_takeover=True)
        server, client = pair(params)
        message = b"abcdefghij" * 20
        assert client.compress(message) == client.compress(message)
        first = server.compress(message)
        assert len(server.compress(message)) < len(first)

    def test_empty_message(self) -> None:
        server, client = pair(DeflateParams())
        for _ in range(3):
            compressed = server.compress(b"")
            assert compressed
            assert client.decompress(compressed, 10) == b""
        assert client.decompress(server.compress(b"after"), 10) == b"after"

    @pytest.mark.parametrize("bits", [8, 9, 10, 12, 15])
    def test_window_bits_are_honoured(self, bits: int) -> None:
        server = Deflate(DeflateParams(server_max_window_bits=bits), client_side=False)
        strict = zlib.decompressobj(-max(bits, 8))
        text = os.urandom(300) * 50
        for _ in range(2):
            assert strict.decompress(server.compress(text) + b"\x00\x00\xff\xff") == text

    def test_exact_limit(self) -> None:
        server, client = pair(DeflateParams())
        assert client.decompress(server.compress(b"x" * 1000), 1000) == b"x" * 1000

    def test_limit_exceeded(self) -> None:
        server, client = pair(DeflateParams())
        with pytest.raises(PayloadTooLarge):
            client.decompress(server.compress(b"x" * 1001), 1000)

    def test_decompression_bomb(self) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        bomb = compressor.compress(bytes(10_000_000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert len(bomb) < 20_000
        _, client = pair(DeflateParams())
        with pytest.raises(PayloadTooLarge) as info:
            client.decompress(bomb[:-4], 1_000_000)
        assert info.value.close_code == 1009

    def test_corrupt_data(self) -> None:
        _, client = pair(DeflateParams())
        with pytest.raises(ProtocolError) as info:
            client.decompress(b"\xff\xff\xff\xff", 1000)
        assert info.value.close_code == 1007

    def test_final_block_from_peer(self) -> None:
        # A peer may end a message with a BFINAL block; the next message starts afresh.
        _, client = pair(DeflateParams())
        for message in (b"one", b"two"):
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            data = compressor.compress(message) + compressor.flush(zlib.Z_FINISH)
            assert client.decompress(data, 100) == message

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode), max_size=8),
        st.booleans(),
        st.booleans(),
        st.sampled_from([8, 9, 11, 15]),
        st.sampled_from([8, 10, 15]),
    )
    def test_roundtrip_property(
        self,
        messages: list[bytes],
        server_reset: bool,
        client_reset: bool,
        server_bits: int,
        client_bits: int,
    ) -> None:
        params = DeflateParams(server_reset, client_reset, server_bits, client_bits)
        server, client = pair(params)
        for message in messages:
            assert client.decompress(server.compress(message), 10_000) == message
            assert server.decompress(client.compress(message), 10_000) == message


def compressed_frames(
    deflate: Deflate, message: bytes, opcode: int = BINARY, pieces: int = 1
) -> bytes:
    data = deflate.compress(message)
    step = max(1, -(-len(data) // pieces))
    chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    out = b""
    for i, chunk in enumerate(chunks):
        out += encode_frame(
            opcode if i == 0 else CONT,
            chunk,
            fin=i == len(chunks) - 1,
            rsv1=i == 0,
            mask=MASK,
        )
    return out


class TestParserWithDeflate:
    """Section 6 of RFC 7692: RSV1 marks a compressed message."""

    def setup_method(self) -> None:
        params = DeflateParams()
        self.client = Deflate(params, client_side=True)
        self.parser = FrameParser(deflate=Deflate(params, client_side=False))

    def test_compressed_text(self) -> None:
        frames = compressed_frames(self.client, "héllo".encode(), TEXT)
        assert self.parser.feed(frames) == [(TEXT, "héllo")]

    def test_compressed_fragments(self) -> None:
        message = os.urandom(100) * 30
        frames = compressed_frames(self.client, message, pieces=4)
        assert self.parser.feed(frames) == [(BINARY, message)]

    def test_uncompressed_message_is_allowed(self) -> None:
        frames = compressed_frames(self.client, b"one") + encode_frame(BINARY, b"two", mask=MASK)
        frames += compressed_frames(self.client, b"one")
        assert self.parser.feed(frames) == [(BINARY, b"one"), (BINARY, b"two"), (BINARY, b"one")]

    def test_rsv1_on_continuation(self) -> None:
        frames = encode_frame(TEXT, b"a", fin=False, mask=MASK)
        frames += bytes((0xC0,)) + encode_frame(CONT, b"b", mask=MASK)[1:]
        with pytest.raises(ProtocolError) as info:
            self.parser.feed(frames)
        assert info.value.close_code == 1002

    def test_rsv1_on_control_frame(self) -> None:
        frame = bytes((0x80 | 0x40 | PING,)) + encode_frame(PING, b"", mask=MASK)[1:]
        with pytest.raises(ProtocolError) as info:
            self.parser.feed(frame)
        assert info.value.close_code == 1002

    @pytest.mark.parametrize("bits", [0x20, 0x10, 0x60])
    def test_other_rsv_bits(self, bits: int) -> None:
        frame = bytes((0x81 | bits,)) + encode_frame(TEXT, b"a", mask=MASK)[1:]
        with pytest.raises(ProtocolError) as info:
            self.parser.feed(frame)
        assert info.value.close_code == 1002

    def test_invalid_utf8_after_decompression(self) -> None:
        with pytest.raises(ProtocolError) as info:
            self.parser.feed(compressed_frames(self.client, b"\xff\xfe", TEXT))
        assert info.value.close_code == 1007

    def test_bomb_through_parser(self) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        bomb = compressor.compress(bytes(10_000_000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        frame = encode_frame(BINARY, bomb[:-4], rsv1=True, mask=MASK)
        with pytest.raises(PayloadTooLarge):
            self.parser.feed(frame)

    def test_limit_applies_after_decompression(self) -> None:
        parser = FrameParser(
            max_message_size=1000, deflate=Deflate(DeflateParams(), client_side=False)
        )
        assert parser.feed(compressed_frames(self.client, b"x" * 1000)) == [(BINARY, b"x" * 1000)]
        with pytest.raises(PayloadTooLarge):
            parser.feed(compressed_frames(self.client, b"x" * 1001))

    def test_incompressible_message_at_limit(self) -> None:
        limit = 50_000
        parser = FrameParser(
            max_message_size=limit, deflate=Deflate(DeflateParams(), client_side=False)
        )
        message = os.urandom(limit)
        frames = compressed_frames(self.client, message)
        assert len(frames) > limit
        assert parser.feed(frames) == [(BINARY, message)]

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from([TEXT, BINARY]), st.text(max_size=300), st.integers(1, 4)),
            max_size=6,
        ),
        st.booleans(),
        st.integers(1, 50),
    )
    def test_roundtrip_property(
        self, messages: list[tuple[int, str, int]], reset: bool, chunk: int
    ) -> None:
        params = DeflateParams(client_no_context_takeover=reset)
        client = Deflate(params, client_side=True)
        parser = FrameParser(deflate=Deflate(params, client_side=False))
        stream = b""
        expected: list[tuple[int, object]] = []
        for opcode, text, pieces in messages:
            stream += compressed_frames(client, text.encode(), opcode, pieces)
            stream += encode_frame(PING, b"p", mask=MASK)
            expected += [(opcode, text if opcode == TEXT else text.encode()), (PING, b"p")]
        out: list[tuple[int, object]] = []
        for i in range(0, len(stream), chunk):
            out.extend(parser.feed(stream[i : i + chunk]))
        assert out == expected
