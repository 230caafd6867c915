"""Credentials: the auth payload (read by the server as socket.handshake.auth), HTTP
headers and query parameters."""

import asyncio
import itertools

from aiosocketio import Server, client, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    handshake = socket.handshake
    print(
        "server:",
        handshake.auth,
        handshake.headers.get("x-api-key"),
        handshake.query.get("room"),
    )


tokens = itertools.count(1)


async def fresh_token():  # called at each connection attempt, reconnections included
    await asyncio.sleep(0)  # e.g. ask an identity provider
    return {"token": f"t{next(tokens)}"}


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"

    sock = await connect(
        url + "?room=lobby",  # or query={"room": "lobby"}
        auth={"token": "abc"},
        extra_headers={"X-Api-Key": "k-123"},  # HTTP headers (a browser cannot set them)
    )
    await sock.disconnect()

    sock = client.io(url, auth=fresh_token, reconnection_delay=0.1)
    await sock.wait_connected()
    reconnected = asyncio.Event()
    sock.once("connect", reconnected.set)
    io.engine.close_all()  # drop the connection: the client reconnects with a new token
    await reconnected.wait()
    await sock.disconnect()
    await io.close()


asyncio.run(main())
