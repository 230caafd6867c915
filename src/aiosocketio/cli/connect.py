"""``python -m aiosocketio connect URL``: an interactive Socket.IO client (wscat for Socket.IO).

Command syntax (one command a line, from the terminal or from a pipe)::

    EVENT [ARG ...]          emit EVENT; each ARG is one JSON value: chat "hello" {"a":1}
    /ack EVENT [ARG ...]     emit and wait for the acknowledgement, printed as: < ack ARG ...
    /wait [EVENT]            wait for an event (named EVENT) no earlier /wait has claimed
    /sleep SECONDS           pause (lets a piped script give the server time)
    /help                    this list
    /quit                    leave (also /exit, or end of input)

Received events are printed as ``< NAMESPACE EVENT ARG ...``. Binary values are written as
``{"$binary": "<base64>"}`` in commands and shown as ``<N bytes>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import signal
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..client.manager import parse_url
from ..client.socket import Socket
from ..client.transports import TransportError
from ..errors import AioSocketIOError, ConnectionRefused
from .common import (
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    JSON_DECODER,
    TRANSPORT_NAMES,
    JSONArg,
    add_connection_options,
    console,
    event_token,
    format_value,
    json_values,
    new_manager,
    positive_float,
    positive_int,
)

log = logging.getLogger("aiosocketio.cli")

T = TypeVar("T")


# ---------------------------------------------------------------------- commands
@dataclass(slots=True)
class Command:
    """A parsed line: ``kind`` is emit, ack, wait, sleep, help or quit."""

    kind: str
    event: str | None = None
    args: list[Any] = field(default_factory=list)
    seconds: float = 0.0


COMMANDS_HELP = """\
commands:
  EVENT [ARG ...]        emit EVENT with JSON arguments:  chat "hello" {"a":1}
  /ack EVENT [ARG ...]   emit, then wait for the acknowledgement and print it
  /wait [EVENT]          wait for an event (named EVENT) that no earlier /wait claimed
  /sleep SECONDS         pause
  /help                  this help
  /quit                  leave (also /exit, Ctrl-D or end of input)
An event name with spaces, or starting with / or ", is written as a JSON string.
Binary arguments are written {"$binary":"<base64>"}."""


def parse_command(line: str) -> Command | None:
    """Parse one command line; None for a blank line or a ``#`` comment. Raises ValueError."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("/"):
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        name = word[1:].lower()
        if name in ("quit", "exit", "q"):
            return Command("quit")
        if name in ("help", "h", "?"):
            return Command("help")
        if name == "ack":
            event, args = _event_and_args(rest)
            return Command("ack", event, args)
        if name == "wait":
            if not rest:
                return Command("wait")
            event, args = _event_and_args(rest)
            if args:
                raise ValueError("/wait takes one event name")
            return Command("wait", event)
        if name == "sleep":
            try:
                seconds = float(rest)
            except ValueError:
                raise ValueError("/sleep takes a number of seconds") from None
            if not seconds >= 0:
                raise ValueError("/sleep takes a number of seconds")
            return Command("sleep", seconds=seconds)
        raise ValueError(f"unknown command {word} (try /help)")
    event, args = _event_and_args(text)
    return Command("emit", event, args)


def _event_and_args(text: str) -> tuple[str, list[Any]]:
    if not text:
        raise ValueError("an event name is missing")
    if text.startswith('"'):
        try:
            event, stop = JSON_DECODER.raw_decode(text)
        except json.JSONDecodeError:
            raise ValueError("bad quoted event name") from None
        if not isinstance(event, str):
            raise ValueError("bad quoted event name")
        rest = text[stop:]
        if rest and not rest[0].isspace():
            raise ValueError("a space must follow the event name")
    else:
        parts = text.split(None, 1)
        event, rest = parts[0], parts[1] if len(parts) > 1 else ""
    if not event:
        raise ValueError("an event name is missing")
    return event, json_values(rest)


EXIT_CODES_HELP = """\
exit codes:
  0  success (session ended, ack received, events received)
  1  refused by the server (connect_error), disconnected, or interrupted before completion
  2  usage error (bad option, bad JSON; in piped input also a bad command)
  3  could not connect, or timed out (connection, acknowledgement, /wait, --listen)"""

