"""The app of the process tests (test_workers_processes.py): the ASGI app under uvicorn,
gunicorn and hypercorn workers. Workers mode comes from AIOSOCKETIO_WORKERS_DIR.

Each worker reports on stderr: its connection errors as they happen (``CONNECTION_ERROR``),
and what it forwarded when it stops (``STATS``). A request of a session its client has closed
is not an error (``LATE_REQUEST``): a long-polling client that opens a new connection for
every request may have a GET under way when it disconnects, and that GET may reach the server
after the POST that closed the session.

The scale test (test_scale.py, node/scale.js) also uses: broadcasts by id (``bc``), a
broadcast with acks collected from every worker's clients (``bc-ack``), ``fetch_sockets``
with remote socket operations (``fetch``), and a page for Chromium (``/scale.html``).

``hypercorn --workers N`` stops its workers by setting a shared event, but as soon as the first
worker has exited it ends the others with SIGTERM, which kills them before their shutdown hooks
run (hypercorn 0.18, ``hypercorn.run.run``). With ``WORKERS_APP_OUTLIVE_SIGTERM`` set (the
tests set it for hypercorn) that SIGTERM is ignored: the shared event is set already, so every
worker still stops, each after its own shutdown (and its ``STATS`` line).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiosocketio import Server
from aiosocketio.adapters.cluster import RemoteSocket


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


HERE = Path(__file__).resolve().parent
BUNDLE = HERE.parents[1] / "examples" / "demo" / "node_modules" / "socket.io-client" / "dist"

io = ReportingServer(
    static_files={
        "/scale.html": str(HERE / "node" / "scale.html"),
        "/scale_client.js": str(HERE / "node" / "scale_client.js"),
        "/socket.io.min.js": str(BUNDLE / "socket.io.min.js"),
    }
)

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
    serve_scale(socket)


def serve_scale(socket: Any) -> None:
    """The events of the scale test; ``socket.data`` is the client's number (its auth)."""
    socket.data = socket.handshake.auth.get("i")

    def bc(id_: str) -> int:
        io.emit("bc", id_)
        return os.getpid()

    async def bc_ack(id_: str) -> list[Any]:
        return await io.timeout(20).emit_with_ack("bc-ack", id_)

    async def fetch(room: str) -> dict[str, Any]:
        """Every socket, on every worker: each joins ``room`` and gets an event of its own;
        a broadcast to ``room`` follows. A few answer an ack through their worker."""
        sockets = await io.fetch_sockets()
        for other in sockets:
            other.join(room)
            other.emit("direct", room)
        asked = [s for s in sockets if isinstance(s, RemoteSocket)][:10] + [
            s for s in sockets if not isinstance(s, RemoteSocket)
        ][:5]
        acks = await asyncio.gather(*(s.emit_with_ack("direct-ack", 1, timeout=20) for s in asked))
        io.to(room).emit("bc", room)
        return {
            "data": [s.data for s in sockets],
            "remote": sum(isinstance(s, RemoteSocket) for s in sockets),
            "acks": [
                [s.data, isinstance(s, RemoteSocket), a] for s, a in zip(asked, acks, strict=True)
            ],
        }

    socket.on("bc", bc)
    socket.on("bc-ack", bc_ack)
    socket.on("fetch", fetch)


app = io.asgi_app()
