"""RFC 6455 framing: encoders, masking, FrameParser and close payloads."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.errors import PayloadTooLarge, ProtocolError
from aiosocketio.ws import frames
from aiosocketio.ws.frames import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    FrameParser,
    apply_mask,
    binary_frame,
    close_frame,
    encode_frame,
    masked_frame,
    next_mask,
    parse_close,
    ping_frame,
    pong_frame,
    text_frame,
)

MASK = b"\x37\xfa\x21\x3d"


def xor(data: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def masked(opcode: int, payload: bytes, **kwargs: bool) -> bytes:
    """A frame as a client sends it (random mask)."""
    return encode_frame(opcode, payload, mask=os.urandom(4), **kwargs)


def raw_frame(b0: int, payload: bytes, *, mask: bytes | None = MASK) -> bytes:
    """A frame with an arbitrary first byte, bypassing encode_frame's checks."""
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        header = bytes((b0, bit | n))
    elif n < 0x10000:
        header = struct.pack("!BBH", b0, bit | 126, n)
    else:
        header = struct.pack("!BBQ", b0, bit | 127, n)
    if mask is None:
        return header + payload
    return header + mask + xor(payload, mask)


def protocol_error(data: bytes, code: int = 1002, **kwargs: int | bool) -> ProtocolError:
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError) as info:
        parser.feed(data)
    assert info.value.close_code == code
    assert info.value.remote
    return info.value


