"""Command line: ``python -m aiosocketio serve ...`` (also the ``aiosocketio`` script)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .server.server import Server

__all__ = ["main"]

log = logging.getLogger("aiosocketio.cli")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiosocketio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a Socket.IO server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (0: any)")
    serve.add_argument(
        "--app",
        metavar="MODULE:ATTRIBUTE",
        help="a module attribute holding a Server (or a function returning one); "
        "default: an empty server",
    )
    serve.add_argument("--path", default="/socket.io", help="Engine.IO path")
    serve.add_argument(
        "--cors", action="append", metavar="ORIGIN", help="allowed origin ('*' for any)"
    )
    serve.add_argument(
        "--transports",
        default="polling,websocket",
        help="comma-separated transports (polling, websocket)",
    )
    serve.add_argument("--ping-interval", type=float, default=25.0, help="seconds")
    serve.add_argument("--ping-timeout", type=float, default=20.0, help="seconds")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    return parser


def _load_app(spec: str) -> Server:
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    value: Any = getattr(module, attribute or "io")
    if callable(value) and not isinstance(value, Server):
        value = value()
    if not isinstance(value, Server):
        raise TypeError(f"{spec} is not an aiosocketio.Server")
    return value


async def _serve(args: argparse.Namespace) -> int:
    if args.app:
        sys.path.insert(0, ".")
        io = _load_app(args.app)
    else:
        cors: Any = args.cors
        if cors == ["*"]:
            cors = "*"
        io = Server(
            path=args.path,
            cors=cors,
            transports=[t.strip() for t in args.transports.split(",") if t.strip()],
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
        )
    standalone = await io.start(args.host, args.port)
    print(
        f"aiosocketio listening on http://{args.host}:{standalone.port}{io.engine.path}/",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await io.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import uvloop

        return int(uvloop.run(_serve(args)))
    except ImportError:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return EXIT_OK
