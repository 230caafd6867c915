"""aiosocketio's client as a plugged-in client of the shared client harness.

The harness (``../shared/clientbench``, README "Client contract") starts this file as

    .venv/bin/python benchmarks/bench_client.py --scenario NAME --port PORT \\
        --server-pid PID --set key=value ...

and reads one JSON line from it. The scenarios, the checks of every ack and delivery and
the CPU accounting are the harness's own Python driver (``clients/pydriver.py``, found
through ``$CLIENTBENCH_DIR``, which the harness sets, else ``../shared/clientbench`` next
to this checkout), so this client and python-socketio's are measured by the same code. What
is ours is the adapter below: how our client opens a connection, emits, listens and closes.

    cd ../shared/clientbench && ./run --scenario echo,receive,binary,connect,polling \\
        --client node-socketio-client --client node-socketio-client-bufferutil \\
        --client python-socketio \\
        --client aio="exec $CHECKOUT/.venv/bin/python $CHECKOUT/benchmarks/bench_client.py"

(``$CHECKOUT``: this checkout's absolute path; the harness runs the command from its folder.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import aiosocketio
from aiosocketio.client import Socket, connect


def _load_driver() -> ModuleType:
    home = os.environ.get("CLIENTBENCH_DIR")
    if home:
        clients = Path(home) / "clients"
    else:  # started by hand: the harness next to this checkout
        clients = Path(__file__).resolve().parents[2] / "shared" / "clientbench" / "clients"
    if not (clients / "pydriver.py").is_file():
        sys.exit(f"bench_client.py: no pydriver.py in {clients} (set CLIENTBENCH_DIR)")
    sys.path.insert(0, str(clients))
    import pydriver  # type: ignore[import-not-found]

    return pydriver  # type: ignore[no-any-return]


class Adapter:
    """The five operations the harness's driver asks of a client library."""

    name = "aiosocketio"
    version = aiosocketio.__version__

    async def connect(
        self, url: str, transport: str, on_disconnect: Callable[[Any], None]
    ) -> Socket:
        # one Engine.IO session per socket (force_new), only the transport asked for,
        # no reconnection: what the contract asks
        sock = await connect(
            url,
            transports=[transport],
            force_new=True,
            reconnection=False,
            wait_timeout=30,
        )
        sock.on("disconnect", on_disconnect)
        return sock

    def call(self, sock: Socket, event: str, payload: Any, timeout: float) -> Awaitable[Any]:
        # the driver awaits what this returns: the coroutine of emit_with_ack itself, no
        # coroutine of our own around it. AckTimeout's name holds "Timeout", which is how
        # the driver counts ack timeouts.
        return sock.emit_with_ack(event, payload, timeout=timeout)

    def on(self, sock: Socket, event: str, handler: Callable[[Any], None]) -> None:
        sock.on(event, handler)

    async def emit(self, sock: Socket, event: str, payload: Any) -> None:
        sock.emit(event, payload)

    async def close(self, sock: Socket) -> None:
        await sock.disconnect()


if __name__ == "__main__":
    _load_driver().main(Adapter, prog="bench_client.py")
