"""Engine options with the official socket.io-client (Node): per_message_deflate, cookie,
http_compression, allow_request, transports and allow_upgrades.

Each test starts a Server with the options, runs one ``scenarios/options_*.js`` script and
checks what both sides saw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.engine.http import Request

RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]
ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]

pytestmark = pytest.mark.interop


def one(lines: list[dict[str, Any]], ev: str) -> dict[str, Any]:
    found = [line for line in lines if line.get("ev") == ev]
    assert len(found) == 1, (ev, lines)
    return found[0]


def big_text(seed: int) -> str:
    """The same text as ``bigText(seed)`` in the scenarios: 100 KiB, compressible."""
    lines = [
        f"line {i} seed {seed}: the quick brown fox jumps over the lazy dog" for i in range(2000)
    ]
    return "\n".join(lines)[: 100 * 1024]


def big_events(io: Server, received: list[str]) -> None:
    """ "big" acks its text back, "small" acks a short answer, "push-me" sends big_text."""

    def on_connection(socket: Socket) -> None:
        def big(text: str) -> str:
            received.append(text)
            return text

        socket.on("big", big)
        socket.on("small", lambda text: text + "!")
        socket.on("push-me", lambda seed: socket.emit("pushed", big_text(seed), "tiny"))

    io.on("connection", on_connection)


# ---------------------------------------------------------------------- per_message_deflate
@pytest.mark.parametrize(
    ("mode", "deflate"),
    [("websocket", True), ("upgrade", True), ("websocket", False)],
)
async def test_per_message_deflate_with_the_official_client(
    serve: ServerFactory, run_node: RunNode, mode: str, deflate: bool
) -> None:
    io, port = await serve(per_message_deflate=deflate)
    received: list[str] = []
    big_events(io, received)
    lines = await run_node("options_deflate", port, mode)
    ws = one(lines, "ws")
    assert ws["transport"] == "websocket"
    # engine.io-client's default: the ws package offers permessage-deflate, threshold 1024
    assert ws["offered"] == {"threshold": 1024}
    assert ws["extensions"] == ("permessage-deflate" if deflate else "")
    assert one(lines, "big-ack") == {"ev": "big-ack", "same": True, "length": 100 * 1024}
    assert one(lines, "small-ack")["value"] == "hi!"
    assert one(lines, "pushed") == {"ev": "pushed", "same": True, "tiny": "tiny"}
    assert received == [big_text(1)]
    wire = one(lines, "bytes")
    # 100 KiB went up and 200 KiB came down: compressed both ways, or not at all
    if deflate:
        assert wire["written"] < 25_000 and wire["read"] < 50_000, wire
    else:
        assert wire["written"] > 100 * 1024 and wire["read"] > 200 * 1024, wire


# ---------------------------------------------------------------------- cookie
@pytest.mark.parametrize("mode", ["polling", "upgrade", "fetch"])
async def test_cookie_is_sent_back_by_the_official_client(
    serve: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await serve(cookie=True)
    seen: list[tuple[str, str, str | None, str | None]] = []

    @io.on_headers
    def record(headers: list[tuple[str, str]], request: Request) -> None:
        seen.append(
            (
                request.method,
                request.query.get("transport", ""),
                request.query.get("sid"),
                request.headers.get("cookie"),
            )
        )

    io.on("connection", lambda socket: socket.on("hello", lambda n: n + 1))
    lines = await run_node("options_cookie", port, mode)
    result = one(lines, "connected")
    sid = result["sid"]
    assert result["answer"] == 2
    assert result["transport"] == ("websocket" if mode == "upgrade" else "polling")
    # the handshake had no cookie; every later request of the session brings io=<sid>
    assert seen[0] == ("GET", "polling", None, None)
    later = seen[1:]
    assert later and all(s == sid and cookie == f"io={sid}" for _, _, s, cookie in later), seen
    if mode == "upgrade":
        assert ("GET", "websocket", sid, f"io={sid}") in later


# ---------------------------------------------------------------------- http_compression
async def test_http_compression_with_the_fetch_transport(
    serve: ServerFactory, run_node: RunNode
) -> None:
    io, port = await serve()
    received: list[str] = []
    big_events(io, received)
    answers: list[tuple[str, str | None, str | None]] = []

    @io.on_headers
    def record(headers: list[tuple[str, str]], request: Request) -> None:
        encoding = next((v for n, v in headers if n == "Content-Encoding"), None)
        answers.append((request.method, request.headers.get("accept-encoding"), encoding))

    lines = await run_node("options_compression", port, "fetch")
    assert one(lines, "pushed") == {"ev": "pushed", "same": True, "length": 100 * 1024}
    assert one(lines, "big-ack")["same"] is True
    assert received == [big_text(4)]
    # Node's fetch() asks for gzip; the two answers with 100 KiB were gzipped, the rest not
    assert all("gzip" in (accept or "") for _, accept, _ in answers), answers
    gets = [encoding for method, _, encoding in answers if method == "GET"]
    assert gets.count("gzip") == 2, answers
    assert set(gets) == {"gzip", None}


async def test_no_http_compression_for_the_xhr_transport(
    serve: ServerFactory, run_node: RunNode
) -> None:
    io, port = await serve()
    big_events(io, [])
    encodings: list[str | None] = []

    @io.on_headers
    def record(headers: list[tuple[str, str]], request: Request) -> None:
        encodings.append(next((v for n, v in headers if n == "Content-Encoding"), None))

    lines = await run_node("options_compression", port, "polling")
    assert one(lines, "pushed")["same"] is True
    # Node's XMLHttpRequest sends no Accept-Encoding (and would not inflate)
    assert set(encodings) == {None}


# ---------------------------------------------------------------------- allow_request
@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_allow_request_with_the_official_client(
    serve: ServerFactory, run_node: RunNode, mode: str
) -> None:
    errors: list[tuple[int, str, dict[str, Any]]] = []

    async def allow(request: Request) -> bool | str:
        return True if request.query.get("token") == "good" else "bad token"

    io, port = await serve(allow_request=allow)
    io.on_connection_error(
        lambda request, code, message, context: errors.append((code, message, context))
    )
    assert one(await run_node("options_refused", port, mode, "good"), "connect")
    refusal = one(await run_node("options_refused", port, mode, "bad"), "connect_error")
    assert errors == [(4, "Forbidden", {"message": "bad token"})]
    assert refusal["type"] == "TransportError"
    if mode == "polling":
        # as with the Node server: the XHR fails with the 403 status
        assert refusal["message"] == "xhr poll error"
        assert refusal["description"] == 403
    else:
        # the Node server answers "400 Bad Request"; aiosocketio answers 403 (with JSON)
        assert refusal["message"] == "websocket error"
        assert "403" in refusal["description"]


# ---------------------------------------------------------------------- transports
@pytest.mark.parametrize(
    ("options", "mode", "expected"),
    [
        ({"transports": ["polling"]}, "upgrade", {"transport": "polling", "upgrades": []}),
        ({"allow_upgrades": False}, "upgrade", {"transport": "polling", "upgrades": []}),
        ({}, "upgrade", {"transport": "websocket", "upgrades": ["websocket"]}),
        ({"transports": ["websocket"]}, "websocket", {"transport": "websocket", "upgrades": []}),
        ({"transports": ["websocket"]}, "upgrade", None),
    ],
    ids=["polling-only", "no-upgrades", "default", "websocket-only", "websocket-only-refused"],
)
async def test_transports_with_the_official_client(
    serve: ServerFactory,
    run_node: RunNode,
    options: dict[str, Any],
    mode: str,
    expected: dict[str, Any] | None,
) -> None:
    _io, port = await serve(**options)
    lines = await run_node("options_transports", port, mode)
    if expected is None:
        # the long-polling handshake is refused with code 0 ("Transport unknown", HTTP 400)
        refusal = one(lines, "connect_error")
        assert refusal["message"] == "xhr poll error"
        assert refusal["description"] == 400
        return
    result = one(lines, "connected")
    assert {"transport": result["transport"], "upgrades": result["upgrades"]} == expected
