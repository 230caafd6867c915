"""The sid-addressed operations of python-socketio's ``AsyncServer``: emitting, calling,
rooms, sessions, connections; each finds the client's native Socket by its ``sid`` (or, for
a client on another server of a cluster, goes through the adapter)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from ..errors import AckTimeout, BroadcastAckError, NotConnected
from ..server.namespace import Namespace
from ..server.server import Server
from ..server.socket import Socket
from . import exceptions
from ._calls import as_args, call_callback
from ._environ import environ_of

__all__ = ["SidOperations"]


class SidOperations:
    """What :class:`~aiosocketio.compat.AsyncServer` does to clients by ``sid``."""

    server: Server
    logger: logging.Logger | None
    _sockets: dict[str, Socket]

    # ------------------------------------------------------------------ emitting
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
        """Emit to one client (``to=sid``), a room, several rooms, or everyone; ``data`` as a
        tuple gives several arguments; ``skip_sid`` leaves clients out; ``callback`` gets each
        client's acknowledgement arguments."""
        target = to if to is not None else room
        name = namespace or "/"
        if self.logger is not None:
            self.logger.info('emitting event "%s" to %s [%s]', event, target or "all", name)
        nsp = self.server._nsps.get(name)
        if nsp is None:
            return
        args = as_args(data)
        if callback is not None:
            await self._emit_with_callback(nsp, event, args, target, skip_sid, callback)
        elif type(target) is str and skip_sid is None:
            socket = self._sockets.get(target)
            if socket is not None and socket.nsp is nsp:
                socket.emit(event, *args)
            else:
                nsp.to(target).emit(event, *args)
        elif target is None:
            if skip_sid is None:
                nsp.emit(event, *args)
            else:
                nsp.except_(skip_sid).emit(event, *args)
        else:
            operator = nsp.to(target)
            if skip_sid is not None:
                operator = operator.except_(skip_sid)
            operator.emit(event, *args)

    async def _emit_with_callback(
        self,
        nsp: Namespace,
        event: str,
        args: tuple[Any, ...],
        target: str | Iterable[str] | None,
        skip_sid: str | Iterable[str] | None,
        callback: Callable[..., Any],
    ) -> None:
        operator = nsp.local if target is None else nsp.to(target).local
        if skip_sid is not None:
            operator = operator.except_(skip_sid)
        for socket in await operator.fetch_sockets():
            socket.emit(event, *args, callback=call_callback(callback))

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
        """Emit a ``message`` event."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit to one client and return its acknowledgement: None, the argument, or a tuple.
        Raises TimeoutError after ``timeout`` seconds, or when the client goes away."""
        target = to if to is not None else sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        name = namespace or "/"
        if self.logger is not None:
            self.logger.info('emitting event "%s" to %s [%s]', event, target, name)
        socket = self._socket(target, name)
        try:
            if socket is not None:
                return await socket.emit_with_ack(event, *as_args(data), timeout=timeout)
            nsp = self.server._nsps.get(name)
            if nsp is None:
                raise exceptions.TimeoutError()
            operator = nsp.to(target).timeout(timeout if timeout is not None else 60)
            answers = await operator.emit_with_ack(event, *as_args(data))
        except (AckTimeout, BroadcastAckError, NotConnected):
            raise exceptions.TimeoutError() from None
        if not answers:
            raise exceptions.TimeoutError()
        return answers[0]

    # ------------------------------------------------------------------ rooms
    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Add a client to a room."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.join(room)
        else:
            self._operator(sid, namespace).sockets_join(room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Remove a client from a room."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.leave(room)
        else:
            self._operator(sid, namespace).sockets_leave(room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from a room."""
        self._operator(room, namespace).sockets_leave(room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in (its own ``sid`` among them), sorted."""
        socket = self._socket(sid, namespace)
        return [] if socket is None else sorted(socket.rooms)

    def _operator(self, room: str, namespace: str | None) -> Any:
        nsp = self.server._nsps.get(namespace or "/")
        return nsp.in_(room) if nsp is not None else _Nothing()

    # ------------------------------------------------------------------ sessions
    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        """The client's session (a dict, kept with the connection: ``socket.data``)."""
        return self._known(sid, namespace).data

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        """Replace the client's session."""
        self._known(sid, namespace).data = session

    @asynccontextmanager
    async def session(self, sid: str, namespace: str | None = None) -> AsyncIterator[Any]:
        """``async with sio.session(sid) as session:``: changes are kept."""
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    # ------------------------------------------------------------------ connections
    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect a client from a namespace (its ``disconnect`` handler runs)."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.disconnect()
        else:
            self._operator(sid, namespace).disconnect_sockets()

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``"polling"`` or ``"websocket"``."""
        return str(self._known(sid, namespace).conn.transport)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """A WSGI-style ``environ`` of the client's handshake request."""
        socket = self._socket(sid, namespace)
        return None if socket is None else environ_of(socket)

    def _socket(self, sid: Any, namespace: str | None = None) -> Socket | None:
        socket = self._sockets.get(sid) if type(sid) is str else None
        if socket is None or (namespace is not None and socket.nsp.name != namespace):
            return None
        return socket

    def _known(self, sid: str, namespace: str | None) -> Socket:
        socket = self._socket(sid, namespace)
        if socket is None:
            raise KeyError("Session is disconnected")
        return socket


class _Nothing:
    """The operator of a namespace that does not exist: every operation does nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None
