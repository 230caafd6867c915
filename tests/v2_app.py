"""The server side of the socket.io-client 2.x tests (``allow_eio3``): what the Node
scenarios (tests/interop/scenarios/v2_*.js) and the browser page
(tests/browser/v2_page.html) talk to."""

from __future__ import annotations

from typing import Any

from aiosocketio import ConnectionRefused, Server, Socket

__all__ = ["info", "room_deliveries", "serve_events", "serve_rooms"]


def info(socket: Socket) -> dict[str, Any]:
    return {
        "id": socket.id,
        "nsp": socket.nsp.name,
        "auth": socket.handshake.auth,
        "q": socket.handshake.query.get("q"),
        "protocol": socket.conn.protocol,
    }


def serve_events(io: Server, seen: dict[str, Any]) -> None:
    """Events and acks both ways, binary included; ``/chat`` and ``/admin`` (middleware:
    the token "secret") answer "info"; ``/plain`` refuses everyone. ``seen`` gets the main
    namespace's sockets (``"main"``) and disconnect reasons (``"reasons"``)."""

    def on_connection(socket: Socket) -> None:
        seen.setdefault("main", []).append(info(socket))
        socket.on("echo", lambda *args: args)
        socket.on("bin", lambda data: (bytes(reversed(data)), {"nested": [b"\x01\x02\x03"]}))

        async def ask_me(question: str) -> Any:
            text, data = await socket.timeout(2).emit_with_ack("question", question)
            return [text, data.hex()]

        socket.on("ask-me", ask_me)
        socket.on("bye", lambda: socket.disconnect())
        socket.on("disconnect", lambda reason: seen.setdefault("reasons", []).append(reason))
        socket.emit("hello", "world", b"\x01\x02")

    io.on("connection", on_connection)
    for name in ("/chat", "/admin"):
        io.of(name).on(
            "connection", lambda socket: socket.on("info", lambda socket=socket: info(socket))
        )

    def check(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectionRefused("not authorized", {"code": 401})

    io.of("/admin").use(check)

    def no_entry(socket: Socket) -> None:
        raise ConnectionRefused("no entry")

    io.of("/plain").use(no_entry)


def serve_rooms(io: Server) -> dict[str, int]:
    """ "join" a room, "broadcast" a "news" event to one, "finish": "end" to everyone.
    Returns the Engine.IO revision of each socket that connects, by socket id."""
    protocols: dict[str, int] = {}

    def on_connection(socket: Socket) -> None:
        protocols[socket.id] = socket.conn.protocol

        def join(room: str) -> str:
            socket.join(room)
            return room

        def broadcast(room: str, *args: Any) -> bool:
            return io.to(room).emit("news", *args)

        socket.on("join", join)
        socket.on("broadcast", broadcast)
        socket.on("finish", lambda: io.emit("end"))

    io.on("connection", on_connection)
    return protocols


def room_deliveries(news: list[Any]) -> dict[str, list[Any]]:
    """What each client of the rooms scenario gets: ``news`` in room "r", nothing outside."""
    names = ("v2-a", "v2-b", "v2-out", "v4-a", "v4-b", "v4-out")
    return {name: [] if name.endswith("out") else news for name in names}
