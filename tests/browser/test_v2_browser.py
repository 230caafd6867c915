"""socket.io-client 2.5.0's browser bundle in headless Chromium against aiosocketio's server
with ``allow_eio3`` (v2_page.html, driven by v2_client.js): long-polling (binary payloads,
as browsers take them), WebSocket and the upgrade; events and acks both ways with binary;
a namespace with a query and a refusal by middleware; rooms and broadcasts with the 4.8
bundle on the same page; ping timeouts both ways; reconnection after a server restart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import v2_app
from aiosocketio import Server, Socket

from .conftest import CHROMIUM, DEMO_MODULES, ROOT, browser_requirement_missing, run_script

V2_BUNDLE = ROOT / "tests" / "interop" / "node_modules" / "socket.io-client-v2" / "dist"
V4_BUNDLE = DEMO_MODULES / "socket.io-client" / "dist" / "socket.io.min.js"
PAGE = Path(__file__).with_name("v2_page.html")
HELPERS = ROOT / "tests" / "interop" / "scenarios" / "helpers.js"
TIMEOUT = 100.0  # for the whole script (about 15 s on an idle machine)
MODES = ["polling", "websocket", "upgrade"]


def server(seen: dict[str, Any]) -> Server:
    io = Server(
        allow_eio3=True,
        ping_interval=0.5,
        ping_timeout=0.3,
        static_files={
            "/": str(PAGE),
            "/socket.io-v2.js": str(V2_BUNDLE / "socket.io.js"),
            "/socket.io-v4.js": str(V4_BUNDLE),
            "/helpers.js": str(HELPERS),
        },
    )
    v2_app.serve_events(io, seen)
    v2_app.serve_rooms(io)

    def reason(socket: Socket) -> None:
        socket.on("disconnect", lambda why: seen.setdefault("closed", []).append(why))

    io.on("connection", reason)
    return io


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
async def test_the_v2_browser_bundle(tmp_path: Path) -> None:
    missing = browser_requirement_missing()
    if missing is None and not (V2_BUNDLE / "socket.io.js").is_file():
        missing = "the npm packages of tests/interop are missing: `npm ci` there"
    if missing is not None:
        pytest.skip(missing)
    node = shutil.which("node")
    assert node is not None and CHROMIUM.exists()
    seen: dict[str, Any] = {}
    io = server(seen)
    port = (await io.start("127.0.0.1", 0)).port

    async def answer(need: str) -> str:
        nonlocal io
        assert need == "restart"
        await io.close()
        io = server(seen)
        await io.start("127.0.0.1", port)
        return "restarted"

    try:
        outcome, lines, stderr = await run_script(
            node,
            Path(__file__).with_name("v2_client.js"),
            f"http://127.0.0.1:{port}/",
            str(tmp_path / "chromium-profile"),
            timeout=TIMEOUT,
            answer=answer,
        )
    finally:
        await io.close()
    results = {line["step"]: line["result"] for line in lines if "step" in line}
    report = f"results: {json.dumps(results, indent=1)}\n{outcome}\n--- node stderr\n{stderr}"
    assert "error" not in outcome, report
    assert outcome["errors"] == [], report
    for mode in MODES:
        check_events(results[f"events {mode}"], mode)
        check_rooms(results[f"rooms {mode}"])
        # the server closes a client that stopped pinging; a client missing pongs closes
        assert results[f"ping timeout server {mode}"] == "transport close", report
        assert results[f"ping timeout client {mode}"] == "ping timeout", report
        assert results[f"lasting {mode}"].startswith("/chat#")
        again = results[f"reconnected {mode}"]
        assert again["auth"] == {"token": "t"}
        # the restart, the reconnection, then the page's own close
        assert again["events"][0] in ("disconnect: transport close", "disconnect: transport error")
        assert again["events"][1:] == ["reconnect", "disconnect: io client disconnect"]
    assert seen["closed"].count("ping timeout") == len(MODES)


def check_events(result: dict[str, Any], mode: str) -> None:
    assert result["id"] is True  # the main namespace's socket id is the session's
    assert result["hello"] == ["world", {"bytes": [1, 2]}]
    assert result["echo"] == ["é😀", {"bytes": [1, 2, 250]}]
    assert result["bin"] == [{"bytes": [3, 2, 1]}, {"bytes": [1, 2, 3]}]
    assert result["asked"] == ["answer to why", "07"]
    assert result["chat"][0] is True
    assert result["chat"][1]["auth"] == {"token": "abc"}
    assert result["refused"] == ["error", {"code": 401}]
    assert result["transport"] == ("polling" if mode == "polling" else "websocket")
    assert result["disconnect"] == "io server disconnect"


def check_rooms(result: dict[str, Any]) -> None:
    expected = [["from v2", {"bytes": [1, 2]}], [{"from": "v4"}, {"bytes": [3]}]]
    assert result == v2_app.room_deliveries(expected)
