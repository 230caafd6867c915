"""A server to try ``aiosocketio bench`` on (docs/bench.md): the events of its scenarios.

    cd examples && aiosocketio serve --app bench_server:io --port 3000
    aiosocketio bench http://127.0.0.1:3000/ --clients 50 --window 4
    aiosocketio bench http://127.0.0.1:3000/ --scenario listen --event tick \\
        --start go --start-data 1000 --messages 1000

The tests of the command run it (tests/test_bench_command.py); Node's counterpart is
tests/interop/node_server/bench_server.js.
"""

from __future__ import annotations

import time
from typing import Any

from aiosocketio import Server, Socket


def bench_app(io: Server) -> None:
    """Give every namespace's sockets the events of the bench's scenarios."""

    def on_connection(socket: Socket) -> None:
        nsp = socket.nsp

        # echo: acknowledges with what it got
        @socket.on("echo")
        def echo(*args: Any) -> Any:
            return args if len(args) != 1 else args[0]

        # silent: takes the acknowledgement, never sends it (the bench counts timeouts)
        @socket.on("silent")
        def silent(*args: Any, ack: Any) -> None:
            pass

        # go: broadcasts "tick" count times, with the bench's sequence convention
        @socket.on("go")
        def go(count: int, plain: bool = False) -> None:
            for seq in range(count):
                nsp.emit("tick", "plain" if plain else {"seq": seq, "ts": time.time() * 1000})

    io.on("connection", on_connection)
    io.of("/bench").on("connection", on_connection)


io = Server()
bench_app(io)
