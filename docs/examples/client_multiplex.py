"""Several namespaces of one server share one connection (a Manager)."""

import asyncio

from aiosocketio import Manager, Server, client

io = Server()
io.of("/chat").on("connection", lambda socket: socket.on("who", lambda: "chat"))
io.of("/news").on("connection", lambda socket: socket.on("who", lambda: "news"))


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"

    # io() keeps one Manager per server URL: these two sockets share one connection
    chat = client.io(url + "/chat")
    news = client.io(url + "/news")
    await chat.wait_connected()
    await news.wait_connected()
    print("shared:", chat.io is news.io, "-", len(io.engine.sessions), "connection")
    print(await chat.emit_with_ack("who"), await news.emit_with_ack("who"))
    await chat.disconnect()
    await news.disconnect()  # the connection closes with its last socket

    # force_new=True (or multiplex=False): a connection of its own
    alone = client.io(url + "/chat", force_new=True)
    await alone.wait_connected()
    print("shared:", alone.io is chat.io)
    await alone.disconnect()

    # or a Manager of your own, with its options, and its sockets
    manager = Manager(url, reconnection_attempts=3, transports=["websocket"])
    chat, news = manager.socket("/chat"), manager.socket("/news")
    await chat.wait_connected()
    await news.wait_connected()
    print(await chat.emit_with_ack("who"), await news.emit_with_ack("who"))
    await manager.disconnect()
    await io.close()


asyncio.run(main())
