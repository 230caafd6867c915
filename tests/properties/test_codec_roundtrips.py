"""Hypothesis properties of the Engine.IO and Socket.IO codecs.

Round-trips: whatever the encoders write, the decoders read back unchanged.
Fuzz: whatever a peer sends, the decoders return a value or raise ProtocolError, never
anything else, and never hand out a packet that breaks the protocol's rules.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio import _json
from aiosocketio.engineio.packets import (
    MESSAGE,
    SEPARATOR,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from aiosocketio.errors import ProtocolError
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
    encode,
    has_binary,
)

MAX_SAFE = 2**53 - 1

settings.register_profile(
    "codec", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CODEC = settings.get_profile("codec")

# ============================================================================ strategies

eio_kinds = st.integers(min_value=0, max_value=6)
eio_text = st.text()
eio_text_no_sep = st.text().filter(lambda s: SEPARATOR not in s)

keys = st.text(max_size=8).filter(lambda k: k != "_placeholder")
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)


json_values = st.recursive(json_scalars, containers, max_leaves=16)
binary_values = st.recursive(json_scalars | st.binary(max_size=24), containers, max_leaves=16)

namespaces = st.just("/") | st.text(min_size=1, max_size=12).filter(lambda s: "," not in s).map(
    lambda s: "/" + s
)
ack_ids = st.none() | st.integers(min_value=0, max_value=MAX_SAFE)
event_names = (
    st.text(max_size=16).filter(lambda s: s not in RESERVED_EVENTS)
    | st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def _containers_in(value: Any) -> list[Any]:
    found = []
    if isinstance(value, (list, dict)):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            found.extend(_containers_in(child))
    return found


@st.composite
def with_bytes(draw: st.DrawFn, args: Any) -> Any:
    """Put one more bytes object anywhere inside args (a list) except in front."""
    candidates = _containers_in(args)
    target = draw(st.sampled_from(candidates))
    blob = draw(st.binary(max_size=32))
    if isinstance(target, list):
        lowest = 1 if target is args else 0
        target.insert(draw(st.integers(min_value=lowest, max_value=max(lowest, len(target)))), blob)
    else:
        target[draw(keys)] = blob
    return args


@st.composite
def text_packets(draw: st.DrawFn) -> Packet:
    """A Socket.IO packet of any type that encodes as text only."""
    kind = draw(st.sampled_from([CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR]))
    nsp = draw(namespaces)
    data: Any = None
    id: int | None = None
    if kind == CONNECT:
        data = draw(st.none() | st.dictionaries(keys, json_values, max_size=4))
    elif kind == EVENT:
        data = [draw(event_names), *draw(st.lists(json_values, max_size=4))]
        id = draw(ack_ids)
    elif kind == ACK:
        data = draw(st.lists(json_values, max_size=4))
        id = draw(st.integers(min_value=0, max_value=MAX_SAFE))
    elif kind == CONNECT_ERROR:
        data = draw(st.text() | st.dictionaries(keys, json_values, max_size=4))
    return Packet(kind, nsp, data, id)


@st.composite
def binary_packets(draw: st.DrawFn) -> Packet:
    """An EVENT or ACK packet with bytes somewhere in its data."""
    kind = draw(st.sampled_from([EVENT, ACK]))
    if kind == EVENT:
        args = [draw(event_names), *draw(st.lists(binary_values, max_size=4))]
        id = draw(ack_ids)
    else:
        args = [None, *draw(st.lists(binary_values, max_size=4))]
        id = draw(st.integers(min_value=0, max_value=MAX_SAFE))
    args = draw(with_bytes(args))
    if kind == ACK:
        args = args[1:]
    return Packet(kind, draw(namespaces), args, id)


def feed(messages: list[str | bytes], decoder: Decoder | None = None) -> Packet:
    """Feed the messages of one packet to a decoder; only the last may finish it."""
    # the attachment limit has its own tests; here any number of buffers is fine
    decoder = decoder or Decoder(max_attachments=1000)
    result: Packet | None = None
    for i, message in enumerate(messages):
        assert result is None, f"packet finished early, at message {i}"
        if isinstance(message, str):
            assert i == 0
            result = decoder.decode_text(message)
        else:
            result = decoder.decode_binary(message)
    assert result is not None
    assert not decoder.reconstructing
    return result


# ===================================================================== Engine.IO round trips


@CODEC
@given(kind=eio_kinds, data=eio_text)
def test_eio_text_packet_round_trips(kind: int, data: str) -> None:
    encoded = encode_packet(kind, data)
    assert encoded == f"{kind}{data}"
    assert decode_packet(encoded) == (kind, data)


@CODEC
@given(data=st.binary())
def test_eio_binary_message_round_trips_as_raw_bytes(data: bytes) -> None:
    encoded = encode_packet(MESSAGE, data)
    assert encoded == data
    assert decode_packet(encoded) == (MESSAGE, data)


@CODEC
@given(data=st.binary())
def test_eio_base64_binary_message_decodes(data: bytes) -> None:
    text = "b" + base64.b64encode(data).decode("ascii")
    assert decode_packet(text) == (MESSAGE, data)
    assert decode_payload(text) == [(MESSAGE, data)]


eio_payload_packets = st.lists(
    st.tuples(eio_kinds, eio_text_no_sep) | st.tuples(st.just(MESSAGE), st.binary(max_size=64)),
    min_size=1,
    max_size=40,
)


@CODEC
@given(packets=eio_payload_packets)
def test_eio_payload_round_trips(packets: list[tuple[int, str | bytes]]) -> None:
    payload = encode_payload(encode_packet(kind, data) for kind, data in packets)
    assert isinstance(payload, str)
    assert payload.count(SEPARATOR) == len(packets) - 1
    assert decode_payload(payload) == packets


@CODEC
@given(packets=eio_payload_packets)
def test_eio_payload_is_the_packets_joined_with_separator(
    packets: list[tuple[int, str | bytes]],
) -> None:
    parts = [
        "b" + base64.b64encode(d).decode() if isinstance(d, bytes) else f"{k}{d}"
        for k, d in packets
    ]
    assert encode_payload(encode_packet(k, d) for k, d in packets) == "\x1e".join(parts)


# ===================================================================== Socket.IO round trips


@CODEC
@given(packet=text_packets())
def test_sio_text_packet_round_trips(packet: Packet) -> None:
    messages = encode(packet.type, packet.nsp, packet.data, packet.id)
    assert len(messages) == 1
    assert isinstance(messages[0], str)
    assert feed(messages) == packet


@CODEC
@given(packet=text_packets())
def test_sio_text_packet_has_the_socket_io_parser_header(packet: Packet) -> None:
    (text,) = encode(packet.type, packet.nsp, packet.data, packet.id)
    head = str(packet.type)
    if packet.nsp != "/":
        head += packet.nsp + ","
    if packet.id is not None:
        head += str(packet.id)
    body = "" if packet.data is None else _json.dumps(packet.data)
    assert text == head + body


@CODEC
@given(packet=binary_packets())
def test_sio_binary_packet_round_trips_as_binary_type(packet: Packet) -> None:
    assert has_binary(packet.data)
    messages = encode(packet.type, packet.nsp, packet.data, packet.id)
    text, *attachments = messages
    assert isinstance(text, str)
    assert attachments
    assert all(type(a) is bytes for a in attachments)
    expected_type = BINARY_EVENT if packet.type == EVENT else BINARY_ACK
    assert text.startswith(f"{expected_type}{len(attachments)}-")
    assert feed(messages) == Packet(expected_type, packet.nsp, packet.data, packet.id)


@CODEC
@given(packets=st.lists(text_packets() | binary_packets(), min_size=2, max_size=6))
def test_sio_one_decoder_reads_a_stream_of_packets(packets: list[Packet]) -> None:
    decoder = Decoder(max_attachments=1000)
    for packet in packets:
        decoded = feed(encode(packet.type, packet.nsp, packet.data, packet.id), decoder)
        assert decoded.data == packet.data
        assert (decoded.nsp, decoded.id) == (packet.nsp, packet.id)


@CODEC
@given(value=binary_values)
def test_json_of_text_values_round_trips(value: Any) -> None:
    if not has_binary(value):
        assert _json.loads(_json.dumps(value)) == value


@CODEC
@given(value=st.integers())
def test_json_integers_of_any_size_encode_exactly(value: int) -> None:
    assert _json.dumps([value]) == f"[{value}]"


# ===================================================================================== fuzz


def check_packet(packet: Packet) -> None:
    """The rules every packet handed to the server obeys."""
    assert 0 <= packet.type <= 6
    assert isinstance(packet.nsp, str)
    assert packet.nsp.startswith("/")
    assert packet.id is None or (type(packet.id) is int and 0 <= packet.id <= MAX_SAFE)
    data = packet.data
    if packet.type == CONNECT:
        assert data is None or isinstance(data, dict)
    elif packet.type == DISCONNECT:
        assert data is None
    elif packet.type in (EVENT, BINARY_EVENT):
        assert type(data) is list
        assert data
        assert type(data[0]) in (str, int, float)
        assert data[0] not in RESERVED_EVENTS
    elif packet.type in (ACK, BINARY_ACK):
        assert type(data) is list
    else:
        assert data is None or isinstance(data, (str, dict))


placeholder_objects = st.fixed_dictionaries(
    {
        "_placeholder": st.just(True) | json_scalars,
        "num": st.integers(min_value=0, max_value=2)
        | st.integers(min_value=-2, max_value=12)
        | json_scalars
        | st.lists(json_scalars, max_size=2),
    }
)
fuzz_headers = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from("0123456" * 3 + "5566" * 3 + "789ab/ "),
    st.sampled_from(["", "1-", "1-", "2-", "3-", "0-", "10-", "11-", "a-", "1.5-", "-", "\u0661-"]),
    st.sampled_from(["", "/", "/admin,", "/x", ",", "/a,b,"]),
    st.sampled_from(["", "0", "7", "00", "9" * 17, str(MAX_SAFE), str(MAX_SAFE + 1), "-1"]),
)
fuzz_bodies = st.one_of(
    st.just(""),
    st.recursive(json_scalars | placeholder_objects, containers, max_leaves=12).map(_json.dumps),
    st.lists(
        st.sampled_from([*sorted(RESERVED_EVENTS), "error", "a", "a", 1])
        | placeholder_objects
        | json_values,
        max_size=5,
    ).map(_json.dumps),
    st.dictionaries(keys, json_values | placeholder_objects, max_size=3).map(_json.dumps),
    st.text(alphabet='[]{}",:0123456789.-eE+ nulltrfasNaIiy\\u_placeholdr', max_size=40),
    st.text(max_size=20),
)


@st.composite
def fuzz_texts(draw: st.DrawFn) -> str:
    text: str = draw(fuzz_headers) + draw(fuzz_bodies)
    if draw(st.booleans()):
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


@st.composite
def mutated_packets(draw: st.DrawFn) -> list[str | bytes]:
    """The messages of a valid packet, then maybe broken: a character replaced, inserted or
    cut off, an attachment dropped or repeated."""
    packet = draw(text_packets() | binary_packets())
    messages = encode(packet.type, packet.nsp, packet.data, packet.id)
    text = str(messages[0])
    how = draw(st.sampled_from(["none", "replace", "insert", "truncate", "drop", "repeat"]))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    char = draw(st.sampled_from('0123456789-/,[]{}":_' + "a\x00é") | st.characters())
    if how == "replace" and at < len(text):
        text = text[:at] + char + text[at + 1 :]
    elif how == "insert":
        text = text[:at] + char + text[at:]
    elif how == "truncate":
        text = text[:at]
    attachments = messages[1:]
    if how == "drop" and attachments:
        attachments.pop(draw(st.integers(min_value=0, max_value=len(attachments) - 1)))
    elif how == "repeat":
        attachments.append(draw(st.binary(max_size=4)))
    return [text, *attachments]


fuzz_messages = st.builds(
    lambda first, rest: [*first, *rest],
    mutated_packets() | fuzz_texts().map(lambda t: [t]),
    st.lists(st.binary(max_size=8) | fuzz_texts() | st.text(max_size=30), max_size=5),
)


@settings(CODEC, max_examples=400)
@given(messages=fuzz_messages)
def test_sio_decoder_returns_a_valid_packet_or_raises_protocol_error(
    messages: list[str | bytes],
) -> None:
    decoder = Decoder()
    for message in messages:
        try:
            if isinstance(message, str):
                result = decoder.decode_text(message)
            else:
                result = decoder.decode_binary(message)
        except ProtocolError:
            return  # the connection closes here
        if result is not None:
            check_packet(result)


@CODEC
@given(text=st.text() | st.binary())
def test_eio_decode_packet_of_anything_returns_or_raises_protocol_error(
    text: str | bytes,
) -> None:
    try:
        kind, data = decode_packet(text)
    except ProtocolError:
        return
    assert 0 <= kind <= 6
    assert isinstance(data, (str, bytes))


eio_fuzz_payloads = st.lists(
    st.sampled_from(["\x1e", "b", "4", "2", "6", "7", "=", "A", "Q", "/", "+", "é"])
    | st.text(max_size=10),
    max_size=30,
).map("".join)


@settings(CODEC, max_examples=300)
@given(payload=st.text() | eio_fuzz_payloads)
def test_eio_decode_payload_of_anything_returns_or_raises_protocol_error(payload: str) -> None:
    try:
        packets = decode_payload(payload)
    except ProtocolError:
        return
    assert len(packets) == payload.count(SEPARATOR) + 1
    for kind, data in packets:
        assert 0 <= kind <= 6
        assert isinstance(data, (str, bytes))
