"""Class-based namespaces: python-socketio's ``AsyncNamespace`` (server) and
``AsyncClientNamespace`` (client), whose ``on_<event>`` methods are the handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._calls import call_handler

if TYPE_CHECKING:
    from .client import AsyncClient
    from .server import AsyncServer

__all__ = ["AsyncClientNamespace", "AsyncNamespace"]

# the last argument python-socketio leaves out when a method does not take it
_OPTIONAL = {"connect": 1, "disconnect": 1}


class _Base:
    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"

    def is_asyncio_based(self) -> bool:
        return True

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Call the ``on_<event>`` method, if there is one (override to dispatch otherwise)."""
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None
        return await call_handler(handler, args, _OPTIONAL.get(event, 0))


class AsyncNamespace(_Base):
    """The handlers of one server namespace (``"*"``: every namespace without its own), as
    ``on_<event>(self, sid, *args)`` methods; register with ``sio.register_namespace()``.
    The helpers below are the server's, with this namespace as the default."""

    server: AsyncServer

    def _set_server(self, server: AsyncServer) -> None:
        self.server = server

    def _nsp(self, namespace: str | None) -> str:
        return namespace or self.namespace

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        await self.server.emit(event, data, to, room, skip_sid, self._nsp(namespace), callback)

    async def send(
        self,
        data: Any,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        await self.server.send(data, to, room, skip_sid, self._nsp(namespace), callback)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = None,
        ignore_queue: bool = False,
    ) -> Any:
        return await self.server.call(event, data, to, sid, self._nsp(namespace), timeout)

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self.server.enter_room(sid, room, self._nsp(namespace))

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self.server.leave_room(sid, room, self._nsp(namespace))

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        await self.server.close_room(room, self._nsp(namespace))

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        return self.server.rooms(sid, self._nsp(namespace))

    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        return await self.server.get_session(sid, self._nsp(namespace))

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        await self.server.save_session(sid, session, self._nsp(namespace))

    def session(self, sid: str, namespace: str | None = None) -> Any:
        return self.server.session(sid, self._nsp(namespace))

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        await self.server.disconnect(sid, self._nsp(namespace))


class AsyncClientNamespace(_Base):
    """The handlers of one client namespace, as ``on_<event>(self, *args)`` methods; register
    with ``client.register_namespace()``."""

    client: AsyncClient

    def _set_client(self, client: AsyncClient) -> None:
        self.client = client

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        await self.client.emit(event, data, namespace or self.namespace, callback)

    async def send(
        self, data: Any, namespace: str | None = None, callback: Callable[..., Any] | None = None
    ) -> None:
        await self.client.send(data, namespace or self.namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        return await self.client.call(event, data, namespace or self.namespace, timeout)

    async def disconnect(self) -> None:
        await self.client.disconnect()
