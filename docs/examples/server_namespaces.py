"""Namespaces: fixed ones with io.of(name), dynamic ones with a pattern or a function."""

import asyncio
import re

from aiosocketio import ConnectionRefused, Server, connect

io = Server()

# a namespace of its own: its own handlers, middleware and rooms
admin = io.of("/admin")


@admin.on("connection")
def on_admin(socket):
    socket.on("stats", lambda: {"sockets": len(admin.sockets)})


# dynamic namespaces: every name the pattern matches is created on first use
workspaces = io.of(re.compile(r"^/workspace-\d+$"))


@workspaces.on("connection")
def on_workspace(socket):
    socket.on("where", lambda: socket.nsp.name)  # the child namespace, e.g. /workspace-42


# or a function (plain or async) that decides from the name and the client's auth
async def allowed(name, auth):
    return name.startswith("/team-") and auth.get("member") is True


teams = io.of(allowed)
teams.on("connection", lambda socket: socket.on("where", lambda: socket.nsp.name))


# the main namespace hears of every namespace created
@io.on("new_namespace")
def created(namespace):
    print("new namespace:", namespace.name)


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    sock = await connect(url + "/admin")
    print(await sock.emit_with_ack("stats"))
    workspace = await connect(url + "/workspace-42")
    print(await workspace.emit_with_ack("where"))
    team = await connect(url + "/team-blue", auth={"member": True})
    print(await team.emit_with_ack("where"))
    try:
        await connect(url + "/team-red", auth={"member": False})
    except ConnectionRefused as exc:
        print("refused:", exc.message)
    print(sorted(io.namespaces))
    for s in (sock, workspace, team):
        await s.disconnect()
    await io.close()


asyncio.run(main())
