"""Delivery reports of a cluster adapter: two servers on the machine's Redis; server B's
subscription is cut (as a network failure would), and server A is told which of its
broadcasts did not reach B."""

import asyncio
import os
import uuid

from redis.asyncio import Redis

from aiosocketio import Server, client
from aiosocketio.adapters.redis import RedisAdapter

REDIS = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")
KEY = f"example-{uuid.uuid4().hex[:8]}"  # a cluster of our own on a shared Redis

reports = []


def on_report(report):
    # kind: "short", "unconfirmed", "dropped" or "deaf"; since/until: time.time() values
    reports.append(report)
    print(f"report: {report.kind}, {report.messages} message(s): {report.detail}")


adapter = RedisAdapter.factory(REDIS, key=KEY, on_report=on_report, resync_timeout=10.0)
io_a = Server(adapter=adapter)
io_b = Server(adapter=RedisAdapter.factory(REDIS, key=KEY, reconnect_delay=(1.0, 1.0)))


async def main():
    await io_a.start("127.0.0.1", 0)
    b = await io_b.start("127.0.0.1", 0)
    while await io_a.of("/").adapter.server_count() < 2:
        await asyncio.sleep(0.01)
    received = []
    sock = client.io(f"http://127.0.0.1:{b.port}", transports=["websocket"])
    sock.on("news", received.append)
    await sock.wait_connected()

    link_b = io_b.of("/").adapter.link
    redis = Redis.from_url(REDIS)
    for entry in await redis.client_list():
        if entry.get("name") == link_b.subscriber_name:
            await redis.client_kill_filter(_id=entry["id"])  # B stops receiving
    await redis.aclose()
    while link_b.connected:
        await asyncio.sleep(0.01)

    io_a.emit("news", "missed by B")  # Redis says it reached 1 server of 2: reported
    while not link_b.connected:  # B subscribed again
        await asyncio.sleep(0.01)
    io_a.emit("news", "received by B")
    await asyncio.sleep(0.3)
    print("B received:", received)
    assert [r.kind for r in reports] == ["short"] and received == ["received by B"]
    await sock.disconnect()
    await io_a.close()
    await io_b.close()


asyncio.run(main())
