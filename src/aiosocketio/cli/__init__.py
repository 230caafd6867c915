"""Command line: ``python -m aiosocketio`` (also the ``aiosocketio`` script).

    aiosocketio serve [--app MODULE:ATTRIBUTE] [--host H] [--port P] ...
    aiosocketio connect URL [--emit EVENT [--data JSON] [--ack]] [--listen N] [--wait S] ...
    aiosocketio bench URL [--scenario echo|listen|churn] [--clients N] [--rate R] ...

See ``docs/cli.md``; ``connect`` lives in :mod:`aiosocketio.cli.connect`, ``bench`` in
:mod:`aiosocketio.loadtest`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from importlib import metadata
from typing import Any

from ..asgi import ASGIApp
from ..loadtest import add_bench_parser, run_bench
from ..server.running import ListenError, listening_lines, stop_on_signals
from ..server.server import Server
from ..workers.supervisor import Supervisor, workers_arg
from .common import (
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    TRANSPORT_NAMES,
    ConsoleHandler,
    console,
    positive_float,
    transports_arg,
)
from .connect import add_connect_parser, run_connect

__all__ = ["EXIT_CONNECT", "EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]

log = logging.getLogger("aiosocketio.cli")

LEVELS = ("debug", "info", "warning", "error", "critical")

SERVE_EPILOG = """\
Where it listens is printed on stdout: "listening on http://HOST:PORT/ (Socket.IO path:
/PATH/)", "open http://HOST:PORT/ in a browser" when the app serves a page at /, and the
URL clients connect to (the path after the host is the namespace); with --port 0 the
system picks a free port. The number of connections is shown on stderr: a status line on
a terminal, a log line on each change otherwise (--quiet: neither). SIGINT or SIGTERM
stops the server (exit code 0).

