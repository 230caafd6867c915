"""What the cluster adapter tests share: starting nodes, connecting clients, reading their
events, and the scenarios that are the same whatever the adapter (each test starts its
adapter's nodes and hands them to the scenario)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aiosocketio import Socket
from aiosocketio.adapters.cluster import RemoteSocket
from aiosocketio.adapters.resync import DeliveryReport
from sioclient import SioClient, SioServer, until

StartCluster = Callable[..., Awaitable[list[SioServer]]]


# ---------------------------------------------------------------------------------- nodes
async def wait_for_servers(nodes: list[Any], count: int, nsp: str = "/", timeout: float = 10.0):
    """Wait until every node counts ``count`` servers in namespace ``nsp``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for node in nodes:
        adapter = node.io.of(nsp).adapter
        await adapter.init()
        while (found := await adapter.server_count()) != count:
            if loop.time() > deadline:
                raise TimeoutError(f"{found} servers instead of {count} in {nsp}")
            await asyncio.sleep(0.01)


async def start_nodes(
    started: list[SioServer],
    factory: Any,
    count: int,
    expect: int | None,
    **server_options: Any,
) -> list[SioServer]:
    """``count`` started servers with the adapter ``factory`` (also added to ``started``),
    once each sees ``expect`` servers (``count`` when None)."""
    nodes: list[SioServer] = []
    for _ in range(count):
        node = SioServer(adapter=factory, **server_options)
        await node.__aenter__()
        started.append(node)
        nodes.append(node)
    await wait_for_servers(nodes, expect if expect is not None else count)
    return nodes


