"""Rooms and broadcasting: who receives what."""

import asyncio

from aiosocketio import Server, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    socket.data["name"] = socket.handshake.auth["name"]
    socket.on("join", lambda room: socket.join(room))
    socket.on("leave", lambda room: socket.leave(room))

    @socket.on("say")
    def say(room, text):
        socket.to(room).emit("said", socket.data["name"], text)  # the room but the sender

    @socket.on("shout")
    def shout(text):
        socket.broadcast.emit("said", socket.data["name"], text)  # everyone but the sender


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    inbox = {}
    clients = {}
    for name in ("alice", "bob", "carol"):
        sock = await connect(url, auth={"name": name})
        inbox[name] = []
        sock.on_any(lambda event, *args, name=name: inbox[name].append(args[-1]))
        clients[name] = sock
    alice, bob, carol = clients.values()

    await alice.emit_with_ack("join", "dev")
    await bob.emit_with_ack("join", "dev")
    await carol.emit_with_ack("join", "ops")
    await alice.emit_with_ack("say", "dev", "hi dev")  # bob
    await carol.emit_with_ack("shout", "hello all")  # alice, bob

    io.emit("news", "to everyone")  # alice, bob, carol
    io.to("dev").emit("news", "to dev")  # alice, bob
    io.to(["dev", "ops"]).emit("news", "to dev or ops")  # each once: alice, bob, carol
    io.except_("ops").emit("news", "not to ops")  # alice, bob
    io.to("dev").except_(bob.id).emit("news", "to dev but bob")  # alice
    io.to(carol.id).emit("news", "only to carol")  # every socket is in a room named by its id

    await asyncio.sleep(0.3)
    for name, events in inbox.items():
        print(f"{name}:", ", ".join(events))
    for sock in clients.values():
        await sock.disconnect()
    await io.close()


asyncio.run(main())
