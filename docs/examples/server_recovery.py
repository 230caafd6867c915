"""Connection state recovery: a client that comes back in time gets its id, its rooms, its
data and the events it missed."""

import asyncio

from aiosocketio import RecoveryOptions, Server, client

io = Server(connection_state_recovery=RecoveryOptions(max_disconnection_duration=120.0))


@io.on("connection")
def on_connection(socket):
    if socket.recovered:
        print("server: recovered", socket.data, sorted(socket.rooms - {socket.id}))
    else:
        socket.data["joined_at"] = "12:00"
        socket.join("news")
        socket.emit("news", "welcome")  # the client recovers from its last event's offset
    socket.on("drop", lambda: socket.conn.close("transport close"))  # a network failure


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = client.io(f"http://127.0.0.1:{server.port}", reconnection_delay=0.1)
    first_id = None

    @sock.on("news")
    def news(text, *offset):  # with recovery on, a string offset comes last
        print("client: news:", text)

    @sock.on("connect")
    def connected():
        print("client: connected, recovered:", sock.recovered, sock.id == first_id)

    await sock.wait_connected()
    first_id = sock.id
    disconnected = asyncio.Event()
    sock.once("disconnect", lambda reason: disconnected.set())
    sock.emit("drop")
    await disconnected.wait()
    io.to("news").emit("news", "missed while away")  # the client is not connected
    await sock.wait_connected()  # it reconnects and recovers
    await sock.disconnect()
    await io.close()


asyncio.run(main())
