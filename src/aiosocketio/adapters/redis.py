"""The Redis adapters, wire-compatible with @socket.io/redis-adapter 8.3.

* :class:`RedisAdapter`: the classic mode (PUBLISH / PSUBSCRIBE, requests and responses on
  their own channels), the default of ``createAdapter()`` in Node.
* :class:`ShardedRedisAdapter`: the sharded mode of Redis 7 (SPUBLISH / SSUBSCRIBE) with the
  ClusterAdapter messages, as ``createShardedAdapter()`` in Node.

Use them through a factory, which gives each server one connection that subscribes and one
client that publishes, shared by all its namespaces::

    io = Server(adapter=RedisAdapter.factory("redis://127.0.0.1:6379"))
    io = Server(adapter=RedisAdapter.factory(redis_client, key="chat", sharded=True))

When Redis goes away the server keeps serving its own clients: broadcasts still reach the local
sockets, what is to be published waits in a bounded queue, and the subscriber reconnects with a
backoff and subscribes again. After an outage the queue is held until the other servers are
subscribed again (Pub/Sub keeps nothing for a server that is not), and every message that
Redis says reached fewer servers than before is reported (see :mod:`.resync`). Cluster-wide
requests (``fetch_sockets``, ``server_side_emit``
with acknowledgements) fail with :class:`~aiosocketio.adapters.base.ClusterError` while Redis is
unreachable.
"""

from __future__ import annotations

from .redis_classic import RedisAdapter, RequestType
from .redis_link import RedisAdapterFactory, RedisLink, RedisSource, SubscriptionMode
from .redis_sharded import ShardedRedisAdapter

__all__ = [
    "RedisAdapter",
    "RedisAdapterFactory",
    "RedisLink",
    "RedisSource",
    "RequestType",
    "ShardedRedisAdapter",
    "SubscriptionMode",
]
