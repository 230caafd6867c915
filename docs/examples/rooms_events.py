"""Room events: the adapter says when a room is created or deleted and when a socket joins or
leaves one (Node: io.of("/").adapter.on(...)); here, who is in the lobby."""

import asyncio

from aiosocketio import Server, connect

io = Server()
adapter = io.of("/").adapter


@adapter.on("join-room")
@adapter.on("leave-room")
def presence(room, sid):
    if room == "lobby":
        io.to("lobby").emit("presence", len(adapter.rooms.get("lobby", ())))


@adapter.on("delete-room")
def deleted(room):
    if room == "lobby":
        print("server: the lobby is empty")


io.on("connection", lambda socket: socket.join("lobby"))


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    first = await connect(url)
    first.on("presence", lambda count: print("first:", count, "in the lobby"))
    await asyncio.sleep(0.1)
    second = await connect(url)
    await asyncio.sleep(0.1)
    await second.disconnect()
    await asyncio.sleep(0.1)
    await first.disconnect()
    await asyncio.sleep(0.1)
    await io.close()


asyncio.run(main())
