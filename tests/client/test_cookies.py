"""The client's cookie jar (``with_credentials=True``): the jar on its own, then against our
server with ``cookie=True`` (the cookie-sticky balancers are in test_cluster_example.py)."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.client import connect
from aiosocketio.client.cookies import CookieJar


def test_keeps_cookies_and_joins_them() -> None:
    jar = CookieJar()
    assert jar.header() is None and len(jar) == 0
    jar.update(["io=abc; Path=/; HttpOnly; SameSite=Lax", "lb=s2"])
    assert jar.header() == "io=abc; lb=s2"
    jar.update(["lb=s3; Secure"])  # the same name: replaced
    assert jar.header() == "io=abc; lb=s3" and len(jar) == 2


def test_expires_and_max_age() -> None:
    jar = CookieJar()
    past = formatdate(time.time() - 60, usegmt=True)  # has a comma: "Thu, 26 Nov ..."
    future = formatdate(time.time() + 3600, usegmt=True)
    jar.update([f"a=1; Expires={future}", f"b=2; Expires={past}", "c=3; Max-Age=100"])
    assert jar.header() == "a=1; c=3"
    jar.update(["a=gone; Max-Age=0"])  # deletes
    assert jar.header() == "c=3"
    # Max-Age wins over Expires
    jar.update([f"d=4; Expires={past}; Max-Age=100", f"e=5; Max-Age=-1; Expires={future}"])
    assert jar.header() == "c=3; d=4"


def test_short_lived_cookie_goes_away() -> None:
    jar = CookieJar()
    jar._cookies["x"] = ("1", time.time() - 0.001)  # expired since it was set
    assert jar.header() is None


@pytest.mark.parametrize(
    "header", ["", "novalue", "=nameless", "a=1; Max-Age=soon", "b=2; Expires=someday"]
)
def test_bad_set_cookie_headers(header: str) -> None:
    jar = CookieJar()
    jar.update([header])
    assert jar.header() in (None, "a=1", "b=2")  # bad attributes are ignored, not the cookie


@pytest.mark.parametrize("with_credentials", [True, False])
async def test_polling_requests_carry_the_session_cookie(with_credentials: bool) -> None:
    io = Server(cookie=True)
    io.on("connection", lambda socket: socket.on("ping", lambda: "pong"))
    seen: list[tuple[str, Any]] = []
    io.on_headers(
        lambda headers, request: seen.append((request.method, request.headers.get("cookie")))
    )
    server = await io.start("127.0.0.1", 0)
    try:
        sock = await connect(
            f"http://127.0.0.1:{server.port}",
            transports=["polling"],
            with_credentials=with_credentials,
            reconnection=False,
            force_new=True,
        )
        assert await sock.emit_with_ack("ping", timeout=2.0) == "pong"  # a POST and a GET
        cookie = f"io={sock.io.engine.id}"  # type: ignore[union-attr]
        await sock.disconnect()
    finally:
        await io.close()
    assert seen[0] == ("GET", None)  # the handshake: no cookie yet
    later = [c for _, c in seen[1:]]
    assert later and all(c == (cookie if with_credentials else None) for c in later)
