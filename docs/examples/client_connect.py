"""Three ways to connect, and what a failed connection raises."""

import asyncio

from aiosocketio import ConnectionRefused, Server, TransportError, client, connect

io = Server()
io.on("connection", lambda socket: socket.emit("welcome", "hi"))


@io.of("/private").use
def refuse(socket):
    raise ConnectionRefused("not allowed", {"retry": False})


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"

    # 1. connect(): returns once connected; a listener added right after it still gets
    #    what the server sent on connection
    sock = await connect(url)
    sock.on("welcome", lambda text: print("1. welcome:", text))
    print("1. connected:", sock.connected)
    await sock.disconnect()

    # 2. client.io(): the socket at once (as io() in JavaScript), connecting in the background
    sock = client.io(url)
    sock.on("welcome", lambda text: print("2. welcome:", text))
    await sock.wait_connected(timeout=10)
    await sock.disconnect()

    # 3. as an async context manager: disconnects on the way out
    async with client.io(url) as sock:
        print("3. connected:", sock.connected)

    try:
        await connect(url + "/private")
    except ConnectionRefused as exc:  # the server's middleware said no
        print("refused:", exc.message, exc.data)
    try:
        await connect("http://127.0.0.1:9")  # nothing listens there
    except TransportError as exc:
        print("unreachable:", exc)
    await io.close()


asyncio.run(main())
