"""Fuzz target: the Socket.IO v5 decoder, binary attachments included.

    python fuzz/fuzz_socketio.py [libFuzzer options] [corpus dir]

A stream of text and binary messages goes through one decoder, as on one connection: each
message gives a valid packet, None (attachments still missing) or a ProtocolError, after
which the connection would close. A decoded packet encodes back to the same packet.
``tests/fuzz`` runs the same checks under hypothesis.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if (_FUZZ_DIR := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.append(_FUZZ_DIR)  # loaded by tests/fuzz: find _common.py next to this file
from _common import Reader, fuzz, instrumented

with instrumented(__name__):
    from aiosocketio.errors import ProtocolError
    from aiosocketio.socketio.msgpack_parser import MsgpackParser, _exact
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
    )

MAX_SAFE_INTEGER = 2**53 - 1

# header and body pieces, so that mutations reach the deep branches quickly
TYPES = ("0", "1", "2", "3", "4", "5", "6", "7", "a", "")
ATTACHMENTS = ("", "1-", "2-", "3-", "0-", "10-", "11-", "-", "a-", "1.5-", "01-", "\u0661-")
NAMESPACES = ("", "/", "/admin,", "/admin", ",", "/a,b,", "/\u00e9,")
IDS = ("", "0", "12", "9007199254740991", "9007199254740992", "99999999999999999", "-1")
PLACEHOLDERS = (
    '{"_placeholder":true,"num":0}',
    '{"_placeholder":true,"num":1}',
    '{"_placeholder":true,"num":2}',
    '{"_placeholder":true,"num":-1}',
    '{"_placeholder":true,"num":"splice"}',
    '{"_placeholder":true,"num":0.5}',
    '{"_placeholder":true}',
    '{"_placeholder":1,"num":0}',
)
# nesting depths: the decoder refuses what the encoder could not write back
DEPTHS = (0, 1, 2, 3, 7, 254, 255, 256, 257, 600, 1100)
VALUES = (
    '"echo"',
    '"connect"',
    '"disconnecting"',
    '"error"',
    "1",
    "1.5",
    "1e400",
    "-0",
    "null",
    "true",
    "{}",
    "[]",
    '{"a":1}',
    '"\\ud800"',
    "123456789012345678901234567890",
    *PLACEHOLDERS,
)


# ---------------------------------------------------------------------------------- checks
def check_messages(messages: Sequence[str | bytes], max_attachments: int = 10) -> list[Packet]:
    """Feed one decoder; check every packet it gives. Returns the packets."""
    decoder = Decoder(max_attachments)
    out: list[Packet] = []
    for message in messages:
        try:
            if isinstance(message, str):
                packet = decoder.decode_text(message)
            else:
                packet = decoder.decode_binary(message)
        except ProtocolError:
            return out  # the connection closes here
        if packet is not None:
            check_packet(packet, max_attachments)
            out.append(packet)
    return out


def check_packet(packet: Packet, max_attachments: int = 10) -> None:
    _check_shape(packet)
    assert "," not in packet.nsp, packet.nsp  # the text form ends the namespace at a comma
    if packet.type in (BINARY_EVENT, BINARY_ACK):
        assert _placeholders(packet.data) == 0, packet.data  # every placeholder was replaced
    _check_round_trip(packet, max_attachments)


def _check_shape(packet: Packet) -> None:
    """The rules every decoded packet obeys, whatever the parser."""
    kind = packet.type
    assert type(kind) is int and 0 <= kind <= 6, kind
    assert isinstance(packet.nsp, str) and packet.nsp.startswith("/"), packet.nsp
    assert packet.id is None or (type(packet.id) is int and 0 <= packet.id <= MAX_SAFE_INTEGER)
    data = packet.data
    if kind in (EVENT, BINARY_EVENT):
        assert type(data) is list and data, data
        assert type(data[0]) in (str, int, float), data[0]
        assert data[0] not in RESERVED_EVENTS, data[0]
    elif kind in (ACK, BINARY_ACK):
        assert type(data) is list, data
    elif kind == CONNECT:
        assert data is None or type(data) is dict, data
    elif kind == CONNECT_ERROR:
        assert data is None or type(data) in (str, dict), data
    else:
        assert kind == DISCONNECT and data is None, packet


def _placeholders(value: Any) -> int:
    """How many live placeholder objects are left in a decoded value."""
    stack = [value]
    found = 0
    while stack:
        item = stack.pop()
        if type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            if item.get("_placeholder") is True:
                found += 1
            stack.extend(item.values())
    return found


def _finite(value: Any) -> bool:
    """False when a value holds a non-finite float (JSON writes them as null, as JS does)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float and not math.isfinite(item):
            return False
        if type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.values())
    return True


