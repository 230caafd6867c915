"""The app of the process tests (test_workers_processes.py): the ASGI app under uvicorn,
gunicorn and hypercorn workers. Workers mode comes from AIOSOCKETIO_WORKERS_DIR.

Each worker reports on stderr: its connection errors as they happen (``CONNECTION_ERROR``),
and what it forwarded when it stops (``STATS``). A request of a session its client has closed
is not an error (``LATE_REQUEST``): a long-polling client that opens a new connection for
every request may have a GET under way when it disconnects, and that GET may reach the server
after the POST that closed the session.

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


closed_by_clients: set[str] = set()  # engine session ids


@io.on_connection_error
def report(request: Any, code: int, message: str, context: dict[str, Any]) -> None:
    late = context.get("sid") in closed_by_clients
    print(
        f"{'LATE_REQUEST' if late else 'CONNECTION_ERROR'} pid={os.getpid()} {code} {message} "
        f"{context} "
        f"{request.method} {request.url} forwarded={request.forwarded}",
        file=sys.stderr,
    )


@io.on("connection")
def on_connection(socket: Any) -> None:
    sid = socket.conn.sid

    def closed(reason: str, *_: Any) -> None:
        if reason == "client namespace disconnect":
            closed_by_clients.add(sid)

    socket.on("disconnect", closed)
    socket.on("echo", lambda payload: {"payload": payload, "pid": os.getpid()})

    async def ask_me(n: int) -> Any:
        return await socket.timeout(5).emit_with_ack("ask", n)

    socket.on("ask-me", ask_me)

    def broadcast(text: str) -> bool:
        io.emit("news", text)
        return True

    socket.on("broadcast", broadcast)


app = io.asgi_app()
