"""A mixed cluster: a Node socket.io 4.8 server with the official @socket.io/redis-adapter 8.3
and Python servers with aiosocketio's Redis adapter share one Redis; the official
@socket.io/redis-emitter 5.1 drives Python servers.

The Node scripts live in ``node_cluster/``: ``server.js`` and ``emitter.js`` run for the whole
test and take JSON commands on stdin (``control.js``). Clients are raw Socket.IO clients
(``tests/sioclient.py``) connected to either server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")
pytest.importorskip("msgpack")

from aiosocketio import Socket
from aiosocketio.adapters.cluster import RemoteSocket
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.emitter import RedisEmitter
from sioclient import SioClient, SioServer, until

pytestmark = pytest.mark.interop

INTEROP_DIR = Path(__file__).resolve().parent
SCRIPTS = INTEROP_DIR / "node_cluster"
REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")
MODES = ["classic", "sharded"]


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def redis_url(node: str) -> str:
    """A reachable Redis 7 and the npm packages of the cluster tests (else a clear skip)."""
    for package in ("@socket.io/redis-adapter", "@socket.io/redis-emitter", "redis"):
        if not (INTEROP_DIR / "node_modules" / package / "package.json").is_file():
            pytest.skip(f"the cluster interop tests need {package}: run `npm ci` in {INTEROP_DIR}")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        major = int(str(client.info("server").get("redis_version", "0")).split(".")[0])
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); set AIOSOCKETIO_REDIS_URL")
    finally:
        client.close()
    if major < 7:
        pytest.skip(f"the cluster interop tests need Redis 7 (sharded Pub/Sub) at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_key() -> str:
    return f"siotest-{uuid.uuid4().hex[:12]}"


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
    """A running script of node_cluster/: ``await call(op, **fields)`` sends a command and
    returns its value (raises RuntimeError with the script's error); ``await event(ev)`` waits
    for an observation."""

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


@pytest.fixture
async def node_script(node: str, redis_url: str, redis_key: str) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server", mode="classic")``: a node_cluster script on the
    test's Redis key, ready; stopped at the end of the test."""
    started: list[NodeProcess] = []

    async def start(script: str, **options: Any) -> NodeProcess:
        args = ["--redis", redis_url, "--key", redis_key]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPTS / f"{script}.js"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(INTEROP_DIR),
        )
        process = NodeProcess(proc, f"{script}.js")
        started.append(process)
        process.ready = await process.event("ready", timeout=10.0)
        return process

    yield start
    for process in started:
        await process.close()


@pytest.fixture
async def python_servers(redis_url: str, redis_key: str) -> AsyncIterator[Any]:
    """``nodes = await python_servers(count, sharded=False)``: started Python servers with the
    Redis adapter on the test's key."""
    started: list[SioServer] = []

    async def start(count: int = 1, *, sharded: bool = False) -> list[SioServer]:
        factory = RedisAdapter.factory(
            redis_url, key=redis_key, sharded=sharded, request_timeout=2.0
        )
        nodes = []
        for _ in range(count):
            node = SioServer(adapter=factory)
            await node.__aenter__()
            started.append(node)
            nodes.append(node)
        return nodes

    yield start
    for node in reversed(started):
        await node.close()


