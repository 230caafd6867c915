"""examples/custom_parser.py: a custom parser through the two-method seam, on a server and
a client (Python, and the official JavaScript client given the same format)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiosocketio import ProtocolError, Server, Socket
from aiosocketio.socketio.packets import ACK, BINARY_EVENT, CONNECT, DISCONNECT, EVENT, Packet
from aiosocketio.socketio.parser import Parser

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT / "tests" / "interop"


def _load() -> ModuleType:
    path = ROOT / "examples" / "custom_parser.py"
    spec = importlib.util.spec_from_file_location("custom_parser_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load()


def test_it_fits_the_parser_protocol() -> None:
    parser: Parser = example.JSONTextParser()
    assert parser.decoder() is not parser.decoder()


def test_encode_and_decode() -> None:
    parser = example.JSONTextParser()
    decoder = parser.decoder()
    cases = [
        (Packet(EVENT, "/", ["hello", {"a": [1, 2.5, None]}], 3), '"id":3'),
        (Packet(ACK, "/admin", [], 0), '"nsp":"/admin"'),
        (Packet(CONNECT, "/"), '{"type":0,"nsp":"/"}'),
        (Packet(CONNECT, "/", {"token": "é"}), '"token":"é"'),
        (Packet(DISCONNECT, "/x"), '{"type":1,"nsp":"/x"}'),
    ]
    for packet, fragment in cases:
        [message] = parser.encode(packet.type, packet.nsp, packet.data, packet.id)
        assert isinstance(message, str) and fragment in message
        assert decoder.decode_text(message) == packet
    [message] = parser.encode(BINARY_EVENT, "/", ["x"])
    assert decoder.decode_text(message) == Packet(EVENT, "/", ["x"])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"type":2,"nsp":"/"}',
        '{"type":2,"data":[],"nsp":"/"}',
        '{"type":2,"data":["connect"],"nsp":"/"}',
        '{"type":2,"data":["a"],"nsp":"a"}',
        '{"type":5,"data":["a"],"nsp":"/"}',
        '{"type":true,"data":["a"],"nsp":"/"}',
        '{"type":2,"data":["a"],"nsp":"/","id":-1}',
        '{"type":0,"data":[],"nsp":"/"}',
        '{"type":1,"data":{},"nsp":"/"}',
        '{"type":4,"nsp":"/"}',
        "[" * 100_000,
    ],
)
def test_bad_input_is_a_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError):
        example.JSONTextParser().decoder().decode_text(text)


def test_binary_messages_are_refused() -> None:
    with pytest.raises(ProtocolError):
        example.JSONTextParser().decoder().decode_binary(b"\x00")


async def test_main_runs_a_server_and_a_client_with_it() -> None:
    assert await example.main() == [{"from": "server"}, 3]


# the same format in JavaScript, given to the official client as its `parser` option
NODE_CLIENT = r"""
const { io } = require("socket.io-client");
const { Emitter } = require("@socket.io/component-emitter");

class Encoder {
  encode(packet) {
    return [JSON.stringify(packet)];
  }
}
class Decoder extends Emitter {
  add(chunk) {
    const packet = JSON.parse(chunk);
    const ok = Number.isInteger(packet.type) && typeof packet.nsp === "string";
    if (!ok) throw new Error("invalid format");
    this.emit("decoded", packet);
  }
  destroy() {}
}

const socket = io(`http://127.0.0.1:${process.argv[1]}`, {
  parser: { Encoder, Decoder },
  transports: [process.argv[2]],
  reconnection: false,
});
socket.on("hello", async (greeting) => {
  const sum = await socket.timeout(3000).emitWithAck("add", 1, 2);
  process.stdout.write(JSON.stringify({ greeting, sum }));
  socket.disconnect();
});
socket.on("connect_error", (err) => {
  process.stderr.write(err.message);
  process.exit(1);
});
setTimeout(() => process.exit(2), 5000).unref();
"""


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_the_javascript_client_with_the_same_format(transport: str) -> None:
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("needs Node.js and the npm packages of tests/interop (`npm ci` there)")
    server = Server(parser=example.JSONTextParser())
    received: list[Any] = []

    def on_connection(socket: Socket) -> None:
        def add(a: int, b: int) -> int:
            received.append((a, b))
            return a + b

        socket.on("add", add)
        socket.emit("hello", {"from": "python"})

    server.on("connection", on_connection)
    standalone = await server.start("127.0.0.1", 0)
    try:
        proc = await asyncio.create_subprocess_exec(
            node,
            "-e",
            NODE_CLIENT,
            str(standalone.port),
            transport,
            cwd=INTEROP,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        await server.close()
    assert proc.returncode == 0, stderr.decode()
    assert json.loads(stdout) == {"greeting": {"from": "python"}, "sum": 3}
    assert received == [(1, 2)]


def test_the_docs_show_the_example_as_it_is() -> None:
    """Each code block of docs/parsers.md marked as taken from the example is in it."""
    docs = (ROOT / "docs" / "parsers.md").read_text()
    source = (ROOT / "examples" / "custom_parser.py").read_text()
    marker = "<!-- from examples/custom_parser.py -->\n```python\n"
    blocks = [part.split("```", 1)[0] for part in docs.split(marker)[1:]]
    assert len(blocks) == 2
    for block in blocks:
        assert block in source
