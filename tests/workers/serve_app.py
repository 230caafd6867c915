"""The app of the workers tests (``serve --app serve_app:io`` from this directory).

``WORKERS_APP_FAIL=import`` makes every import fail; ``WORKERS_APP_FAIL=file:PATH`` makes
the imports fail while ``PATH`` exists (a worker that crashes once it is restarted)."""

from __future__ import annotations

import os
from typing import Any

from aiosocketio import Server, Socket

_fail = os.environ.get("WORKERS_APP_FAIL", "")
if _fail == "import" or (_fail.startswith("file:") and os.path.exists(_fail[5:])):
    raise RuntimeError("the app cannot load (WORKERS_APP_FAIL)")

io = Server()


@io.on_event("whoami")
def whoami(socket: Socket) -> int:
    return os.getpid()


@io.on_event("echo")
def echo(socket: Socket, value: Any) -> Any:
    return value


@io.on_event("bc")
def bc(socket: Socket, id_: str) -> int:
    """Broadcast ``id_`` to every client, on every worker."""
    io.emit("bc", id_)
    return os.getpid()
