"""What the command-line tools share: exit codes, the console that keeps a prompt or a
status line at the bottom of a terminal (and the logging handler that writes through it),
JSON values typed on a command line, and option types."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import ssl
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from ..client.manager import Manager

log = logging.getLogger("aiosocketio.cli")

EXIT_OK = 0
"""Success: the session ended normally, the ack or the events came."""
EXIT_ERROR = 1
"""Runtime error: refused by the server, disconnected, interrupted before completion."""
EXIT_USAGE = 2
"""Usage error: bad option or value (or a bad command in piped input)."""
EXIT_CONNECT = 3
"""Could not connect (unreachable, handshake failed) or timed out."""

T = TypeVar("T")
N = TypeVar("N", int, float)

TRANSPORT_NAMES = ("polling", "websocket")


# ---------------------------------------------------------------------- console
class Console:
    """Writes whole lines; on a terminal, keeps one "sticky" line (a prompt or a status) at
    the bottom, erased before each line and drawn again after it."""

    def __init__(self) -> None:
        self._sticky: Callable[[], str] | None = None
        self._sticky_stream: TextIO | None = None
        self._lock = threading.Lock()
        self.on_broken_pipe: Callable[[], None] | None = None

    def set_sticky(self, stream: TextIO | None, render: Callable[[], str] | None) -> None:
        """Keep ``render()`` at the bottom of ``stream`` (a terminal); None removes it."""
        with self._lock:
            self._erase()
            if stream is None or render is None:
                self._sticky = self._sticky_stream = None
                return
            self._sticky, self._sticky_stream = render, stream
            self._erase()
            self._draw()

    def redraw(self) -> None:
        with self._lock:
            self._erase()
            self._draw()

    def line(self, text: str, stream: TextIO | None = None) -> None:
        """Write one line (stdout by default) above the sticky line."""
        out = stream if stream is not None else sys.stdout
        with self._lock:
            self._erase()
            try:
                out.write(text + "\n")
                out.flush()
            except BrokenPipeError:
                if out is not sys.stdout:
                    raise
                # the reader left (``| head -1``): write no more, and say so once
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
                if self.on_broken_pipe is not None:
                    self.on_broken_pipe()
            finally:
                self._draw()

    def _erase(self) -> None:
        if self._sticky_stream is not None:
            self._sticky_stream.write("\r\x1b[K")
            self._sticky_stream.flush()

    def _draw(self) -> None:
        if self._sticky_stream is not None and self._sticky is not None:
            self._sticky_stream.write(self._sticky())
            self._sticky_stream.flush()


console = Console()


class ConsoleHandler(logging.Handler):
    """Log records to stderr through the console (so they do not break a prompt)."""

    def __init__(self, target: Console) -> None:
        super().__init__()
        self.console = target

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.line(self.format(record), sys.stderr)
        except Exception:
            self.handleError(record)


# ---------------------------------------------------------------------- JSON values
JSON_DECODER = json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def format_value(value: Any, *, binary: str = "size") -> str:
    """Compact JSON, as JSON.stringify writes it; bytes as ``<N bytes>`` (binary="size") or
    ``{"$binary":"<base64>"}`` (binary="base64", which keeps the output valid JSON)."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if binary == "size":
            return f"<{len(data)} bytes>"
        return '{"$binary":' + json.dumps(base64.b64encode(data).decode("ascii")) + "}"
    if isinstance(value, dict):
        items = (
            json.dumps(str(key), ensure_ascii=False) + ":" + format_value(item, binary=binary)
            for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_value(item, binary=binary) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _binary_in(value: Any) -> Any:
    """``{"$binary": "<base64>"}`` objects (at any depth) become bytes."""
    if isinstance(value, dict):
        if len(value) == 1 and "$binary" in value:
            encoded = value["$binary"]
            if not isinstance(encoded, str):
                raise ValueError('"$binary" takes a base64 string')
            try:
                return base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"bad base64 in $binary: {exc}") from None
        return {key: _binary_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_binary_in(item) for item in value]
    return value


def parse_json(text: str) -> Any:
    """One JSON value (with ``$binary`` objects as bytes); ValueError otherwise."""
    values = json_values(text)
    if len(values) != 1:
        raise ValueError("expected exactly one JSON value")
    return values[0]


def json_values(text: str) -> list[Any]:
    """JSON values separated by whitespace: ``"hello" {"a":1} 3``."""
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            return values
        try:
            value, stop = JSON_DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ValueError(f"bad JSON at {_excerpt(text, pos)}: {exc.msg}") from None
        if stop < end and not text[stop].isspace():
            raise ValueError(f"bad JSON at {_excerpt(text, stop)}: separate values with spaces")
        values.append(_binary_in(value))
        pos = stop


def _excerpt(text: str, pos: int) -> str:
    rest = text[pos:]
    return repr(rest if len(rest) <= 20 else rest[:20] + "...")


def event_token(event: str) -> str:
    """An event name as commands write it: bare when it can be, else a JSON string."""
    if event and not event.startswith(('"', "/", "#")) and not any(c.isspace() for c in event):
        return event
    return json.dumps(event, ensure_ascii=False)


# ---------------------------------------------------------------------- options
def json_object_arg(text: str) -> dict[str, Any]:
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


class JSONArg:
    """argparse type: one JSON value (keeps the value apart from argparse's None)."""

    __name__ = "JSON"

    def __call__(self, text: str) -> list[Any]:
        try:
            return [parse_json(text)]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None


def header_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c.isspace() for c in name):
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value.strip()


def query_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def transports_arg(text: str) -> list[str]:
    """argparse type: ``polling,websocket``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no transport given")
    for name in names:
        if name not in TRANSPORT_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown transport {name!r} (choose from {', '.join(TRANSPORT_NAMES)})"
            )
    return names


def number_arg(text: str, convert: Callable[[str], N], what: str) -> N:
    """``text`` as a number (``int`` or ``float``), or the usage error an option type raises."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def positive_float(text: str) -> float:
    value = number_arg(text, float, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def positive_int(text: str) -> int:
    value = number_arg(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def new_manager(
    url: str,
    *,
    path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    transports: list[str],
    timeout: float,
    insecure: bool,
) -> Manager:
    """A connection as both command-line clients open one, from their connection options
    (:func:`add_connection_options`): no reconnection, not connected yet."""
    context = None
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return Manager(
        url,
        path=path,
        query=dict(query),
        extra_headers=list(headers),
        transports=transports,
        timeout=timeout,
        reconnection=False,
        auto_connect=False,
        ssl=context,
    )


def add_connection_options(
    parser: argparse.ArgumentParser, *, transports: list[str], transports_help: str
) -> None:
    """The options of both command-line clients (``connect``, ``bench``) that say how to
    reach the server: auth, headers, query, transports, certificates, the Engine.IO path."""
    parser.add_argument(
        "--auth", type=json_object_arg, metavar="JSON", help="auth payload (a JSON object)"
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        type=header_arg,
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header (repeatable)",
    )
    parser.add_argument(
        "--query",
        action="append",
        type=query_arg,
        default=[],
        metavar="KEY=VALUE",
        help="extra query parameter of the handshake (repeatable)",
    )
    parser.add_argument(
        "--transports",
        type=transports_arg,
        default=transports,
        metavar="LIST",
        help=transports_help,
    )
    parser.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="https/wss: do not check the server's certificate",
    )
    parser.add_argument(
        "--path", default="/socket.io", help="Engine.IO path of the server (default: %(default)s)"
    )