def _check_round_trip(packet: Packet, max_attachments: int) -> None:
    if not _finite(packet.data):
        return
    # senders say EVENT or ACK; the encoder makes them BINARY_* when the data holds bytes
    plain = {BINARY_EVENT: EVENT, BINARY_ACK: ACK}
    kind = plain.get(packet.type, packet.type)
    messages = encode(kind, packet.nsp, packet.data, packet.id)
    if len(messages) - 1 > max_attachments:
        return  # a packet with more binary parts than allowed cannot come back
    again = check_messages_strict(messages, max_attachments)
    assert plain.get(again.type, again.type) == kind, (packet, again)
    assert (again.nsp, again.id, again.data) == (packet.nsp, packet.id, packet.data), (
        packet,
        again,
    )


def check_messages_strict(messages: Sequence[str | bytes], max_attachments: int) -> Packet:
    """Decode what the encoder wrote: it must give exactly one packet, with no error."""
    decoder = Decoder(max_attachments)
    result: list[Packet] = []
    for message in messages:
        if isinstance(message, str):
            packet = decoder.decode_text(message)
        else:
            packet = decoder.decode_binary(message)
        if packet is not None:
            result.append(packet)
    assert len(result) == 1 and not decoder.reconstructing, messages
    return result[0]


# ---------------------------------------------------------------------------------- input
def _structured(r: Reader) -> str:
    head = r.pick(TYPES) + r.pick(ATTACHMENTS) + r.pick(NAMESPACES) + r.pick(IDS)
    shape = r.byte() % 4
    if shape == 0:
        body = r.text(32)
    elif shape == 1:
        body = "[" + ",".join(r.pick(VALUES) for _ in range(r.byte() % 5)) + "]"
    elif shape == 2:
        items = [f'"k{i}":{r.pick(VALUES)}' for i in range(r.byte() % 4)]
        body = "{" + ",".join(items) + "}"
    else:
        depth = r.pick(DEPTHS)
        closed = depth if r.byte() % 4 else r.byte() % (depth + 2)
        body = "[" * depth + r.pick(VALUES) + "]" * closed
    text = head + body
    if r.byte() % 8 == 0:
        text = text[: r.byte() % (len(text) + 1)]
    return text


# ---------------------------------------------------------------------------------- msgpack
# the format bytes of MessagePack extensions (a message with none has one meaning only)
EXT_BYTES = frozenset((0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8))


def check_msgpack(message: bytes) -> None:
    """One binary message for the msgpack parser (socket.io-msgpack-parser): a packet that
    obeys the rules, or ProtocolError; both of its decoders agree; the packet encodes back."""
    parser = MsgpackParser()
    decoder = parser.decoder()
    try:
        packet = decoder.decode_binary(message)
    except ProtocolError:
        packet = None
    if EXT_BYTES.isdisjoint(message):
        # the C fast path and the exact decoder written in Python read the same
        fast: Any = _outcome(decoder.unpack, message)
        exact: Any = _outcome(lambda data: _exact(data, decoder._msgpack), message)
        assert fast == exact, (message, fast, exact)
    if packet is None:
        return
    _check_shape(packet)
    assert packet.type <= CONNECT_ERROR, packet  # no BINARY_* packets in this format
    if not _plain(packet.data):
        return
    again = parser.decoder().decode_binary(
        parser.encode(packet.type, packet.nsp, packet.data, packet.id)[0]  # type: ignore[arg-type]
    )
    assert again is not None
    assert (again.type, again.nsp, again.id, again.data) == (
        packet.type,
        packet.nsp,
        packet.id,
        packet.data,
    ), (packet, again)