With --app, the server is the module attribute (default attribute: io): a Server, its ASGI
app (io.asgi_app()), or a function (plain or async) returning either; the engine options
above are then ignored (the app's server has its own).

With --workers N, a supervisor runs N worker processes that import the app, routes each
connection to the worker of its session, restarts workers that die, and drains them on
SIGINT or SIGTERM (at most --grace seconds, then SIGKILL).

exit codes:
  0  stopped by SIGINT or SIGTERM
  1  runtime error (cannot listen on the address, the app failed to load, a worker kept
     failing before it was ready)
  2  usage error (bad option, --app names no Server)"""


ENGINE_OPTIONS = (
    "path",
    "cors",
    "cors_credentials",
    "transports",
    "ping_interval",
    "ping_timeout",
)


MAIN_EPILOG = """\
"aiosocketio COMMAND --help" tells more (docs/cli.md too).

exit codes:
  0  success
  1  runtime error (connect: refused by the server, or disconnected; bench: errors or
     losses)
  2  usage error
  3  connect, bench: could not connect, or timed out"""


class _AppError(Exception):
    """--app does not name a Server (or its ASGI app, or a factory of either)."""


# ---------------------------------------------------------------------- parser
def _common(parser: argparse.ArgumentParser) -> None:
    default = "info" if parser.prog.endswith(" serve") else "warning"
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        type=str.lower,
        default=default,
        metavar="LEVEL",
        help=f"level of the library's log messages: {', '.join(LEVELS)} (default: {default})",
    )
    parser.add_argument("--quiet", action="store_true", help="only errors and the command's output")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiosocketio",
        description="Socket.IO v5 server and client for asyncio.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"aiosocketio {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run a Socket.IO server",
        description="Run a Socket.IO server (the standalone HTTP/WebSocket server).",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--app",
        metavar="MODULE:ATTRIBUTE",
        help="the Server to run (or its ASGI app, or a function returning either); "
        "default: an empty server",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serve.add_argument(
        "--port", type=_port, default=3000, help="port, 0 for any free one (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=workers_arg,
        default=None,
        metavar="N",
        help="run N worker processes (auto: one per CPU) under a supervisor; default: this"
        " process alone",
    )
    serve.add_argument(
        "--grace",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="with --workers: how long the workers may drain on SIGTERM (default: 10)",
    )
    engine = serve.add_argument_group("engine options (without --app)")
    engine.add_argument("--path", default=None, help="Engine.IO path (default: /socket.io)")
    engine.add_argument(
        "--cors",
        action="append",
        metavar="ORIGIN",
        help="allowed origin, repeatable ('*': any origin; default: no CORS headers)",
    )
    engine.add_argument(
        "--cors-credentials",
        action="store_true",
        default=None,
        help="allow credentials in cross-origin requests",
    )
    engine.add_argument(
        "--transports",
        type=transports_arg,
        default=None,
        metavar="LIST",
        help=f"comma-separated transports (default: {','.join(TRANSPORT_NAMES)})",
    )
    engine.add_argument(
        "--ping-interval",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="seconds between pings (default: 25)",
    )
    engine.add_argument(
        "--ping-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="seconds to wait for a pong (default: 20)",
    )
    _common(serve)
    add_connect_parser(sub, _common)
    add_bench_parser(sub, _common)
    return parser


def _version() -> str:
    """The installed version (the source's when the package is not installed)."""
    try:
        return metadata.version("aiosocketio")
    except metadata.PackageNotFoundError:
        from .. import __version__

        return __version__


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value


# ---------------------------------------------------------------------- logging
class _Formatter(logging.Formatter):
    """The CLI's own messages as they are; the library's with time, level and logger."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == log.name:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self.formatException(record.exc_info)
            return message
        return super().format(record)


def _setup_logging(level_name: str, quiet: bool) -> None:
    level = getattr(logging, level_name.upper())
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, ConsoleHandler):
            root.removeHandler(handler)
    handler = ConsoleHandler(console)
    handler.setFormatter(_Formatter())
    root.addHandler(handler)
    root.setLevel(max(level, logging.ERROR) if quiet else level)
    log.setLevel(logging.ERROR if quiet else min(level, logging.INFO))


# ---------------------------------------------------------------------- serve
async def _load_app(spec: str) -> Server:
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise _AppError(f"--app {spec!r}: expected MODULE:ATTRIBUTE")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as uvicorn does: apps in the current directory
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise _AppError(f"--app {spec!r}: no module named {exc.name!r}") from None
        raise
    value: Any = module
    for name in (attribute or "io").split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise _AppError(f"--app {spec!r}: {name!r} not found") from None
    if not isinstance(value, Server | ASGIApp):
        if not callable(value):
            raise _AppError(f"--app {spec!r} is {_a(value)}, not {_EXPECTED}")
        if not _callable_without_arguments(value):
            raise _AppError(f"--app {spec!r} is {_a(value)} that takes arguments, not {_EXPECTED}")
        value = value()
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, Server | ASGIApp):
            raise _AppError(f"--app {spec!r} returned {_a(value)}, not {_EXPECTED}")
    if isinstance(value, ASGIApp):
        if not isinstance(value.server, Server):
            server = _a(value.server)
            raise _AppError(f"--app {spec!r} is the ASGI app of {server}, not of a Server")
        if value.other_app is not None:
            log.warning(
                "--app %s: the standalone server serves the Socket.IO server and its static "
                "files, not the ASGI app's other routes (run it under an ASGI server for them)",
                spec,
            )
        return value.server
    return value


_EXPECTED = "an aiosocketio.Server, its asgi_app() or a function returning one"


def _a(value: Any) -> str:
    """The name of the value's type with its article: "a function", "an int"."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _callable_without_arguments(value: Any) -> bool:
    try:
        inspect.signature(value).bind()
    except TypeError:
        return False
    except ValueError:
        return True  # no signature to read (a builtin): try it
    return True


def _build_server(args: argparse.Namespace) -> Server:
    cors: Any = args.cors
    if cors is not None and "*" in cors:
        cors = "*"
    options: dict[str, Any] = {"cors": cors}
    for name in ENGINE_OPTIONS:
        value = getattr(args, name)
        if value is not None and name != "cors":
            options[name] = value
    return Server(**options)


async def _report_connections(io: Server, tty: bool) -> None:
    """Keep the connection count on the status line (terminal) or log its changes."""
    last = None if tty else (0, 0)
    while True:
        state = (io.engine.clients_count, sum(len(n.sockets) for n in io.namespaces.values()))
        if state != last:
            text = f"connections: {state[0]}, sockets: {state[1]}"
            if tty:
                console.set_sticky(sys.stderr, functools.partial(str, text))
            else:
                log.info("%s", text)
            last = state
        await asyncio.sleep(0.25 if tty else 0.5)


async def _serve(args: argparse.Namespace) -> int:
    if args.app:
        given = [option for option in ENGINE_OPTIONS if getattr(args, option) is not None]
        if given:
            names = ", ".join("--" + name.replace("_", "-") for name in given)
            log.warning("ignored with --app (the app's server has its own): %s", names)
        try:
            io = await _load_app(args.app)
        except _AppError as exc:
            log.error("%s", exc)
            return EXIT_USAGE
        except Exception:
            log.exception("could not load %s", args.app)
            return EXIT_ERROR
    else:
        io = _build_server(args)
    stop = asyncio.Event()
    with stop_on_signals(stop.set, always=True):
        try:
            standalone = await io.start(args.host, args.port)
        except ListenError as exc:
            log.error("%s", exc)
            return EXIT_ERROR
        except OSError as exc:
            log.error("could not start the server: %s", exc)
            return EXIT_ERROR
        page = "/" in io.static_files
        for line in listening_lines(args.host, standalone.port, io.engine.path, page=page):
            console.line(line)
        return await _until_stopped(io, stop, args.quiet)


async def _until_stopped(io: Server, stop: asyncio.Event, quiet: bool) -> int:
    reporter = None
    if not quiet:
        reporter = asyncio.ensure_future(_report_connections(io, sys.stderr.isatty()))
    try:
        await stop.wait()
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        console.set_sticky(None, None)
        log.info("stopping")
        try:
            await asyncio.wait_for(io.close(), 10.0)
        except TimeoutError:
            log.warning("the server did not close within 10s")
    return EXIT_OK


def _supervise(args: argparse.Namespace, import_path: Sequence[str] = ()) -> int:
    """``serve --workers N``: the supervisor, which routes the connections too."""
    settings = {
        name: value
        for name, value in vars(args).items()
        if name not in ("command", "workers", "grace") and not callable(value)
    }
    supervisor = Supervisor(settings, args.workers, grace=args.grace, import_path=import_path)
    try:
        return _run(supervisor.run())
    except KeyboardInterrupt:
        return EXIT_OK


# ---------------------------------------------------------------------- main
def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return int(uvloop.run(coro))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 error, 2 usage, 3 connect)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        check = getattr(args, "check", None)
        if check is not None:
            check(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _setup_logging(args.log_level, args.quiet)
    if args.command == "serve" and args.workers is not None:
        return _supervise(args)
    if args.command == "serve":
        runner = _serve(args)
    elif args.command == "bench":
        runner = run_bench(args, _version())
    else:
        runner = run_connect(args)
    try:
        return _run(runner)
    except KeyboardInterrupt:
        return EXIT_OK if args.command == "serve" else EXIT_ERROR
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no error again at exit)
        return EXIT_ERROR
