"""Reconnection: the server goes away, the client tries again until it is back."""

import asyncio

from aiosocketio import Server, client

io = Server()


async def main():
    server = await io.start("127.0.0.1", 0)
    port = server.port

    sock = client.io(
        f"http://127.0.0.1:{port}",
        reconnection_delay=0.2,  # the defaults: 1.0 s, doubled at each attempt ...
        reconnection_delay_max=0.4,  # ... up to 5.0 s
        randomization_factor=0,  # default 0.5: each delay moved by up to +/-50 %
        reconnection_attempts=10,  # default: no limit
    )
    sock.on("connect", lambda: print("connect"))
    sock.on("disconnect", lambda reason: print("disconnect:", reason))
    manager = sock.io
    manager.on("reconnect_attempt", lambda attempt: print("reconnect_attempt", attempt))
    errors = asyncio.Queue()
    manager.on("reconnect_error", errors.put_nowait)
    manager.on("reconnect", lambda attempt: print("reconnect after", attempt, "attempts"))
    manager.on("reconnect_failed", lambda: print("gave up"))
    await sock.wait_connected()

    await io.close()  # the server goes away ...
    for _ in range(2):
        print("reconnect_error:", type(await errors.get()).__name__)
    await io.start("127.0.0.1", port)  # ... and comes back
    await sock.wait_connected()
    await sock.disconnect()  # a disconnect() of your own: no reconnection
    await io.close()


asyncio.run(main())
