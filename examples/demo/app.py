"""The aiosocketio demo: a chat with rooms, presence, typing indicators and file sharing.

Run it with ``scripts/demo`` (or ``python -m aiosocketio serve --app examples.demo.app:io``)
and open http://127.0.0.1:3000/ in two browser windows. The page uses the official
``socket.io-client`` browser bundle (``npm ci`` in this folder installs it).

Events from the browser (each acknowledged with ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``):

- ``join {nick, room}``: set the nickname and move to a room (leaving the current one)
- ``leave``: leave the current room
- ``message {text}``: say something in the current room
- ``file {name, type}, <bytes>``: share a file (at most ``MAX_FILE_SIZE`` bytes)
- ``typing <bool>``: started / stopped typing (volatile, not acknowledged)

Events to the browser: ``hello``, ``rooms``, ``presence``, ``message``, ``file``, ``typing``.
Everything lives in memory (the in-memory adapter): a restart forgets it, and the browsers
join their room again when they reconnect.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

from aiosocketio import Server, Socket

__all__ = ["DEFAULT_ROOM", "MAX_FILE_SIZE", "io"]

log = logging.getLogger("examples.demo")

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CLIENT_BUNDLE = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"

DEFAULT_ROOM = "lobby"
SUGGESTED_ROOMS = (DEFAULT_ROOM, "python", "random")
MAX_FILE_SIZE = 2 * 1024 * 1024
MAX_TEXT_LENGTH = 2000

_NICK = re.compile(r"[^\x00-\x1f\x7f]{1,24}")
_ROOM = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")
_MIME_TYPE = re.compile(r"[\w.+-]{1,64}/[\w.+-]{1,64}")
_ROOM_PREFIX = "#"  # chat rooms apart from the room each socket has for its own id

Ack = dict[str, Any]


def _static(name: str, content_type: str) -> dict[str, str]:
    return {"filename": str(STATIC / name), "content_type": content_type}


io = Server(
    # on_file refuses files over MAX_FILE_SIZE with an error acknowledgement; the engine's
    # limit, which closes the connection of a client sending more, is only a backstop
    max_http_buffer_size=2 * MAX_FILE_SIZE,
    static_files={
        "/": _static("index.html", "text/html; charset=utf-8"),
        "/index.html": _static("index.html", "text/html; charset=utf-8"),
        "/chat.js": _static("chat.js", "text/javascript; charset=utf-8"),
        "/style.css": _static("style.css", "text/css; charset=utf-8"),
        "/vendor/socket.io.min.js": {
            "filename": str(CLIENT_BUNDLE),
            "content_type": "text/javascript; charset=utf-8",
        },
    },
)

if not CLIENT_BUNDLE.is_file():
    log.warning("%s is missing: run `npm ci` in %s (or scripts/setup)", CLIENT_BUNDLE, HERE)


# ---------------------------------------------------------------------- helpers
def _error(message: str) -> Ack:
    return {"ok": False, "error": message}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _nick(socket: Socket) -> str:
    return str(socket.data.get("nick") or "someone")


def _current_room(socket: Socket) -> str | None:
    room: str | None = socket.data.get("room")
    return room


def _clean_nick(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    nick = " ".join(value.split())
    return nick if _NICK.fullmatch(nick) else None


def _clean_room(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    room = "-".join(value.strip().lower().split())
    return room if _ROOM.fullmatch(room) else None


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def _too_large(name: str, size: int) -> str:
    shown, limit = _human_size(size), _human_size(MAX_FILE_SIZE)
    if shown == limit:  # just over the limit: in bytes then
        shown, limit = f"{size:,} bytes", f"{MAX_FILE_SIZE:,} bytes"
    return f"{name} is too large ({shown}; the limit is {limit})"


def room_list() -> list[dict[str, Any]]:
    """The suggested rooms and every room with someone in it, with their head counts."""
    counts = {room: 0 for room in SUGGESTED_ROOMS}
    for key, members in io.sockets.adapter.rooms.items():
        if key.startswith(_ROOM_PREFIX):
            counts[key[len(_ROOM_PREFIX) :]] = len(members)
    return [{"name": name, "users": counts[name]} for name in sorted(counts)]


async def users_in(room: str) -> list[str]:
    """The nicknames in a room, sorted."""
    sockets = await io.in_(_ROOM_PREFIX + room).fetch_sockets()
    return sorted(_nick(s) for s in sockets)


async def _announce(socket: Socket, room: str, action: str) -> None:
    """Tell the others in ``room`` that ``socket`` joined or left it; update the room list."""
    users = await users_in(room)
    presence = {"room": room, "nick": _nick(socket), "action": action, "users": users}
    socket.to(_ROOM_PREFIX + room).emit("presence", presence)
    io.emit("rooms", room_list())


async def _leave_current(socket: Socket) -> None:
    room = _current_room(socket)
    if room is None:
        return
    socket.leave(_ROOM_PREFIX + room)
    socket.data["room"] = None
    log.info("%s left %s", _nick(socket), room)
    await _announce(socket, room, "left")


# ---------------------------------------------------------------------- events
@io.on("connection")
def on_connection(socket: Socket) -> None:
    socket.data.update(nick=None, room=None)
    socket.emit("hello", {"maxFileSize": MAX_FILE_SIZE, "rooms": room_list()})

    async def on_disconnect(reason: str) -> None:
        room = _current_room(socket)
        log.info("%s disconnected (%s)", socket.data.get("nick") or socket.id, reason)
        if room is not None:  # the socket has left its rooms already
            await _announce(socket, room, "left")

    socket.on("disconnect", on_disconnect)


@io.on_event("join")
async def on_join(socket: Socket, payload: Any = None) -> Ack:
    payload = payload if isinstance(payload, dict) else {}
    nick = _clean_nick(payload.get("nick"))
    if nick is None:
        return _error("a nickname has 1 to 24 characters")
    room = _clean_room(payload.get("room") or DEFAULT_ROOM)
    if room is None:
        return _error("a room name has 1 to 24 letters, digits, '-' or '_'")
    socket.data["nick"] = nick
    if _current_room(socket) != room:
        await _leave_current(socket)
        socket.join(_ROOM_PREFIX + room)
        socket.data["room"] = room
        log.info("%s joined %s", nick, room)
        await _announce(socket, room, "joined")
    return {"ok": True, "nick": nick, "room": room, "users": await users_in(room)}


@io.on_event("leave")
async def on_leave(socket: Socket, *_: Any) -> Ack:
    if _current_room(socket) is None:
        return _error("you are not in a room")
    await _leave_current(socket)
    return {"ok": True}


@io.on_event("message")
def on_message(socket: Socket, payload: Any = None) -> Ack:
    room = _current_room(socket)
    if room is None:
        return _error("join a room first")
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _error("an empty message")
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        return _error(f"a message has at most {MAX_TEXT_LENGTH} characters")
    message = {
        "id": secrets.token_hex(8),
        "room": room,
        "nick": _nick(socket),
        "text": text,
        "time": _now_ms(),
    }
    socket.to(_ROOM_PREFIX + room).emit("message", message)
    return {"ok": True, "id": message["id"], "time": message["time"]}


@io.on_event("file")
def on_file(socket: Socket, meta: Any = None, data: Any = None) -> Ack:
    room = _current_room(socket)
    if room is None:
        return _error("join a room first")
    if not isinstance(data, bytes) or not isinstance(meta, dict):
        return _error("send a file as {name, type} and its bytes")
    name = meta.get("name")
    name = Path(name).name[:100] if isinstance(name, str) and name.strip() else "file"
    if len(data) > MAX_FILE_SIZE:
        log.info("%s: %s refused (%d bytes)", _nick(socket), name, len(data))
        return _error(_too_large(name, len(data)))
    content_type = meta.get("type")
    if not isinstance(content_type, str) or not _MIME_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    shared = {
        "id": secrets.token_hex(8),
        "room": room,
        "nick": _nick(socket),
        "name": name,
        "type": content_type,
        "size": len(data),
        "time": _now_ms(),
    }
    socket.to(_ROOM_PREFIX + room).emit("file", shared, data)
    log.info("%s shared %s (%d bytes) in %s", shared["nick"], name, len(data), room)
    return {"ok": True, "id": shared["id"], "time": shared["time"]}


@io.on_event("typing")
def on_typing(socket: Socket, typing: Any = False) -> None:
    room = _current_room(socket)
    if room is not None:
        state = {"room": room, "id": socket.id, "nick": _nick(socket), "typing": bool(typing)}
        socket.to(_ROOM_PREFIX + room).volatile.emit("typing", state)