async def held_pair(
    cluster: StartCluster, options: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[list[SioServer], asyncio.Event]:
    """Servers A and B (``cluster(1, **kwargs)`` each, with the adapter ``options``), and an
    event: once B's subscriber or listener is lost, B reconnects only when the event is set
    (no race with a reconnection delay on a loaded machine)."""
    [a] = await cluster(1, adapter_options=options, **kwargs)
    [b] = await cluster(1, adapter_options=options, expect=2, **kwargs)
    await wait_for_servers([a, b], 2)
    back = asyncio.Event()

    async def held(delay: float) -> float:
        await back.wait()
        return delay

    b.io.of("/").adapter.link._backoff = held  # type: ignore[attr-defined]
    return [a, b], back


def keep_reports(link: Any) -> list[DeliveryReport]:
    """The delivery reports of a link's resync, from now on."""
    reports: list[DeliveryReport] = []
    link.resync.on_report = reports.append
    return reports


# ---------------------------------------------------------------------------------- clients
async def events(clients: list[SioClient], timeout: float = 5.0) -> list[tuple[str, list[Any]]]:
    """The next event of each client: ``(name, args)``."""
    out = []
    for client in clients:
        _nsp, name, args = await client.next_event(timeout)
        out.append((name, args))
    return out


async def nothing(clients: list[SioClient], wait: float = 0.15) -> bool:
    """True when none of the clients receives an event within ``wait`` seconds."""
    await asyncio.sleep(wait)
    return all(await asyncio.gather(*(c.no_event(0.001) for c in clients)))


async def connect(node: SioServer, count: int, nsp: str = "/", **auth: Any) -> list[SioClient]:
    clients = []
    for _ in range(count):
        client, _sid = await node.connected(nsp, auth or None)
        clients.append(client)
    return clients


def server_socket(node: SioServer, client: SioClient, nsp: str = "/") -> Socket:
    return node.io.of(nsp).sockets[client.sids[nsp]]


# ---------------------------------------------------------------------------------- scenarios
async def broadcast_reaches_every_server_once(nodes: list[SioServer]) -> None:
    clients = [await connect(node, 2) for node in nodes]
    everyone = [c for group in clients for c in group]
    for i, sender in enumerate(nodes):
        sender.io.emit("hello", {"from": i}, [1, 2])
        assert await events(everyone) == [("hello", [{"from": i}, [1, 2]])] * 6
        assert await nothing(everyone)


async def colour_rooms(
    nodes: list[SioServer],
) -> tuple[list[SioClient], list[SioClient], list[SioClient]]:
    """Clients a (2), b (2), c (1) on nodes 0 to 2: a[0] in red and blue, b[0] in red, b[1]
    in blue, c[0] in green and red."""
    a = await connect(nodes[0], 2)
    b = await connect(nodes[1], 2)
    c = await connect(nodes[2], 1)
    server_socket(nodes[0], a[0]).join(["red", "blue"])
    server_socket(nodes[1], b[0]).join("red")
    server_socket(nodes[1], b[1]).join("blue")
    server_socket(nodes[2], c[0]).join(["green", "red"])
    await until_rooms_subscribed(nodes, {"red": 3, "blue": 2, "green": 1})
    return a, b, c


async def until_rooms_subscribed(
    nodes: list[SioServer], rooms: dict[str, int], timeout: float = 10.0
) -> None:
    """Sharded Redis in a dynamic mode, where a server subscribes to a room's channel in the
    background after a join: wait until ``rooms[room]`` servers are subscribed to each room's
    channel (nothing to wait for with other adapters)."""
    adapter = nodes[0].io.of("/").adapter
    channel_of = getattr(adapter, "_dynamic_channel", None)
    if channel_of is None or adapter.subscription_mode == "static":  # type: ignore[attr-defined]
        return
    link = adapter.link  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for room, count in rooms.items():
        while (found := await link.numsub(channel_of(room), sharded=True)) != count:
            assert loop.time() < deadline, f"{found} servers subscribed to {room}, not {count}"
            await asyncio.sleep(0.01)


async def rooms_and_except(
    nodes: list[SioServer], a: list[SioClient], b: list[SioClient], c: list[SioClient]
) -> None:
    """Broadcasts to rooms, several rooms and all but a room (``colour_rooms``)."""
    nodes[2].io.to("red").emit("one-room")
    assert await events([a[0], b[0], c[0]]) == [("one-room", [])] * 3
    nodes[0].io.to("red").to("blue").emit("two-rooms", 2)
    assert await events([a[0], b[0], b[1], c[0]]) == [("two-rooms", [2])] * 4
    nodes[1].io.to("red").except_("blue").emit("red-not-blue")
    assert await events([b[0], c[0]]) == [("red-not-blue", [])] * 2
    nodes[0].io.except_("red").emit("not-red")
    assert await events([a[1], b[1]]) == [("not-red", [])] * 2


async def chat_namespace_is_separate(
    nodes: list[SioServer], others: list[SioClient]
) -> list[SioClient]:
    """A broadcast in /chat reaches a /chat client of nodes[1] (returned) and none of
    ``others``."""
    for node in nodes:
        await node.io.of("/chat").adapter.init()
    chat = await connect(nodes[1], 1, nsp="/chat")
    nodes[0].io.of("/chat").emit("in-chat", "x")
    assert await events(chat) == [("in-chat", ["x"])]
    assert await nothing(others)
    return chat


async def binary_and_volatile(nodes: list[SioServer]) -> list[SioClient]:
    """A client of nodes[1] gets binary and volatile broadcasts of nodes[0]; it is returned."""
    b = await connect(nodes[1], 1)
    nodes[0].io.emit("bin", b"\x00\x01\xff", {"nested": [b"ab"]})
    assert await events(b) == [("bin", [b"\x00\x01\xff", {"nested": [b"ab"]}])]
    nodes[0].io.volatile.emit("volatile", 1)
    assert await events(b) == [("volatile", [1])]
    return b


async def order_is_kept(nodes: list[SioServer], client: SioClient, settle: float = 0.0) -> None:
    """200 broadcasts of nodes[0], every other one to a room of ``client`` (of nodes[1]),
    arrive in order; ``settle``: a wait after the join (dynamic room subscriptions)."""
    server_socket(nodes[1], client).join("r")
    if settle:
        await asyncio.sleep(settle)
    for i in range(200):
        (nodes[0].io.to("r") if i % 2 else nodes[0].io).emit("n", i)
    received = [(await client.next_event())[2][0] for _ in range(200)]
    assert received == list(range(200))


async def acks_of_every_client(
    nodes: list[SioServer], answer: Callable[[int], Any]
) -> list[list[SioClient]]:
    """Two clients on each node; nodes[0] asks them all and gets each one's ``answer(i)``.
    Returns the clients, by node."""
    clients = [await connect(node, 2) for node in nodes]
    everyone = [c for group in clients for c in group]
    task = asyncio.ensure_future(nodes[0].io.timeout(2.0).emit_with_ack("question", 42))
    for i, client in enumerate(everyone):
        packet = await client.next_event_packet()
        assert packet.data == ["question", 42] and packet.id is not None
        client.ack(packet.id, answer(i))
    responses = await asyncio.wait_for(task, 2.0)
    assert sorted(map(repr, responses)) == sorted(repr(answer(i)) for i in range(len(everyone)))
    return clients


async def acks_of_a_room_with_one_silent_client(
    nodes: list[SioServer],
    clients: list[list[SioClient]],
    answer: Callable[[int], Any],
    settle: float = 0.0,
) -> None:
    """The first client of each node in a room (``settle``: a wait after the joins); nodes[1]
    asks the room and the one of nodes[2] never answers: the error has the others' answers."""
    from aiosocketio import BroadcastAckError

    for node, group in zip(nodes, clients, strict=True):
        server_socket(node, group[0]).join("asked")
    if settle:
        await asyncio.sleep(settle)
    task = asyncio.ensure_future(nodes[1].io.to("asked").timeout(2.0).emit_with_ack("q"))
    for i, group in enumerate(clients):
        packet = await group[0].next_event_packet()
        if i != 2:
            group[0].ack(packet.id, answer(i))
    with pytest.raises(BroadcastAckError) as info:
        await asyncio.wait_for(task, 10.0)
    assert sorted(info.value.responses) == [answer(0), answer(1)]


async def server_count_after_a_close(nodes: list[SioServer]) -> None:
    assert [await n.io.of("/").adapter.server_count() for n in nodes] == [3, 3, 3]
    await nodes[2].close()
    await wait_for_servers(nodes[:2], 2)


async def fetch_team(
    nodes: list[SioServer], data: Any
) -> tuple[list[SioClient], list[SioClient], list[SioClient], list[Any], RemoteSocket]:
    """Clients a (1), b (2), c (1) on nodes 0 to 2 (auth ``name``); b[0] has ``data`` and is
    in "team" with c[0]. Checks what nodes[0] fetches and returns the clients, all the
    sockets nodes[0] found and b[0]'s remote socket."""
    a = await connect(nodes[0], 1, name="a")
    b = await connect(nodes[1], 2, name="b")
    c = await connect(nodes[2], 1, name="c")
    server_socket(nodes[1], b[0]).data = data
    server_socket(nodes[1], b[0]).join("team")
    server_socket(nodes[2], c[0]).join("team")
    found = await nodes[0].io.fetch_sockets()
    assert {s.id for s in found} == {x.sids["/"] for x in a + b + c}
    remote = [s for s in found if isinstance(s, RemoteSocket)]
    b0 = next(s for s in remote if s.id == b[0].sids["/"])
    assert b0.data == data
    assert b0.rooms == {b0.id, "team"} and b0.handshake.auth == {"name": "b"}
    team = await nodes[0].io.in_("team").fetch_sockets()
    assert {s.id for s in team} == {b[0].sids["/"], c[0].sids["/"]}
    return a, b, c, found, b0


async def remote_emit_and_join(nodes: list[SioServer], b0: RemoteSocket, client: SioClient):
    """The remote socket of ``client`` (of nodes[1]) gets an event and joins "vip"."""
    b0.emit("direct", 1)
    assert await events([client]) == [("direct", [1])]
    b0.join("vip")
    await until(lambda: "vip" in server_socket(nodes[1], client).rooms)


async def remote_ack(b0: RemoteSocket, client: SioClient) -> None:
    """The remote socket of ``client`` asks it, and gets its answer."""
    task = asyncio.ensure_future(b0.emit_with_ack("ask", timeout=1.0))
    packet = await client.next_event_packet()
    client.ack(packet.id, "yes")
    assert await task == "yes"


async def remote_disconnect(nodes: list[SioServer], b0: RemoteSocket, client: SioClient):
    b0.disconnect()
    await until(lambda: client.sids["/"] not in nodes[1].io.of("/").sockets)


async def sockets_join_all_but_keep_out(
    nodes: list[SioServer],
) -> tuple[list[SioClient], list[SioClient], list[Socket]]:
    """Clients a (1), b (2), c (1) on nodes 0 to 2; b[1] is in "keep-out" and nodes[0] makes
    the others join room1 and room2. Returns a, b and the server sockets of the others."""
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 2)
    c = await connect(nodes[2], 1)
    server_socket(nodes[1], b[1]).join("keep-out")
    nodes[0].io.except_("keep-out").sockets_join(["room1", "room2"])
    joined = [server_socket(nodes[0], a[0]), server_socket(nodes[1], b[0])]
    joined.append(server_socket(nodes[2], c[0]))
    return a, b, joined