class TestEncoding:
    """Section 5.2: frame layout on the wire."""

    @pytest.mark.parametrize(
        ("length", "header"),
        [
            (0, b"\x82\x00"),
            (125, b"\x82\x7d"),
            (126, b"\x82\x7e\x00\x7e"),
            (65535, b"\x82\x7e\xff\xff"),
            (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
        ],
    )
    def test_length_forms(self, length: int, header: bytes) -> None:
        payload = b"x" * length
        assert encode_frame(BINARY, payload) == header + payload
        assert binary_frame(payload) == header + payload

    @pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
    def test_text_frame_matches_encode_frame(self, length: int) -> None:
        text = "é" * (length // 2) + "a" * (length % 2)
        assert text_frame(text) == encode_frame(TEXT, text.encode())

    def test_flags(self) -> None:
        assert encode_frame(TEXT, b"a", fin=False)[0] == 0x01
        assert encode_frame(TEXT, b"a", rsv1=True)[0] == 0xC1
        assert encode_frame(CONT, b"a")[0] == 0x80

    def test_masked_frame(self) -> None:
        frame = encode_frame(TEXT, b"Hello", mask=MASK)
        assert frame[:2] == b"\x81\x85"
        assert frame[2:6] == MASK
        assert frame[6:] == xor(b"Hello", MASK)

    def test_rfc_example_masked_hello(self) -> None:
        # RFC 6455 section 5.7
        frame = encode_frame(TEXT, b"Hello", mask=b"\x37\xfa\x21\x3d")
        assert frame == bytes.fromhex("818537fa213d7f9f4d5158")

    def test_masked_64bit_length(self) -> None:
        payload = os.urandom(70000)
        frame = encode_frame(BINARY, payload, mask=MASK)
        assert frame[1] == 0xFF
        assert frame[10:14] == MASK
        assert frame[14:] == xor(payload, MASK)

    def test_control_helpers(self) -> None:
        assert ping_frame(b"hi") == b"\x89\x02hi"
        assert pong_frame(b"hi") == b"\x8a\x02hi"
        assert ping_frame() == b"\x89\x00"
        assert pong_frame(b"x", mask=MASK) == encode_frame(PONG, b"x", mask=MASK)

    @pytest.mark.parametrize("opcode", [3, 7, 11, 15, -1, 16])
    def test_invalid_opcode(self, opcode: int) -> None:
        with pytest.raises(ValueError):
            encode_frame(opcode, b"")

    def test_invalid_control_frames(self) -> None:
        with pytest.raises(ValueError):
            encode_frame(PING, b"x" * 126)
        with pytest.raises(ValueError):
            encode_frame(PING, b"", fin=False)
        with pytest.raises(ValueError):
            encode_frame(CLOSE, b"", rsv1=True)

    @pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
    def test_invalid_mask(self, mask: bytes) -> None:
        with pytest.raises(ValueError):
            encode_frame(TEXT, b"a", mask=mask)
        with pytest.raises(ValueError):
            apply_mask(b"a", mask)


class TestMasking:
    """Section 5.3: client-to-server masking."""

    @pytest.mark.parametrize(
        "length", [0, 1, 2, 3, 4, 5, 99, 100, 125, 126, 255, 256, 257, 1000, 4095, 4096, 65536]
    )
    def test_matches_reference(self, length: int) -> None:
        data = os.urandom(length)
        result = apply_mask(data, MASK)
        assert type(result) is bytes
        assert result == xor(data, MASK)
        assert apply_mask(result, MASK) == data

    def test_zero_mask_returns_data(self) -> None:
        data = os.urandom(100)
        assert apply_mask(data, b"\x00\x00\x00\x00") is data

    @given(st.binary(max_size=5000), st.binary(min_size=4, max_size=4))
    def test_involution(self, data: bytes, mask: bytes) -> None:
        assert apply_mask(apply_mask(data, mask), mask) == data
        assert apply_mask(data, mask) == xor(data, mask)


class TestParsing:
    """Section 5.2 and 5.3: reading frames incrementally."""

    def test_text_and_binary(self) -> None:
        parser = FrameParser()
        out = parser.feed(masked(TEXT, "héllo".encode()) + masked(BINARY, b"\x00\xff"))
        assert out == [(TEXT, "héllo"), (BINARY, b"\x00\xff")]
        assert type(out[1][1]) is bytes

    def test_rfc_example(self) -> None:
        assert FrameParser().feed(bytes.fromhex("818537fa213d7f9f4d5158")) == [(TEXT, "Hello")]
        client = FrameParser(client_side=True)
        assert client.feed(bytes.fromhex("810548656c6c6f")) == [(TEXT, "Hello")]

    def test_empty_messages(self) -> None:
        parser = FrameParser()
        assert parser.feed(masked(TEXT, b"") + masked(BINARY, b"")) == [(TEXT, ""), (BINARY, b"")]

    @pytest.mark.parametrize("length", [125, 126, 255, 256, 4095, 4096, 65535, 65536, 100_000])
    def test_lengths(self, length: int) -> None:
        payload = os.urandom(length)
        assert FrameParser().feed(masked(BINARY, payload)) == [(BINARY, payload)]
        client = FrameParser(client_side=True)
        result = client.feed(encode_frame(BINARY, payload))
        assert result == [(BINARY, payload)]
        assert type(result[0][1]) is bytes

    def test_byte_by_byte(self) -> None:
        messages: list[tuple[int, str | bytes]] = [
            (TEXT, "a" * 130),
            (BINARY, b"b" * 70000),
            (PING, b"p"),
            (TEXT, ""),
        ]
        stream = b"".join(masked(op, p.encode() if isinstance(p, str) else p) for op, p in messages)
        parser = FrameParser()
        out = []
        for i in range(0, len(stream), 7):
            out.extend(parser.feed(stream[i : i + 7]))
        assert out == messages

    def test_remainder_is_kept(self) -> None:
        parser = FrameParser()
        frames = masked(TEXT, b"one") + masked(TEXT, b"two")
        assert parser.feed(frames[:-2]) == [(TEXT, "one")]
        assert parser.feed(b"") == []
        assert parser.feed(frames[-2:]) == [(TEXT, "two")]

    def test_accepts_bytearray_and_memoryview(self) -> None:
        parser = FrameParser(client_side=True)
        frame = encode_frame(BINARY, b"abc")
        out = parser.feed(bytearray(frame)) + parser.feed(memoryview(frame))  # type: ignore[arg-type]
        assert out == [(BINARY, b"abc"), (BINARY, b"abc")]
        assert all(type(p) is bytes for _, p in out)

    def test_large_message_in_small_chunks(self) -> None:
        payload = os.urandom(300_000)
        stream = masked(BINARY, payload)
        parser = FrameParser()
        out = []
        for i in range(0, len(stream), 1000):
            out.extend(parser.feed(stream[i : i + 1000]))
        assert out == [(BINARY, payload)]

    def test_server_requires_masked_frames(self) -> None:
        protocol_error(encode_frame(TEXT, b"hi"))

    def test_client_rejects_masked_frames(self) -> None:
        protocol_error(masked(TEXT, b"hi"), client_side=True)

    def test_64bit_length_top_bit(self) -> None:
        header = b"\x82\xff" + struct.pack("!Q", 1 << 63) + MASK
        protocol_error(header, max_message_size=1 << 64)

    @pytest.mark.parametrize("b0", [0x81 | 0x40, 0x81 | 0x20, 0x81 | 0x10, 0x82 | 0x70])
    def test_rsv_bits_without_extension(self, b0: int) -> None:
        protocol_error(raw_frame(b0, b"x"))

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
    def test_reserved_opcodes(self, opcode: int) -> None:
        protocol_error(raw_frame(0x80 | opcode, b""))

    def test_error_detected_from_header_alone(self) -> None:
        parser = FrameParser()
        with pytest.raises(ProtocolError):
            parser.feed(b"\x83\xfe\x01\x00")  # reserved opcode, nothing else arrived yet


class TestFragmentation:
    """Section 5.4: fragmented messages."""

    def test_text_in_three_fragments(self) -> None:
        data = "fragmented message €".encode()
        frames = (
            masked(TEXT, data[:5], fin=False)
            + masked(CONT, data[5:19], fin=False)  # splits the euro sign
            + masked(CONT, data[19:])
        )
        assert FrameParser().feed(frames) == [(TEXT, "fragmented message €")]

    def test_binary_fragments_across_feeds(self) -> None:
        parser = FrameParser()
        assert parser.feed(masked(BINARY, b"ab", fin=False)) == []
        assert parser.feed(masked(CONT, b"", fin=False)) == []
        assert parser.feed(masked(CONT, b"cd")) == [(BINARY, b"abcd")]

    def test_control_frames_interleaved(self) -> None:
        frames = (
            masked(TEXT, b"hel", fin=False)
            + masked(PING, b"1")
            + masked(CONT, b"lo", fin=False)
            + masked(PONG, b"2")
            + masked(CONT, b"!")
        )
        assert FrameParser().feed(frames) == [(PING, b"1"), (PONG, b"2"), (TEXT, "hello!")]

    def test_continuation_without_message(self) -> None:
        protocol_error(masked(CONT, b"x"))

    def test_final_continuation_without_message(self) -> None:
        parser = FrameParser()
        assert parser.feed(masked(TEXT, b"a")) == [(TEXT, "a")]
        with pytest.raises(ProtocolError) as info:
            parser.feed(masked(CONT, b"b"))
        assert info.value.close_code == 1002

    @pytest.mark.parametrize("opcode", [TEXT, BINARY])
    @pytest.mark.parametrize("fin", [True, False])
    def test_new_message_during_fragmented(self, opcode: int, fin: bool) -> None:
        protocol_error(masked(TEXT, b"a", fin=False) + masked(opcode, b"b", fin=fin))


class TestControlFrames:
    """Section 5.5: control frames."""

    def test_payloads_are_bytes(self) -> None:
        frames = masked(PING, b"ping") + masked(PONG, b"") + masked(CLOSE, b"\x03\xe8bye")
        out = FrameParser().feed(frames)
        assert out == [(PING, b"ping"), (PONG, b""), (CLOSE, b"\x03\xe8bye")]

    def test_max_control_payload(self) -> None:
        assert FrameParser().feed(masked(PING, b"x" * 125)) == [(PING, b"x" * 125)]

    @pytest.mark.parametrize("opcode", [CLOSE, PING, PONG])
    def test_control_payload_too_long(self, opcode: int) -> None:
        frame = raw_frame(0x80 | opcode, b"x" * 126)
        protocol_error(frame[:8])  # refused from the header alone

    @pytest.mark.parametrize("opcode", [CLOSE, PING, PONG])
    def test_fragmented_control_frame(self, opcode: int) -> None:
        protocol_error(raw_frame(opcode, b"x"))


class TestUtf8:
    """Section 8.1: text messages are UTF-8."""

    @pytest.mark.parametrize("payload", [b"\xff", b"\xc3", b"a\xed\xa0\x80b", b"\xf4\x90\x80\x80"])
    def test_invalid_text(self, payload: bytes) -> None:
        protocol_error(masked(TEXT, payload), 1007)

    def test_invalid_fragmented_text(self) -> None:
        frames = masked(TEXT, b"ok", fin=False) + masked(CONT, b"\xc3\x28")
        protocol_error(frames, 1007)

    def test_invalid_long_text(self) -> None:
        protocol_error(masked(TEXT, b"a" * 300 + b"\xff"), 1007)

    def test_binary_is_not_checked(self) -> None:
        assert FrameParser().feed(masked(BINARY, b"\xff")) == [(BINARY, b"\xff")]


class TestClose:
    """Sections 5.5.1 and 7.4: the close payload."""

    def test_empty(self) -> None:
        assert parse_close(b"") == (1005, "")

    def test_one_byte(self) -> None:
        with pytest.raises(ProtocolError) as info:
            parse_close(b"\x03")
        assert info.value.close_code == 1002

    @pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, *range(1007, 1015), 3000, 4999])
    def test_valid_codes(self, code: int) -> None:
        assert parse_close(struct.pack("!H", code) + "ça va".encode()) == (code, "ça va")

    @pytest.mark.parametrize(
        "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    )
    def test_invalid_codes(self, code: int) -> None:
        with pytest.raises(ProtocolError) as info:
            parse_close(struct.pack("!H", code))
        assert info.value.close_code == 1002

    def test_invalid_reason(self) -> None:
        with pytest.raises(ProtocolError) as info:
            parse_close(b"\x03\xe8\xff")
        assert info.value.close_code == 1007

    def test_close_frame(self) -> None:
        assert close_frame(1000) == b"\x88\x02\x03\xe8"
        assert close_frame(1001, "bye") == b"\x88\x05\x03\xe9bye"
        assert close_frame(1005) == b"\x88\x00"
        frame = close_frame(4000, "x", mask=MASK)
        assert FrameParser().feed(frame) == [(CLOSE, b"\x0f\xa0x")]

    def test_close_frame_truncates_reason(self) -> None:
        frame = close_frame(1000, "é" * 100)
        code, reason = parse_close(frame[2:])
        assert code == 1000
        assert reason == "é" * 61
        assert len(frame) == 2 + 2 + 122

    @pytest.mark.parametrize("code", [999, 1004, 1006, 1015, 2000, 5000])
    def test_close_frame_invalid_code(self, code: int) -> None:
        with pytest.raises(ValueError):
            close_frame(code)


class TestLimits:
    """Section 10.4: message size limits."""

    def test_exact_limit(self) -> None:
        parser = FrameParser(max_message_size=100)
        assert parser.feed(masked(BINARY, b"x" * 100)) == [(BINARY, b"x" * 100)]

    @pytest.mark.parametrize("length", [101, 200, 70000])
    def test_refused_from_header(self, length: int) -> None:
        parser = FrameParser(max_message_size=100)
        header = masked(BINARY, b"x" * length)[:14]
        with pytest.raises(PayloadTooLarge) as info:
            parser.feed(header)
        assert info.value.close_code == 1009

    def test_two_gigabyte_header(self) -> None:
        parser = FrameParser()
        header = b"\x82\xff" + struct.pack("!Q", 2 * 1024**3) + MASK
        assert parser.feed(header[:5]) == []
        with pytest.raises(PayloadTooLarge):
            parser.feed(header[5:])

    def test_fragments_add_up(self) -> None:
        parser = FrameParser(max_message_size=100)
        assert parser.feed(masked(TEXT, b"x" * 60, fin=False)) == []
        with pytest.raises(PayloadTooLarge):
            parser.feed(masked(CONT, b"x" * 41)[:8])

    def test_fragments_at_limit(self) -> None:
        parser = FrameParser(max_message_size=100)
        frames = masked(TEXT, b"x" * 60, fin=False) + masked(CONT, b"y" * 40)
        assert parser.feed(frames) == [(TEXT, "x" * 60 + "y" * 40)]

    def test_control_frames_do_not_count(self) -> None:
        parser = FrameParser(max_message_size=10)
        frames = masked(TEXT, b"x" * 10, fin=False) + masked(PING, b"p" * 100) + masked(CONT, b"")
        assert parser.feed(frames) == [(PING, b"p" * 100), (TEXT, "x" * 10)]


class TestFailedParser:
    """After an error the parser refuses all further input."""

    def test_protocol_error_repeats(self) -> None:
        parser = FrameParser()
        with pytest.raises(ProtocolError):
            parser.feed(masked(TEXT, b"\xff"))
        with pytest.raises(ProtocolError) as info:
            parser.feed(masked(TEXT, b"fine"))
        assert info.value.close_code == 1007
        assert not isinstance(info.value, PayloadTooLarge)

    def test_payload_too_large_repeats(self) -> None:
        parser = FrameParser(max_message_size=1)
        with pytest.raises(PayloadTooLarge):
            parser.feed(masked(TEXT, b"xx"))
        with pytest.raises(PayloadTooLarge):
            parser.feed(b"")


# --- property-based round trips ------------------------------------------------------

data_messages = st.one_of(
    st.tuples(st.just(TEXT), st.text(max_size=300)),
    st.tuples(st.just(BINARY), st.binary(max_size=300)),
)
control_messages = st.tuples(st.sampled_from([PING, PONG, CLOSE]), st.binary(max_size=125))


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[tuple[int, bytes]], list[tuple[int, object]]]:
    """Frames (opcode-level, unmasked) and the messages the parser must return."""
    frames: list[tuple[int, bytes, bool]] = []
    expected: list[tuple[int, object]] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            opcode, payload = draw(control_messages)
            frames.append((opcode, payload, True))
            expected.append((opcode, payload))
            continue
        opcode, value = draw(data_messages)
        raw = value.encode() if isinstance(value, str) else value
        cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=4)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            frames.append((opcode if i == 0 else CONT, piece, last))
            if not last and draw(st.booleans()):
                control = draw(control_messages)
                frames.append((*control, True))
                expected.append(control)
        expected.append((opcode, value))
    return [(op, payload) if fin else (op | 0x100, payload) for op, payload, fin in frames], (
        expected
    )


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=200, deadline=None)
@given(conversations(), st.lists(st.integers(0, 10_000), max_size=12), st.booleans(), st.data())
def test_roundtrip(
    conversation: tuple[list[tuple[int, bytes]], list[tuple[int, object]]],
    cuts: list[int],
    client_side: bool,
    data: st.DataObject,
) -> None:
    frames, expected = conversation
    stream = b""
    for op, payload in frames:
        fin = not op & 0x100
        mask = None if client_side else data.draw(st.binary(min_size=4, max_size=4))
        stream += encode_frame(op & 0xFF, payload, fin=fin, mask=mask)
    parser = FrameParser(client_side=client_side)
    out: list[tuple[int, object]] = []
    for chunk in chunks(stream, cuts):
        out.extend(parser.feed(chunk))
    assert out == expected


