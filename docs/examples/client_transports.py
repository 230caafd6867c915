"""Transports: long-polling first then WebSocket (the default), or one of them only."""

import asyncio

from aiosocketio import Server, client

io = Server()


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"

    sock = client.io(url)  # transports=("polling", "websocket"), upgrade=True
    upgraded = asyncio.Event()
    sock.io.engine.on("upgrade", lambda transport: upgraded.set())
    await sock.wait_connected()
    print("default:", sock.io.engine.transport.name, end=" -> ")
    await upgraded.wait()
    print(sock.io.engine.transport.name)
    await sock.disconnect()

    for options in ({"transports": ["websocket"]}, {"transports": ["polling"]}):
        sock = client.io(url, **options)
        await sock.wait_connected()
        print(options, "->", sock.io.engine.transport.name)
        await sock.disconnect()
    await io.close()


asyncio.run(main())
