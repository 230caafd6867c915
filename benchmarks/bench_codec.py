"""Micro-benchmarks of the protocol core: Socket.IO / Engine.IO codecs and the JSON library.

    python benchmarks/bench_codec.py

Prints nanoseconds per operation (best of several rounds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import orjson

from aiosocketio import _json
from aiosocketio.engineio.packets import decode_payload, encode_payload
from aiosocketio.socketio import packets as sio

EVENT_TEXT = '21["echo",{"n":12345,"s":"hello"}]'
EVENT_DATA = ["echo", {"n": 12345, "s": "hello"}]
BINARY_DATA = ["echo", {"blob": b"\x00" * 65536}]


def bench(name: str, func: Callable[[], object], number: int = 100_000, rounds: int = 5) -> None:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    print(f"{name:<48} {best * 1e9:10.0f} ns")


def main() -> None:
    payload = {"n": 12345, "s": "hello", "list": [1, 2, 3], "nested": {"a": "b"}}
    text = json.dumps(payload)
    print("# JSON library (decision 0001)")
    bench("json.dumps (stdlib, compact)", lambda: json.dumps(payload, separators=(",", ":")))
    bench("orjson.dumps + decode", lambda: orjson.dumps(payload).decode())
    bench("aiosocketio._json.dumps", lambda: _json.dumps(payload))
    bench("json.loads (stdlib)", lambda: json.loads(text))
    bench("orjson.loads", lambda: orjson.loads(text))
    print("# Socket.IO codec")
    decoder = sio.Decoder()
    bench("decode EVENT with ack id", lambda: decoder.decode_text(EVENT_TEXT))
    bench("encode EVENT", lambda: sio.encode(sio.EVENT, "/", EVENT_DATA))
    bench("encode ACK", lambda: sio.encode(sio.ACK, "/", [{"n": 1, "s": "hello"}], 12))
    bench("encode BINARY_EVENT 64 KiB", lambda: sio.encode(sio.EVENT, "/", BINARY_DATA), 20_000)
    print("# Engine.IO payloads")
    packets = ["4" + EVENT_TEXT] * 10
    joined = encode_payload(packets)
    bench("encode payload of 10 packets", lambda: encode_payload(packets))
    bench("decode payload of 10 packets", lambda: decode_payload(joined))


if __name__ == "__main__":
    main()
