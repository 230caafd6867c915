"""The hand-off of misrouted connections between workers (SCM_RIGHTS), in one process:
two standalone servers, each with its own slot of one run directory, on their own ports."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiosocketio.transport import StandaloneServer
from aiosocketio.transport.worker_http import RAW_LIMIT
from aiosocketio.workers.handoff import DONE, LATER, MAX_QUEUED, NO, Handoff, _fds_of
from aiosocketio.workers.slots import WorkerDir, new_sid
from helpers import HttpConnection, WsConnection, eio_open, poll_url, ws_url
from servers import EchoEngine

from .inproc import Worker, start_worker

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def pair(wdir: WorkerDir) -> AsyncIterator[tuple[Worker, Worker]]:
    a = await start_worker(wdir)
    b = await start_worker(wdir)
    yield a, b
    for worker in (a, b):
        await worker.server.close(timeout=1.0)
        worker.slot.release()


async def handshake(port: int) -> str:
    async with await HttpConnection.open(port) as conn:
        return str((await eio_open(conn))["sid"])


async def test_a_request_for_another_workers_session_is_handed_off(pair):
    a, b = pair
    sid = await handshake(b.port)
    assert sid.startswith(b.slot.code)
    async with await HttpConnection.open(a.port) as conn:
        assert (await conn.request("POST", poll_url(sid), body="4hello")).body == b"ok"
        assert (a.sent, b.adopted) == (1, 1)
        # the connection stays with its new owner: no more hand-offs
        assert (await conn.request("GET", poll_url(sid))).text == "4hello"
        assert (await conn.request("POST", poll_url(sid), body="4again")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4again"
    assert (a.sent, b.adopted, b.sent) == (1, 1, 0)
    assert b.app.messages == ["hello", "again"]


async def test_a_keep_alive_connection_follows_its_requests(pair):
    a, b = pair
    sid_a, sid_b = await handshake(a.port), await handshake(b.port)
    async with await HttpConnection.open(a.port) as conn:
        assert (await conn.request("POST", poll_url(sid_a), body="4one")).body == b"ok"
        assert (await conn.request("POST", poll_url(sid_b), body="4two")).body == b"ok"
        assert (await conn.request("POST", poll_url(sid_a), body="4three")).body == b"ok"
    assert (a.sent, b.sent, a.adopted, b.adopted) == (1, 1, 1, 1)
    assert a.app.messages == ["one", "three"]
    assert b.app.messages == ["two"]


async def test_requests_without_a_sid_or_with_its_own_stay(pair):
    a, _ = pair
    sid = await handshake(a.port)
    async with await HttpConnection.open(a.port) as conn:
        assert (await conn.request("POST", poll_url(sid), body="4x")).body == b"ok"
        assert (await conn.request("GET", "/other?xsid=BAxxxxx")).status == 404
    assert a.sent == 0


async def test_the_websocket_upgrade_of_another_workers_session(pair):
    a, b = pair
    sid = await handshake(b.port)
    async with await WsConnection.open(a.port, ws_url(sid)) as ws:
        await ws.upgrade()
        ws.send_text("4over ws")
        assert await ws.recv() == "4over ws"
    assert (a.sent, b.adopted) == (1, 1)


async def test_a_request_behind_an_unanswered_one_waits_for_its_answer(pair):
    a, b = pair
    sid_a, sid_b = await handshake(a.port), await handshake(b.port)
    async with await HttpConnection.open(a.port) as conn:
        conn.send_request("GET", poll_url(sid_a))  # a long poll: pending
        await asyncio.sleep(0.05)
        conn.send_request("POST", poll_url(sid_b), body="4for b")
        await asyncio.sleep(0.05)
        assert a.sent == 0  # it waits
        async with await HttpConnection.open(a.port) as other:
            assert (await other.request("POST", poll_url(sid_a), body="4wake")).body == b"ok"
        assert (await conn.read_response()).text == "4wake"
        assert (await conn.read_response()).body == b"ok"
    assert (a.sent, b.adopted) == (1, 1)
    assert b.app.messages == ["for b"]


async def test_a_request_in_the_same_read_as_the_one_before_is_served_here(pair):
    a, b = pair
    sid_a, sid_b = await handshake(a.port), await handshake(b.port)
    async with await HttpConnection.open(a.port) as conn:
        both = b"".join(
            f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n4{n}x".encode()
            for n, sid in enumerate((sid_a, sid_b))
        )
        conn.send_raw(both)  # where the second one starts is not known without parsing
        assert (await conn.read_response()).body == b"ok"
        assert (await conn.read_response()).status == 400  # here: the engine forwards it
    assert a.sent == 0


async def test_a_request_line_split_across_reads(pair):
    a, b = pair
    sid = await handshake(b.port)
    async with await HttpConnection.open(a.port) as conn:
        request = f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n4ab"
        cut = request.index("sid=") + 2
        conn.send_raw(request[:cut].encode())
        await asyncio.sleep(0.05)
        conn.send_raw(request[cut:].encode())
        assert (await conn.read_response()).body == b"ok"
    assert (a.sent, b.adopted) == (1, 1)
    assert b.app.messages == ["ab"]


async def test_bytes_beyond_one_message_are_passed_in_chunks(pair):
    a, b = pair
    sid = await handshake(b.port)
    text = "4" + "x" * 200_000  # read in several reads, passed in several messages
    async with await HttpConnection.open(a.port) as conn:
        assert (await conn.request("POST", poll_url(sid), body=text)).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == text
    assert (a.sent, b.adopted) == (1, 1)


async def test_a_request_larger_than_the_kept_bytes_is_served_here(pair):
    a, b = pair
    sid = await handshake(b.port)
    async with await HttpConnection.open(a.port) as conn:
        response = await conn.request("POST", poll_url(sid), body="4" + "x" * RAW_LIMIT)
    assert response.status == 400  # here: the engine forwards it (or knows no such session)
    assert a.sent == 0


async def test_a_sid_of_no_live_worker_is_served_here(pair, wdir):
    a, _ = pair
    async with await HttpConnection.open(a.port) as conn:
        response = await conn.request("POST", poll_url(new_sid(9)), body="4x")
    assert response.status == 400
    assert a.sent == 0
    assert a.server.handoff is not None and a.server.handoff.refused == 1


async def test_a_worker_that_stopped_gets_nothing(pair):
    a, b = pair
    sid = await handshake(b.port)
    await b.server.close(timeout=1.0)
    async with await HttpConnection.open(a.port) as conn:
        response = await conn.request("POST", poll_url(sid), body="4x")
    assert response.status == 400  # served here: the session is unknown
    assert a.sent == 0


async def test_no_hand_off_without_workers_mode(echo):
    server = StandaloneServer(echo().engine)
    await server.start("127.0.0.1", 0)
    try:
        assert server.handoff is None
    finally:
        await server.close()


async def test_workers_listen_with_reuse_port(wdir):
    a = await start_worker(wdir)
    try:
        sock = a.server.sockets[0]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        b_slot = wdir.claim()
        b = StandaloneServer(EchoEngine().engine, workers=b_slot)
        await b.start("127.0.0.1", a.port)  # the same port
        assert b.port == a.port
        await b.close()
        b_slot.release()
        assert not Path(b_slot.path("fd")).exists()
    finally:
        await a.server.close()
        a.slot.release()


# ---------------------------------------------------------------------- the channel alone
async def test_a_socket_and_its_bytes_reach_the_other_worker(wdir):
    received: asyncio.Queue[tuple[socket.socket, bytes]] = asyncio.Queue()
    slot_a, slot_b = wdir.claim(), wdir.claim()
    a = Handoff(slot_a, lambda sock, data: None)
    b = Handoff(slot_b, lambda sock, data: received.put_nowait((sock, data)))
    b.start()
    mine, theirs = socket.socketpair()
    try:
        data = bytes(range(256)) * 1000  # 256,000 bytes: several messages
        assert a.offer(slot_b.number, theirs.fileno(), data, pytest.fail) == DONE
        theirs.close()  # the sender's copy
        sock, got = await asyncio.wait_for(received.get(), 5)
        assert got == data
        assert sock.getblocking() is False
        sock.setblocking(True)
        sock.sendall(b"through the handed-off socket")
        assert mine.recv(100) == b"through the handed-off socket"
        sock.close()
        assert (a.sent, b.adopted) == (1, 1)
    finally:
        mine.close()
        a.close()
        b.close()


async def test_a_peer_that_does_not_read_gets_a_bounded_queue(wdir):
    slot_a, slot_b = wdir.claim(), wdir.claim()
    a = Handoff(slot_a, lambda sock, data: None)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # a stuck worker: never reads
    raw.bind(slot_b.path("fd"))
    raw.listen()
    mine, theirs = socket.socketpair()
    done: list[bool] = []
    statuses = []
    try:
        for _ in range(MAX_QUEUED + 200):
            statuses.append(a.offer(slot_b.number, theirs.fileno(), b"x" * 60000, done.append))
            if statuses[-1] == NO:
                break
        assert statuses[0] == DONE
        assert statuses[-1] == NO
        assert statuses.count(LATER) == MAX_QUEUED
        conn, _ = raw.accept()
        conn.close()  # the stuck worker dies: what did not go comes back
        for _ in range(200):
            if len(done) == MAX_QUEUED:
                break
            await asyncio.sleep(0.01)
        assert done == [False] * MAX_QUEUED
        assert a.peers == {}
    finally:
        for sock in (raw, mine, theirs):
            sock.close()
        a.close()


async def test_a_queued_hand_off_goes_when_the_peer_reads(wdir):
    slot_a, slot_b = wdir.claim(), wdir.claim()
    a = Handoff(slot_a, lambda sock, data: None)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    raw.bind(slot_b.path("fd"))
    raw.listen()
    mine, theirs = socket.socketpair()
    done: list[bool] = []
    try:
        status = DONE
        while status == DONE:
            status = a.offer(slot_b.number, theirs.fileno(), b"x" * 60000, done.append)
        assert status == LATER
        conn, _ = raw.accept()
        conn.setblocking(False)
        loop = asyncio.get_running_loop()
        drained = loop.create_future()

        def read() -> None:
            try:
                while True:
                    _, ancillary, _, _ = conn.recvmsg(70000, socket.CMSG_SPACE(64))
                    for fd in _fds_of(ancillary):
                        os.close(fd)
            except BlockingIOError:
                if done and not drained.done():
                    drained.set_result(None)

        loop.add_reader(conn.fileno(), read)
        await asyncio.wait_for(drained, 5)
        loop.remove_reader(conn.fileno())
        conn.close()
        assert done == [True]
    finally:
        for sock in (raw, mine, theirs):
            sock.close()
        a.close()


async def test_malformed_messages_drop_the_connection(wdir):
    received: list[bytes] = []
    slot_b = wdir.claim()
    b = Handoff(slot_b, lambda sock, data: received.append(data))
    b.start()
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        bad.connect(slot_b.path("fd"))
        bad.send(b"no socket with it")
        bad.setblocking(False)
        loop = asyncio.get_running_loop()
        assert await asyncio.wait_for(loop.sock_recv(bad, 10), 5) == b""  # closed by b
        assert not b.inbound
        assert received == []
    finally:
        bad.close()
        b.close()


async def test_no_hand_off_under_tls(wdir, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    slot = wdir.claim()
    server = StandaloneServer(EchoEngine().engine, workers=slot)
    await server.start("127.0.0.1", 0, ssl=context)
    try:
        assert server.handoff is None  # a TLS socket cannot change process: the engine forwards
        assert not Path(slot.path("fd")).exists()
        with pytest.raises(ValueError, match="plain TCP"):
            await StandaloneServer(EchoEngine().engine, workers=slot).start(
                listen=False, ssl=context
            )
    finally:
        await server.close()
        slot.release()