def _outcome(decode: Any, message: bytes) -> str:
    try:
        return repr(decode(message))
    except ProtocolError:
        return "ProtocolError"


def _plain(value: Any) -> bool:
    """False for values that do not come back equal: NaN, dates (written to the ms)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float and item != item:
            return False
        if isinstance(item, datetime.datetime):
            return False
        if type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.values())
            stack.extend(item.keys())
    return True


def _msgpack_message(r: Reader) -> bytes:
    """A packet map built from the input (any field may be missing or wrong), maybe mutated."""
    msgpack = importlib.import_module("msgpack")
    values: tuple[Any, ...] = (
        None,
        True,
        1,
        -1,
        2**63,
        1.5,
        2.0,
        float("nan"),
        "echo",
        "connect",
        b"\x00",
        [],
        {},
        {"a": 1},
        {1: 2},
        msgpack.ExtType(0, b"\x00"),  # undefined
        msgpack.ExtType(0, b"\x00" * 8),  # a Date (or an ArrayBuffer, as ext 8)
        msgpack.ExtType(0, b"abc"),  # an ArrayBuffer
        msgpack.ExtType(5, b"x"),
        msgpack.Timestamp(1, 5),
    )
    packet: dict[Any, Any] = {}
    if r.byte() % 8:
        packet["type"] = r.pick((0, 1, 2, 3, 4, 5, 2.0, "2", -1))
    if r.byte() % 8:
        packet["nsp"] = r.pick(("/", "/", "/admin", "/a,b", "x", "", 1))
    if r.byte() % 2:
        packet["id"] = r.pick((0, 1, MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -1, 1.5, 2.0))
    if r.byte() % 8:
        shape = r.byte() % 4
        if shape == 0:
            data: Any = r.pick(values)
        elif shape == 1:
            data = {"k": r.pick(values), r.pick(("a", 1, b"b")): r.pick(values)}
        else:
            data = [r.pick(("echo", "connect", "error", 1, None, 1.5))]
            data.extend(r.pick(values) for _ in range(r.byte() % 4))
        for _ in range(r.pick(DEPTHS) if r.byte() % 4 == 0 else 0):
            data = [data]
        packet["data"] = data
    try:
        message: bytes = msgpack.packb(packet, use_bin_type=True)
    except (ValueError, TypeError, OverflowError):
        message = r.chunk(32)
    for _ in range(r.byte() % 3):  # a byte changed, cut off or added
        if not message:
            break
        at = r.byte() % len(message)
        how = r.byte() % 3
        if how == 0:
            message = message[:at] + bytes((r.byte(),)) + message[at + 1 :]
        elif how == 1:
            message = message[:at]
        else:
            message = message[:at] + r.chunk(4) + message[at:]
    return message


def one_input(data: bytes) -> None:
    """The fuzz target: a few messages for one decoder, each text or binary; or one message
    for the msgpack parser."""
    r = Reader(data)
    choice = r.byte()
    if choice % 8 == 7:
        if importlib.util.find_spec("msgpack") is None:
            return  # an optional dependency
        check_msgpack(_msgpack_message(r) if choice & 0x80 else data[1:])
        return
    max_attachments = (10, 10, 10, 1, 2, 0)[choice % 8 % 6]
    messages: list[str | bytes] = []
    while r.more() and len(messages) < 16:
        how = r.byte() % 4
        if how == 0:
            messages.append(r.text())
        elif how == 1:
            messages.append(r.chunk(16))
        else:
            messages.append(_structured(r))
    check_messages(messages, max_attachments)


if __name__ == "__main__":
    fuzz(one_input)
