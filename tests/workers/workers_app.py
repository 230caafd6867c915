"""The app of the process tests (test_workers_processes.py): the ASGI app under uvicorn,
gunicorn and hypercorn workers. Workers mode comes from AIOSOCKETIO_WORKERS_DIR.

Each worker reports on stderr: its connection errors as they happen (``CONNECTION_ERROR``),
and what it forwarded when it stops (``STATS``).

``hypercorn --workers N`` stops its workers by setting a shared event, but as soon as the first
worker has exited it ends the others with SIGTERM, which kills them before their shutdown hooks
run (hypercorn 0.18, ``hypercorn.run.run``). With ``WORKERS_APP_OUTLIVE_SIGTERM`` set (the
tests set it for hypercorn) that SIGTERM is ignored: the shared event is set already, so every
worker still stops, each after its own shutdown (and its ``STATS`` line).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from aiosocketio import Server


class ReportingServer(Server):
    async def shutdown(self) -> None:
        worker = self.worker
        forwarder = worker.forwarder if worker is not None else None
        if forwarder is not None:
            print(
                f"STATS pid={os.getpid()} slot={worker.slot.number if worker.slot else None} "
                f"forwarded={forwarder.forwarded} unreachable={forwarder.unreachable}",
                file=sys.stderr,
                flush=True,
            )
        await super().shutdown()


io = ReportingServer()

if os.environ.get("WORKERS_APP_OUTLIVE_SIGTERM"):
    signal.signal(signal.SIGTERM, lambda *_: None)


@io.on_connection_error
def report(request: Any, code: int, message: str, context: dict[str, Any]) -> None:
    print(
        f"CONNECTION_ERROR pid={os.getpid()} {code} {message} {context} "
        f"{request.method} {request.url} forwarded={request.forwarded}",
        file=sys.stderr,
    )


@io.on("connection")
def on_connection(socket: Any) -> None:
    socket.on("echo", lambda payload: {"payload": payload, "pid": os.getpid()})

    async def ask_me(n: int) -> Any:
        return await socket.timeout(5).emit_with_ack("ask", n)

    socket.on("ask-me", ask_me)

    def broadcast(text: str) -> bool:
        io.emit("news", text)
        return True

    socket.on("broadcast", broadcast)


app = io.asgi_app()
