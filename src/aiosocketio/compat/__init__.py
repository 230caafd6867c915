"""python-socketio 5's API over aiosocketio: change the import, keep the program.

    import aiosocketio.compat as socketio      # was: import socketio

    sio = socketio.AsyncServer(async_mode="asgi")
    app = socketio.ASGIApp(sio)

    @sio.event
    async def connect(sid, environ, auth): ...

Server: :class:`AsyncServer`, :class:`AsyncNamespace`, :class:`ASGIApp`,
:class:`AsyncManager`, :class:`AsyncRedisManager`. Clients: :class:`AsyncClient`,
:class:`AsyncSimpleClient`, :class:`AsyncClientNamespace`, and the blocking :class:`Client`
and :class:`SimpleClient`. Exceptions: :mod:`aiosocketio.compat.exceptions`. The native
server under an AsyncServer is ``sio.server`` (an :class:`aiosocketio.Server`), each ``sid``
the id of one of its sockets.

What still differs from python-socketio (also in docs/migrating-from-python-socketio.md):

- ASGI only: ``async_mode`` must be ``"asgi"`` (or left out); ``attach()`` (aiohttp, sanic,
  tornado), ``Server`` (WSGI), ``WSGIApp``, ``Middleware`` and ``get_tornado_handler`` raise
  NotImplementedError. ``sio.server.serve(host, port)`` runs the native standalone server instead.
- Refused options (each with an error that says so): ``async_handlers=False``, ``json=``
  other than the standard ``json`` module (aiosocketio encodes with orjson), a custom
  ``serializer`` class, ``http_session`` and ``websocket_extra_options`` on the client.
  ``ping_interval=(interval, grace)`` adds the grace to ``ping_timeout``.
- Clusters: ``AsyncRedisManager`` speaks the format of Node's
  ``@socket.io/redis-adapter``, not python-socketio's: every server of a cluster must run
  aiosocketio or Node's socket.io. Kafka, Kombu/AMQP, aio-pika and ZeroMQ managers raise
  NotImplementedError naming the supported adapters (Redis, Redis Streams, PostgreSQL).
  The ``callback`` of an ``emit()`` to a room is called for the clients of this server only.
- Handlers: plain-function handlers run inline, in order; coroutine handlers start as tasks
  in arrival order (python-socketio runs every event in a task). The ``disconnect`` handler
  runs once the client has left its rooms (``rooms(sid)`` is empty there). Emitting an
  event named like a reserved one (``connect``, ``connect_error``, ``disconnect``,
  ``disconnecting``, ``newListener``, ``removeListener``) raises ValueError.
- ``call()`` raises TimeoutError as soon as the client disconnects (python-socketio waits
  for the timeout).
- ``rooms(sid)`` is sorted. ``get_environ()`` and the ``connect`` handler's ``environ`` have
  the WSGI-style keys (``REQUEST_METHOD``, ``PATH_INFO``, ``QUERY_STRING``, ``HTTP_*``,
  ``REMOTE_ADDR`` with the real address, ...) but no ``asgi.*`` entries.
- A namespace that is not accepted is refused with ``{"message": "Invalid namespace"}``
  (or ``"Unable to connect"`` for one that has handlers but is left out of ``namespaces``);
  python-socketio sends the bare string ``"Unable to connect"``. An exception other than
  ConnectionRefusedError in a ``connect`` handler refuses the client with its message.
- Internals are not there: ``sio.eio``, the tables of ``sio.manager``,
  ``handle_request()``; ``sio.server`` is the native server (its namespaces, sockets and
  adapters).
- CORS: without ``cors_allowed_origins``, a WebSocket from another origin is refused with 403
  and a long-polling request from another origin is answered without CORS headers (so a
  browser cannot read it); python-socketio answers both with 400. A list or ``"*"`` is
  honoured.
- ``shutdown()`` disconnects every client and stops the server.
- ``logger=True`` logs events received and emitted (``socketio.server``, INFO);
  ``engineio_logger=True`` logs every Engine.IO packet (``aiosocketio.packets``, DEBUG).
  The clients' ``logger``, ``engineio_logger`` and ``handle_sigint`` have no effect.
- The clients: ``url``, ``headers`` and ``auth`` given as functions are called once per
  ``connect()`` (not again at each reconnection); ``wait=False`` returns before the
  namespaces are connected; events a ``SimpleClient`` receives while an acknowledgement was
  asked are acknowledged at once without arguments (as python-socketio's catch-all does).
  The blocking ``Client`` runs handlers in worker threads and has no class-based namespaces.
  A client's ``disconnect()`` reaches the server as ``client disconnect`` (python-socketio's
  client: ``transport close``).
- ``ASGIApp``: ``static_files``'s ``""`` key (the default file of directories) is not
  supported: a directory serves its ``index.html``. Static files answer GET and HEAD only,
  and a file that does not exist answers 404 (python-socketio hands the request to
  ``other_asgi_app``).
"""

from . import exceptions
from ._missing import unsupported
from .asgi import ASGIApp
from .client import AsyncClient
from .managers import (
    AsyncAioPikaManager,
    AsyncManager,
    AsyncRedisManager,
    KafkaManager,
    KombuManager,
    RedisManager,
    ZmqManager,
)
from .namespace import AsyncClientNamespace, AsyncNamespace
from .server import AsyncServer
from .simple_client import AsyncSimpleClient
from .sync import Client, SimpleClient

# python-socketio's other names: each refuses with what to use instead
Server = unsupported("Server")
WSGIApp = unsupported("WSGIApp")
Middleware = unsupported("Middleware")
get_tornado_handler = unsupported("get_tornado_handler")
Manager = unsupported("Manager")
PubSubManager = unsupported("PubSubManager")
Namespace = unsupported("Namespace")
ClientNamespace = unsupported("ClientNamespace")

__all__ = [
    "ASGIApp",
    "AsyncAioPikaManager",
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncRedisManager",
    "AsyncServer",
    "AsyncSimpleClient",
    "Client",
    "ClientNamespace",
    "KafkaManager",
    "KombuManager",
    "Manager",
    "Middleware",
    "Namespace",
    "PubSubManager",
    "RedisManager",
    "Server",
    "SimpleClient",
    "WSGIApp",
    "ZmqManager",
    "exceptions",
    "get_tornado_handler",
]