async def joined_then_left(
    nodes: list[SioServer], b: list[SioClient], joined: list[Socket]
) -> None:
    """The join of ``sockets_join_all_but_keep_out`` arrives everywhere; then nodes[2] makes
    the sockets of room1 leave room2."""
    await until(lambda: all({"room1", "room2"} <= s.rooms for s in joined))
    assert "room1" not in server_socket(nodes[1], b[1]).rooms
    nodes[2].io.in_("room1").sockets_leave("room2")
    await until(lambda: all("room2" not in s.rooms for s in joined))


async def sockets_join_leave_disconnect(nodes: list[SioServer]) -> None:
    _a, b, joined = await sockets_join_all_but_keep_out(nodes)
    await joined_then_left(nodes, b, joined)
    nodes[1].io.in_("room1").disconnect_sockets()
    await until(lambda: all(not n.io.of("/").sockets or n is nodes[1] for n in nodes))
    assert list(nodes[1].io.of("/").sockets) == [b[1].sids["/"]]
    nodes[0].io.disconnect_sockets(close=True)
    assert await b[1].wait_closed()


async def hello_reaches_the_other_servers(nodes: list[SioServer]) -> None:
    got: list[tuple[int, tuple[Any, ...]]] = []
    for i, node in enumerate(nodes):
        node.io.on("hello", lambda *args, i=i: got.append((i, args)))
    nodes[0].io.server_side_emit("hello", 1, b"\x02")
    await until(lambda: sorted(got) == [(1, (1, b"\x02")), (2, (1, b"\x02"))])


