"""After a broker outage: hold what this server publishes, and report what may be lost.

Redis Pub/Sub and PostgreSQL LISTEN/NOTIFY keep nothing for a server that is not subscribed
when a message is published. After an outage every server reconnects on its own randomized
backoff, so a server that publishes as soon as *its* connection works again loses what it
sends to the servers that are not subscribed again yet. A link that saw an outage therefore
*holds* its outgoing queue until the servers it knew before are subscribed again (how it
knows depends on the broker), for at most ``resync_timeout`` seconds once the broker is
reachable. Whatever it knows may not have reached every server it *reports*: a
:class:`DeliveryReport` to the ``on_report`` hook, a counter in :attr:`Resync.reported`, a log
line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["DeliveryReport", "ReportHook", "Resync"]

log = logging.getLogger("aiosocketio.adapters")

ReportKind = Literal["short", "unconfirmed", "dropped", "deaf"]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Messages to the other servers that may not have reached all of them.

    ``kind``:

    * ``"short"``: published while fewer servers than before were subscribed (Redis tells
      how many subscribers received each message);
    * ``"unconfirmed"``: held after an outage, then sent although some servers had not shown
      they were subscribed again within ``resync_timeout`` (they may be gone for good);
    * ``"dropped"``: dropped from a full queue while the broker was unreachable: never sent;
    * ``"deaf"``: this server was not subscribed from ``since`` to ``until``; what the
      servers that did not notice the outage published meanwhile did not reach it
      (``messages`` is 0: unknown).

    ``since`` and ``until`` are ``time.time()`` values.
    """

    kind: ReportKind
    messages: int
    since: float
    until: float
    detail: str


ReportHook = Callable[[DeliveryReport], None]


class Resync:
    """The hold-and-report state of one broker link (``name``: "Redis", "PostgreSQL")."""

    def __init__(self, name: str, timeout: float, on_report: ReportHook | None) -> None:
        self.name = name
        self.timeout = timeout
        self.on_report = on_report
        self.reported: dict[str, int] = {"short": 0, "unconfirmed": 0, "dropped": 0, "deaf": 0}
        """Messages reported so far, by kind (``deaf`` counts the windows)."""
        self.holds = 0
        """How many times the link held its queue after an outage."""
        self.clock: Callable[[], float] = time.monotonic
        """Seconds on a monotonic clock (only differences are used); a test may set its own."""
        self._held_since: float | None = None
        self._wall_since = 0.0
        self._reachable_since: float | None = None

    @property
    def held(self) -> bool:
        return self._held_since is not None

    def hold(self, why: str) -> None:
        """Start holding (nothing happens when already held)."""
        if self._held_since is not None:
            return
        self._held_since = self.clock()
        self._wall_since = time.time()
        self._reachable_since = None
        self.holds += 1
        log.info(
            "%s: %s; what this server publishes waits until the other servers are subscribed again",
            self.name,
            why,
        )

    def expired(self, reachable: bool) -> bool:
        """Whether ``timeout`` seconds passed since the broker became reachable again."""
        now = self.clock()
        if not reachable:
            self._reachable_since = None
            return False
        if self._reachable_since is None:
            self._reachable_since = now
        return now - self._reachable_since >= self.timeout

    def release(self, unconfirmed: int = 0, missing: str = "") -> None:
        """Stop holding; ``unconfirmed`` messages go out although ``missing`` did not show
        up again."""
        if self._held_since is None:
            return
        waited = self.clock() - self._held_since
        self._held_since = None
        if missing:
            log.warning(
                "%s: %s not subscribed again %g s after the outage; publishing again "
                "(%d messages reported as unconfirmed)",
                self.name,
                missing,
                self.timeout,
                unconfirmed,
            )
            if unconfirmed:
                self.report("unconfirmed", unconfirmed, self._wall_since, f"missing: {missing}")
        else:
            log.info("%s: the other servers are subscribed again after %.1f s", self.name, waited)

    def report(
        self, kind: ReportKind, messages: int, since: float | None = None, detail: str = ""
    ) -> None:
        now = time.time()
        self.reported[kind] += messages if kind != "deaf" else 1
        hook = self.on_report
        if hook is None:
            return
        try:
            hook(DeliveryReport(kind, messages, now if since is None else since, now, detail))
        except Exception:
            log.exception("error in the on_report hook")
