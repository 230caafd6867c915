"""This process as one worker of a run directory: its slot, its internal socket, forwarding.

:meth:`Worker.start` claims a slot (:mod:`aiosocketio.workers.slots`), makes the engine's
session ids name it, serves forwarded requests on the slot's ``http`` socket (our own HTTP/1.1
server over the same engine) and sets the engine's router to a
:class:`~aiosocketio.workers.forward.Forwarder`. :meth:`Worker.close` undoes all of it and
gives the slot back.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..transport.standalone import StandaloneServer
from .forward import Forwarder
from .slots import Slot, WorkerDir

if TYPE_CHECKING:
    from ..engine.server import EngineServer

__all__ = ["Worker"]


class Worker:
    """One worker's share of a run directory (see the module's documentation)."""

    def __init__(self, directory: str | os.PathLike[str], *, slot: int | None = None) -> None:
        self.dir = WorkerDir(directory)
        self.preferred_slot = slot
        self.slot: Slot | None = None
        self.forwarder: Forwarder | None = None
        self.endpoint: StandaloneServer | None = None
        self._engine: EngineServer | None = None

    async def start(self, engine: EngineServer) -> Slot:
        """Claim a slot and start serving ``engine``'s forwarded requests."""
        if self.slot is not None:
            raise RuntimeError("this worker is already started")
        slot = self.dir.claim(self.preferred_slot)
        endpoint = StandaloneServer([engine])
        try:
            await endpoint.start_unix(slot.path("http"), forwarded=True)
        except BaseException:
            slot.release()
            raise
        self.slot = slot
        self.endpoint = endpoint
        self.forwarder = Forwarder(engine, self.dir, slot.number)
        self._engine = engine
        engine.sid_prefix = slot.code
        engine.router = self.forwarder
        return slot

    async def close(self) -> None:
        """Stop forwarding and serving forwarded requests, and give the slot back."""
        engine, self._engine = self._engine, None
        if engine is not None and engine.router is self.forwarder:
            engine.router = None
        forwarder, self.forwarder = self.forwarder, None
        if forwarder is not None:
            await forwarder.close()
        endpoint, self.endpoint = self.endpoint, None
        try:
            if endpoint is not None:
                await endpoint.close()
        finally:
            slot, self.slot = self.slot, None
            if slot is not None:
                slot.release()
