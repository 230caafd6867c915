"""allow_request: accept or refuse a connection from its HTTP request, before any
Socket.IO packet (for every transport, upgrades excepted)."""

import asyncio

from aiosocketio import Server, TransportError, connect

API_KEYS = {"k-123"}


async def key_is_valid(key):
    await asyncio.sleep(0)  # e.g. ask a database
    return key in API_KEYS


async def allow_request(request):  # plain or async
    """True (or None) accepts, False refuses, a string refuses with that message."""
    key = request.headers.get("x-api-key") or request.query.get("key")
    if not await key_is_valid(key):
        return "invalid API key"
    return True


io = Server(allow_request=allow_request)


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    for key in ("wrong", "k-123"):
        try:
            sock = await connect(url, extra_headers={"X-Api-Key": key})
        except TransportError as exc:
            print("refused:", exc)
        else:
            print("connected")
            await sock.disconnect()
    await io.close()


asyncio.run(main())