# ---------------------------------------------------------------------- client frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize(("first", "opcode", "rsv1"), [(0x81, TEXT, False), (0xC2, BINARY, True)])
def test_masked_frame_is_the_general_encoder_with_a_mask(
    size: int, first: int, opcode: int, rsv1: bool
) -> None:
    payload = bytes(i & 0xFF for i in range(size))
    mask = b"\x9a\x01\xff\x42"
    expected = encode_frame(opcode, payload, rsv1=rsv1, mask=mask)
    assert masked_frame(first, payload, mask) == expected
    assert frames._py_masked_frame(first, payload, mask) == expected


def test_masked_frames_parse_back_on_the_server_side() -> None:
    parser = FrameParser(client_side=False)
    data = masked_frame(0x81, "héllo".encode(), next_mask()) + masked_frame(
        0x82, b"\x00" * 300, next_mask()
    )
    assert parser.feed(data) == [(TEXT, "héllo"), (BINARY, b"\x00" * 300)]


def test_next_mask_gives_fresh_4_byte_masks_across_pool_refills() -> None:
    masks = [next_mask() for _ in range(5000)]  # more than one pool of 2048 masks
    assert all(len(m) == 4 for m in masks)
    assert len(set(masks)) > 4900  # random 32-bit values: collisions are rare


@pytest.mark.parametrize("client_side", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 16384, 40000, 65536, 65545])
def test_big_frames_split_across_reads(client_side: bool, chunk: int) -> None:
    """Big frames wait as a list of reads (joined once), many small reads move to an
    accumulator; small frames around them are unaffected."""
    big = bytes(range(256)) * 300  # 76,800 bytes
    make = (lambda op, p: encode_frame(op, p)) if client_side else masked
    stream = make(TEXT, b"before") + make(BINARY, big) + make(BINARY, big[:20000])
    stream += make(TEXT, b"after")
    parser = FrameParser(client_side=client_side, max_message_size=200_000)
    got = []
    for i in range(0, len(stream), chunk):
        got.extend(parser.feed(stream[i : i + chunk]))
    assert got == [(TEXT, "before"), (BINARY, big), (BINARY, big[:20000]), (TEXT, "after")]
    assert parser.at_boundary()
