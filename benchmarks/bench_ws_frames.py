"""Micro-benchmark of the WebSocket frame codec (aiosocketio.ws.frames).

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_ws_frames.py
Prints nanoseconds per operation (best of several rounds).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from aiosocketio.ws.frames import FrameParser, _mask_int, apply_mask, encode_frame, text_frame

ROUNDS = 7


def best_ns(func: Callable[[], object], number: int) -> float:
    """Best time of ROUNDS runs of `number` calls, in ns per call."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e9


def main() -> None:
    texts = [f'42["message",{{"n":{i},"text":"hello world {i}"}}]' * (1 + i % 3) for i in range(10)]
    frames = b"".join(encode_frame(1, t.encode(), mask=os.urandom(4)) for t in texts)
    sizes = sorted(len(t) for t in texts)
    parser = FrameParser()
    assert [m[1] for m in parser.feed(frames)] == texts

    per_buffer = best_ns(lambda: parser.feed(frames), 20_000)
    print(
        f"parse 10 masked text frames ({sizes[0]}-{sizes[-1]} B) in one buffer: "
        f"{per_buffer:8.0f} ns/buffer = {per_buffer / 10:6.0f} ns/frame"
    )

    message = '42["message",{"text":"hello world"}]'
    print(
        f"text_frame({len(message)} chars): {best_ns(lambda: text_frame(message), 200_000):8.0f} ns"
    )

    mask = os.urandom(4)
    small = os.urandom(100)
    big = os.urandom(64 * 1024)
    print(f"apply_mask 100 B:   {best_ns(lambda: apply_mask(small, mask), 100_000):8.0f} ns")
    print(f"apply_mask 64 KiB:  {best_ns(lambda: apply_mask(big, mask), 500):8.0f} ns")
    # For reference: the plain big-integer XOR that apply_mask uses below 4 KiB.
    print(f"big-int XOR 64 KiB: {best_ns(lambda: _mask_int(big, mask), 500):8.0f} ns")


if __name__ == "__main__":
    main()