async def wait_count(python: list[SioServer], node_server: NodeProcess | None, count: int) -> None:
    """Wait until every server of the cluster counts ``count`` servers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    for server in python:
        while await server.io.of("/").adapter.server_count() != count:
            assert loop.time() < deadline, "the Python servers do not see the cluster"
            await asyncio.sleep(0.02)
    if node_server is not None:
        while await node_server.call("serverCount") != count:
            assert loop.time() < deadline, "the Node server does not see the cluster"
            await asyncio.sleep(0.02)


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


@pytest.fixture
async def clients() -> AsyncIterator[list[SioClient]]:
    """Raw clients made by the test (to the Node server), aborted at its end."""
    made: list[SioClient] = []
    yield made
    for client in made:
        await client.abort()


async def mixed(
    mode: str, node_script: StartNode, python_servers: Any
) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1, sharded=mode == "sharded")
    js = await node_script("server", mode=mode)
    await wait_count([py], js, 2)
    return py, js


# ---------------------------------------------------------------------------------- broadcasts
@pytest.mark.parametrize("mode", MODES)
async def test_broadcasts_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    node_port = js_port(js)
    p1, p1_sid = await py.connected()
    p2, _p2_sid = await py.connected()
    n1 = await node_client(node_port)
    n2 = await node_client(node_port)
    clients += [n1, n2]
    everyone = [p1, p2, n1, n2]

    # Node -> everyone, Python -> everyone (each client once)
    await js.call("emit", event="from-node", args=[1, {"a": [True, None]}])
    assert await next_events(everyone) == [("from-node", [1, {"a": [True, None]}])] * 4
    py.io.emit("from-python", "x", 2.5)
    assert await next_events(everyone) == [("from-python", ["x", 2.5])] * 4
    assert await quiet(everyone)

    # binary both ways
    await js.call("emit", event="bin", args=[b"\x00\x01\xfe", {"nested": b"zz"}])
    assert await next_events(everyone) == [("bin", [b"\x00\x01\xfe", {"nested": b"zz"}])] * 4
    py.io.emit("bin", b"\xff", [b"\x01"])
    assert await next_events(everyone) == [("bin", [b"\xff", [b"\x01"]])] * 4

    # rooms and except, from either side
    py.io.of("/").sockets[p1_sid].join(["red", "blue"])
    await js.call("join", sid=n1.sids["/"], rooms=["red"])
    await js.call("join", sid=n2.sids["/"], rooms=["blue"])
    await asyncio.sleep(0.1)  # sharded: the servers subscribe to the room channels
    await js.call("emit", rooms=["red"], event="red")
    assert await next_events([p1, n1]) == [("red", [])] * 2
    py.io.to("blue").emit("blue")
    assert await next_events([p1, n2]) == [("blue", [])] * 2
    py.io.to("red").to("blue").except_(n2.sids["/"]).emit("red-blue-but-n2")
    assert await next_events([p1, n1]) == [("red-blue-but-n2", [])] * 2
    await js.call("emit", rooms=["red", "blue"], event="two")
    assert await next_events([p1, n1, n2]) == [("two", [])] * 3
    await js.call("emit", **{"except": ["red"]}, event="not-red")
    assert await next_events([p2, n2]) == [("not-red", [])] * 2
    await js.call("emit", rooms=[p2.sids["/"]], event="private")
    assert await next_events([p2]) == [("private", [])]
    py.io.to(n2.sids["/"]).emit("private")
    assert await next_events([n2]) == [("private", [])]
    # local stays local
    await js.call("emit", local=True, event="node-local")
    assert await next_events([n1, n2]) == [("node-local", [])] * 2
    py.io.local.emit("python-local")
    assert await next_events([p1, p2]) == [("python-local", [])] * 2
    assert await quiet(everyone)


def js_port(js: NodeProcess) -> int:
    return int(js.ready["port"])


# ---------------------------------------------------------------------------------- acks
@pytest.mark.parametrize("mode", MODES)
async def test_broadcast_acks_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)

    # Python asks every client of the cluster
    task = asyncio.ensure_future(py.io.timeout(2.0).emit_with_ack("q", 1))
    for client, answer in ((p1, "p"), (n1, "n")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q", 1]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == ["n", "p"]

    # Node asks every client of the cluster
    task = asyncio.ensure_future(js.call("emitWithAck", event="q2", args=[b"\x07"]))
    for client, answer in ((p1, {"from": "p"}), (n1, {"from": "n"})):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q2", b"\x07"]
        client.ack(packet.id, answer)
    responses = await asyncio.wait_for(task, 3.0)
    assert sorted(r["from"] for r in responses) == ["n", "p"]

    # binary acknowledgements travel back (MessagePack responses)
    task = asyncio.ensure_future(js.call("emitWithAck", event="q3"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, b"\x01\x02")
    packet = await n1.next_event_packet(2.0)
    n1.ack(packet.id, b"\x03")
    assert sorted(await asyncio.wait_for(task, 3.0)) == [b"\x01\x02", b"\x03"]


@pytest.mark.parametrize("mode", MODES)
async def test_server_side_emit_both_ways(
    mode: str, node_script: StartNode, python_servers: Any
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    received: list[tuple[Any, ...]] = []

    def on_hello(*args: Any) -> str:
        received.append(args)
        return f"python:{args[0]}"

    py.io.on("hello", on_hello)

    await js.call("serverSideEmit", event="hello", args=[1, {"two": 2}])
    await until(lambda: received == [(1, {"two": 2})], 3.0)
    assert await js.call("serverSideEmit", event="hello", args=["x"], ack=True) == ["python:x"]

    py.io.server_side_emit("hello", "from-py", [3])
    message = await js.event("server_side", event="hello")
    assert message["args"] == ["from-py", [3]]
    assert await py.io.server_side_emit_with_ack("ask", 7) == ["node:7"]
    assert (await js.event("server_side", event="ask"))["args"] == [7]
    # binary travels (MessagePack requests)
    py.io.server_side_emit("binary", b"\x01\x02")
    assert (await js.event("server_side", event="binary"))["args"] == [b"\x01\x02"]


# ---------------------------------------------------------------------------------- sockets
@pytest.mark.parametrize("mode", MODES)
async def test_fetch_sockets_and_remote_sockets_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, p1_sid = await py.connected("/", {"who": "p1"})
    n1 = await node_client(js_port(js), auth={"who": "n1"})
    clients.append(n1)
    n1_sid = n1.sids["/"]
    py.io.of("/").sockets[p1_sid].data = {"lang": "python", "n": [1]}
    py.io.of("/").sockets[p1_sid].join("team")
    await js.call("join", sid=n1_sid, rooms=["team", "node-only"])

    # from Python
    found = await py.io.fetch_sockets()
    assert {s.id for s in found} == {p1_sid, n1_sid}
    remote = next(s for s in found if s.id == n1_sid)
    assert isinstance(remote, RemoteSocket)
    assert isinstance(next(s for s in found if s.id == p1_sid), Socket)
    assert remote.data == {"lang": "node"}
    assert remote.rooms == {n1_sid, "team", "node-only"}
    assert remote.handshake.auth == {"who": "n1"}
    assert remote.handshake.address and remote.handshake.url.startswith("/socket.io/")
    assert {s.id for s in await py.io.in_("node-only").fetch_sockets()} == {n1_sid}
    assert {s.id for s in await py.io.except_("node-only").fetch_sockets()} == {p1_sid}

    remote.emit("hi", 1)
    assert await next_events([n1]) == [("hi", [1])]
    task = asyncio.ensure_future(remote.emit_with_ack("ask", timeout=2.0))
    packet = await n1.next_event_packet(2.0)
    n1.ack(packet.id, "yes")
    assert await task == "yes"
    remote.join("from-python")
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: "from-python" in r)
    remote.leave("team")
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: "team" not in r)

    # from Node
    seen = await js.call("fetchSockets")
    by_id = {s["id"]: s for s in seen}
    assert set(by_id) == {p1_sid, n1_sid}
    assert by_id[p1_sid]["remote"] and not by_id[n1_sid]["remote"]
    assert by_id[p1_sid]["data"] == {"lang": "python", "n": [1]}
    assert by_id[p1_sid]["auth"] == {"who": "p1"}
    assert by_id[p1_sid]["rooms"] == sorted([p1_sid, "team"])
    assert [s["id"] for s in await js.call("fetchSockets", rooms=["team"])] == [p1_sid]

    await js.call("remoteEmit", sid=p1_sid, event="hello-from-node", args=[b"\x09"])
    assert await next_events([p1]) == [("hello-from-node", [b"\x09"])]
    task = asyncio.ensure_future(js.call("remoteEmitWithAck", sid=p1_sid, event="ask"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, "python-yes")
    assert await task == "python-yes"
    await js.call("remoteJoin", sid=p1_sid, rooms=["from-node"])
    await until(lambda: "from-node" in py.io.of("/").sockets[p1_sid].rooms, 2.0)
    await js.call("remoteLeave", sid=p1_sid, room="team")
    await until(lambda: "team" not in py.io.of("/").sockets[p1_sid].rooms, 2.0)

    # disconnect remotely, each side
    await js.call("remoteDisconnect", sid=p1_sid)
    await until(lambda: p1_sid not in py.io.of("/").sockets, 2.0)
    remote.disconnect(close=True)
    assert await n1.wait_closed(2.0)


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


@pytest.mark.parametrize("mode", MODES)
async def test_sockets_join_leave_disconnect_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, p1_sid = await py.connected()
    n1 = await node_client(js_port(js))
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    await js.call("join", sid=n2.sids["/"], rooms=["vip"])

    py.io.except_("vip").sockets_join(["a", "b"])
    await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: {"a", "b"} <= set(r))
    assert "a" not in await node_rooms(js, n2.sids["/"])
    assert {"a", "b"} <= py.io.of("/").sockets[p1_sid].rooms

    await js.call("socketsLeave", rooms=["a"], leave="b")
    await until(lambda: "b" not in py.io.of("/").sockets[p1_sid].rooms, 2.0)
    await js.call("socketsJoin", rooms=["vip"], join="vip2")
    await until_async(lambda: node_rooms(js, n2.sids["/"]), lambda r: "vip2" in r)

    await js.call("disconnectSockets", rooms=["a"])
    await until(lambda: not py.io.of("/").sockets, 2.0)
    await until_async(lambda: js.call("localSockets"), lambda s: len(s) == 1)
    py.io.disconnect_sockets(close=True)
    assert await n2.wait_closed(2.0)
    del p1


# ---------------------------------------------------------------------------------- emitters
async def test_node_emitter_drives_python_servers(
    node_script: StartNode, python_servers: Any
) -> None:
    nodes = await python_servers(2)
    for node in nodes:
        await node.io.of("/admin").adapter.init()
    await wait_count(nodes, None, 2)
    emitter = await node_script("emitter")
    a, a_sid = await nodes[0].connected()
    b, b_sid = await nodes[1].connected()
    admin, _ = await nodes[1].connected("/admin")
    everyone = [a, b, admin]
    nodes[0].io.of("/").sockets[a_sid].join("r")
    nodes[1].io.of("/").sockets[b_sid].join(["r", "s"])
    got: list[Any] = []
    for i, node in enumerate(nodes):
        node.io.on("from-emitter", lambda *args, i=i: got.append((i, args)))

    await emitter.call("emit", event="all", args=[1, b"\x02", {"k": None}])
    assert await next_events([a, b]) == [("all", [1, b"\x02", {"k": None}])] * 2
    await emitter.call("emit", rooms=["r"], event="r")
    assert await next_events([a, b]) == [("r", [])] * 2
    await emitter.call("emit", rooms=["r"], **{"except": ["s"]}, event="r-not-s")
    assert await next_events([a]) == [("r-not-s", [])]
    await emitter.call("emit", rooms=["r", "s"], volatile=True, event="rs")
    assert await next_events([a, b]) == [("rs", [])] * 2
    await emitter.call("emit", nsp="/admin", event="admins", args=["x"])
    assert await next_events([admin]) == [("admins", ["x"])]
    assert await quiet(everyone)

    await emitter.call("socketsJoin", rooms=["s"], join=["t", "u"])
    await until(lambda: {"t", "u"} <= nodes[1].io.of("/").sockets[b_sid].rooms, 2.0)
    await emitter.call("socketsLeave", leave="r")
    await until(lambda: "r" not in nodes[0].io.of("/").sockets[a_sid].rooms, 2.0)
    await until(lambda: "r" not in nodes[1].io.of("/").sockets[b_sid].rooms, 2.0)
    await emitter.call("serverSideEmit", event="from-emitter", args=[{"n": 1}])
    await until(lambda: sorted(got) == [(0, ({"n": 1},)), (1, ({"n": 1},))], 2.0)
    await emitter.call("disconnectSockets", **{"except": ["t"]})
    await until(lambda: not nodes[0].io.of("/").sockets, 2.0)
    assert b_sid in nodes[1].io.of("/").sockets
    await emitter.call("disconnectSockets", close=True)
    assert await b.wait_closed(2.0)


async def test_python_emitter_drives_node_and_python(
    node_script: StartNode,
    python_servers: Any,
    redis_url: str,
    redis_key: str,
    clients: list[SioClient],
) -> None:
    from redis.asyncio import Redis

    [py] = await python_servers(1)
    js = await node_script("server", mode="classic")
    await wait_count([py], js, 2)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)
    await js.call("join", sid=n1.sids["/"], rooms=["room"])
    client = Redis.from_url(redis_url)
    try:
        emitter = RedisEmitter(client, key=redis_key)
        await emitter.emit("hello", b"\x01", {"x": 1})
        assert await next_events([p1, n1]) == [("hello", [b"\x01", {"x": 1}])] * 2
        await emitter.to("room").emit("room-only")
        assert await next_events([n1]) == [("room-only", [])]
        await emitter.server_side_emit("hello", "from-python-emitter")
        assert (await js.event("server_side", event="hello"))["args"] == ["from-python-emitter"]
        await emitter.in_("room").sockets_join("joined")
        await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: "joined" in r)
        await emitter.disconnect_sockets()
        await until_async(lambda: js.call("localSockets"), lambda s: not s)
        await until(lambda: not py.io.of("/").sockets, 2.0)
        assert await quiet([p1])
    finally:
        await client.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_three_servers_two_python_one_node(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    """Counting servers with more than one answer per request, from either language."""
    pys = await python_servers(2, sharded=mode == "sharded")
    js = await node_script("server", mode=mode)
    await wait_count(pys, js, 3)
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

    task = asyncio.ensure_future(js.call("emitWithAck", event="q"))
    for i, client in enumerate(everyone):
        packet = await client.next_event_packet(2.0)
        client.ack(packet.id, i)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [0, 1, 2]
    task = asyncio.ensure_future(pys[1].io.timeout(2.0).emit_with_ack("q"))
    for i, client in enumerate(everyone):
        packet = await client.next_event_packet(2.0)
        client.ack(packet.id, i)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [0, 1, 2]
    pys[0].io.emit("all")
    assert await next_events(everyone) == [("all", [])] * 3
    assert await quiet(everyone)
