"""Acting on many sockets at once from the server: fetch, join, leave, disconnect."""

import asyncio

from aiosocketio import Server, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    socket.data["name"] = socket.handshake.auth["name"]
    if socket.data["name"] != "eve":
        socket.join("staff")


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    clients = [await connect(url, auth={"name": n}) for n in ("alice", "bob", "eve")]

    staff = await io.in_("staff").fetch_sockets()  # Socket objects (on a cluster: remote ones)
    print("staff:", sorted(s.data["name"] for s in staff))

    io.in_("staff").sockets_join("meeting")  # every staff socket joins "meeting"
    io.sockets_leave("staff")  # every socket leaves "staff"
    rooms = {s.data["name"]: sorted(s.rooms - {s.id}) for s in await io.fetch_sockets()}
    print("rooms:", rooms)

    eve = clients[2]
    eve_left = asyncio.get_running_loop().create_future()
    eve.on("disconnect", eve_left.set_result)
    io.except_("meeting").disconnect_sockets()  # close=True would close the connections
    print("eve:", await eve_left)
    print("left:", sorted(s.data["name"] for s in await io.fetch_sockets()))

    # to the other servers of a cluster (listeners: io.on(event)); alone here: no answers
    print("servers answered:", await io.server_side_emit_with_ack("reload-config"))

    for sock in clients:
        await sock.disconnect()
    await io.close()


asyncio.run(main())
