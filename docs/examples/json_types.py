"""Python values on the wire: a dataclass holding a datetime, a set and bytes."""

import asyncio
import datetime as dt
from dataclasses import dataclass

from aiosocketio import Server, connect

io = Server()


@dataclass
class Meeting:
    title: str
    at: dt.datetime
    tags: set[str]
    notes: bytes


@io.on_event("meeting")
def meeting(socket):
    at = dt.datetime(2026, 12, 6, 10, 42, 33, 740123, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    return Meeting("review", at, {"team"}, b"\x00\x01")


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    print(await sock.emit_with_ack("meeting"))
    await sock.disconnect()
    await io.close()


asyncio.run(main())
