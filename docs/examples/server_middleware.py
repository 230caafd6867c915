"""Middleware: io.use() for connections, socket.use() for each incoming event."""

import asyncio

from aiosocketio import ConnectionRefused, Server, connect

io = Server()
USERS = {"token-a": "alice", "token-b": "bob"}


@io.use
def authenticate(socket):
    name = USERS.get(socket.handshake.auth.get("token"))
    if name is None:
        raise ConnectionRefused("not authorized", {"code": 401})
    socket.data["name"] = name


@io.use
async def load_profile(socket):  # may be async; middlewares run in order
    await asyncio.sleep(0)
    socket.data["role"] = "admin" if socket.data["name"] == "alice" else "user"


@io.on("connection")
def on_connection(socket):
    @socket.use
    def only_admins_delete(packet):  # packet is [event, *args]
        if packet[0] == "delete" and socket.data["role"] != "admin":
            raise PermissionError("admins only")

    socket.on("error", lambda exc: print("server: event refused:", exc))
    socket.on("delete", lambda item: f"{socket.data['name']} deleted {item}")


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    try:
        await connect(url, auth={"token": "wrong"})
    except ConnectionRefused as exc:
        print("client: refused:", exc.message, exc.data)
    alice = await connect(url, auth={"token": "token-a"})
    print("client:", await alice.emit_with_ack("delete", "item 7"))
    bob = await connect(url, auth={"token": "token-b"})
    try:
        await bob.emit_with_ack("delete", "item 8", timeout=0.5)
    except TimeoutError:
        print("client: no answer for bob")
    await alice.disconnect()
    await bob.disconnect()
    await io.close()


asyncio.run(main())
