"""aiosocketio server for the shared benchmark harness (../shared/bench, README "Server contract").

PORT=3000 python benchmarks/bench_server.py              # standalone server (the fast path)
PORT=3000 python benchmarks/bench_server.py --asgi       # the same handlers, ASGI app on uvicorn
PORT=3000 python benchmarks/bench_server.py --workers 2  # our server's workers (serve --workers)
PORT=3000 python benchmarks/bench_server.py --asgi --workers 2  # the ASGI app, uvicorn's workers
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.workers import WORKERS_DIR_ENV

HERE = Path(__file__).resolve().parent


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


def serve_asgi(app: Any, port: int, **options: Any) -> None:
    """Run an ASGI app on uvicorn, as the harness's python-socketio reference runs (its
    WebSocket implementation needs the websockets package; without it, uvicorn's choice)."""
    import importlib.util

    import uvicorn

    ws = "websockets-sansio" if importlib.util.find_spec("websockets") else "auto"

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws=ws,
        log_level="warning",
        access_log=False,
        **options,
    )


def serve_asgi_workers(workers: int, port: int, async_echo: bool) -> None:
    """Run the ASGI app under uvicorn's own ``workers``, in workers mode: a run directory of
    their own (removed at the end), so that each request reaches its session's worker and
    broadcasts reach the clients of every worker (the inter-worker adapter)."""
    factory = "create_async_asgi_app" if async_echo else "create_asgi_app"
    with tempfile.TemporaryDirectory(prefix="aio-bench-", dir="/tmp") as tmp:
        # uvicorn's workers are new interpreters: they find the app by name, and the run
        # directory in their environment
        os.environ[WORKERS_DIR_ENV] = os.path.join(tmp, "run")
        serve_asgi(
            f"{Path(__file__).stem}:{factory}",
            port,
            factory=True,
            app_dir=str(HERE),
            workers=workers,
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


def create_asgi_app() -> Any:
    """The ASGI app of ``create_server()``, importable by name (for uvicorn's workers)."""
    return create_server().asgi_app()


def create_async_asgi_app() -> Any:
    """The ASGI app of ``create_server(async_echo=True)``, importable by name."""
    return create_server(True).asgi_app()


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
        help="N worker processes: of the standalone server under its supervisor (uvloop), "
        "or with --asgi, uvicorn's workers in workers mode",
    )
    args = parser.parse_args()
    if args.workers is not None and args.loop != "uvloop":
        parser.error("--workers runs on uvloop: not with --loop")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers needs at least 1 worker")
    port = int(os.environ.get("PORT", "3000"))
    import aiosocketio

    front = "asgi/uvicorn" if args.asgi else f"standalone ({args.loop})"
    if args.workers is not None:
        front += f", {args.workers} workers"
    print(f"aiosocketio {aiosocketio.__version__} {front} on 127.0.0.1:{port}", flush=True)
    if args.workers is not None and args.asgi:
        serve_asgi_workers(args.workers, port, args.async_echo)
        return
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