CONNECT_EPILOG = f"""\
interactive use (no --emit, --listen or --wait): commands are read from stdin, from the
terminal or from a pipe. Received events are printed as "< NAMESPACE EVENT ARG ...",
acknowledgements as "< ack ARG ...", binary values as <N bytes>.

{COMMANDS_HELP}

In piped input, a failing command ends the session with its exit code.

scripts: --emit EVENT [--data JSON ...] [--ack] emits once; with --ack the acknowledgement
arguments are printed on stdout as one JSON array. --listen N prints the first N events,
--wait S prints events for S seconds (with --listen: at most S seconds for the N events).
Events are printed as JSON lines {{"nsp":..., "event":..., "args":[...]}}, binary values
as {{"$binary":"<base64>"}}.

examples:
  aiosocketio connect http://localhost:3000/chat --auth '{{"token":"abc"}}'
  aiosocketio connect http://localhost:3000 --emit add --data 1 --data 2 --ack
  printf 'chat "hi"\\n/wait reply\\n' | aiosocketio connect http://localhost:3000

{EXIT_CODES_HELP}"""


def add_connect_parser(
    sub: Any, common: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "connect",
        help="connect to a Socket.IO server (interactive, or one-shot for scripts)",
        description="Connect to a Socket.IO server: show the events it sends, emit events\n"
        "to it. The URL's path is the namespace, as with io('http://host/nsp') in Node;\n"
        "without a scheme, https:// is assumed.",
        epilog=CONNECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="server URL, e.g. http://localhost:3000/chat")
    parser.add_argument(
        "-n", "--namespace", help="namespace to join (default: the URL's path, or /)"
    )
    add_connection_options(
        parser,
        transports=list(TRANSPORT_NAMES),
        transports_help="comma-separated transports in order of use (default: polling,websocket)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="limit for connecting, for each acknowledgement and /wait (default: %(default)g)",
    )
    group = parser.add_argument_group("scripts")
    group.add_argument(
        "-e", "--emit", metavar="EVENT", help="emit EVENT once (then exit, see --listen/--wait)"
    )
    group.add_argument(
        "-d",
        "--data",
        action="extend",
        type=JSONArg(),
        default=[],
        metavar="JSON",
        help="one argument of --emit, as JSON (repeat for several arguments)",
    )
    group.add_argument(
        "-a",
        "--ack",
        action="store_true",
        help="ask for an acknowledgement and print its arguments as a JSON array",
    )
    group.add_argument(
        "-l", "--listen", type=positive_int, metavar="N", help="print the first N events, exit"
    )
    group.add_argument(
        "-w",
        "--wait",
        type=positive_float,
        metavar="SECONDS",
        help="print events for SECONDS, then exit (with --listen: fail with 3 after it)",
    )
    common(parser)
    parser.set_defaults(check=functools.partial(_check_connect_args, parser))
    return parser


def _check_connect_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.emit is None:
        if args.data:
            parser.error("--data needs --emit")
        if args.ack:
            parser.error("--ack needs --emit")
    elif not args.emit:
        parser.error("--emit needs an event name")
    if args.namespace is not None and not args.namespace.startswith("/"):
        args.namespace = "/" + args.namespace
    try:
        parse_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))


# ---------------------------------------------------------------------- session
class _Ended(Exception):
    """The session ends early: the server disconnected or a signal came."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _LineReader:
    """Lines of stdin, read by a daemon thread (blocking reads never hold up the loop, and
    the thread never holds up the exit)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, prompt: str | None) -> None:
        self.loop = loop
        self.prompt = prompt
        self.prompting = False
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        thread = threading.Thread(target=self._run, name="aiosocketio-stdin", daemon=True)
        thread.start()

    def _run(self) -> None:
        try:
            while True:
                line: str | None
                if self.prompt is not None:
                    self.prompting = True
                    try:
                        line = input(self.prompt)
                    except EOFError:
                        line = None
                    finally:
                        self.prompting = False
                else:
                    line = sys.stdin.readline() or None
                self.loop.call_soon_threadsafe(self.queue.put_nowait, line)
                if line is None:
                    return
        except (RuntimeError, OSError, ValueError):
            return  # the loop is closed, or stdin is

    def render_prompt(self) -> str:
        if not self.prompting or self.prompt is None:
            return ""
        buffer = ""
        readline = sys.modules.get("readline")
        if readline is not None:
            with contextlib.suppress(Exception):
                buffer = readline.get_line_buffer()
        return self.prompt + buffer


