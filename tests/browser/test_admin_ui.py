"""The official Socket.IO Admin UI (``ui/dist`` of the npm package @socket.io/admin-ui 0.5.1)
in headless Chromium against an instrumented aiosocketio server: it logs in with basic
authentication (a bcryptjs hash), lists our sockets, our room and our server, and its
"disconnect" button disconnects a socket.

Skipped (with the reason) without Chromium, Node.js, playwright-core (``npm ci`` in
``examples/demo``), the admin UI package (``npm ci`` in ``tests/interop``) or ``bcrypt``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio import Socket as ServerSocket
from aiosocketio.admin import instrument
from aiosocketio.socketio.packets import DISCONNECT
from sioclient import SioServer, until

from .conftest import ROOT, browser_requirement_missing

UI_DIST = ROOT / "tests" / "interop" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
SCRIPT = Path(__file__).with_name("admin_ui.js")
BROWSER_TIMEOUT = 45.0

# bcryptjs.hashSync("changeit", 4), as users of the Node package make them
PASSWORD_HASH = "$2a$04$E77buxwVoFYaS0hq62.qO.WEdE1iLchQEcZ8yoY76JkQUMbbf62YG"


def requirement_missing() -> str | None:
    reason = browser_requirement_missing()
    if reason is not None:
        return reason
    if not (UI_DIST / "index.html").is_file():
        return (
            f"the admin UI test needs @socket.io/admin-ui: run `npm ci` in {ROOT / 'tests/interop'}"
        )
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        return "the admin UI test needs bcrypt: pip install 'aiosocketio[admin]'"
    return None


def ui_files() -> dict[str, Any]:
    """The UI's files by URL path (``/`` is its index page), for ``Server(static_files=...)``."""
    files: dict[str, Any] = {"/": str(UI_DIST / "index.html")}
    for path in UI_DIST.rglob("*"):
        if path.is_file() and path.suffix != ".map":
            files["/" + path.relative_to(UI_DIST).as_posix()] = str(path)
    return files


async def test_the_official_admin_ui_lists_our_sockets_rooms_and_server(tmp_path: Path) -> None:
    reason = requirement_missing()
    if reason is not None:
        pytest.skip(reason)
    node = shutil.which("node")
    assert node is not None

    io = Server(static_files=ui_files())
    admin = instrument(
        io,
        auth={"type": "basic", "username": "admin", "password": PASSWORD_HASH},
        server_id="aiosocketio-under-test",
    )

    @io.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.on("join", socket.join)

    async with SioServer(io) as srv:
        alice, alice_id = await srv.connected("/")
        bob, bob_id = await srv.connected("/")
        await alice.emit("join", "lobby")
        await until(lambda: "lobby" in io.sockets.adapter.rooms)

        base_url = f"http://127.0.0.1:{srv.port}/"
        expected = {
            "sockets": [alice_id, bob_id],
            "room": "lobby",
            "serverId": admin.server_id,
            "disconnect": bob_id,
        }
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            base_url.rstrip("/"),
            "admin",
            "changeit",
            json.dumps(expected),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.ensure_future(proc.stderr.read())
        steps: list[dict[str, Any]] = []

        async def read_steps() -> None:
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                steps.append(json.loads(line))

        try:
            await asyncio.wait_for(read_steps(), BROWSER_TIMEOUT)
            # its output ended: it is exiting (a kill now would reap it under asyncio's feet)
            await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stderr = (await stderr_task).decode(errors="replace")
        result = steps[-1] if steps else {}
        assert result.get("done"), (
            f"steps: {json.dumps(steps, indent=1)}\n--- node stderr\n{stderr}"
        )

        # the Sockets page: a row per socket of namespace / (id, address, transport, actions)
        sockets = {row[0]: row[1:3] for row in result["sockets"]}
        assert sockets == {
            alice_id: ["127.0.0.1", "WebSocket"],
            bob_id: ["127.0.0.1", "WebSocket"],
        }
        # the Rooms page: our room (private rooms hidden): public, one socket in it
        assert [row[:3] for row in result["rooms"]] == [["lobby", "PUBLIC", "1"]]
        # the Servers page: this server, from its server_stats (id, hostname, pid, ...)
        (server,) = result["servers"]
        assert server[0] == "aiosocketio-under-test" and server[2] == str(os.getpid())
        assert "HEALTHY" in server
        assert result["sessionId"]  # the `session` event reached the UI
        # the disconnect button sent `_disconnect`: bob left namespace / (the connection stays)
        packet = await bob.next_packet(nsp="/", types=(DISCONNECT,))
        assert packet.type == DISCONNECT
        assert bob_id not in io.sockets.sockets and alice_id in io.sockets.sockets
        assert [row[0] for row in result["socketsAfter"]] == [alice_id]
        assert result["errors"] == []
