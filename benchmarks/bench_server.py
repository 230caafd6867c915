"""aiosocketio server for the shared benchmark harness (../shared/bench, README "Server contract").

PORT=3000 python benchmarks/bench_server.py              # standalone server (the fast path)
PORT=3000 python benchmarks/bench_server.py --asgi       # the same handlers, ASGI app on uvicorn
PORT=3000 python benchmarks/bench_server.py --workers 2  # our server's workers (serve --workers)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from aiosocketio import Server, Socket


def create_server(async_echo: bool = False) -> Server:
    # any origin, as the harness's Node reference server (cors: "*"): browsers run against it
    io = Server(max_http_buffer_size=1_000_000, cors="*")

    if async_echo:

        @io.on_event("echo")
        async def echo_async(socket: Socket, *args: Any) -> tuple[Any, ...]:
            return args

    else:

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


async def serve_standalone(io: Server, port: int) -> None:
    """Run ``io``'s standalone server until SIGINT or SIGTERM."""
    await io.start("127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await io.close()


def serve_asgi(app: Any, port: int) -> None:
    """Run an ASGI app on uvicorn, as the harness's python-socketio reference runs."""
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
    )


def run(coro: Coroutine[Any, Any, None], loop: str = "uvloop") -> str:
    """Run a coroutine on uvloop (when installed and asked for) or asyncio; the loop used."""
    try:
        import uvloop
    except ImportError:
        loop = "asyncio"
    if loop == "asyncio":
        asyncio.run(coro)
    else:
        uvloop.run(coro)
    return loop


def create_async_server() -> Server:
    """``create_server(async_echo=True)``, importable by name (for the workers)."""
    return create_server(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asgi", action="store_true", help="serve as an ASGI app on uvicorn")
    parser.add_argument(
        "--async-echo", action="store_true", help="a coroutine echo handler (a task per event)"
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of the standalone server (to measure the choice)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="N worker processes of the standalone server under its supervisor (uvloop)",
    )
    args = parser.parse_args()
    if args.workers is not None and (args.asgi or args.loop != "uvloop"):
        parser.error(
            "--workers runs the standalone server's workers (uvloop): not with --asgi or --loop"
        )
    port = int(os.environ.get("PORT", "3000"))
    import aiosocketio

    front = "asgi/uvicorn" if args.asgi else f"standalone ({args.loop})"
    if args.workers is not None:
        front += f", {args.workers} workers"
    print(f"aiosocketio {aiosocketio.__version__} {front} on 127.0.0.1:{port}", flush=True)
    if args.workers is not None:
        # each worker imports this file as a module and calls the factory
        factory = create_async_server if args.async_echo else create_server
        aiosocketio.run(
            factory, "127.0.0.1", port, workers=args.workers, grace=3.0, log_level="warning"
        )
        return
    io = create_server(args.async_echo)
    if args.asgi:
        serve_asgi(io.asgi_app(), port)
    else:
        run(serve_standalone(io, port), args.loop)


if __name__ == "__main__":
    sys.exit(main())
