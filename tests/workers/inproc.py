"""In-process workers for the tests: standalone servers with slots of one run directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiosocketio.transport import StandaloneServer
from aiosocketio.workers.slots import Slot, WorkerDir, new_sid
from servers import EchoEngine


@dataclass
class Worker:
    slot: Slot
    app: EchoEngine
    server: StandaloneServer
    port: int

    @property
    def sent(self) -> int:
        assert self.server.handoff is not None
        return self.server.handoff.sent

    @property
    def adopted(self) -> int:
        assert self.server.handoff is not None
        return self.server.handoff.adopted


async def start_worker(run_dir: WorkerDir, *, listen: bool = True, **options: Any) -> Worker:
    """A worker on its own port (``listen``), or one that only adopts connections."""
    slot = run_dir.claim()
    app = EchoEngine()
    app.engine.generate_id = lambda request: new_sid(slot.number)
    server = StandaloneServer(app.engine, workers=slot, **options)
    if listen:
        await server.start("127.0.0.1", 0)
        return Worker(slot, app, server, server.port)
    await server.start(listen=False)
    return Worker(slot, app, server, 0)
