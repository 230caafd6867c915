"""The router of ``serve --workers``, in one process: a listening socket, two workers that
only receive handed-over connections (``listen=False``)."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
from collections.abc import AsyncIterator

import pytest

from aiosocketio.transport import StandaloneServer
from aiosocketio.workers.router import Router
from aiosocketio.workers.slots import WorkerDir, new_sid, slot_of
from helpers import HttpConnection, eio_open, poll_url

from .inproc import Worker, start_worker
from .procs import until

pytestmark = pytest.mark.both_loops


class Routed:
    def __init__(self, router: Router, port: int, workers: list[Worker]) -> None:
        self.router = router
        self.port = port
        self.workers = workers


@pytest.fixture(params=[5, 0], ids=["deferred", "at once"])
async def routed(wdir: WorkerDir, request: pytest.FixtureRequest) -> AsyncIterator[Routed]:
    workers = [await start_worker(wdir, listen=False) for _ in range(2)]
    listener = socket.create_server(("127.0.0.1", 0))
    router = Router([listener], wdir, idle_timeout=1.0, defer_accept=request.param)
    for worker in workers:
        router.add(worker.slot.number)
    router.start()
    yield Routed(router, listener.getsockname()[1], workers)
    router.close()
    for worker in workers:
        await worker.server.close(timeout=1.0)
        worker.slot.release()


async def handshake(port: int) -> str:
    async with await HttpConnection.open(port) as conn:
        return str((await eio_open(conn))["sid"])


async def test_new_sessions_go_to_the_workers_in_turn(routed):
    sids = [await handshake(routed.port) for _ in range(4)]
    slots = [slot_of(sid) for sid in sids]
    numbers = [w.slot.number for w in routed.workers]
    assert sorted(slots) == sorted(numbers * 2)
    assert slots[0] != slots[1] and slots[2] != slots[3]
    assert (routed.router.to_any, routed.router.to_owner) == (4, 0)


async def test_requests_of_existing_sessions_do_not_move_the_turn(routed):
    slots = []
    for _ in range(4):
        sid = await handshake(routed.port)
        slots.append(slot_of(sid))
        async with await HttpConnection.open(routed.port) as conn:  # to its owner
            assert (await conn.request("POST", poll_url(sid), body="4x")).body == b"ok"
    assert slots[0] != slots[1] and slots[1] != slots[2] and slots[2] != slots[3]


async def test_a_connection_goes_to_the_worker_of_its_session(routed):
    sids = [await handshake(routed.port) for _ in range(2)]
    for sid in sids * 3:
        async with await HttpConnection.open(routed.port) as conn:
            assert (await conn.request("POST", poll_url(sid), body="4hi")).body == b"ok"
            assert (await conn.request("GET", poll_url(sid))).text == "4hi"
    assert routed.router.to_owner == 6
    for worker in routed.workers:
        assert worker.app.messages == ["hi"] * 3
        assert worker.sent == 0  # no hand-off between the workers was needed


async def test_a_request_line_that_comes_in_pieces(routed):
    sid = await handshake(routed.port)
    request = f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n4ab"
    async with await HttpConnection.open(routed.port) as conn:
        for piece in (request[:10], request[10:30], request[30:]):
            conn.send_raw(piece.encode())
            await asyncio.sleep(0.02)
        assert (await conn.read_response()).body == b"ok"
    assert routed.router.to_owner == 1


async def test_a_session_of_a_worker_that_stopped_goes_to_another(routed):
    gone = routed.workers[1]
    sid = new_sid(gone.slot.number)
    routed.router.remove(gone.slot.number)
    async with await HttpConnection.open(routed.port) as conn:
        response = await conn.request("POST", poll_url(sid), body="4x")
    assert response.status == 400  # the other worker: unknown session
    assert routed.router.to_any == 1


async def test_no_worker_is_a_503(routed):
    for worker in routed.workers:
        routed.router.remove(worker.slot.number)
    async with await HttpConnection.open(routed.port) as conn:
        response = await conn.request("GET", "/engine.io/?EIO=4&transport=polling")
        assert response.status == 503
        assert await conn.at_eof()
    assert routed.router.unavailable == 1


async def test_silent_and_vanishing_connections(routed):
    quiet = await HttpConnection.open(routed.port)
    gone = await HttpConnection.open(routed.port)
    try:
        await gone.close()
        assert await handshake(routed.port)  # they hold nothing up
        if routed.router.defer_accept:
            assert routed.router._waiting == {}  # the kernel keeps them
        else:
            assert await quiet.at_eof(timeout=5)  # closed after the idle timeout
            assert routed.router._waiting == {}
    finally:
        await quiet.close()


async def test_a_request_that_comes_after_the_connection(routed):
    sid = await handshake(routed.port)
    async with await HttpConnection.open(routed.port) as conn:
        await asyncio.sleep(0.2)  # within the idle timeout (1 s)
        assert (await conn.request("POST", poll_url(sid), body="4late")).body == b"ok"


async def test_close_stops_accepting(routed):
    waiting = await HttpConnection.open(routed.port)
    try:
        waiting.send_raw(b"GET /engine.io/?EIO=4")
        waiting_data = lambda: [w.data for w in routed.router._waiting.values()]  # noqa: E731
        await until(lambda: waiting_data() == [b"GET /engine.io/?EIO=4"], 5, "the partial line")
        routed.router.close()
        assert await waiting.at_eof()
    finally:
        await waiting.close()
    with pytest.raises(OSError):
        await HttpConnection.open(routed.port)


async def test_listen_false_is_for_workers_mode(echo):
    server = StandaloneServer(echo().engine)
    with pytest.raises(ValueError, match="workers mode"):
        await server.start(listen=False)


def free_descriptors(count: int) -> int:
    """The number of the ``count``-th descriptor the process would get next."""
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(count)]
    for fd in fds:
        os.close(fd)
    return max(fds)


async def test_out_of_descriptors_pauses_accepting(routed, caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    clients = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (free_descriptors(2) + 1, hard))
        for _ in range(2):  # the last descriptors: the router cannot accept these
            clients.append(socket.create_connection(("127.0.0.1", routed.port)))
            clients[-1].sendall(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n")
        await until(lambda: "pausing" in caplog.text, 5, "the pause")
    finally:
        for client in clients:
            client.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert caplog.text.count("pausing") == 1  # not a busy loop of failures
    assert await handshake(routed.port)  # accepting again after the pause
