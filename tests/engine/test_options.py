"""Engine options, each checked against what Node engine.io 6.6 (with the ``cors`` and
``cookie`` packages it uses) writes on the wire: cookie, allow_request, header hooks,
http_compression, per_message_deflate, cors, transports, and Socket.IO's connect_timeout.

Where aiosocketio deliberately differs from Node, the test says so next to the assertion.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.engine.http import CorsPolicy, Request, choose_encoding
from aiosocketio.engine.socket import Outgoing
from aiosocketio.ws.deflate import Deflate, DeflateParams
from aiosocketio.ws.frames import TEXT, FrameParser
from helpers import (
    EIO,
    HttpConnection,
    Response,
    WsConnection,
    WsRejected,
    eio_open,
    http_request,
    open_packet,
    poll_url,
    ws_url,
)

HANDSHAKE = f"{EIO}?EIO=4&transport=polling"
# what ws (and so engine.io-client in Node) offers by default
WS_OFFER = "permessage-deflate; client_max_window_bits"
NODE_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


def values(response: Response, name: str) -> list[str]:
    """Every value of one header, in order (repeated headers are not joined)."""
    return [v for n, v in response.raw_headers if n.lower() == name]


def cors_part(response: Response) -> list[tuple[str, str]]:
    """The CORS headers and Vary, lower-cased names, sorted."""
    return sorted(
        (n.lower(), v)
        for n, v in response.raw_headers
        if n.lower().startswith("access-control-") or n.lower() == "vary"
    )


async def refused(port: int, target: str, headers: list[tuple[str, str]] | None = None) -> Any:
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, target, headers=headers)
    return info.value.response


# ---------------------------------------------------------------------- 1. cookie
async def test_cookie_off_by_default(serve, echo):
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE)
        assert response.status == 200
        assert values(response, "set-cookie") == []
    async with await WsConnection.open(port, ws_url()) as ws:
        assert ws.response is not None
        assert values(ws.response, "set-cookie") == []


async def test_cookie_true(serve, echo):
    app = echo(cookie=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE)
        sid = open_packet(response.body)["sid"]
        # the exact string of Node's cookie.serialize("io", sid, {path, httpOnly, sameSite})
        assert values(response, "set-cookie") == [f"io={sid}; Path=/; HttpOnly; SameSite=Lax"]
        # only the handshake sets it
        response = await conn.request("POST", poll_url(sid), body="4x")
        assert response.body == b"ok" and values(response, "set-cookie") == []
        response = await conn.request("GET", poll_url(sid))
        assert response.text == "4x" and values(response, "set-cookie") == []
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            assert ws.response is not None
            assert values(ws.response, "set-cookie") == []
    # a WebSocket-only handshake gets its cookie on the 101 (Node 6.6 leaves it out there:
    # it sets the cookie in a transport "headers" listener that its ws transport never calls)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        assert ws.response is not None
        assert values(ws.response, "set-cookie") == [f"io={sid}; Path=/; HttpOnly; SameSite=Lax"]


COOKIES = [
    # each expected value is what Node engine.io 6.6 sends for the same options
    ({"name": "x"}, "x={sid}; Path=/; HttpOnly; SameSite=Lax"),
    (
        {
            "name": "srv",
            "path": "/app",
            "domain": "example.com",
            "max_age": 3600,
            "httponly": False,
            "secure": True,
            "samesite": "strict",
        },
        "srv={sid}; Max-Age=3600; Domain=example.com; Path=/app; Secure; SameSite=Strict",
    ),
    ({"samesite": "none", "path": False}, "io={sid}; HttpOnly; SameSite=None"),
    ({"samesite": False}, "io={sid}; Path=/; HttpOnly"),
]


async def test_cookie_options(serve, echo):
    for cookie, expected in COOKIES:
        port = await serve(echo(cookie=cookie))
        response = await http_request(port, "GET", HANDSHAKE)
        sid = open_packet(response.body)["sid"]
        assert values(response, "set-cookie") == [expected.format(sid=sid)]


# ---------------------------------------------------------------------- 2. allow_request
def _sync(result: Any) -> Any:
    return lambda request: result


def _async(result: Any) -> Any:
    async def check(request: Request) -> Any:
        await asyncio.sleep(0.01)
        return result

    return check


def _raises(request: Request) -> Any:
    raise RuntimeError("secret database password in a traceback")


async def _raises_later(request: Request) -> Any:
    await asyncio.sleep(0)
    raise RuntimeError("secret database password in a traceback")


FORBIDDEN = {"code": 4, "message": "Forbidden"}
ALLOW_CASES = [
    (_sync(True), None),
    (_sync(False), FORBIDDEN),
    (_sync("not today"), {"code": 4, "message": "not today"}),
    (_async(True), None),
    (_async(False), FORBIDDEN),
    (_async("come back later"), {"code": 4, "message": "come back later"}),
    # an exception refuses, without showing its text to the client
    (_raises, FORBIDDEN),
    (_raises_later, FORBIDDEN),
]


async def test_allow_request(serve, echo, caplog):
    app = echo()
    port = await serve(app)
    for check, refusal in ALLOW_CASES:
        app.engine.allow_request = check
        response = await http_request(port, "GET", HANDSHAKE)
        if refusal is None:
            assert response.status == 200
            open_packet(response.body)
            async with await WsConnection.open(port, ws_url()) as ws:
                open_packet(await ws.recv())
            continue
        # exactly Node's abortRequest(): 403, application/json, {"code":4,"message":...}
        assert response.status == 403
        assert response.headers["content-type"] == "application/json"
        assert response.json() == refusal
        # a direct WebSocket handshake is refused the same way (Node answers these with
        # "400 Bad Request", text/html and the bare message: aiosocketio keeps the JSON)
        rejection = await refused(port, ws_url())
        assert rejection.status == 403
        assert rejection.json() == refusal
    assert len(app.sockets) == 4
    # the exceptions were logged (twice each: polling, WebSocket)
    logged = [r for r in caplog.records if r.getMessage() == "error in allow_request"]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == [
        "secret database password in a traceback"
    ] * 4


async def test_allow_request_checks_handshakes_only(serve, echo):
    seen: list[tuple[str, str | None, str | None]] = []

    def check(request: Request) -> bool:
        seen.append(
            (request.query["transport"], request.query.get("token"), request.headers.get("x-app"))
        )
        return len(seen) == 1  # the first handshake only

    app = echo(allow_request=check)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE + "&token=t1", headers={"X-App": "a"})
        sid = open_packet(response.body)["sid"]
        # requests of an existing session are not checked again (Node: verify() only calls
        # allowRequest when there is no sid)
        assert (await conn.request("POST", poll_url(sid), body="4one")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4one"
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            await ws.upgrade()
            ws.send_text("4upgraded")
            assert await ws.recv() == "4upgraded"
        assert seen == [("polling", "t1", "a")]
        # a new handshake is checked (and refused now)
        assert (await conn.request("GET", HANDSHAKE)).status == 403
    assert len(seen) == 2


# ---------------------------------------------------------------------- 3. hooks
async def test_header_hooks(serve, echo):
    app = echo()

    def initial(headers: list[tuple[str, str]], request: Request) -> None:
        headers.append(("X-Initial", request.query["transport"]))

    def every(headers: list[tuple[str, str]], request: Request) -> None:
        headers.append(("X-Every", f"{request.method} {request.query.get('n')}"))
        # a hook sees (and may change) what the engine wrote before it
        if any(n == "X-Initial" for n, _ in headers):
            headers.append(("x-saw-initial", "yes"))

    app.engine.initial_headers_hooks.append(initial)
    app.engine.headers_hooks.append(every)
    port = await serve(app)

    def hooked(response: Response) -> list[tuple[str, str]]:
        return [(n.lower(), v) for n, v in response.raw_headers if n.lower().startswith("x-")]

    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE)
        sid = open_packet(response.body)["sid"]
        assert hooked(response) == [
            ("x-initial", "polling"),
            ("x-every", "GET None"),
            ("x-saw-initial", "yes"),
        ]
        response = await conn.request("POST", poll_url(sid) + "&n=2", body="4x")
        assert hooked(response) == [("x-every", "POST 2")]
        # the hooks get the request being answered (not the session's first one)
        response = await conn.request("GET", poll_url(sid) + "&n=3")
        assert hooked(response) == [("x-every", "GET 3")]
        # the upgrade of a session is not a handshake (Node: initial_headers only without sid)
        async with await WsConnection.open(port, ws_url(sid) + "&n=4") as ws:
            assert ws.response is not None
            assert hooked(ws.response) == [("x-every", "GET 4")]
        # error answers do not go through the hooks (Node's abortRequest() writes them alone)
        response = await conn.request("GET", poll_url("unknown"))
        assert response.status == 400 and hooked(response) == []
    async with await WsConnection.open(port, ws_url()) as ws:
        assert ws.response is not None
        assert hooked(ws.response) == [
            ("x-initial", "websocket"),
            ("x-every", "GET None"),
            ("x-saw-initial", "yes"),
        ]


async def test_connection_error_hook_gets_each_code(serve, echo):
    errors: list[tuple[str, int, str, dict[str, Any]]] = []
    app = echo(allow_request=lambda request: "no" if "deny" in request.query else True)
    app.engine.connection_error_hooks.append(
        lambda request, code, message, context: errors.append(
            (request.query_string, code, message, context)
        )
    )
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        for method, query in [
            ("GET", "EIO=4&transport=carrier-pigeon"),
            ("GET", "EIO=4&transport=polling&sid=nope"),
            ("POST", "EIO=4&transport=polling"),
            ("GET", "EIO=4&transport=websocket"),
            ("GET", "EIO=4&transport=polling&deny=1"),
            ("GET", "EIO=3&transport=polling"),
        ]:
            response = await conn.request(method, f"{EIO}?{query}", body="x" * (method == "POST"))
            assert response.status in (400, 403)
        # a session on WebSocket asked for with long-polling: TRANSPORT_MISMATCH
        async with await WsConnection.open(port, ws_url()) as ws:
            sid = open_packet(await ws.recv())["sid"]
            response = await conn.request("GET", poll_url(sid))
            assert response.json() == {"code": 3, "message": "Bad request"}
    await refused(port, ws_url() + "&deny=1")
    # the message is always the standard one, the details are in the context: the same
    # values as Node's connection_error event ({req, code, message, context})
    assert [(code, message, context) for _, code, message, context in errors] == [
        (0, "Transport unknown", {"transport": "carrier-pigeon"}),
        (1, "Session ID unknown", {"sid": "nope"}),
        (2, "Bad handshake method", {"method": "POST"}),
        (3, "Bad request", {"name": "TRANSPORT_HANDSHAKE_ERROR"}),
        (4, "Forbidden", {"message": "no"}),
        (5, "Unsupported protocol version", {"protocol": 3}),
        (
            3,
            "Bad request",
            {
                "name": "TRANSPORT_MISMATCH",
                "transport": "polling",
                "previousTransport": "websocket",
            },
        ),
        (4, "Forbidden", {"message": "no"}),
    ]
    assert errors[0][0] == "EIO=4&transport=carrier-pigeon"


async def test_server_hook_decorators():
    io = Server(
        allow_request=lambda request: request.headers.get("x-key") == "k",
        connect_timeout=5,
    )
    errors: list[tuple[int, str, dict[str, Any]]] = []

    @io.on_connection_error
    def on_error(request: Request, code: int, message: str, context: dict[str, Any]) -> None:
        errors.append((code, message, context))

    @io.on_initial_headers
    def on_initial(headers: list[tuple[str, str]], request: Request) -> None:
        headers.append(("X-Handshake", "1"))

    @io.on_headers
    def on_headers(headers: list[tuple[str, str]], request: Request) -> None:
        headers.append(("X-Any", "1"))

    port = (await io.start("127.0.0.1", 0)).port
    try:
        async with await HttpConnection.open(port) as conn:
            path = "/socket.io/"
            response = await conn.request(
                "GET", f"{path}?EIO=4&transport=polling", headers={"X-Key": "k"}
            )
            sid = open_packet(response.body)["sid"]
            assert values(response, "x-handshake") == ["1"] and values(response, "x-any") == ["1"]
            response = await conn.request("POST", poll_url(sid, path), body="40")
            assert values(response, "x-handshake") == [] and values(response, "x-any") == ["1"]
            response = await conn.request("GET", f"{path}?EIO=4&transport=polling")
            assert response.status == 403
        assert errors == [(4, "Forbidden", {"message": None})]
    finally:
        await io.close()


async def test_polling_answers_are_not_cached(serve, echo):
    """Node 6.6 sends ``cache-control: no-store`` on every long-polling answer (not on
    errors, not on the WebSocket 101)."""
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE)
        assert values(response, "cache-control") == ["no-store"]
        sid = open_packet(response.body)["sid"]
        response = await conn.request("POST", poll_url(sid), body="4x")
        assert values(response, "cache-control") == ["no-store"]
        response = await conn.request("GET", poll_url(sid))
        assert values(response, "cache-control") == ["no-store"]
        response = await conn.request("GET", poll_url("unknown"))
        assert values(response, "cache-control") == []
    async with await WsConnection.open(port, ws_url()) as ws:
        assert ws.response is not None
        assert values(ws.response, "cache-control") == []


# ---------------------------------------------------------------------- 4. http_compression
async def _poll_message(port: int, message: str, accept_encoding: str | None) -> Response:
    """The answer to a polling GET that carries ``message``."""
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        assert (await conn.request("POST", poll_url(sid), body=message)).body == b"ok"
        headers = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
        return await conn.request("GET", poll_url(sid), headers=headers)


def _decoded(response: Response) -> bytes:
    encoding = response.headers.get("content-encoding")
    if encoding == "gzip":
        return gzip.decompress(response.body)
    if encoding == "deflate":
        return zlib.decompress(response.body)  # zlib-wrapped, as Node's createDeflate()
    assert encoding is None
    return response.body


ACCEPT_ENCODINGS = [
    # the encoding Node picks (accepts(req).encodings(["gzip", "deflate"])) for each
    (None, None),
    ("", None),
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("gzip, deflate", "gzip"),
    ("deflate, gzip", "deflate"),
    ("gzip;q=0, deflate", "deflate"),
    ("gzip;q=0.5, deflate", "deflate"),
    ("gzip;q=0", None),
    ("*", "gzip"),
    ("*, gzip;q=0", "deflate"),
    ("GZIP", "gzip"),
    ("identity", None),
    ("br", None),
]


@pytest.mark.parametrize(("accept", "encoding"), ACCEPT_ENCODINGS)
def test_choose_encoding(accept, encoding):
    assert choose_encoding(accept or "") == encoding


async def test_http_compression_negotiation(serve, echo):
    port = await serve(echo())
    text = "4" + "compressible text " * 200
    for accept, encoding in ACCEPT_ENCODINGS:
        response = await _poll_message(port, text, accept)
        assert response.status == 200
        assert response.headers.get("content-encoding") == encoding, accept
        assert int(response.headers["content-length"]) == len(response.body)
        assert _decoded(response) == text.encode()
        if encoding is not None:
            assert len(response.body) < len(text) // 4


@pytest.mark.parametrize(
    ("option", "sizes"),
    [
        # Node: compressed when the payload has at least threshold (1024) bytes
        (True, {1023: False, 1024: True}),
        (False, {50_000: False}),
        (2048, {2047: False, 2048: True}),
    ],
)
async def test_http_compression_threshold(serve, echo, option, sizes):
    port = await serve(echo(http_compression=option))
    for size, compressed in sizes.items():
        text = "4" + "é" * 8 + "a" * (size - 17)  # the threshold counts bytes, not characters
        assert len(text.encode()) == size
        response = await _poll_message(port, text, "gzip, deflate")
        assert ("content-encoding" in response.headers) is compressed
        assert _decoded(response).decode() == text


async def test_handshake_is_small_and_never_compressed(serve, echo):
    port = await serve(echo())
    response = await http_request(
        port, "GET", HANDSHAKE, headers={"Accept-Encoding": "gzip, deflate"}
    )
    assert "content-encoding" not in response.headers
    open_packet(response.body)


# ---------------------------------------------------------------------- 5. per_message_deflate
class SpyDeflate:
    """A client-side Deflate that records the size of every message it inflates."""

    def __init__(self) -> None:
        self.inner = Deflate(DeflateParams(), client_side=True)
        self.inflated: list[int] = []

    def compress(self, data: bytes) -> bytes:
        return self.inner.compress(data)

    def decompress(self, data: bytes, max_size: int) -> bytes:
        out = self.inner.decompress(data, max_size)
        self.inflated.append(len(out))
        return out


def use_deflate(ws: WsConnection) -> SpyDeflate:
    spy = SpyDeflate()
    ws.parser = FrameParser(client_side=True, max_message_size=1 << 24, deflate=spy)  # type: ignore[arg-type]
    return spy


async def test_per_message_deflate_off_by_default(standalone, echo):
    port = await standalone(echo())
    async with await WsConnection.open(port, ws_url(), extensions=WS_OFFER) as ws:
        assert ws.response is not None
        assert values(ws.response, "sec-websocket-extensions") == []
        open_packet(await ws.recv())
        big = "4" + "uncompressed " * 1000
        ws.send_text(big)
        assert await ws.recv() == big
        # a compressed frame (RSV1) was not negotiated: a protocol error
        ws.send_frame(TEXT, zlib.compress(b"4x")[2:-4], rsv1=True)
        assert (await ws.expect_close())[0] == 1002


@pytest.mark.parametrize("upgrade", [False, True])
async def test_per_message_deflate(standalone, echo, upgrade):
    app = echo(per_message_deflate=True)
    port = await standalone(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"] if upgrade else None
        ws = await WsConnection.open(port, ws_url(sid), extensions=WS_OFFER)
        async with ws:
            assert ws.response is not None
            # what ws answers to its own default offer, too
            assert values(ws.response, "sec-websocket-extensions") == ["permessage-deflate"]
            spy = use_deflate(ws)
            if upgrade:
                await ws.upgrade()
            else:
                open_packet(await ws.recv())
            big = "4" + "".join(f"line {i} of a long message\n" for i in range(4000))
            assert len(big) > 100 * 1024
            ws.send_frame(TEXT, spy.compress(big.encode()), rsv1=True)
            assert await ws.recv() == big
            ws.send_text("4tiny")
            assert await ws.recv() == "4tiny"
            ws.send_bytes(bytes(range(256)) * 8)
            assert await ws.recv() == bytes(range(256)) * 8
            # the big messages came back compressed, the small one plain (threshold 1024)
            assert spy.inflated == [len(big), 2048]
            # so does a message the server sends of itself (a broadcast's shared frame)
            sent = "4" + "b" * 3000
            next(iter(app.sockets.values())).write_outgoing(Outgoing([sent]))
            assert await ws.recv() == sent
            assert spy.inflated[-1] == len(sent)


async def test_per_message_deflate_threshold_option(standalone, echo):
    port = await standalone(echo(per_message_deflate={"threshold": 16}))
    async with await WsConnection.open(port, ws_url(), extensions=WS_OFFER) as ws:
        spy = use_deflate(ws)
        open_packet(await ws.recv())  # over 16 bytes: compressed
        ws.send_text("4" + "x" * 14)
        assert await ws.recv() == "4" + "x" * 14
        ws.send_text("4" + "y" * 15)
        assert await ws.recv() == "4" + "y" * 15
        assert spy.inflated[1:] == [16]


async def test_per_message_deflate_without_an_offer(standalone, echo):
    port = await standalone(echo(per_message_deflate=True))
    async with await WsConnection.open(port, ws_url()) as ws:
        assert ws.response is not None
        assert values(ws.response, "sec-websocket-extensions") == []
        open_packet(await ws.recv())
        big = "4" + "z" * 5000
        ws.send_text(big)
        assert await ws.recv() == big


# ---------------------------------------------------------------------- 6. cors
ORIGIN = "http://app.example"
EVIL = "http://evil.example"


async def _cors_requests(port: int, origin: str | None) -> dict[str, Response]:
    """The CORS-relevant answers of the engine for one Origin (None: no Origin header)."""
    headers = {} if origin is None else {"Origin": origin}
    out: dict[str, Response] = {}
    async with await HttpConnection.open(port) as conn:
        out["handshake"] = response = await conn.request("GET", HANDSHAKE, headers=headers)
        sid = open_packet(response.body)["sid"]
        out["post"] = await conn.request("POST", poll_url(sid), headers=headers, body="4x")
        out["get"] = await conn.request("GET", poll_url(sid), headers=headers)
        out["error"] = await conn.request("GET", f"{EIO}?EIO=4&transport=x", headers=headers)
    return out


async def test_cors_off_by_default(serve, echo):
    port = await serve(echo())
    for origin in (ORIGIN, EVIL, None):
        for name, response in (await _cors_requests(port, origin)).items():
            assert cors_part(response) == [], name
    for method in ("GET", "POST"):
        response = await http_request(
            port,
            "OPTIONS",
            HANDSHAKE,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": method},
        )
        # no cors middleware in Node: an OPTIONS handshake is a bad handshake method
        assert response.status == 400
        assert response.json() == {"code": 2, "message": "Bad handshake method"}
        assert cors_part(response) == []
    # a cross-site WebSocket is refused (Node accepts any Origin on WebSocket)...
    rejection = await refused(port, ws_url(), [("Origin", EVIL)])
    assert rejection.status == 403
    assert rejection.json() == {"code": 4, "message": "Forbidden"}
    # ...but not one from the same origin, nor one without Origin (not from a browser)
    for headers in ([("Origin", f"http://127.0.0.1:{port}")], []):
        async with await WsConnection.open(port, ws_url(), headers=headers) as ws:
            open_packet(await ws.recv())


async def test_cors_any_origin(serve, echo):
    port = await serve(echo(cors=CorsPolicy("*")))
    for origin in (ORIGIN, None):
        for name, response in (await _cors_requests(port, origin)).items():
            assert cors_part(response) == [("access-control-allow-origin", "*")], name
    async with await WsConnection.open(port, ws_url(), headers=[("Origin", EVIL)]) as ws:
        open_packet(await ws.recv())
        assert ws.response is not None
        assert cors_part(ws.response) == [("access-control-allow-origin", "*")]


@pytest.mark.parametrize(
    "policy",
    [[ORIGIN, "http://other.example"], lambda origin: origin == ORIGIN],
    ids=["list", "callable"],
)
async def test_cors_allowed_origins(serve, echo, policy):
    port = await serve(echo(cors=CorsPolicy(policy)))
    for name, response in (await _cors_requests(port, ORIGIN)).items():
        assert cors_part(response) == [
            ("access-control-allow-origin", ORIGIN),
            ("vary", "Origin"),
        ], name
    # another origin is never reflected; Node's cors still says the answer varies by Origin
    for origin in (EVIL, None):
        for name, response in (await _cors_requests(port, origin)).items():
            assert cors_part(response) == [("vary", "Origin")], (origin, name)
    async with await WsConnection.open(port, ws_url(), headers=[("Origin", ORIGIN)]) as ws:
        open_packet(await ws.recv())
        assert ws.response is not None
        assert cors_part(ws.response) == [
            ("access-control-allow-origin", ORIGIN),
            ("vary", "Origin"),
        ]
    rejection = await refused(port, ws_url(), [("Origin", EVIL)])
    assert rejection.status == 403


@pytest.mark.parametrize("origins", [[ORIGIN], "*"])
async def test_cors_credentials(serve, echo, origins):
    port = await serve(echo(cors=CorsPolicy(origins, credentials=True)))
    responses = await _cors_requests(port, ORIGIN)
    # errors carry the CORS headers too, so that browsers can read them
    assert responses["error"].status == 400
    for name, response in responses.items():
        # the origin is reflected, never "*", which browsers refuse with credentials (Node
        # sends "*" and Allow-Credentials together for origin "*")
        assert cors_part(response) == [
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", ORIGIN),
            ("vary", "Origin"),
        ], name
    async with await WsConnection.open(port, ws_url(), headers=[("Origin", ORIGIN)]) as ws:
        assert ws.response is not None
        assert ("access-control-allow-credentials", "true") in cors_part(ws.response)
    if origins != "*":
        # a foreign origin is never reflected
        for name, response in (await _cors_requests(port, EVIL)).items():
            assert "access-control-allow-origin" not in response.headers, name


async def test_cors_preflight(serve, echo):
    port = await serve(echo(cors=CorsPolicy([ORIGIN], credentials=True)))
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-a, content-type",
    }
    response = await http_request(port, "OPTIONS", HANDSHAKE, headers=preflight)
    assert response.status == 204 and response.body == b""
    # Node (cors package defaults): the same values, Vary merged into one header
    assert cors_part(response) == [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", "x-a, content-type"),
        ("access-control-allow-methods", NODE_METHODS),
        ("access-control-allow-origin", ORIGIN),
        ("vary", "Origin, Access-Control-Request-Headers"),
    ]
    # the preflight of a long-polling request of a session, too
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("OPTIONS", poll_url(sid), headers=preflight)
        assert response.status == 204
        assert ("access-control-allow-origin", ORIGIN) in cors_part(response)
    # another origin: no CORS header at all (Node lists the methods anyway)
    response = await http_request(port, "OPTIONS", HANDSHAKE, headers={**preflight, "Origin": EVIL})
    assert response.status == 204
    assert cors_part(response) == [("vary", "Origin")]


async def test_cors_preflight_any_origin(serve, echo):
    port = await serve(echo(cors=CorsPolicy("*")))
    response = await http_request(
        port,
        "OPTIONS",
        HANDSHAKE,
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 204
    assert cors_part(response) == [
        ("access-control-allow-methods", NODE_METHODS),
        ("access-control-allow-origin", "*"),
        ("vary", "Access-Control-Request-Headers"),
    ]
    # the headers asked for are allowed
    response = await http_request(
        port,
        "OPTIONS",
        HANDSHAKE,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"


async def test_cors_through_server_options():
    io = Server(cors=[ORIGIN], cors_credentials=True)
    other = Server(cors=lambda origin: origin.endswith(".example"))
    ports = [(await io.start("127.0.0.1", 0)).port, (await other.start("127.0.0.1", 0)).port]
    target = "/socket.io/?EIO=4&transport=polling"
    try:
        response = await http_request(ports[0], "GET", target, headers={"Origin": ORIGIN})
        assert cors_part(response) == [
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", ORIGIN),
            ("vary", "Origin"),
        ]
        response = await http_request(ports[1], "GET", target, headers={"Origin": ORIGIN})
        assert cors_part(response) == [("access-control-allow-origin", ORIGIN), ("vary", "Origin")]
        response = await http_request(ports[1], "GET", target, headers={"Origin": "http://x.test"})
        assert cors_part(response) == [("vary", "Origin")]
        await refused(
            ports[1], "/socket.io/?EIO=4&transport=websocket", [("Origin", "http://x.test")]
        )
    finally:
        await io.close()
        await other.close()


# ---------------------------------------------------------------------- 7. transports
async def test_websocket_only(serve, echo):
    port = await serve(echo(transports=["websocket"]))
    response = await http_request(port, "GET", HANDSHAKE)
    assert response.status == 400
    assert response.json() == {"code": 0, "message": "Transport unknown"}
    async with await WsConnection.open(port, ws_url()) as ws:
        assert open_packet(await ws.recv())["upgrades"] == []


async def test_polling_only(serve, echo):
    port = await serve(echo(transports=["polling"]))
    async with await HttpConnection.open(port) as conn:
        packet = await eio_open(conn)
        assert packet["upgrades"] == []
        rejection = await refused(port, ws_url())
        assert rejection.status == 400
        assert rejection.json() == {"code": 0, "message": "Transport unknown"}
        rejection = await refused(port, ws_url(packet["sid"]))
        assert rejection.json() == {"code": 0, "message": "Transport unknown"}
        # the session goes on over long-polling
        assert (await conn.request("POST", poll_url(packet["sid"]), body="4on")).body == b"ok"
        assert (await conn.request("GET", poll_url(packet["sid"]))).text == "4on"


async def test_allow_upgrades_false(serve, echo):
    port = await serve(echo(allow_upgrades=False))
    async with await HttpConnection.open(port) as conn:
        assert (await eio_open(conn))["upgrades"] == []
    async with await WsConnection.open(port, ws_url()) as ws:
        assert open_packet(await ws.recv())["upgrades"] == []


def test_unknown_transport_option():
    with pytest.raises(ValueError, match="webtransport"):
        Server(transports=["polling", "webtransport"])


# ---------------------------------------------------------------------- 9. connect_timeout
async def test_connect_timeout_closes_a_websocket_without_connect():
    io = Server(connect_timeout=0.2)
    port = (await io.start("127.0.0.1", 0)).port
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with await WsConnection.open(port, "/socket.io/?EIO=4&transport=websocket") as ws:
            open_packet(await ws.recv())
            # Node: client.close() -> engine socket close -> ws.close() without a code
            assert await ws.expect_close(timeout=10.0) == (1005, "")
        assert 0.15 < loop.time() - start < 10  # connect_timeout, not the default 45 s
        assert io.engine.clients_count == 0
    finally:
        await io.close()


async def test_connect_timeout_closes_a_polling_session_without_connect():
    io = Server(connect_timeout=0.2)
    port = (await io.start("127.0.0.1", 0)).port
    try:
        async with await HttpConnection.open(port) as conn:
            sid = (await eio_open(conn, "/socket.io/"))["sid"]
            response = await conn.request("GET", poll_url(sid, "/socket.io/"), timeout=2.0)
            assert response.text == "1"  # the close packet answers the pending GET
            response = await conn.request("GET", poll_url(sid, "/socket.io/"))
            assert response.json() == {"code": 1, "message": "Session ID unknown"}
    finally:
        await io.close()


async def test_connect_timeout_spares_connected_clients():
    io = Server(connect_timeout=0.1)
    port = (await io.start("127.0.0.1", 0)).port
    try:
        async with await WsConnection.open(port, "/socket.io/?EIO=4&transport=websocket") as ws:
            open_packet(await ws.recv())
            ws.send_text("40")
            assert (await ws.recv())[:2] == "40"
            await asyncio.sleep(0.3)
            assert io.engine.clients_count == 1
            ws.send_text('42["still","here"]')
            with pytest.raises(TimeoutError):  # nothing comes, no close frame either
                await ws.recv_frame(timeout=0.1)
    finally:
        await io.close()


# ---------------------------------------------------------------------------------- generate_id
async def test_generate_id_names_the_sessions(serve, echo):
    app = echo()
    made: list[str] = []

    def generate(request: Request) -> str:
        made.append(f"user-{len(made)}_{request.query['transport']}")
        return made[-1]

    app.engine.generate_id = generate
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        assert (await eio_open(conn))["sid"] == "user-0_polling"
    async with await WsConnection.open(port, ws_url()) as ws:
        assert open_packet(await ws.recv())["sid"] == "user-1_websocket"
    assert set(app.engine.sessions) <= {"user-0_polling", "user-1_websocket"}


@pytest.mark.parametrize(
    "generate",
    [
        lambda request: 1 / 0,  # raises
        lambda request: "",  # empty
        lambda request: "a b",  # not URL-safe (it goes in query strings and cookies)
        lambda request: "x\r\nSet-Cookie: evil=1",
        lambda request: "x" * 129,
        lambda request: 42,
    ],
)
async def test_generate_id_failures_refuse_the_handshake(serve, echo, generate, caplog):
    app = echo()
    app.engine.generate_id = generate
    errors: list[tuple[int, str]] = []
    app.engine.connection_error_hooks.append(
        lambda request, code, message, context: errors.append((code, message))
    )
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE)
    assert (response.status, response.json()) == (400, {"code": 3, "message": "Bad request"})
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, ws_url())
    assert info.value.response.status == 400
    assert errors == [(3, "Bad request")] * 2
    assert app.engine.sessions == {}
    assert "generate_id" in caplog.text


async def test_generate_id_in_use_refuses(serve, echo):
    app = echo()
    app.engine.generate_id = lambda request: "same"
    port = await serve(app)
    async with await HttpConnection.open(port) as first, await HttpConnection.open(port) as again:
        assert (await eio_open(first))["sid"] == "same"
        response = await again.request("GET", HANDSHAKE)
        assert response.status == 400 and response.json()["code"] == 3


@pytest.mark.parametrize(
    ("origins", "credentials"),
    [
        (None, False),
        ("*", False),
        ("*", True),
        (["http://a.example"], False),
        (["http://a.example"], True),
        (lambda origin: origin.endswith(".example"), False),
    ],
)
def test_cors_fixed_headers_are_the_headers_for_every_origin(origins: Any, credentials: bool):
    # the answers' CORS headers are taken from ``fixed`` when it is set: they must be what
    # ``headers()`` gives for any origin, and ``fixed`` must be unset when they differ
    policy = CorsPolicy(origins, credentials=credentials)
    answers = [policy.headers(o) for o in (None, "http://a.example", "http://b.other")]
    if policy.fixed is None:
        assert any(a != answers[0] for a in answers)
    else:
        assert all(a == list(policy.fixed) for a in answers)
    assert (policy.fixed is not None) == (origins is None or (origins == "*" and not credentials))