class Session:
    """One connected socket and what the CLI does with it."""

    def __init__(self, args: argparse.Namespace, script: bool) -> None:
        self.args = args
        self.script = script
        self.timeout: float = args.timeout
        self.received: Counter[str] = Counter()
        self.total = 0
        self.claimed: Counter[str] = Counter()
        self.claimed_total = 0
        self.printed = 0
        self.loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[str] = self.loop.create_future()
        self._arrived = asyncio.Event()
        self.listen_done = asyncio.Event()
        self.leaving = False
        nsp = args.namespace
        self.manager = new_manager(
            args.url,
            path=args.path,
            query=args.query,
            headers=args.header,
            transports=args.transports,
            timeout=args.timeout,
            insecure=args.insecure,
        )
        self.nsp: str = nsp if nsp is not None else self.manager.uri.namespace
        self.sock: Socket = self.manager.socket(self.nsp, auth=args.auth)
        self.sock.on_any(self._on_event)
        console.on_broken_pipe = self.interrupt
        self.sock.on("disconnect", self._on_disconnect)

    # ------------------------------------------------------------------ incoming
    def _on_event(self, event: str, *args: Any) -> None:
        self.received[event] += 1
        self.total += 1
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()
        if self.script:
            limit = self.args.listen
            if limit is None and self.args.wait is None:
                return
            if limit is not None and self.printed >= limit:
                return
            self.printed += 1
            record = {"nsp": self.nsp, "event": event, "args": list(args)}
            console.line(format_value(record, binary="base64"))
            if limit is not None and self.printed >= limit:
                self.listen_done.set()
        else:
            parts = ["<", self.nsp, event_token(event)]
            parts.extend(format_value(arg) for arg in args)
            console.line(" ".join(parts))

    def _on_disconnect(self, reason: str) -> None:
        if self.leaving:
            return
        log.warning("disconnected: %s", reason)
        if not self.ended.done():
            self.ended.set_result("disconnected")

    def interrupt(self) -> None:
        if not self.ended.done():
            self.ended.set_result("interrupted")

    async def watch(self, awaitable: Awaitable[T]) -> T:
        """Await something, unless the session ends first (raises _Ended)."""
        task = asyncio.ensure_future(awaitable)
        waiting: set[asyncio.Future[Any]] = {task, self.ended}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise _Ended(self.ended.result())

    # ------------------------------------------------------------------ connecting
    async def connect(self) -> int:
        """Connect; EXIT_OK, or report the failure and give its exit code."""
        url = self.manager.uri.id("")
        self.sock.connect()
        try:
            await self.watch(self.sock.wait_connected(self.timeout))
        except ConnectionRefused as exc:
            log.error("connect_error: %s", exc.message)
            if exc.data is not None:
                log.error("data: %s", format_value(exc.data))
            return EXIT_ERROR
        except TimeoutError:
            log.error("could not connect to %s%s: timed out after %gs", url, self.nsp, self.timeout)
            return EXIT_CONNECT
        except (TransportError, AioSocketIOError) as exc:
            log.error("could not connect to %s%s: %s", url, self.nsp, exc)
            return EXIT_CONNECT
        except _Ended:
            return EXIT_ERROR
        engine = self.manager.engine
        transport = engine.transport.name if engine and engine.transport else "?"
        log.info("connected to %s%s (id %s, %s)", url, self.nsp, self.sock.id, transport)
        return EXIT_OK

    async def close(self) -> None:
        self.leaving = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sock.disconnect(), 6.0)

    # ------------------------------------------------------------------ actions
    async def emit_with_ack(self, event: str, args: list[Any]) -> list[Any]:
        """Emit and wait for the ack's arguments; AckTimeout after the timeout."""
        future: asyncio.Future[list[Any]] = self.loop.create_future()

        def settle(error: BaseException | None, *values: Any) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(list(values))

        self.sock.timeout(self.timeout).emit(event, *args, callback=settle)
        return await self.watch(future)

    async def wait_for_event(self, event: str | None) -> None:
        """Wait until an event (named ``event``) arrived that no earlier call claimed."""

        async def arrival() -> None:
            while True:
                if event is None and self.total > self.claimed_total:
                    self.claimed_total += 1
                    return
                if event is not None and self.received[event] > self.claimed[event]:
                    self.claimed[event] += 1
                    return
                await self._arrived.wait()

        await self.watch(asyncio.wait_for(arrival(), self.timeout))


