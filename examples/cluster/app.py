"""One server of the cluster example: a small chat whose servers share Redis.

Run three of them and a sticky front with ``python examples/cluster/run.py`` (see README.md),
or one by hand::

    python examples/cluster/app.py --name s1 --port 3001 --redis redis://127.0.0.1:6379

Events from the clients (the acknowledgement is the answer):

- ``whoami``: ``{"server", "port", "pid", "sid"}``, which server holds this connection
- ``join <room>``: join a room; answers ``{"room", "members"}``, ``members`` as below
- ``say <text>`` or ``say {"text", "room"}``: send ``message`` to every client of the cluster
  (or of the room); answers ``{"ok": true}``
- ``members [room]``: the sockets of the room (default: all), on every server, as
  ``[{"sid", "server"}]`` (``{"error"}`` when the cluster does not answer: Redis is down)

Events to the clients: ``message {"text", "room", "from", "server"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from aiosocketio import ClusterError, Server, Socket
from aiosocketio.adapters.redis import RedisAdapter

__all__ = ["create_server", "main"]

log = logging.getLogger("examples.cluster")

MAX_TEXT = 1000


def create_server(name: str, port: int, redis_url: str, *, key: str = "socket.io") -> Server:
    """The Socket.IO server called ``name`` (answering ``whoami`` with it and ``port``),
    joined to the others by the Redis adapter (channels prefixed by ``key``)."""
    io = Server(adapter=RedisAdapter.factory(redis_url, key=key))

    async def members(room: str | None = None) -> list[dict[str, Any]] | dict[str, str]:
        target = io.in_(room) if room else io.sockets
        try:
            sockets = await target.fetch_sockets()
        except ClusterError as exc:  # Redis is down, or a server did not answer in time
            return {"error": f"the cluster did not answer: {exc}"}
        found = [{"sid": s.id, "server": (s.data or {}).get("server")} for s in sockets]
        return sorted(found, key=lambda m: m["sid"])

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.data = {"server": name}  # fetch_sockets() on the other servers sees it

    @io.on_event("whoami")
    def whoami(socket: Socket, *_: Any) -> dict[str, Any]:
        return {"server": name, "port": port, "pid": os.getpid(), "sid": socket.id}

    @io.on_event("join")
    async def join(socket: Socket, room: Any = None) -> dict[str, Any]:
        if not isinstance(room, str) or not room:
            return {"error": "join <room name>"}
        socket.join(room)
        return {"room": room, "members": await members(room)}

    @io.on_event("say")
    def say(socket: Socket, payload: Any = None) -> dict[str, Any]:
        if isinstance(payload, str):
            payload = {"text": payload}
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            return {"error": f"say <text of 1 to {MAX_TEXT} characters>"}
        room = payload.get("room") or None
        if room is not None and not isinstance(room, str):
            return {"error": "the room is a string"}
        message = {"text": text, "room": room, "from": socket.id, "server": name}
        (io.to(room) if room else io).emit("message", message)
        return {"ok": True}

    @io.on_event("members")
    async def on_members(socket: Socket, room: Any = None) -> Any:
        return await members(room if isinstance(room, str) else None)

    return io


async def serve(io: Server, host: str, port: int, name: str) -> None:
    """Serve until SIGINT or SIGTERM, then disconnect the clients and leave Redis."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await io.start(host, port)
    except OSError as exc:
        await io.close()
        raise SystemExit(f"{name}: cannot listen on {host}:{port}: {exc.strerror}") from None
    print(f"{name} listening on http://{host}:{port}/socket.io/", flush=True)  # run.py waits
    try:
        await stop.wait()
    finally:
        log.info("%s stopping", name)
        await io.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One server of the cluster example.")
    parser.add_argument("--name", default="s1", help="the server's name (default: s1)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (default: 3001)")
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379", help="Redis URL (default: %(default)s)"
    )
    parser.add_argument("--key", default="socket.io", help="Redis channel prefix")
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="logging level (default: info)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s",
    )
    io = create_server(args.name, args.port, args.redis, key=args.key)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(io, args.host, args.port, args.name))


if __name__ == "__main__":
    main()
