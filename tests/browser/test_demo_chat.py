"""The demo chat (examples/demo): its server logic with the raw test client, then the whole
app in headless Chromium (two pages chatting, an image shared as binary, a server restart)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiosocketio.socketio.packets import BINARY_EVENT, EVENT
from sioclient import SioClient, SioServer

from .conftest import DemoProcess, run_script

BROWSER_TIMEOUT = 50.0


# ---------------------------------------------------------------------- server logic
async def event(client: SioClient, name: str, timeout: float = 1.0) -> list[Any]:
    """The arguments of the first event of that name the client received (others stay)."""
    packet = await client.packets.take(
        lambda p: p.type in (EVENT, BINARY_EVENT) and p.data[0] == name, timeout
    )
    return list(packet.data[1:])


async def no_event(client: SioClient, name: str, wait: float = 0.1) -> bool:
    try:
        await event(client, name, wait)
    except TimeoutError:
        return True
    return False


async def joined(srv: SioServer, nick: str, room: str = "lobby") -> SioClient:
    client, _ = await srv.connected()
    (hello,) = await event(client, "hello")
    assert hello["maxFileSize"] > 0
    (answer,) = await client.emit_with_ack("join", {"nick": nick, "room": room})
    assert answer["ok"], answer
    return client


async def test_hello_and_join(demo_app: ModuleType) -> None:
    async with SioServer(demo_app.io) as srv:
        client, _ = await srv.connected()
        (hello,) = await event(client, "hello")
        assert hello == {
            "maxFileSize": demo_app.MAX_FILE_SIZE,
            "rooms": [
                {"name": "lobby", "users": 0},
                {"name": "python", "users": 0},
                {"name": "random", "users": 0},
            ],
        }
        for bad in ({"nick": ""}, {"nick": "x" * 25}, {"nick": 3}, "alice", None):
            (answer,) = await client.emit_with_ack("join", bad)
            assert answer["ok"] is False and "nickname" in answer["error"]
        (answer,) = await client.emit_with_ack("join", {"nick": "alice", "room": "no/slash"})
        assert answer["ok"] is False and "room name" in answer["error"]

        (answer,) = await client.emit_with_ack("join", {"nick": "  alice  ", "room": "Lobby"})
        assert answer == {"ok": True, "nick": "alice", "room": "lobby", "users": ["alice"]}
        (rooms,) = await event(client, "rooms")
        assert {"name": "lobby", "users": 1} in rooms


async def test_presence_and_room_list(demo_app: ModuleType) -> None:
    async with SioServer(demo_app.io) as srv:
        alice = await joined(srv, "alice")
        bob = await joined(srv, "bob")
        (presence,) = await event(alice, "presence")
        assert presence == {
            "room": "lobby",
            "nick": "bob",
            "action": "joined",
            "users": ["alice", "bob"],
        }
        assert await no_event(bob, "presence")  # not told about itself

        # moving to another room is leaving this one; new rooms show in the list
        (answer,) = await bob.emit_with_ack("join", {"nick": "bob", "room": "night owls"})
        assert answer == {"ok": True, "nick": "bob", "room": "night-owls", "users": ["bob"]}
        (presence,) = await event(alice, "presence")
        assert presence["action"] == "left" and presence["users"] == ["alice"]
        while True:
            (rooms,) = await event(alice, "rooms")
            if {"name": "night-owls", "users": 1} in rooms:
                break
        assert {"name": "lobby", "users": 1} in rooms

        (answer,) = await bob.emit_with_ack("leave")
        assert answer == {"ok": True}
        (answer,) = await bob.emit_with_ack("leave")
        assert answer == {"ok": False, "error": "you are not in a room"}
        (answer,) = await bob.emit_with_ack("message", {"text": "anyone?"})
        assert answer == {"ok": False, "error": "join a room first"}

        # a connection that goes away leaves its room
        carol = await joined(srv, "carol")
        await event(alice, "presence")
        await carol.close()
        (presence,) = await event(alice, "presence")
        assert presence == {"room": "lobby", "nick": "carol", "action": "left", "users": ["alice"]}


async def test_messages_are_acknowledged_and_stay_in_their_room(demo_app: ModuleType) -> None:
    async with SioServer(demo_app.io) as srv:
        alice = await joined(srv, "alice")
        bob = await joined(srv, "bob")
        other = await joined(srv, "olga", room="python")

        (answer,) = await alice.emit_with_ack("message", {"text": " hi bob \n"})
        assert answer["ok"] is True
        (message,) = await event(bob, "message")
        assert message == {
            "id": answer["id"],
            "room": "lobby",
            "nick": "alice",
            "text": "hi bob",
            "time": answer["time"],
        }
        assert await no_event(alice, "message")
        assert await no_event(other, "message")

        for bad in ({"text": "   "}, {"text": 5}, "hi", {"text": "x" * 2001}):
            (answer,) = await alice.emit_with_ack("message", bad)
            assert answer["ok"] is False
        assert await no_event(bob, "message")


async def test_typing_goes_to_the_others_in_the_room(demo_app: ModuleType) -> None:
    async with SioServer(demo_app.io) as srv:
        alice = await joined(srv, "alice")
        bob = await joined(srv, "bob")
        await alice.emit("typing", True)
        (state,) = await event(bob, "typing")
        assert state == {"room": "lobby", "id": alice.sids["/"], "nick": "alice", "typing": True}
        await alice.emit("typing", False)
        (state,) = await event(bob, "typing")
        assert state["typing"] is False
        assert await no_event(alice, "typing")


async def test_files_are_shared_as_binary_within_the_size_limit(demo_app: ModuleType) -> None:
    async with SioServer(demo_app.io) as srv:
        alice = await joined(srv, "alice")
        bob = await joined(srv, "bob")
        data = bytes(range(256)) * 4
        meta = {"name": "../../etc/dots.png", "type": "image/png"}
        (answer,) = await alice.emit_with_ack("file", meta, data)
        assert answer["ok"] is True
        shared, received = await event(bob, "file")
        assert received == data
        assert shared == {
            "id": answer["id"],
            "room": "lobby",
            "nick": "alice",
            "name": "dots.png",
            "type": "image/png",
            "size": len(data),
            "time": answer["time"],
        }

        # a strange type is sent as application/octet-stream
        await alice.emit_with_ack("file", {"name": "x", "type": "text/html; x=<b>"}, b"x")
        shared, _ = await event(bob, "file")
        assert shared["type"] == "application/octet-stream"

        limit = demo_app.MAX_FILE_SIZE
        assert limit == 2 * 1024 * 1024
        for size, error in (
            (limit + 1, "big.bin is too large (2,097,153 bytes; the limit is 2,097,152 bytes)"),
            (limit * 3 // 2, "big.bin is too large (3 MB; the limit is 2 MB)"),
        ):
            big = b"\0" * size
            (answer,) = await alice.emit_with_ack("file", {"name": "big.bin"}, big, timeout=5)
            assert answer == {"ok": False, "error": error}
        (answer,) = await alice.emit_with_ack("file", {"name": "a.txt"}, "not bytes")
        assert answer["ok"] is False
        assert await no_event(bob, "file")
        assert not alice.is_closed  # refused, not disconnected


# ---------------------------------------------------------------------- in a browser
def png(width: int, height: int) -> bytes:
    """A small RGB PNG with a colour gradient."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(
        b"\0" + b"".join(bytes((x * 40 % 256, y * 60 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.slow
async def test_two_browsers_chat_share_an_image_and_survive_a_restart(
    node: str, demo_server: DemoProcess, tmp_path: Path
) -> None:
    image = tmp_path / "dots.png"
    image.write_bytes(png(7, 5))
    script = Path(__file__).with_name("demo_chat.js")

    async def answer(need: str) -> str:
        if need == "stop":
            await demo_server.stop()
            return "stopped"
        await demo_server.start()
        return "started"

    result, steps, stderr = await run_script(
        node,
        script,
        demo_server.url,
        str(image),
        str(tmp_path / "chromium-profile"),
        timeout=BROWSER_TIMEOUT,
        answer=answer,
    )
    report = (
        f"steps: {json.dumps(steps, indent=1)}\n--- node stderr\n{stderr}\n"
        f"--- server log\n{demo_server.log()}"
    )
    assert "error" not in result, report
    assert result["sender"] == "alice", report
    assert result["fileSender"] == "alice", report
    assert result["image"] == [7, 5], report
    assert result["reconnecting"].startswith("reconnecting"), report
    assert result["status"] == "connected", report
    assert result["senderAfter"] == "bob", report
    assert result["errors"] == [], report
