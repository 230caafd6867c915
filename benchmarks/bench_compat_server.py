"""aiosocketio.compat for the shared benchmark harness (../shared/bench, README "Server
contract"): the harness's python-socketio reference server, with only the import changed.

PORT=3000 python benchmarks/bench_compat_server.py           # standalone (the native fast path)
PORT=3000 python benchmarks/bench_compat_server.py --asgi    # ASGIApp on uvicorn
PORT=3000 python benchmarks/bench_compat_server.py --plain   # plain-function handlers

Compare with ``benchmarks/bench_server.py`` (the native API, the same front door) in one
run: ``./run --scenario echo --server native='...bench_server.py' --server compat='...'``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bench_server import run, serve_asgi, serve_standalone

import aiosocketio.compat as socketio


def create_server(plain: bool) -> socketio.AsyncServer:
    # any origin, as bench_server.py and the harness's Node reference server
    sio = socketio.AsyncServer(
        async_mode="asgi", max_http_buffer_size=1_000_000, cors_allowed_origins="*"
    )
    if plain:

        @sio.on("echo")
        def echo(sid: str, *args: Any) -> tuple[Any, ...]:
            return args

    else:

        @sio.on("echo")
        async def echo_async(sid: str, *args: Any) -> tuple[Any, ...]:
            return args  # a tuple is sent as several ack arguments

    @sio.on("broadcast")
    async def broadcast(sid: str, payload: Any) -> None:
        await sio.emit("bcast", payload)

    @sio.on("join")
    async def join(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)

    @sio.on("to-room")
    async def to_room(sid: str, room: str, payload: Any) -> None:
        await sio.emit("bcast", payload, to=room)

    return sio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asgi", action="store_true", help="serve ASGIApp on uvicorn")
    parser.add_argument("--plain", action="store_true", help="plain-function echo handler")
    args = parser.parse_args()
    port = int(os.environ.get("PORT", "3000"))
    import aiosocketio

    front = "asgi/uvicorn" if args.asgi else "standalone"
    kind = "plain" if args.plain else "async"
    print(f"aiosocketio.compat {aiosocketio.__version__} {front}, {kind} echo", flush=True)
    sio = create_server(args.plain)
    if args.asgi:
        serve_asgi(socketio.ASGIApp(sio), port)
    else:
        run(serve_standalone(sio.server, port))


if __name__ == "__main__":
    sys.exit(main())
