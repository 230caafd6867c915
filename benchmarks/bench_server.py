"""aiosocketio server for the shared benchmark harness (../shared/bench, README "Server contract").

PORT=3000 python benchmarks/bench_server.py          # standalone server (the fast path)
PORT=3000 python benchmarks/bench_server.py --asgi   # the same handlers as an ASGI app on uvicorn
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from aiosocketio import Server, Socket


def create_server() -> Server:
    # any origin, as the harness's Node reference server (cors: "*"): browsers run against it
    io = Server(max_http_buffer_size=1_000_000, cors="*")

    @io.on_event("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args

    @io.on_event("broadcast")
    def broadcast(socket: Socket, payload: Any) -> None:
        io.emit("bcast", payload)

    @io.on_event("join")
    def join(socket: Socket, room: str) -> None:
        socket.join(room)

    @io.on_event("to-room")
    def to_room(socket: Socket, room: str, payload: Any) -> None:
        io.to(room).emit("bcast", payload)

    return io


async def run_standalone(port: int) -> None:
    io = create_server()
    await io.start("127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await io.close()


def run_asgi(port: int) -> None:
    import uvicorn

    io = create_server()
    uvicorn.run(
        io.asgi_app(),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asgi", action="store_true", help="serve as an ASGI app on uvicorn")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of the standalone server (to measure the choice)",
    )
    args = parser.parse_args()
    port = int(os.environ.get("PORT", "3000"))
    import aiosocketio

    front = "asgi/uvicorn" if args.asgi else f"standalone ({args.loop})"
    print(f"aiosocketio {aiosocketio.__version__} {front} on 127.0.0.1:{port}", flush=True)
    if args.asgi:
        run_asgi(port)
        return
    try:
        import uvloop
    except ImportError:
        args.loop = "asyncio"
    if args.loop == "asyncio":
        asyncio.run(run_standalone(port))
    else:
        uvloop.run(run_standalone(port))


if __name__ == "__main__":
    sys.exit(main())
