"""Fixed work on the server's hot paths, for instruction counts under callgrind (which do not
depend on the machine's load, unlike timings).

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python benchmarks/callgrind_paths.py CASE N

CASE: ``echo`` (20 reads of 10 acked events), ``fanout`` (``io.emit`` to all 200 sockets),
``room`` (``io.to(room).emit`` to 100 of them), ``ack`` (the same with an acknowledgement),
``polling`` (one acked event over HTTP long-polling, as the harness's polling-echo: a
pending GET, a POST, the answers of both, through the standalone server's HTTP protocol),
``asgi-polling`` (the same through the ASGI app, called as an ASGI server calls it: the app's
share only), or ``all``; each done N times. Run it with N and with 0 (setup only) and divide the
difference of the two totals (``summary:`` in the output file) by N. Set
``PYTHONHASHSEED=0`` for repeatable counts. Connections are those of bench_inproc.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_inproc

from aiosocketio.transport.http_protocol import HttpProtocol
from aiosocketio.transport.standalone import StandaloneServer


class Recorder(bench_inproc.NullTransport):
    """A transport that keeps what is written (the answers' bodies are read)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


class Polling:
    """One long-polling client on two kept-alive connections (GETs and POSTs), as the
    harness's polling client sends its requests."""

    HEAD = "{} {} HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: keep-alive\r\n"

    def __init__(self, io: Any) -> None:
        server = StandaloneServer([io])
        self.get, self.post = HttpProtocol(server), HttpProtocol(server)
        self.get_out, self.post_out = Recorder(), Recorder()
        self.get.connection_made(self.get_out)  # type: ignore[arg-type]
        self.post.connection_made(self.post_out)  # type: ignore[arg-type]
        self.path = "/socket.io/?EIO=4&transport=polling"
        self.post_bytes: bytes | None = None
        self.get_bytes = b""

    @classmethod
    async def open(cls, io: Any) -> Polling:
        self = cls(io)
        self.get.data_received((self.HEAD.format("GET", self.path) + "\r\n").encode())
        body = self.take(self.get_out)
        sid = body[body.index('"sid":"') + 7 :].split('"', 1)[0]
        self.path += "&sid=" + sid
        self.send_post("40")
        self.take(self.post_out)
        self.send_get()
        await asyncio.sleep(0)
        self.take(self.get_out)
        self.send_get()  # the pending GET of the first echo
        return self

    def send_get(self) -> None:
        self.get.data_received((self.HEAD.format("GET", self.path) + "\r\n").encode())

    def send_post(self, body: str) -> None:
        head = self.HEAD.format("POST", self.path)
        data = body.encode()
        self.post.data_received(
            (
                f"{head}Content-Type: text/plain;charset=UTF-8\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )

    @staticmethod
    def take(out: Recorder) -> str:
        data = bytes(out.data)
        out.data.clear()
        if not data.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {data[:200]!r}")
        return data.decode()

    async def echo(self) -> None:
        """One acked event: POST it, read the ack from the pending GET, poll again."""
        if self.post_bytes is None:  # the same bytes every time: the driver costs little
            head = self.HEAD.format("POST", self.path)
            body = b'421["echo",{"n":1,"s":"hello"}]'
            self.post_bytes = (
                f"{head}Content-Type: text/plain;charset=UTF-8\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            self.get_bytes = (self.HEAD.format("GET", self.path) + "\r\n").encode()
        self.post.data_received(self.post_bytes)
        get_out, post_out = self.get_out.data, self.post_out.data
        if not post_out.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {bytes(post_out)!r}")
        post_out.clear()
        while not get_out:
            await asyncio.sleep(0)
        if b"431[" not in get_out:
            raise RuntimeError(f"no ack in {bytes(get_out)!r}")
        get_out.clear()
        self.get.data_received(self.get_bytes)


class AsgiPolling:
    """The same long-polling client through the ASGI app (``io.asgi_app()``), as an ASGI
    server calls it: only the app's share of a request (not the server's HTTP parsing)."""

    HEADERS = [
        (b"host", b"127.0.0.1:3000"),
        (b"connection", b"keep-alive"),
        (b"user-agent", b"node"),
        (b"accept", b"*/*"),
    ]
    POST_HEADERS = [*HEADERS, (b"content-type", b"text/plain;charset=UTF-8")]

    def __init__(self, io: Any) -> None:
        self.app = io.asgi_app()
        self.query = b"EIO=4&transport=polling"
        self.get: asyncio.Future[list[dict[str, Any]]] | None = None

    @classmethod
    async def open(cls, io: Any) -> AsgiPolling:
        self = cls(io)
        body = self.body(await self.request("GET"))
        sid = body[body.index(b'"sid":"') + 7 :].split(b'"', 1)[0]
        self.query += b"&sid=" + sid
        self.body(await self.request("POST", b"40"))
        self.body(await self.request("GET"))
        await self.poll()  # the first echo's pending GET
        return self

    async def request(self, method: str, body: bytes = b"") -> list[dict[str, Any]]:
        headers = self.HEADERS
        if body:
            headers = [*self.POST_HEADERS, (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 3000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": "/socket.io/",
            "raw_path": b"/socket.io/",
            "query_string": self.query,
            "headers": headers,
        }
        sent: list[dict[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        never = asyncio.get_running_loop().create_future()  # no disconnect: a kept-alive client

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            return await never  # type: ignore[no-any-return]

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent

    @staticmethod
    def body(sent: list[dict[str, Any]]) -> bytes:
        if len(sent) != 2 or sent[0]["status"] != 200:
            raise RuntimeError(f"unexpected answer: {sent!r}")
        return bytes(sent[1]["body"])

    async def echo(self) -> None:
        """One acked event: POST it, read the ack from the pending GET, poll again."""
        assert self.get is not None
        if self.body(await self.request("POST", b'421["echo",{"n":1,"s":"hello"}]')) != b"ok":
            raise RuntimeError("the POST was not answered ok")
        if b"431[" not in self.body(await self.get):
            raise RuntimeError("no ack on the pending GET")
        await self.poll()

    async def poll(self) -> None:
        """The next GET, left pending in the app (as when it reaches the server first)."""
        self.get = asyncio.ensure_future(self.request("GET"))
        await asyncio.sleep(0)
        if self.get.done():
            raise RuntimeError(f"the GET was answered at once: {self.get.result()!r}")


CASES = ("echo", "fanout", "room", "ack", "polling", "asgi-polling", "all")


async def main(case: str, rounds: int) -> None:
    io = bench_inproc.bench_server.create_server()
    conns = [bench_inproc.connect(io) for _ in range(200)]
    await asyncio.sleep(0)
    for i, sid in enumerate(list(io.sockets.sockets)):
        if i % 2 == 0:
            io.sockets.sockets[sid].join("even")
    ws = conns[0]
    batch = b"".join(
        bench_inproc.frame(f'42{i}["echo",{{"n":{i},"s":"hello"}}]') for i in range(10)
    )
    payload = {"k": 1, "s": "fanout"}
    poll: Polling | AsgiPolling | None = None
    if case in ("all", "polling"):
        poll = await Polling.open(io)
    elif case == "asgi-polling":
        poll = await AsgiPolling.open(io)
    for _ in range(rounds):
        if case in ("all", "echo"):
            for _ in range(20):
                ws.data_received(batch)
        if case in ("all", "fanout"):
            io.emit("bcast", payload)
        if case in ("all", "room"):
            io.to("even").emit("bcast", payload)
        if case in ("all", "ack"):
            io.to("even").timeout(5).emit("q", 1, callback=lambda err, responses: None)
        if poll is not None:
            await poll.echo()
    await io.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES or not sys.argv[2].isdigit():
        sys.exit(f"usage: callgrind_paths.py {{{'|'.join(CASES)}}} N")
    if sys.argv[1] in ("polling", "asgi-polling"):  # answers wait for loop iterations: uvloop
        import uvloop

        uvloop.run(main(sys.argv[1], int(sys.argv[2])))
    else:
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
