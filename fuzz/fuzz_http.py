"""Fuzz target: the standalone server's HTTP/1.1 and WebSocket handling, in process.

    python fuzz/fuzz_http.py [libFuzzer options] [corpus dir]

Each input is played by up to three clients over fake transports against a fresh Socket.IO
server (small limits, CORS, cookie, compression, dynamic namespaces): mostly well-formed
requests (handshakes, polls, posts, WebSocket upgrades followed by frames), then perhaps
mutated, cut into reads at any place. Nothing may escape the protocol objects, no error may
be logged, no answer may be a 500, every answer must be well framed, and once the clients
are gone the server must hold no session, connection, task or timer of the input.
``tests/fuzz`` runs the same target under hypothesis.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if (_FUZZ_DIR := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.append(_FUZZ_DIR)  # loaded by tests/fuzz: find _common.py next to this file
from _common import Reader, fuzz, instrumented

with instrumented(__name__):
    from aiosocketio.engine.http import Headers, Request
    from aiosocketio.errors import ProtocolError
    from aiosocketio.server.server import Server
    from aiosocketio.transport.http_protocol import HttpProtocol
    from aiosocketio.transport.standalone import StandaloneServer
    from aiosocketio.ws.deflate import Deflate, negotiate_client
    from aiosocketio.ws.frames import CLOSE, FrameParser, encode_frame

ORIGIN = "http://ok.example"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SEP = "\x1e"
ALLOWED_STATUSES = frozenset((100, 101, 200, 204, 400, 403, 404, 413, 417, 426, 431, 503))

METHODS = ("GET", "GET", "GET", "POST", "POST", "OPTIONS", "HEAD", "PUT", "PRI", "G\x7fT", "")
PATHS = (
    "/socket.io/",
    "/socket.io/",
    "/socket.io",
    "/socket.io//",
    "/",
    "/other",
    "*",
    "http://h/socket.io/",
    "/socket.io/%zz",
    "/soc\x00ket.io/",
)
EIO = ("4", "4", "4", "3", "", "x", None)
TRANSPORTS = ("polling", "polling", "websocket", "__proto__", "", None)
SIDS = (None, None, "sid0", "sid0", "sid1", "sid2", "bad", "")
EXTRAS = ("", "", "t=abc", "b64=1", "EIO=4&EIO=3", "%zz", "a=%E2%82", "x=+&y", "refuse=1", "#f")
ORIGINS = (None, None, ORIGIN, "http://evil.example", "null", "http://h\x01", "http://127.0.0.1")
OFFERS = (
    None,
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=20",
    "x",
)
CONTENT_TYPES = (None, None, "text/plain;charset=UTF-8", "application/octet-stream")
ENCODINGS = (None, "gzip", "deflate;q=0, *", "br")
EXPECTS = (None, None, None, "100-continue", "x")
PIECES = (
    "40",
    "40",
    '40{"token":1}',
    "40/dyn-1,",
    "40/dyn-2,{}",
    "40/nope,",
    "40/admin,",
    '42["echo",1]',
    '421["echo",{"a":[1,2]}]',
    '42["join","r"]',
    '42["burst"]',
    '451-["echo",{"_placeholder":true,"num":0}]',
    "bAQID",
    '430["x"]',
    "41",
    "41/dyn-1,",
    '44{"message":"x"}',
    '42["error",1]',
    "2",
    "3",
    "1",
    "6",
    "5",
    "4",
    "0",
    "2probe",
    "x",
    "",
)
WS_PIECES = (*PIECES, "2probe", "5", "3probe")
# seconds an input may let pass: past the close timeout, upgrade timeout, ping interval...
WAITS = (0.5, 1.5, 3.0, 11.0, 21.0, 26.0, 46.0)


# ---------------------------------------------------------------------------------- the server
class Failure(AssertionError):
    """Something that must never happen: an exception escaped, an error was logged..."""


class _Errors(logging.Handler):
    """Records every error logged by aiosocketio: each one is a bug the server swallowed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_errors = _Errors()
_logger = logging.getLogger("aiosocketio")


