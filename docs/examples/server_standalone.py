"""The standalone server, started with options, a fallback for other paths, and stopped."""

import asyncio
import urllib.request

from aiosocketio import Server, connect

io = Server(
    cors=["https://app.example.com"],  # browsers on that origin may connect (off by default)
    ping_interval=25.0,  # seconds, as every time in the API
    ping_timeout=20.0,
    max_http_buffer_size=1_000_000,  # the largest message, in bytes
    connection_state_recovery=True,
)
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))


def health(request):  # any other path: (status, headers, body), plain or async
    if request.path == "/healthz":
        return 200, [("Content-Type", "text/plain")], b"ok"
    return 404, [("Content-Type", "text/plain")], b"Not Found"


async def main():
    server = await io.start("127.0.0.1", 0, server_options={"fallback": health})
    url = f"http://127.0.0.1:{server.port}"
    sock = await connect(url)
    print("1 + 2 =", await sock.emit_with_ack("add", 1, 2))
    await sock.disconnect()
    with await asyncio.to_thread(urllib.request.urlopen, url + "/healthz") as response:
        print("/healthz:", response.read().decode())
    await io.close()  # disconnects every client ("server shutting down") and stops


if __name__ == "__main__":
    asyncio.run(main())