async def held_numbers_reach_both(
    node: SioServer, a: list[SioClient], b: list[SioClient], b_back: asyncio.Event
):
    """``node`` broadcasts ("n", i) for i < 5 while it holds its queue: its own client ``a``
    gets them at once, ``b`` (of the other server) once its server is let back
    (``b_back``), all in order."""
    for i in range(5):
        node.io.emit("n", i)
    assert [args for _, args in await events(a * 5)] == [[i] for i in range(5)]
    b_back.set()
    assert [args for _, args in await events(b * 5, timeout=10.0)] == [[i] for i in range(5)]


# ---------------------------------------------------------------------------------- whole tests
# (the scenarios every adapter of the ClusterAdapter family passes in the same words)
async def rooms_except_local_and_namespaces(nodes: list[SioServer]) -> list[SioClient]:
    """Rooms, except, a socket's room, socket.broadcast, local and namespaces on 3 nodes;
    returns the clients of the main namespace."""
    a, b, c = await colour_rooms(nodes)
    everyone = a + b + c
    await rooms_and_except(nodes, a, b, c)
    nodes[0].io.to(b[1].sids["/"]).emit("private")
    assert await events([b[1]]) == [("private", [])]
    server_socket(nodes[1], b[0]).broadcast.emit("from-b0")
    assert await events([a[0], a[1], b[1], c[0]]) == [("from-b0", [])] * 4
    assert await nothing(everyone)

    nodes[0].io.local.emit("local-only")
    assert await events(a) == [("local-only", [])] * 2
    assert await nothing(everyone)
    await chat_namespace_is_separate(nodes, everyone)
    return everyone


async def binary_volatile_and_order(nodes: list[SioServer]) -> None:
    b = await binary_and_volatile(nodes)
    await order_is_kept(nodes, b[0])


async def acks_across_servers(nodes: list[SioServer]) -> None:
    clients = await acks_of_every_client(nodes, lambda i: f"answer-{i}")
    # binary acknowledgements, and a room across servers with one silent client
    await acks_of_a_room_with_one_silent_client(nodes, clients, lambda i: bytes([i]))


async def fetch_and_remote_sockets(nodes: list[SioServer]) -> tuple[list[Any], RemoteSocket]:
    """fetch_sockets on 3 nodes and what a remote socket does; returns what nodes[0] found
    and b[0]'s remote socket."""
    a, b, c, found, b0 = await fetch_team(nodes, {"score": 7, "blob": b"\x01"})
    assert len([s for s in found if isinstance(s, RemoteSocket)]) == 3
    not_team = await nodes[2].io.except_("team").fetch_sockets()
    assert {s.id for s in not_team} == {a[0].sids["/"], b[1].sids["/"]}

    await remote_emit_and_join(nodes, b0, b[0])
    b0.leave("team")
    await until(lambda: "team" not in server_socket(nodes[1], b[0]).rooms)
    await remote_ack(b0, b[0])
    await remote_disconnect(nodes, b0, b[0])
    assert await nothing(a + c)
    return found, b0


async def server_side_emit_with_answers(nodes: list[SioServer]) -> None:
    for i, node in enumerate(nodes):
        node.io.on("ask", lambda x, i=i: f"{i}:{x}")
    await hello_reaches_the_other_servers(nodes)
    assert sorted(await nodes[1].io.server_side_emit_with_ack("ask", "x")) == ["0:x", "2:x"]
