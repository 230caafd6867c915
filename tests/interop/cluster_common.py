"""What the mixed-cluster interop tests share (``test_redis_cluster.py``,
``test_streams_cluster.py``, ``test_postgres_cluster.py``): the long-running Node scripts they
drive through the line protocol of ``node_cluster/control.js``, Python servers with an adapter,
small helpers, and the checks that are the same whatever the adapter.

Each test module keeps its own fixtures (``node_script``, ``python_servers``) and builds them
with :func:`node_scripts` and :func:`sio_servers`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Socket
from aiosocketio.adapters.cluster import RemoteSocket
from sioclient import SioClient, SioServer, until

INTEROP_DIR = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")


# ---------------------------------------------------------------------------------- skips
def need_npm(tests: str, *packages: str) -> None:
    """Skip unless the npm packages are installed in ``tests/interop/node_modules``."""
    for package in packages:
        if not (INTEROP_DIR / "node_modules" / package / "package.json").is_file():
            pytest.skip(f"the {tests} interop tests need {package}: run `npm ci` in {INTEROP_DIR}")


def redis_major_version(url: str) -> int:
    """The major version of the Redis server at ``url`` (skip when it is not reachable)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        return int(str(client.info("server").get("redis_version", "0")).split(".")[0])
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url} ({exc}); set AIOSOCKETIO_REDIS_URL")
    finally:
        client.close()


