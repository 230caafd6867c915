"""Fixtures of the cluster adapter tests: a reachable Redis (or a clear skip), a key prefix of
the test's own, and clusters of Python servers on free ports.

Redis is taken from ``AIOSOCKETIO_REDIS_URL`` (default ``redis://127.0.0.1:6379``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sioclient import SioServer

from .helpers import StartCluster, start_nodes

REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")


def redis_unreachable_reason(url: str) -> str | None:
    """Why the Redis tests cannot run (None when they can)."""
    try:
        import redis
    except ImportError:
        return "the Redis adapter tests need redis-py: pip install -e '.[redis]'"
    try:
        import msgpack  # noqa: F401
    except ImportError:
        return "the Redis adapter tests need msgpack: pip install -e '.[redis]'"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        version = str(client.info("server").get("redis_version", "0"))
    except redis.RedisError as exc:
        return (
            f"Redis is not reachable at {url} ({exc}); start it with `redis-server --daemonize "
            "yes --port 6379` or set AIOSOCKETIO_REDIS_URL"
        )
    finally:
        client.close()
    if int(version.split(".")[0]) < 7:
        return f"the Redis adapter tests need Redis 7 (sharded Pub/Sub); {url} runs {version}"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a reachable Redis 7 (the test is skipped, with the reason, otherwise)."""
    reason = redis_unreachable_reason(REDIS_URL)
    if reason is not None:
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def redis_key() -> str:
    """A key prefix no other test (or concurrent test run) uses."""
    return f"siotest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def cluster(redis_url: str, redis_key: str) -> AsyncIterator[StartCluster]:
    """``nodes = await cluster(count, sharded=False, request_timeout=1.0, **server_options)``:
    that many started servers (``tests/sioclient.SioServer``) with the Redis adapter, in one
    cluster (the key of the test); each sees all the others (``expect`` servers when the
    cluster has more) before this returns. Every node is closed at the end of the test."""
    from aiosocketio.adapters.redis import RedisAdapter

    started: list[SioServer] = []

    async def start(
        count: int = 2,
        *,
        sharded: bool = False,
        request_timeout: float = 1.0,
        redis: Any = None,
        adapter_options: dict[str, Any] | None = None,
        expect: int | None = None,
        **server_options: Any,
    ) -> list[SioServer]:
        factory = RedisAdapter.factory(
            redis if redis is not None else redis_url,
            key=redis_key,
            sharded=sharded,
            request_timeout=request_timeout,
            **(adapter_options or {}),
        )
        return await start_nodes(started, factory, count, expect, **server_options)

    yield start
    for node in reversed(started):
        await node.close()
