"""The session cookie (off by default, as in Node) and extra response headers."""

import asyncio
import re
import urllib.request

from aiosocketio import Server

io = Server(cookie={"name": "io", "secure": True, "samesite": "strict"})  # or cookie=True


@io.on_headers  # every HTTP response of the engine
def no_sniff(headers, request):
    headers.append(("X-Content-Type-Options", "nosniff"))


@io.on_initial_headers  # the handshake response only
def tag(headers, request):
    headers.append(("X-Served-By", "node-1"))


def handshake_headers(url):
    with urllib.request.urlopen(url + "/socket.io/?EIO=4&transport=polling") as response:
        return {k: v for k, v in response.headers.items() if k.startswith(("Set-", "X-"))}


async def main():
    server = await io.start("127.0.0.1", 0)
    headers = await asyncio.to_thread(handshake_headers, f"http://127.0.0.1:{server.port}")
    for name, value in headers.items():
        print(f"{name}: {re.sub('^io=[^;]+', 'io=<session id>', value)}")
    await io.close()


asyncio.run(main())
