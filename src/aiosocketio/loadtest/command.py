"""``python -m aiosocketio bench URL``: the options, and running them (docs/bench.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from ..cli.common import (
    EXIT_CONNECT,
    EXIT_ERROR,
    TRANSPORT_NAMES,
    JSONArg,
    add_connection_options,
    console,
    number_arg,
    positive_float,
    positive_int,
)
from ..client import parse_url
from .report import progress_line, summary, table
from .run import BenchError, Run
from .settings import SCENARIOS, Settings
from .stats import Stats

__all__ = ["add_bench_parser", "run_bench"]

log = logging.getLogger("aiosocketio.cli")

DEFAULT_DURATION = 10.0

BENCH_EPILOG = """\
scenarios:
  echo    each client emits EVENT (default "echo") with a payload of --size bytes and
          waits for the acknowledgement, with --window emits in flight; latency is the
          time to the ack. The server must acknowledge EVENT (e.g. with its arguments).
  listen  each client counts the broadcasts of EVENT (default "message"); with --start,
          one client emits that event once all are connected (to make the server begin).
          When the first argument of the broadcast is an integer, or an object with an
          integer "seq", the numbers are followed: gaps are losses (--count-only: just
          count). With "ts" (the sender's Date.now()) too, delivery latency is reported.
  churn   each client connects, keeps the connection --hold seconds, disconnects, again.

The run ends after --messages (echo: sent and acknowledged per client; listen: received
per client) or --cycles (churn, per client), or after --duration seconds counted from
the start of the last client; without either, after 10 seconds. The first client
connects alone: when it cannot, nothing else is tried.

output: a live progress line on stderr (on a terminal), then the report on stdout (on
stderr with --json -); --json FILE (or -) writes it as JSON.

exit codes:
  0  no errors, no losses
  1  errors (failed connections, ack timeouts, disconnections, ...) or losses; or the
     first client was refused by the server
  2  usage error
  3  the first client could not connect (unreachable, timed out)"""


def _size(text: str) -> int:
    value = number_arg(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _rate(text: str) -> float:
    value = number_arg(text, float, "a number")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (all at once) or more: {text!r}")
    return value


def _seconds(text: str) -> float:
    if text == "0":
        return 0.0
    return positive_float(text)


def add_bench_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="load-test a Socket.IO server (echo with acks, broadcasts, connection churn)",
        description="Load-test a Socket.IO server, ours or any other: N clients, each with a\n"
        "connection of its own, run a scenario; latencies, throughput, errors and losses\n"
        "are reported. The URL's path is the namespace.",
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="server URL, e.g. http://localhost:3000/")
    parser.add_argument(
        "-s", "--scenario", choices=SCENARIOS, default="echo", help="what the clients do"
    )
    parser.add_argument(
        "-c", "--clients", type=positive_int, default=10, metavar="N", help="clients (default: 10)"
    )
    parser.add_argument(
        "-r",
        "--rate",
        type=_rate,
        default=100.0,
        metavar="PER_SECOND",
        help="clients started per second, 0 for all at once (default: 100)",
    )
    parser.add_argument(
        "-d",
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="run for SECONDS after the last client started (default: 10, unless --messages"
        " or --cycles)",
    )
    parser.add_argument(
        "-n",
        "--messages",
        type=positive_int,
        metavar="N",
        help="per client: echo sends N, listen waits for N broadcasts",
    )
    parser.add_argument("--cycles", type=positive_int, metavar="N", help="churn: cycles per client")
    parser.add_argument("--namespace", help="namespace (default: the URL's path, or /)")
    add_connection_options(
        parser,
        transports=["websocket"],
        transports_help=f"comma-separated, in order of use: {', '.join(TRANSPORT_NAMES)} or "
        "polling,websocket (with the upgrade) (default: websocket)",
    )
    parser.add_argument("-e", "--event", help='event name (default: echo "echo", listen "message")')
    parser.add_argument(
        "--size", type=_size, default=32, metavar="BYTES", help="echo: payload size (default: 32)"
    )
    parser.add_argument("--binary", action="store_true", help="echo: send bytes, not a string")
    parser.add_argument(
        "-w",
        "--window",
        type=positive_int,
        default=1,
        metavar="N",
        help="echo: emits in flight per client (default: 1)",
    )
    parser.add_argument(
        "--ack-timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="echo: an ack later than this is an error (default: 10)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="limit of each connection (default: 10)",
    )
    parser.add_argument(
        "--start", metavar="EVENT", help="listen: emitted by one client once all are connected"
    )
    parser.add_argument(
        "--start-data",
        action="extend",
        type=JSONArg(),
        default=[],
        metavar="JSON",
        help="listen: one argument of --start (repeatable)",
    )
    parser.add_argument(
        "--count-only", action="store_true", help="listen: ignore sequence numbers, just count"
    )
    parser.add_argument(
        "--hold",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="churn: how long each connection is kept (default: 0)",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="write the report as JSON to FILE (- for stdout)"
    )
    common(parser)
    parser.set_defaults(check=functools.partial(_check, parser))


_ONLY = {
    "cycles": "churn",
    "hold": "churn",
    "start": "listen",
    "start_data": "listen",
    "count_only": "listen",
    "binary": "echo",
}


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name, scenario in _ONLY.items():
        if getattr(args, name) and args.scenario != scenario:
            parser.error(f"--{name.replace('_', '-')} is for the {scenario} scenario")
    if args.start_data and args.start is None:
        parser.error("--start-data needs --start")
    if args.namespace is not None and not args.namespace.startswith("/"):
        args.namespace = "/" + args.namespace
    try:
        parse_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))


def settings_of(args: argparse.Namespace) -> Settings:
    duration = args.duration
    if duration is None and args.messages is None and args.cycles is None:
        duration = DEFAULT_DURATION
    namespace = args.namespace if args.namespace is not None else parse_url(args.url).namespace
    default_event = "message" if args.scenario == "listen" else "echo"
    return Settings(
        url=args.url,
        scenario=args.scenario,
        clients=args.clients,
        rate=args.rate,
        duration=duration,
        messages=args.messages,
        cycles=args.cycles,
        transports=args.transports,
        namespace=namespace,
        path=args.path,
        auth=args.auth,
        query=list(args.query),
        headers=list(args.header),
        insecure=args.insecure,
        event=args.event or default_event,
        size=args.size,
        binary=args.binary,
        window=args.window,
        ack_timeout=args.ack_timeout,
        connect_timeout=args.connect_timeout,
        start_event=args.start,
        start_args=list(args.start_data),
        count_only=args.count_only,
        hold=args.hold,
    )


async def run_bench(args: argparse.Namespace, version: str) -> int:
    """The ``bench`` command; returns the exit code."""
    settings = settings_of(args)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        render = progress_line(settings)
        text = [render(Stats(settings.clients))]
        console.set_sticky(sys.stderr, lambda: text[0])

        def progress(stats: Stats) -> None:
            text[0] = render(stats)
            console.redraw()

    run = Run(settings, progress)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, run.interrupt)
            handled.append(sig)
    try:
        stats = await run.execute()
    except BenchError as exc:
        url = parse_url(settings.url)
        where = f"{url.scheme}://{url.host}:{url.port}{settings.namespace}"
        log.error("could not connect to %s: %s", where, exc)
        return EXIT_ERROR if exc.refused else EXIT_CONNECT
    finally:
        console.set_sticky(None, None)
        for sig in handled:
            loop.remove_signal_handler(sig)
    result = summary(settings, stats, version)
    return _output(args, result)


def _output(args: argparse.Namespace, result: dict[str, Any]) -> int:
    to_stdout = args.json == "-"
    if not args.quiet:
        stream = sys.stderr if to_stdout else sys.stdout
        for line in table(result):
            console.line(line, stream)
    if args.json is not None:
        text = json.dumps(result, indent=2)
        if to_stdout:
            console.line(text)
        else:
            try:
                with open(args.json, "w", encoding="utf-8") as file:
                    file.write(text + "\n")
            except OSError as exc:
                log.error("could not write %s: %s", args.json, exc)
                return EXIT_ERROR
    code: int = result["exit_code"]
    return code
