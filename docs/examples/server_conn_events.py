"""The connection under a socket (Node: socket.conn): its transport, its upgrade from
long-polling to WebSocket, its packets and heartbeats."""

import asyncio

from aiosocketio import Server, connect

io = Server(ping_interval=0.5)
answered = asyncio.Event()


@io.on("connection")
def on_connection(socket):
    conn = socket.conn
    print("transport:", conn.transport)  # "polling" first, as the client starts with it
    conn.once("upgrade", lambda transport: print("upgraded to", transport))
    conn.once("heartbeat", lambda: (print("the client answered a ping"), answered.set()))

    @conn.on("packet")
    def packet(packet):
        if packet["type"] == "message":
            print("received:", packet["data"])

    conn.on("close", lambda reason, description: print("closed:", reason))


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    while sock.io.engine.transport.name != "websocket":
        await asyncio.sleep(0.01)
    sock.emit("hello", 1)
    await answered.wait()
    await sock.disconnect()
    await asyncio.sleep(0.1)
    await io.close()


asyncio.run(main())
