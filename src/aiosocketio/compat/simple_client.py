"""python-socketio's ``AsyncSimpleClient``: one namespace, events pulled with ``receive()``
(aiosocketio's :meth:`~aiosocketio.client.Socket.receive`)."""

from __future__ import annotations

import contextlib
from typing import Any

from ..client.socket import Socket
from ..errors import AckTimeout, NotConnected
from . import exceptions
from ._calls import as_args
from .client import AsyncClient

__all__ = ["AsyncSimpleClient"]


class AsyncSimpleClient:
    """``AsyncSimpleClient(*args, **kwargs)``: the arguments are :class:`AsyncClient`'s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client_args = args
        self.client_kwargs = kwargs
        self.client: AsyncClient | None = None
        self.namespace = "/"

    async def connect(
        self,
        url: Any,
        headers: Any = None,
        auth: Any = None,
        transports: Any = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connect to the server's ``namespace``; every event it sends is kept for
        :meth:`receive` from then on."""
        if self.connected:
            raise RuntimeError("Already connected")
        self.namespace = namespace
        client = AsyncClient(*self.client_args, **self.client_kwargs)
        self.client = client
        client._keep_unheard = True
        await client.connect(
            url,
            headers=headers,
            auth=auth,
            transports=transports,
            namespaces=[namespace],
            socketio_path=socketio_path,
            wait_timeout=wait_timeout,
        )

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    @property
    def sid(self) -> str | None:
        return self.client.get_sid(self.namespace) if self.client is not None else None

    @property
    def transport(self) -> str:
        return self.client.transport() if self.client is not None else ""

    async def _socket(self) -> Socket:
        """The namespace's socket once connected (waiting through a reconnection)."""
        socket = self.client.sockets.get(self.namespace) if self.client is not None else None
        while socket is not None and not socket.connected and not socket._done_for_good():
            with contextlib.suppress(Exception):  # a failed attempt: the next one may work
                await socket.wait_connected()
        if socket is None or not socket.connected:
            raise exceptions.DisconnectedError()
        return socket

    async def emit(self, event: str, data: Any = None) -> None:
        """Send an event (``data``: a tuple for several arguments)."""
        socket = await self._socket()
        socket.emit(event, *as_args(data))

    async def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Send an event and return the acknowledgement: None, the argument, or a tuple.
        Raises TimeoutError after ``timeout`` seconds."""
        socket = await self._socket()
        try:
            return await socket.emit_with_ack(event, *as_args(data), timeout=timeout)
        except (AckTimeout, NotConnected):
            raise exceptions.TimeoutError() from None

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event from the server, as ``[event, *args]``. Raises TimeoutError after
        ``timeout`` seconds, DisconnectedError once disconnected."""
        socket = self.client.sockets.get(self.namespace) if self.client is not None else None
        if socket is None:
            raise exceptions.DisconnectedError()
        try:
            return await socket.receive(timeout)
        except NotConnected:
            raise exceptions.DisconnectedError() from None
        except TimeoutError:
            raise exceptions.TimeoutError() from None

    async def disconnect(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.disconnect()

    async def __aenter__(self) -> AsyncSimpleClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()