# ---------------------------------------------------------------------------------- Node scripts
def to_wire(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class NodeProcess:
    """A running Node script: ``await call(op, **fields)`` sends a command and returns its
    value (raises RuntimeError with the script's error); ``await event(ev)`` waits for an
    observation."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.results: dict[int, dict[str, Any]] = {}
        self.changed = asyncio.Event()
        self.stderr = b""
        self.ready: dict[str, Any] = {}
        self._ids = 0
        self._reader = asyncio.ensure_future(self._read())
        self._err_reader = asyncio.ensure_future(self._read_err())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = from_wire(json.loads(line))
            if message.get("ev") == "result":
                self.results[message["id"]] = message
            else:
                self.events.append(message)
            self.changed.set()
        self.changed.set()

    async def _read_err(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.stderr += chunk

    async def _wait(self, found: Callable[[], Any], what: str, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (value := found()) is None:
            if self._reader.done():
                raise RuntimeError(
                    f"{self.name} exited while waiting for {what}:\n{self.stderr.decode()}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {what} within {timeout} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return value

    async def call(self, op: str, timeout: float = 5.0, **fields: Any) -> Any:
        self._ids += 1
        command_id = self._ids
        assert self.proc.stdin is not None
        line = json.dumps(to_wire({"id": command_id, "op": op, **fields})) + "\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        result = await self._wait(lambda: self.results.pop(command_id, None), op, timeout)
        if not result["ok"]:
            raise RuntimeError(f"{self.name} {op}: {result['error']}")
        return result["value"]

    async def event(self, ev: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for i, message in enumerate(self.events):
                if message.get("ev") == ev and all(message.get(k) == v for k, v in match.items()):
                    return self.events.pop(i)
            return None

        result: dict[str, Any] = await self._wait(found, f"event {ev}", timeout)
        return result

    async def close(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 3.0)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in (self._reader, self._err_reader):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 1.0)


StartNode = Callable[..., Awaitable[NodeProcess]]
StartPython = Callable[..., Awaitable[list[SioServer]]]


@contextlib.asynccontextmanager
async def node_scripts(node: str, folder: str, *args: str) -> AsyncIterator[StartNode]:
    """``start`` for the scripts of ``tests/interop/<folder>``: ``await start("server",
    mode="classic")`` runs ``server.js`` with ``args`` and ``--mode classic``, and returns it
    once it printed its ``ready`` event; every script started is stopped at the exit."""
    started: list[NodeProcess] = []

    async def start(script: str, **options: Any) -> NodeProcess:
        argv = list(args)
        for name, value in options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        proc = await asyncio.create_subprocess_exec(
            node,
            str(INTEROP_DIR / folder / f"{script}.js"),
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(INTEROP_DIR),
        )
        process = NodeProcess(proc, f"{script}.js")
        started.append(process)
        process.ready = await process.event("ready", timeout=10.0)
        return process

    try:
        yield start
    finally:
        for process in started:
            await process.close()


@contextlib.asynccontextmanager
async def sio_servers() -> AsyncIterator[StartPython]:
    """``start``: ``await start(count, adapter_factory, **server_options)`` returns ``count``
    started Python servers with that adapter; all are closed at the exit."""
    started: list[SioServer] = []

    async def start(count: int, adapter: Any, **server_options: Any) -> list[SioServer]:
        nodes = []
        for _ in range(count):
            node = SioServer(adapter=adapter, **server_options)
            await node.__aenter__()
            started.append(node)
            nodes.append(node)
        return nodes

    try:
        yield start
    finally:
        for node in reversed(started):
            await node.close()


# ---------------------------------------------------------------------------------- helpers
async def wait_count(
    python: list[SioServer], js: NodeProcess | None, count: int, timeout: float = 5.0
) -> None:
    """Wait until every server of the cluster counts ``count`` servers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for server in python:
        while await server.io.of("/").adapter.server_count() != count:
            assert loop.time() < deadline, "the Python servers do not see the cluster"
            await asyncio.sleep(0.02)
    if js is not None:
        while await js.call("serverCount") != count:
            assert loop.time() < deadline, "the Node server does not see the cluster"
            await asyncio.sleep(0.02)


def js_port(js: NodeProcess) -> int:
    return int(js.ready["port"])


async def node_client(port: int, nsp: str = "/", auth: Any = None) -> SioClient:
    client = await SioClient.open_ws(port)
    await client.connect(nsp, auth)
    return client


async def next_events(clients: list[SioClient], timeout: float = 2.0) -> list[tuple[str, Any]]:
    out = []
    for client in clients:
        _nsp, name, args = await client.next_event(timeout)
        out.append((name, args))
    return out


async def quiet(clients: list[SioClient], wait: float = 0.2) -> bool:
    await asyncio.sleep(wait)
    return all([await c.no_event(0.001) for c in clients])


async def node_rooms(js: NodeProcess, sid: str) -> list[str]:
    for socket in await js.call("localSockets"):
        if socket["id"] == sid:
            return list(socket["rooms"])
    return []


async def until_async(
    get: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 2.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check(await get()):
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def answered_by_index(request: Awaitable[Any], everyone: list[SioClient]) -> None:
    """Each client answers the broadcast ``request`` sends with its index in ``everyone``;
    the request gets every answer."""
    task = asyncio.ensure_future(request)
    for i, client in enumerate(everyone):
        packet = await client.next_event_packet(2.0)
        client.ack(packet.id, i)
    assert sorted(await asyncio.wait_for(task, 3.0)) == list(range(len(everyone)))


# ---------------------------------------------------------------------------------- checks
async def four_clients(py: SioServer, js: NodeProcess, clients: list[SioClient]) -> list[SioClient]:
    """``[p1, p2, n1, n2]``: two clients of the Python server, then two of the Node server;
    a broadcast from either side reaches each of them once."""
    p1, _ = await py.connected()
    p2, _ = await py.connected()
    n1 = await node_client(js_port(js))
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    everyone = [p1, p2, n1, n2]

    await js.call("emit", event="from-node", args=[1, {"a": [True, None]}])
    assert await next_events(everyone) == [("from-node", [1, {"a": [True, None]}])] * 4
    py.io.emit("from-python", "x", 2.5)
    assert await next_events(everyone) == [("from-python", ["x", 2.5])] * 4
    return everyone


async def room_broadcasts(py: SioServer, js: NodeProcess, everyone: list[SioClient]) -> None:
    """Rooms, except and local broadcasts from either side (the clients of four_clients)."""
    p1, p2, n1, n2 = everyone
    py.io.of("/").sockets[p1.sids["/"]].join(["red", "blue"])
    await js.call("join", sid=n1.sids["/"], rooms=["red"])
    await js.call("join", sid=n2.sids["/"], rooms=["blue"])
    await js.call("emit", rooms=["red"], event="red")
    assert await next_events([p1, n1]) == [("red", [])] * 2
    py.io.to("blue").emit("blue")
    assert await next_events([p1, n2]) == [("blue", [])] * 2
    py.io.to("red").to("blue").except_(n2.sids["/"]).emit("red-blue-but-n2")
    assert await next_events([p1, n1]) == [("red-blue-but-n2", [])] * 2
    await js.call("emit", **{"except": ["red"]}, event="not-red")
    assert await next_events([p2, n2]) == [("not-red", [])] * 2
    await js.call("emit", rooms=[p2.sids["/"]], event="private")
    assert await next_events([p2]) == [("private", [])]
    await js.call("emit", local=True, event="node-local")
    assert await next_events([n1, n2]) == [("node-local", [])] * 2
    py.io.local.emit("python-local")
    assert await next_events([p1, p2]) == [("python-local", [])] * 2


async def acks_both_ways(
    py: SioServer, js: NodeProcess, clients: list[SioClient], node_answer: str
) -> None:
    """Broadcasts with acknowledgements from either side, to a client of each server (the Node
    server's client answers the Python server with ``node_answer``)."""
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)

    task = asyncio.ensure_future(py.io.timeout(2.0).emit_with_ack("q", 1))
    for client, answer in ((p1, "p"), (n1, node_answer)):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q", 1]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [node_answer, "p"]

    task = asyncio.ensure_future(js.call("emitWithAck", event="q2", args=[b"\x07"]))
    for client, answer in ((p1, b"\x01"), (n1, b"\x02")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q2", b"\x07"]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [b"\x01", b"\x02"]


async def server_side_emit_both_ways(py: SioServer, js: NodeProcess) -> None:
    """Server-side events (with acknowledgements, and binary) from either side. The Python
    handler of "hello" answers "python:<first argument>" (bytes 05 to "bin")."""
    received: list[tuple[Any, ...]] = []

    def on_hello(*args: Any) -> Any:
        received.append(args)
        return b"\x05" if args[0] == "bin" else f"python:{args[0]}"

    py.io.on("hello", on_hello)
    await js.call("serverSideEmit", event="hello", args=[1, {"two": 2}])
    await until(lambda: received == [(1, {"two": 2})], 3.0)
    assert await js.call("serverSideEmit", event="hello", args=["x"], ack=True) == ["python:x"]
    py.io.server_side_emit("hello", "from-py", [3])
    assert (await js.event("server_side", event="hello"))["args"] == ["from-py", [3]]
    assert await py.io.server_side_emit_with_ack("ask", 7) == ["node:7"]
    # binary travels (MessagePack requests)
    py.io.server_side_emit("binary", b"\x01\x02")
    assert (await js.event("server_side", event="binary"))["args"] == [b"\x01\x02"]


async def remote_socket_works(js: NodeProcess, remote: RemoteSocket, client: SioClient) -> None:
    """The socket of a Node server's ``client`` seen from Python: emit, emit_with_ack and join
    reach it."""
    remote.emit("hi", 1)
    assert await next_events([client]) == [("hi", [1])]
    task = asyncio.ensure_future(remote.emit_with_ack("ask", timeout=2.0))
    packet = await client.next_event_packet(2.0)
    client.ack(packet.id, "yes")
    assert await task == "yes"
    remote.join("from-python")
    await until_async(lambda: node_rooms(js, client.sids["/"]), lambda r: "from-python" in r)


async def sockets_both_ways(
    py: SioServer, js: NodeProcess, clients: list[SioClient], *, python_rooms: bool = False
) -> None:
    """fetch_sockets, remote sockets, sockets_join/leave and disconnects from either side;
    with ``python_rooms``, also checks the Python socket's rooms after ``sockets_join``."""
    p1, p1_sid = await py.connected("/", {"who": "p1"})
    n1 = await node_client(js_port(js), auth={"who": "n1"})
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    n1_sid = n1.sids["/"]
    py.io.of("/").sockets[p1_sid].data = {"lang": "python", "n": [1]}
    py.io.of("/").sockets[p1_sid].join("team")
    await js.call("join", sid=n1_sid, rooms=["team", "node-only"])

    found = await py.io.fetch_sockets()
    assert {s.id for s in found} == {p1_sid, n1_sid, n2.sids["/"]}
    remote = next(s for s in found if s.id == n1_sid)
    assert isinstance(remote, RemoteSocket)
    assert isinstance(next(s for s in found if s.id == p1_sid), Socket)
    assert remote.data == {"lang": "node"} and remote.handshake.auth == {"who": "n1"}
    assert remote.rooms == {n1_sid, "team", "node-only"}
    await remote_socket_works(js, remote, n1)

    seen = await js.call("fetchSockets")
    by_id = {s["id"]: s for s in seen}
    assert by_id[p1_sid]["remote"] and by_id[p1_sid]["data"] == {"lang": "python", "n": [1]}
    assert by_id[p1_sid]["rooms"] == sorted([p1_sid, "team"])
    assert {s["id"] for s in await js.call("fetchSockets", rooms=["team"])} == {p1_sid, n1_sid}
    await js.call("remoteEmit", sid=p1_sid, event="hello-from-node", args=[b"\x09"])
    assert await next_events([p1]) == [("hello-from-node", [b"\x09"])]
    task = asyncio.ensure_future(js.call("remoteEmitWithAck", sid=p1_sid, event="ask"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, "python-yes")
    assert await task == "python-yes"

    # sockets_join / leave / disconnect, each side
    await js.call("join", sid=n2.sids["/"], rooms=["vip"])
    py.io.except_("vip").sockets_join(["a", "b"])
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: {"a", "b"} <= set(r))
    assert "a" not in await node_rooms(js, n2.sids["/"])
    if python_rooms:
        assert {"a", "b"} <= py.io.of("/").sockets[p1_sid].rooms
    await js.call("socketsLeave", rooms=["a"], leave="b")
    await until(lambda: "b" not in py.io.of("/").sockets[p1_sid].rooms, 10.0)
    await js.call("remoteDisconnect", sid=p1_sid)
    await until(lambda: p1_sid not in py.io.of("/").sockets, 10.0)
    py.io.disconnect_sockets(close=True)
    assert await n2.wait_closed(2.0)


async def three_servers(
    pys: list[SioServer], js: NodeProcess, clients: list[SioClient]
) -> list[SioClient]:
    """Two Python servers and a Node server, a client of each (returned in that order):
    server-side emits with acknowledgements, fetch_sockets and a Node broadcast with
    acknowledgements count every server's answer."""
    p = [(await py.connected())[0] for py in pys]
    n1 = await node_client(js_port(js))
    clients.append(n1)
    everyone = [*p, n1]
    for i, py in enumerate(pys):
        py.io.on("ask", lambda x, i=i: f"py{i}:{x}")
    assert sorted(await js.call("serverSideEmit", event="ask", args=[1], ack=True)) == [
        "py0:1",
        "py1:1",
    ]
    assert sorted(await pys[0].io.server_side_emit_with_ack("ask", 2)) == ["node:2", "py1:2"]
    assert len(await js.call("fetchSockets")) == 3
    assert len(await pys[1].io.fetch_sockets()) == 3
    await answered_by_index(js.call("emitWithAck", event="q"), everyone)
    return everyone


async def emitter_cluster(
    python_servers: StartPython, node_script: StartNode, timeout: float = 5.0
) -> tuple[list[SioServer], NodeProcess, list[SioClient], list[Any]]:
    """``nodes, emitter, [a, b, admin], got``: two Python servers and the Node emitter; ``a``
    (in room r) on the first server, ``b`` (in r and s) and ``admin`` (of /admin) on the
    second; ``got`` collects the server-side "from-emitter" events as (server index, args)."""
    nodes = await python_servers(2)
    for node in nodes:
        await node.io.of("/admin").adapter.init()
    await wait_count(nodes, None, 2, timeout)
    emitter = await node_script("emitter")
    a, a_sid = await nodes[0].connected()
    b, b_sid = await nodes[1].connected()
    admin, _ = await nodes[1].connected("/admin")
    nodes[0].io.of("/").sockets[a_sid].join("r")
    nodes[1].io.of("/").sockets[b_sid].join(["r", "s"])
    got: list[Any] = []
    for i, node in enumerate(nodes):
        node.io.on("from-emitter", lambda *args, i=i: got.append((i, args)))
    return nodes, emitter, [a, b, admin], got


async def emitter_drives_sockets(
    emitter: NodeProcess,
    nodes: list[SioServer],
    a: SioClient,
    b: SioClient,
    got: list[Any],
    *,
    b_leaves_too: bool = False,
) -> None:
    """The Node emitter's socketsJoin, socketsLeave, serverSideEmit and disconnectSockets on
    the clients of emitter_cluster; with ``b_leaves_too``, also waits for b to leave r."""
    a_sid, b_sid = a.sids["/"], b.sids["/"]
    await emitter.call("socketsJoin", rooms=["s"], join=["t", "u"])
    await until(lambda: {"t", "u"} <= nodes[1].io.of("/").sockets[b_sid].rooms, 10.0)
    await emitter.call("socketsLeave", leave="r")
    await until(lambda: "r" not in nodes[0].io.of("/").sockets[a_sid].rooms, 10.0)
    if b_leaves_too:
        await until(lambda: "r" not in nodes[1].io.of("/").sockets[b_sid].rooms, 10.0)
    await emitter.call("serverSideEmit", event="from-emitter", args=[{"n": 1}])
    await until(lambda: sorted(got) == [(0, ({"n": 1},)), (1, ({"n": 1},))], 10.0)
    await emitter.call("disconnectSockets", **{"except": ["t"]})
    await until(lambda: not nodes[0].io.of("/").sockets, 10.0)
    assert b_sid in nodes[1].io.of("/").sockets
    await emitter.call("disconnectSockets", close=True)
    assert await b.wait_closed(2.0)


async def held_until_node_is_back(
    py: SioServer, js: NodeProcess, py_proxy: Any, js_proxy: Any, timeout: float
) -> None:
    """Both servers lose the broker (their proxies taken down); the Python server's comes
    back first: it holds its broadcasts until the Node server is subscribed again, whose
    client then gets them all, and nothing is reported."""
    n1 = await node_client(js_port(js))
    py.io.emit("before")
    assert await next_events([n1]) == [("before", [])]
    link = py.io.of("/").adapter.link  # type: ignore[attr-defined]
    await py_proxy.down()
    await js_proxy.down()
    await until(lambda: not link.connected, 3.0)
    await py_proxy.start()
    await until(lambda: link.connected, 3.0)
    assert link.resync.held  # the Node server is not subscribed again yet
    for i in range(5):
        py.io.emit("n", i)
    assert await quiet([n1], 0.3)
    await js_proxy.start()
    assert await next_events([n1] * 5, timeout=timeout) == [("n", [i]) for i in range(5)]
    await until(lambda: not link.resync.held, 3.0)
    assert link.resync.reported["short"] == link.resync.reported["unconfirmed"] == 0
