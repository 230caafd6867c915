"""No silent trap: a warning when the app evidently runs as several workers without workers mode.

Under ``uvicorn --workers N``, ``gunicorn -w N`` or ``hypercorn --workers N`` each worker is a
process of its own, with its own sessions. Without workers mode a long-polling client whose
requests reach two workers gets 400 "Session ID unknown" from the one that does not have its
session, and nothing says why.

The rule: when a request carries a session id that this process does not know (the symptom),
look once for *sibling workers* (the evidence): other processes with the same parent as this
one, running the same command line, or, for servers that start their workers with
multiprocessing's "spawn" (uvicorn, hypercorn), started the same way. When there are some,
one warning names the fix. The look costs one pass over ``/proc`` and happens at most once a
minute, only on unknown ids; where there is no ``/proc`` (not Linux) nothing is detected.
An unknown id alone proves nothing: a client may come back after its session expired, or
after a restart.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.http import Request, Responder
    from ..engine.server import WebSocketUpgrade

__all__ = ["SiblingCheck", "sibling_workers"]

log = logging.getLogger("aiosocketio.workers")

WARNING = (
    "a request carried the session id %r, unknown in this process, and this process has "
    "sibling worker processes (%s): their clients' requests reach the wrong process and fail "
    "with 'Session ID unknown'. Turn workers mode on: set the environment variable "
    "AIOSOCKETIO_WORKERS_DIR to a directory for the workers (for example "
    "/run/myapp/workers) or pass Server(workers_dir=...); see 'Deploying on all cores' in "
    "docs/deploying.md"
)
_SPAWNED = b"multiprocessing.spawn"
_RECHECK = 60.0  # seconds between two looks when no sibling was found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _parent(stat: bytes) -> int | None:
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, the last ")" ends it
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def sibling_workers(proc: Path = Path("/proc"), pid: int | None = None) -> list[int]:
    """The pids of the processes that look like other workers of the same server as ``pid``
    (this process by default): same parent, and the same command line or both started by
    multiprocessing's spawn. Empty where ``/proc`` is missing."""
    me = os.getpid() if pid is None else pid
    my_stat = _read(proc / str(me) / "stat")
    my_cmdline = _read(proc / str(me) / "cmdline")
    if my_stat is None or my_cmdline is None:
        return []
    parent = _parent(my_stat)
    if parent is None or parent <= 1:
        return []  # the children of init or of nobody are not one server's workers
    spawned = _SPAWNED in my_cmdline
    found: list[int] = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        stat = _read(entry / "stat")
        if stat is None or _parent(stat) != parent:
            continue
        cmdline = _read(entry / "cmdline")
        if cmdline is None:
            continue
        if cmdline == my_cmdline or (spawned and _SPAWNED in cmdline):
            found.append(int(entry.name))
    return sorted(found)


class SiblingCheck:
    """The engine's router when workers mode is off: it routes nothing, and warns once when
    unknown session ids arrive in a process that has sibling workers."""

    def __init__(self, proc: Path = Path("/proc"), pid: int | None = None) -> None:
        self.proc = proc
        self.pid = pid  # this process by default
        self.warned = False
        self._looked_at = -math.inf

    def route_request(self, request: Request, responder: Responder) -> bool:
        self.unknown_sid(request)
        return False

    def route_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> bool:
        self.unknown_sid(request)
        return False

    def request_aborted(self, request: Request, responder: Responder) -> None:
        return None

    def unknown_sid(self, request: Request) -> None:
        if self.warned:
            return
        now = time.monotonic()
        if now - self._looked_at < _RECHECK:
            return
        self._looked_at = now
        siblings = sibling_workers(self.proc, self.pid)
        if siblings:
            self.warned = True
            pids = ", ".join(map(str, siblings[:8])) + (", ..." if len(siblings) > 8 else "")
            log.warning(WARNING, request.query.get("sid"), f"pids {pids}")
