"""CORS and the WebSocket Origin check."""

import asyncio
import http.client

from aiosocketio import Server, TransportError, connect


def handshake(port, origin):
    """A long-polling handshake as a browser on `origin` sends it: the CORS header?"""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    header = conn.getresponse().getheader("Access-Control-Allow-Origin")
    conn.close()
    return header


async def websocket_from(url, origin):
    """A WebSocket connection with that Origin header: accepted?"""
    try:
        sock = await connect(url, transports=["websocket"], extra_headers={"Origin": origin})
    except TransportError:
        return "refused"
    await sock.disconnect()
    return "accepted"


async def main():
    for io in (
        Server(),  # the default: no CORS headers, cross-origin WebSockets refused
        Server(cors=["https://app.example.com"]),  # these origins (or "*", or a function)
    ):
        server = await io.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.port}"
        for origin in ("https://app.example.com", "https://evil.example"):
            header = await asyncio.to_thread(handshake, server.port, origin)
            print(f"{origin}: CORS header {header}, WebSocket", await websocket_from(url, origin))
        await io.close()


asyncio.run(main())
