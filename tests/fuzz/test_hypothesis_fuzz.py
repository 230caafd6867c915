"""The fuzz targets of ``fuzz/`` under hypothesis: the same checks, a few hundred inputs each.

Every decoder: any input gives a value or a ProtocolError, never another exception, never a
hang (each example has a deadline). The standalone server's HTTP protocol object: any bytes
give answers or a close, never an exception out of the protocol, never an error logged, a
500, a badly framed answer, or a session, task or timer left behind. ``scripts/fuzz`` runs
the same targets under atheris for longer.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.engineio.session import EngineConfig
from aiosocketio.ws.deflate import DeflateParams
from aiosocketio.ws.frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, encode_frame

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"


def _load(name: str) -> ModuleType:
    """Import ``fuzz/<name>.py`` (a script directory, not a package)."""
    spec = importlib.util.spec_from_file_location(f"aiosocketio_{name}", FUZZ_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz_engineio = _load("fuzz_engineio")
fuzz_engineio_v3 = _load("fuzz_engineio_v3")
fuzz_socketio = _load("fuzz_socketio")
fuzz_ws_frames = _load("fuzz_ws_frames")
fuzz_http = _load("fuzz_http")

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),  # a hang fails the example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
fuzz_bytes = st.binary(max_size=600)


@pytest.fixture(scope="module", autouse=True)
def _http_loop() -> Iterator[None]:
    yield
    fuzz_http.close()


def session_ops(operations: int, pieces: tuple[str, ...]) -> Any:
    """Steps ``(operation, time step, packet text)`` that drive a session state machine."""
    return st.lists(
        st.tuples(
            st.integers(0, operations - 1),
            st.integers(0, 255),
            st.sampled_from(pieces) | st.text(max_size=6),
        ),
        max_size=40,
    )


# ---------------------------------------------------------------------------------- Engine.IO
@FUZZ
@given(data=fuzz_bytes)
def test_engineio_target(data: bytes) -> None:
    fuzz_engineio.one_input(data)


@FUZZ
@given(
    ops=session_ops(6, fuzz_engineio.PIECES),
    times=st.tuples(*[st.sampled_from(fuzz_engineio.TIMES)] * 3),
    allow_upgrades=st.booleans(),
)
def test_engineio_session_never_sleeps_in_the_past(
    ops: list[tuple[int, int, str]], times: tuple[float, float, float], allow_upgrades: bool
) -> None:
    interval, timeout, upgrade = times
    config = EngineConfig(
        ping_interval=interval,
        ping_timeout=timeout,
        upgrade_timeout=upgrade,
        allow_upgrades=allow_upgrades,
    )
    fuzz_engineio.check_session(ops, config)


# ---------------------------------------------------------------------------------- Engine.IO v3
@FUZZ
@given(data=fuzz_bytes)
def test_engineio_v3_target(data: bytes) -> None:
    fuzz_engineio_v3.one_input(data)


@FUZZ
@given(parts=st.lists(st.sampled_from(fuzz_engineio_v3.PIECES) | st.text(max_size=8), max_size=30))
def test_engineio_v3_text_payloads(parts: list[str]) -> None:
    fuzz_engineio_v3.check_payload("".join(parts))


@FUZZ
@given(
    chunks=st.lists(st.sampled_from(fuzz_engineio_v3.BYTES) | st.binary(max_size=8), max_size=30)
)
def test_engineio_v3_binary_payloads(chunks: list[bytes]) -> None:
    fuzz_engineio_v3.check_binary_payload(b"".join(chunks))


@FUZZ
@given(
    ops=session_ops(4, fuzz_engineio_v3.PIECES),
    times=st.tuples(*[st.sampled_from(fuzz_engineio_v3.TIMES)] * 2),
)
def test_engineio_v3_session_never_pings_nor_sleeps_in_the_past(
    ops: list[tuple[int, int, str]], times: tuple[float, float]
) -> None:
    interval, timeout = times
    config = EngineConfig(ping_interval=interval, ping_timeout=timeout)
    fuzz_engineio_v3.check_session(ops, config)


@FUZZ
@given(
    pieces=st.lists(
        st.sampled_from(fuzz_engineio_v3.NAMESPACE_PIECES) | st.text(max_size=4), max_size=12
    ),
    connect=st.booleans(),
)
def test_protocol_v4_namespaces(pieces: list[str], connect: bool) -> None:
    fuzz_engineio_v3.check_namespace("/" + "".join(pieces), connect)


# ---------------------------------------------------------------------------------- Socket.IO
@FUZZ
@given(data=fuzz_bytes)
def test_socketio_target(data: bytes) -> None:
    fuzz_socketio.one_input(data)


# ---------------------------------------------------------------------------------- WebSocket
@FUZZ
@given(data=fuzz_bytes)
def test_ws_frames_target(data: bytes) -> None:
    fuzz_ws_frames.one_input(data)


frame_specs = st.lists(
    st.tuples(
        st.sampled_from([TEXT, BINARY, CONT, CLOSE, PING, PONG, 3, 11]),
        st.booleans(),  # fin
        st.booleans(),  # rsv1 (compressed)
        st.binary(max_size=140) | st.text(max_size=40).map(str.encode),
    ),
    max_size=8,
)
deflate_params = st.none() | st.sampled_from(fuzz_ws_frames.PARAMS)


@FUZZ
@given(
    specs=frame_specs,
    client_side=st.booleans(),
    params=deflate_params,
    cuts=st.lists(st.integers(1, 50), max_size=10),
    max_size=st.sampled_from([0, 10, 125, 1000]),
)
def test_frame_parser_gives_the_same_messages_however_the_bytes_are_read(
    specs: list[tuple[int, bool, bool, bytes]],
    client_side: bool,
    params: DeflateParams | None,
    cuts: list[int],
    max_size: int,
) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    wire = b""
    for opcode, fin, rsv1, payload in specs:
        if rsv1 and opcode in (TEXT, BINARY):
            payload = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            payload = payload[:-4]
        header = bytes(((0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode,))
        frame = encode_frame(BINARY, payload, mask=None if client_side else os.urandom(4))
        wire += header + frame[1:]
    chunks = []
    for cut in cuts:
        chunks.append(wire[:cut])
        wire = wire[cut:]
    chunks.append(wire)
    fuzz_ws_frames.check_frames(chunks, client_side=client_side, params=params, max_size=max_size)


@FUZZ
@given(offer=st.sampled_from(fuzz_ws_frames.OFFERS) | st.text(max_size=60))
def test_any_extension_offer_gets_an_answer_the_client_accepts(offer: str) -> None:
    fuzz_ws_frames.check_extensions(offer)


# ---------------------------------------------------------------------------------- HTTP
@settings(FUZZ, max_examples=400)
@given(data=st.binary(max_size=1500))
def test_http_target(data: bytes) -> None:
    fuzz_http.one_input(data)


@FUZZ
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(1, 200), max_size=6))
def test_http_protocol_survives_any_bytes(data: bytes, cuts: list[int]) -> None:
    segments: list[tuple[int, bytes]] = []
    for cut in cuts:
        segments.append((0, data[:cut]))
        data = data[cut:]
    segments.append((0, data))
    outcome = _play(segments, 1)
    assert all(status != 500 for status in outcome.statuses[0])


@FUZZ
@given(data=st.binary(min_size=4, max_size=1500))
def test_http_complete_requests_get_an_answer_or_a_close(data: bytes) -> None:
    outcome, complete = fuzz_http.run(data, well_formed=True)
    assert complete
    for sent, answered in zip(outcome.sent, outcome.answered_before_eof, strict=True):
        assert answered or not sent


def _play(segments: list[tuple[int, bytes]], clients: int) -> Any:
    loop = fuzz_http.event_loop()
    outcome = loop.run_until_complete(fuzz_http.play(segments, clients))
    fuzz_http._check_timers(loop)
    return outcome


SCENARIOS = {
    "handshake, poll, post, close": [
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling&sid=sid0 HTTP/1.1\r\nHost: h\r\n"
        b"Content-Length: 2\r\n\r\n40",
        b"GET /socket.io/?EIO=4&transport=polling&sid=sid0 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling&sid=sid0 HTTP/1.1\r\nHost: h\r\n"
        b"Content-Length: 1\r\n\r\n1",
    ],
    "head": [b"HEAD /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n"],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_http_harness_sees_answers(name: str) -> None:
    """The harness itself: well-formed scenarios give the expected statuses."""
    outcome = _play([(0, b"".join(SCENARIOS[name]))], 1)
    if name == "head":
        assert outcome.statuses == [[400]]
    else:
        assert outcome.statuses[0][:4] == [200, 200, 200, 200]
