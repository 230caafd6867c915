"""In-process micro-benchmarks of the whole server stack, without sockets or the kernel.

Connections are real WebSocketProtocol objects on a fake transport that swallows writes, so
the numbers are the Python cost per message: frame parsing, Engine.IO, Socket.IO decoding,
dispatch, the handler, encoding, framing.

    python benchmarks/bench_inproc.py [--receivers 1000]

Prints microseconds per operation (best of several rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_server

from aiosocketio.engine.http import Request
from aiosocketio.transport.ws_protocol import WebSocketProtocol
from aiosocketio.ws.frames import TEXT, encode_frame

MASK = b"\x11\x22\x33\x44"


class NullTransport:
    """Accepts every write; counts bytes."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, data: list[bytes]) -> None:
        self.written += sum(len(d) for d in data)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Upgrade:
    def __init__(self) -> None:
        self.ws: WebSocketProtocol | None = None

    def accept(self, headers: Any) -> WebSocketProtocol:
        self.ws = WebSocketProtocol(NullTransport(), max_message_size=1_000_000)  # type: ignore[arg-type]
        return self.ws

    def reject(self, status: int, headers: Any, body: bytes) -> None:
        raise RuntimeError(f"refused: {status} {body!r}")


def frame(text: str) -> bytes:
    return encode_frame(TEXT, text.encode(), mask=MASK)


def connect(io: Any) -> WebSocketProtocol:
    request = Request(
        "GET", "/socket.io/", "EIO=4&transport=websocket", {"host": "127.0.0.1"}, remote=None
    )
    upgrade = Upgrade()
    io.engine.handle_websocket(request, upgrade)
    assert upgrade.ws is not None
    upgrade.ws.data_received(frame("40"))
    return upgrade.ws


def best(rounds: int, func: Any) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


async def main(receivers: int) -> None:
    io = bench_server.create_server()
    conns = [connect(io) for _ in range(receivers)]
    await asyncio.sleep(0)
    assert len(io.sockets.sockets) == receivers

    # echo: 10 acked events per read, as the harness's echo clients send them
    ws = conns[0]
    batch = b"".join(frame(f'42{i}["echo",{{"n":{i},"s":"hello"}}]') for i in range(10))
    reads = 2000
    elapsed = best(5, lambda: [ws.data_received(batch) for _ in range(reads)])
    print(f"echo: {elapsed / (reads * 10) * 1e6:.2f} us per acked event (10 per read)")

    # fanout: io.emit to every socket (encode once, write the same frame to each)
    payload = {"k": 1, "s": "fanout"}
    emits = 50
    elapsed = best(5, lambda: [io.emit("bcast", payload) for _ in range(emits)])
    print(
        f"fanout: {elapsed / (emits * receivers) * 1e6:.3f} us per delivery ({receivers} sockets)"
    )

    # broadcast received from a client ("broadcast" event -> io.emit), the harness's path
    message = frame('42["broadcast",{"k":1,"s":"fanout"}]')
    elapsed = best(5, lambda: [ws.data_received(message) for _ in range(emits)])
    print(f"fanout via event: {elapsed / (emits * receivers) * 1e6:.3f} us per delivery")

    # binary echo of 64 KiB
    from aiosocketio.ws.frames import BINARY

    head = frame('451-1["echo",{"_placeholder":true,"num":0}]')
    blob = encode_frame(BINARY, os.urandom(65536), mask=MASK)
    binary = head + blob
    reads = 300
    elapsed = best(5, lambda: [ws.data_received(binary) for _ in range(reads)])
    print(f"binary echo 64 KiB: {elapsed / reads * 1e6:.1f} us per ack")
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receivers", type=int, default=1000)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(args.receivers))
    except ImportError:
        asyncio.run(main(args.receivers))