def make_server() -> tuple[Server, StandaloneServer]:
    """A Socket.IO server with small limits and every option that changes the code path."""

    def allow(request: Request) -> bool | str:
        return "no" if request.query.get("refuse") else True

    io = Server(
        max_http_buffer_size=2000,
        cors=[ORIGIN],
        cors_credentials=True,
        cookie=True,
        allow_request=allow,
        per_message_deflate={"threshold": 8},
        http_compression=16,
        max_buffer_size=50_000,
        max_pending_handlers=4,
        max_pending_acks=3,
        max_namespaces=2,
        max_connections=4,
        connect_timeout=30.0,
    )
    sids = iter(f"sid{n}" for n in range(1_000_000))
    io.engine.generate_id = lambda request: next(sids)  # sids that inputs can name
    io.of(re.compile(r"^/dyn-\d+$")).on_event("echo", lambda socket, *args: args)
    io.on_event("echo", lambda socket, *args: args)
    io.on_event("join", lambda socket, room: socket.join(str(room)))

    async def burst(socket: Any) -> None:
        for i in range(5):
            socket.emit("tick", i, callback=lambda *args: None)
        await asyncio.sleep(0)

    io.on_event("burst", burst)

    def fallback(request: Request) -> tuple[int, Headers, bytes]:
        return 200, [("Content-Type", "text/plain")], b"fallback"

    standalone = StandaloneServer(
        [io.engine],
        fallback=fallback,
        max_header_size=2048,
        max_headers=20,
        max_body_size=2000,
        keep_alive_timeout=0,
        ws_close_timeout=1.0,
    )
    return io, standalone


