"""Legacy clients (socket.io-client 2.x): allow_eio3, and what their sockets look like.

The client here is a few raw HTTP requests, as a socket.io-client 2.x in the browser sends
them over long-polling: the handshake with EIO=3, a poll, then a POST that joins the
namespace /chat with a query.
"""

import asyncio
import urllib.request

from aiosocketio import ConnectionRefused, Server

io = Server(allow_eio3=True)  # Engine.IO v3 clients too (Node: allowEIO3: true)


@io.on("connection")  # a v3 client is in the main namespace without asking
def on_connection(socket):
    print("/ connected:", socket.id == socket.conn.sid, "protocol", socket.conn.protocol)


chat = io.of("/chat")


@chat.use
def check_token(socket):
    # a v2 client sends no auth: the namespace's query takes its place
    if socket.handshake.auth.get("token") != "abc":
        raise ConnectionRefused("not authorized", {"code": 401})


@chat.on("connection")
def on_chat(socket):
    print("/chat connected:", socket.id.startswith("/chat#"), socket.handshake.auth)


def request(url, body=None):
    data = None if body is None else body.encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data)) as response:
        return response.read().decode()


def send(url, packet):
    request(url, f"{len(packet)}:{packet}")  # a payload of one packet: <length>:<packet>


def legacy_client(base):
    opened = request(base + "?EIO=3&transport=polling")
    sid = opened.split('"sid":"')[1].split('"')[0]
    url = f"{base}?EIO=3&transport=polling&sid={sid}"
    polled = request(url)  # the main namespace's CONNECT, without a payload
    length, _, packet = opened.partition(":")  # <length>:<packet>, the open packet
    print("handshake:", f"{length}:{packet[:2]}...}}", len(packet) == int(length))
    print("poll:", polled)
    send(url, "40/chat?token=nope,")  # a namespace's CONNECT, with its query
    print("poll:", request(url))
    send(url, "40/chat?token=abc&x=1,")
    print("poll:", request(url))
    send(url, "1")  # the close packet


async def main():
    server = await io.start("127.0.0.1", 0)
    await asyncio.to_thread(legacy_client, f"http://127.0.0.1:{server.port}/socket.io/")
    await io.close()


asyncio.run(main())
