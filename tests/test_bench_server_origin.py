"""benchmarks/bench_server.py accepts any origin, as the shared harness's Node reference
server does (``cors: { origin: '*' }``): browsers run the benchmark against it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from helpers import WsConnection, http_request, open_packet

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_server.py"
ORIGIN = "http://browser.example:8080"


def create_server() -> Any:
    spec = importlib.util.spec_from_file_location("bench_server", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_server()


async def test_any_origin_is_accepted(serve_io):
    port = await serve_io(create_server())
    target = "/socket.io/?EIO=4&transport=polling"
    response = await http_request(port, "GET", target, headers={"Origin": ORIGIN})
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    target = "/socket.io/?EIO=4&transport=websocket"
    async with await WsConnection.open(port, target, headers=[("Origin", ORIGIN)]) as ws:
        open_packet(await ws.recv())