class FakeTransport(asyncio.Transport):
    """What asyncio's socket transport does, minus the socket."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.out = bytearray()
        self.protocol: Any = None
        self.closed = False
        self.eof_written = False
        self.reading = True
        self.lost = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return ("127.0.0.1", 40000 + self.index)
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")  # as asyncio
        if not self.lost:  # bytes written while closing still leave, as in asyncio
            self.out += data

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self._lose)

    def abort(self) -> None:
        self.close()

    def _lose(self) -> None:
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(None)

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading and not self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------- playing
@dataclass
class Outcome:
    """What each client saw: HTTP statuses, WebSocket close codes, whether it was closed."""

    statuses: list[list[int]] = field(default_factory=list)
    close_codes: list[list[int]] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)
    answered_before_eof: list[bool] = field(default_factory=list)
    sent: list[bool] = field(default_factory=list)


async def _settle(rounds: int = 8) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def play(segments: Sequence[tuple[int, bytes]], clients: int) -> Outcome:
    """Deliver the segments (client index, bytes) in order; check what the server did.

    A negative client index lets time pass (on a :class:`ClockLoop`) instead."""
    _logger.addHandler(_errors)
    try:
        return await _play(segments, clients)
    finally:
        _logger.removeHandler(_errors)


async def _play(segments: Sequence[tuple[int, bytes]], clients: int) -> Outcome:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    _errors.records.clear()
    tasks_before = asyncio.all_tasks()
    io, standalone = make_server()
    transports = []
    for index in range(clients):
        transport = FakeTransport(index)
        protocol = HttpProtocol(standalone)
        transport.protocol = protocol
        protocol.connection_made(transport)
        transports.append(transport)
    sent = [False] * clients
    for index, data in segments:
        await _settle(2)
        if index < 0:  # time passes: heartbeats, timeouts
            if isinstance(loop, ClockLoop):
                loop.offset += WAITS[data[0] % len(WAITS)]
            await _settle()
            continue
        transport = transports[index % clients]
        if transport.closed or not transport.reading:
            continue  # a real client's bytes would wait in the kernel
        sent[index % clients] = True
        transport.protocol.data_received(data)
    await _settle()
    # sessions end (pending long-polls get their answer), then the clients leave
    await _end_sessions(io)
    outcome = Outcome(sent=sent)
    for transport in transports:
        outcome.answered_before_eof.append(bool(transport.out) or transport.closed)
        if not transport.closed:
            transport.protocol.eof_received()
            transport.close()  # eof_received returned None: asyncio closes the transport
    await _settle()
    await io.close()
    await _end_sessions(io)  # polling sessions wait for a last GET that will not come
    for transport in transports:
        statuses, codes = check_output(bytes(transport.out))
        outcome.statuses.append(statuses)
        outcome.close_codes.append(codes)
        outcome.closed.append(transport.closed)
    _check_clean(io, standalone, tasks_before, loop_errors)
    return outcome


async def _end_sessions(io: Server) -> None:
    """Close every session now; requests queued behind a long-poll may open new ones."""
    for _ in range(4):
        if not io.engine.sessions:
            return
        for esock in list(io.engine.sessions.values()):
            esock.close("forced server close")
            esock._finish_close()
        await _settle()


def _check_clean(
    io: Server,
    standalone: StandaloneServer,
    tasks_before: set[asyncio.Task[Any]],
    loop_errors: list[dict[str, Any]],
) -> None:
    if loop_errors:
        raise Failure(f"error reported to the event loop: {loop_errors[0]}")
    if _errors.records:
        record = _errors.records[0]
        raise Failure(f"error logged: {record.getMessage()}\n{record.exc_text or ''}")
    if io.engine.sessions:
        raise Failure(f"sessions left: {list(io.engine.sessions)}")
    if standalone.connections:
        raise Failure(f"connections left: {standalone.connections}")
    for nsp in io.namespaces.values():
        if nsp.sockets or nsp.adapter.rooms or nsp.adapter.sids:
            raise Failure(f"sockets or rooms left in {nsp.name}")
    left = asyncio.all_tasks() - tasks_before
    if left:
        raise Failure(f"tasks left: {left}")


def _check_timers(loop: asyncio.AbstractEventLoop) -> None:
    """No timer of the input may still be armed once it is over."""
    timers = [h for h in getattr(loop, "_scheduled", ()) if not h.cancelled()]
    if timers:
        raise Failure(f"timers left: {timers}")


def check_output(out: bytes) -> tuple[list[int], list[int]]:
    """Parse what the server wrote to one client: HTTP answers, then after a 101 the frames
    of a WebSocket. Returns the statuses and the close codes."""
    statuses: list[int] = []
    pos = 0
    while pos < len(out):
        end = out.find(b"\r\n\r\n", pos)
        if end < 0:
            raise Failure(f"incomplete HTTP head: {out[pos : pos + 200]!r}")
        lines = out[pos:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or not parts[1].isdigit():
            raise Failure(f"bad status line: {lines[0]!r}")
        status = int(parts[1])
        statuses.append(status)
        if status not in ALLOWED_STATUSES:
            raise Failure(f"HTTP {status}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise Failure(f"bad header line: {line!r}")
            if "\r" in value or "\n" in value:
                raise Failure(f"header value with a line break: {line!r}")
            headers[name.lower()] = value.strip()
        pos = end + 4
        if status == 101:
            return statuses, _check_frames(out[pos:], headers.get("sec-websocket-extensions"))
        if status < 200 or status in (204, 304):
            continue
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise Failure(f"answer without a valid Content-Length: {lines!r}")
        if pos == len(out) or out.startswith(b"HTTP/1.1 ", pos):
            continue  # the answer to a HEAD request: no body (no body here starts so)
        pos += int(length)
        if pos > len(out):
            raise Failure("body shorter than its Content-Length")
    return statuses, []


def _check_frames(data: bytes, extensions: str | None) -> list[int]:
    deflate = None
    if extensions is not None:
        try:
            deflate = Deflate(negotiate_client(extensions), client_side=True)
        except ProtocolError as exc:
            raise Failure(f"the server accepted extensions badly: {exc}") from None
    parser = FrameParser(client_side=True, max_message_size=1 << 30, deflate=deflate)
    try:
        messages = parser.feed(data)
    except ProtocolError as exc:
        raise Failure(f"the server wrote an invalid frame: {exc}") from None
    codes = []
    for opcode, payload in messages:
        if opcode == CLOSE:
            assert isinstance(payload, bytes)
            codes.append(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005)
    return codes


# ---------------------------------------------------------------------------------- input
def _query(r: Reader) -> str:
    items = []
    for name, options in (("EIO", EIO), ("transport", TRANSPORTS), ("sid", SIDS)):
        value = r.pick(options)
        if value is not None:
            items.append(f"{name}={value}")
    extra = r.pick(EXTRAS)
    if extra:
        items.insert(r.byte() % (len(items) + 1), extra)
    return "&".join(items)


def _payload(r: Reader) -> bytes:
    how = r.byte() % 8
    if how == 0:
        return r.chunk(100)
    if how == 1:
        return b"4" + b"x" * 2100  # over max_http_buffer_size
    return SEP.join(r.pick(PIECES) for _ in range(1 + r.byte() % 4)).encode()


# scripted steps: (client, method, query, WebSocket upgrade, body, first WebSocket messages)
Step = tuple[int, str, str, bool, bytes | None, tuple[str, ...]]
HANDSHAKE = "EIO=4&transport=polling"
POLL = "EIO=4&transport=polling&sid=sid0"
SCRIPTS: tuple[tuple[Step, ...], ...] = (
    (  # a long-polling session
        (0, "GET", HANDSHAKE, False, None, ()),
        (0, "POST", POLL, False, b"40", ()),
        (0, "GET", POLL, False, None, ()),
        (0, "POST", POLL, False, None, ()),
        (0, "GET", POLL, False, None, ()),
    ),
    (  # the upgrade of a long-polling session while a GET is pending
        (0, "GET", HANDSHAKE, False, None, ()),
        (0, "POST", POLL, False, b"40", ()),
        (1, "GET", POLL, False, None, ()),
        (2, "GET", "EIO=4&transport=websocket&sid=sid0", True, None, ("2probe", "5")),
        (0, "POST", POLL, False, None, ()),
    ),
    (  # a WebSocket session
        (0, "GET", "EIO=4&transport=websocket", True, None, ("40",)),
    ),
)


def build_request(r: Reader, step: Step | None = None) -> tuple[bytes, bool, bool]:
    """One request: (bytes, framed correctly, is a WebSocket upgrade). A scripted ``step``
    fixes the method, the target, the upgrade and maybe the body."""
    if step is None:
        method = r.pick(METHODS)
        target = r.pick(PATHS)
        query = _query(r)
    else:
        method, target, query = step[1], "/socket.io/", step[2]
    if query:
        target += "?" + query
    headers: list[tuple[str, str]] = []
    if step is not None or r.byte() % 8:
        headers.append(("Host", r.pick(("127.0.0.1", "ok.example", ""))))
    origin = None if step is not None else r.pick(ORIGINS)
    if origin is not None:
        headers.append(("Origin", origin))
    upgrade = step[3] if step is not None else "transport=websocket" in query and r.byte() % 4 != 0
    if upgrade and step is not None:
        headers.append(("Upgrade", "websocket"))
        headers.append(("Connection", "Upgrade"))
        headers.append(("Sec-WebSocket-Key", KEY))
        headers.append(("Sec-WebSocket-Version", "13"))
        offer = r.pick(OFFERS)
        if offer is not None:
            headers.append(("Sec-WebSocket-Extensions", offer))
    elif upgrade:
        headers.append(("Upgrade", r.pick(("websocket", "websocket", "WebSocket", "h2c"))))
        headers.append(("Connection", r.pick(("Upgrade", "Upgrade", "keep-alive, Upgrade", "x"))))
        headers.append(("Sec-WebSocket-Key", r.pick((KEY, KEY, KEY, "short", ""))))
        headers.append(("Sec-WebSocket-Version", r.pick(("13", "13", "13", "8"))))
        offer = r.pick(OFFERS)
        if offer is not None:
            headers.append(("Sec-WebSocket-Extensions", offer))
    elif r.byte() % 16 == 0:
        headers.append(("Upgrade", "h2c"))
        headers.append(("Connection", "Upgrade, HTTP2-Settings"))
    for name, options in (
        ("Content-Type", CONTENT_TYPES),
        ("Accept-Encoding", ENCODINGS),
        ("Expect", EXPECTS),
    ):
        value = r.pick(options)
        if value is not None:
            headers.append((name, value))
    if r.byte() % 16 == 0:
        headers.append(("Connection", "close"))
    if r.byte() % 32 == 0:
        headers.extend((f"X-{i}", "v") for i in range(21))  # over max_headers
    if r.byte() % 32 == 0:
        headers.append(("X-Big", "v" * 2100))  # over max_header_size
    if step is not None and step[4] is not None:
        body = step[4]
    elif method in ("POST", "PUT") or (step is None and r.byte() % 16 == 0):
        body = _payload(r)
    else:
        body = b""
    framed = method != "PRI"  # llhttp waits for the rest of an HTTP/2 preface
    framing = r.byte() % 8
    if framing == 0 and body:
        headers.append(("Transfer-Encoding", "chunked"))
        size = 1 + r.byte() % 16
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    elif framing == 1:
        headers.append(("Content-Length", r.pick(("-1", "abc", "99999999999999999999", "1"))))
        framed = False
    elif body or method in ("POST", "PUT"):
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {target} HTTP/1.{r.pick('1110')}\r\n"
    head += "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body, framed, upgrade


def build_frames(r: Reader, first: Sequence[str] = ()) -> bytes:
    """Masked client frames after an upgrade: Engine.IO packets, attachments, controls;
    the ``first`` messages first."""
    out = [encode_frame(1, text.encode(), mask=r.chunk(4).ljust(4, b"\x01")) for text in first]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    for _ in range(1 + r.byte() % 6):
        how = r.byte() % 10
        mask = r.chunk(4).ljust(4, b"\x01")
        if how == 0:
            out.append(encode_frame(2, r.chunk(32), mask=mask))
        elif how == 1:
            code = r.pick((1000, 1001, 4000, 1005, 999, 1004))
            payload = b"" if code == 1005 else code.to_bytes(2, "big") + r.chunk(8)
            out.append(encode_frame(CLOSE, payload, mask=mask))
        elif how == 2:
            out.append(encode_frame(9, r.chunk(8), mask=mask))
        elif how == 3:
            data = r.pick(WS_PIECES).encode()
            data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            out.append(encode_frame(1, data[:-4], rsv1=True, mask=mask))
        elif how == 4:
            text = r.pick(WS_PIECES).encode()
            cut = r.byte() % (len(text) + 1)
            out.append(encode_frame(1, text[:cut], fin=False, mask=mask))
            out.append(encode_frame(0, text[cut:], mask=mask))
        elif how == 5:
            out.append(r.chunk(12))  # garbage
        else:
            out.append(encode_frame(1, r.pick(WS_PIECES).encode(), mask=mask))
    return b"".join(out)


def _mutate(r: Reader, data: bytes) -> bytes:
    how = r.byte() % 5
    if not data:
        return data
    at = (r.byte() << 8 | r.byte()) % len(data)
    if how == 0:
        return data[:at] + bytes((r.byte(),)) + data[at + 1 :]
    if how == 1:
        return data[:at]
    if how == 2:
        return data[:at] + r.chunk(8) + data[at:]
    if how == 3:
        return data.replace(b"\r\n", b"\n", 1 + r.byte() % 4)
    return data[:at] + data[at + 1 :]


def build_input(
    r: Reader, *, well_formed: bool = False
) -> tuple[list[tuple[int, bytes]], int, bool]:
    """The segments of an input, the number of clients, and whether every request is
    complete and well framed (then each client must get an answer or be closed).
    ``well_formed`` leaves out raw bytes, mutations and requests framed wrong."""
    clients = 1 + r.byte() % 3
    if r.byte() % 16 == 0 and not well_formed:  # raw bytes for one client
        rest = r.data[r.pos :]
        r.pos = len(r.data)
        return [(0, rest)], 1, False
    segments: list[tuple[int, bytes]] = []
    complete = True
    script = list(r.pick(SCRIPTS)) if r.byte() % 2 else []
    if script:
        clients = 3
    upgraded = [False] * clients
    pieces = 0
    while r.more() and pieces < 12:
        pieces += 1
        step = script.pop(0) if script else None
        index = step[0] if step is not None else r.byte() % (clients + 1)
        if index == clients:
            segments.append((-1, bytes((r.byte(),))))
            continue
        if upgraded[index]:
            data = build_frames(r)
        else:
            data, framed, upgrade = build_request(r, step)
            if well_formed and not framed:
                continue
            complete = complete and framed
            upgraded[index] = upgrade
            if upgrade and step is not None:
                data += build_frames(r, step[5])
        if r.byte() % 8 == 0 and not well_formed:
            data = _mutate(r, data)
            complete = False
        size = 1 + r.byte() % 40 if r.byte() % 4 == 0 else len(data)
        size = max(size, -(-len(data) // 16), 1)  # at most 16 reads for one piece
        segments.extend((index, data[at : at + size]) for at in range(0, len(data), size))
    return segments, clients, complete


class ClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock an input can move forward, so that timers fire at once.

    The harness only ever waits with ``sleep(0)``, so the loop never blocks on its clock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset


_loop: ClockLoop | None = None


def event_loop() -> ClockLoop:
    """This module's event loop (created on first use, see :func:`close`)."""
    global _loop
    if _loop is None:
        _loop = ClockLoop()
    return _loop


def run(data: bytes, *, well_formed: bool = False) -> tuple[Outcome, bool]:
    """Play one input on this module's event loop."""
    loop = event_loop()
    segments, clients, complete = build_input(Reader(data), well_formed=well_formed)
    outcome = loop.run_until_complete(play(segments, clients))
    _check_timers(loop)
    return outcome, complete


def close() -> None:
    """Close this module's event loop."""
    global _loop
    if _loop is not None:
        _loop.close()
        _loop = None


def one_input(data: bytes) -> None:
    """The fuzz target."""
    outcome, complete = run(data)
    if complete:
        for answered, sent in zip(outcome.answered_before_eof, outcome.sent, strict=True):
            if sent and not answered:
                raise Failure("a client with complete requests got no answer")


if __name__ == "__main__":
    fuzz(one_input)