# ---------------------------------------------------------------------- modes
async def _script(session: Session) -> int:
    args = session.args
    if args.emit is not None:
        if args.ack:
            try:
                values = await session.emit_with_ack(args.emit, list(args.data))
            except TimeoutError:
                log.error("no acknowledgement within %gs", session.timeout)
                return EXIT_CONNECT
            console.line(format_value(values, binary="base64"))
        else:
            session.sock.emit(args.emit, *args.data)
    if args.listen is not None:
        try:
            await session.watch(asyncio.wait_for(session.listen_done.wait(), args.wait))
        except TimeoutError:
            log.error("%d of %d events within %gs", session.printed, args.listen, args.wait)
            return EXIT_CONNECT
    elif args.wait is not None:
        with contextlib.suppress(TimeoutError):
            await session.watch(asyncio.wait_for(asyncio.Event().wait(), args.wait))
    return EXIT_OK


async def _interactive(session: Session) -> int:
    tty = sys.stdin.isatty()
    saved_tty = _save_terminal() if tty else None
    if tty:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        log.info("type /help for commands, /quit to leave")
    reader = _LineReader(session.loop, "> " if tty else None)
    if tty:
        console.set_sticky(sys.stdout, reader.render_prompt)
    try:
        while True:
            line = await session.watch(reader.queue.get())
            if line is None:
                return EXIT_OK
            try:
                command = parse_command(line)
            except ValueError as exc:
                log.error("%s", exc)
                if tty:
                    continue
                return EXIT_USAGE
            if command is None:
                continue
            code = await _run_command(session, command)
            if code is None:
                return EXIT_OK
            if code != EXIT_OK and not tty:
                return code
    finally:
        if tty:
            console.set_sticky(None, None)
            _restore_terminal(saved_tty)


async def _run_command(session: Session, command: Command) -> int | None:
    """Run one command: its exit code, or None for /quit."""
    kind = command.kind
    if kind == "quit":
        return None
    if kind == "help":
        console.line(COMMANDS_HELP)
    elif kind == "sleep":
        await session.watch(asyncio.sleep(command.seconds))
    elif kind == "wait":
        try:
            await session.wait_for_event(command.event)
        except TimeoutError:
            what = f"event {command.event!r}" if command.event is not None else "event"
            log.error("no %s within %gs", what, session.timeout)
            return EXIT_CONNECT
    else:
        assert command.event is not None
        try:
            if kind == "ack":
                values = await session.emit_with_ack(command.event, command.args)
                console.line(" ".join(["< ack", *(format_value(v) for v in values)]))
            else:
                session.sock.emit(command.event, *command.args)
        except ValueError as exc:  # a reserved event name
            log.error("%s", exc)
            return EXIT_USAGE
        except TimeoutError:
            log.error("no acknowledgement within %gs", session.timeout)
            return EXIT_CONNECT
    return EXIT_OK


def _save_terminal() -> Any:
    try:
        import termios

        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:
        return None


def _restore_terminal(saved: Any) -> None:
    if saved is None:
        return
    try:
        import termios

        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except Exception:
        return


async def run_connect(args: argparse.Namespace) -> int:
    """The ``connect`` command; returns the exit code."""
    script = args.emit is not None or args.listen is not None or args.wait is not None
    session = Session(args, script)
    loop = session.loop
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, session.interrupt)
            handled.append(sig)
    try:
        code = await session.connect()
        if code != EXIT_OK:
            return code
        try:
            return await (_script(session) if script else _interactive(session))
        except _Ended as ended:
            if ended.why == "interrupted" and not script:
                return EXIT_OK
            return EXIT_ERROR
    finally:
        await session.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
