"""The life of a socket on the server, and the disconnect reasons both sides see."""

import asyncio

from aiosocketio import Server, connect

io = Server()


@io.use
def middleware(socket):
    print("1. middleware, connected:", socket.connected)


@io.on("connection")
def on_connection(socket):
    print("2. connection, rooms:", socket.rooms == {socket.id})
    socket.join("lobby")
    socket.on("message", lambda text: print("3. event:", text))
    socket.on("bye", lambda: socket.disconnect())

    @socket.on("disconnecting")
    def disconnecting(reason):
        print("4. disconnecting:", reason, "- still in lobby:", "lobby" in socket.rooms)

    @socket.on("disconnect")
    def disconnect(reason):
        print("5. disconnect:", reason, "- rooms:", socket.rooms)


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    gone = asyncio.Event()

    sock = await connect(url)
    sock.send("hello")  # the "message" event
    await sock.disconnect()  # the client leaves
    await asyncio.sleep(0.1)

    sock = await connect(url)
    sock.on("disconnect", lambda reason: (print("client:", reason), gone.set()))
    sock.emit("bye")  # the server disconnects the socket
    await gone.wait()
    await io.close()


asyncio.run(main())
