"""python-socketio's ``ASGIApp``: aiosocketio's ASGI app with python-socketio's arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..asgi import ASGIApp as NativeASGIApp
from ..asgi import Receive, Scope, Send
from .server import AsyncServer

__all__ = ["ASGIApp"]


class ASGIApp(NativeASGIApp):
    """``ASGIApp(sio, other_asgi_app=None, static_files=None, socketio_path="socket.io",
    on_startup=None, on_shutdown=None)``.

    ``static_files`` maps URL paths to files or directories (``{"/": "index.html",
    "/static": "./public"}``), or to ``{"filename": ..., "content_type": ...}``.
    ``socketio_path=None`` sends every HTTP and WebSocket request to Socket.IO.
    ``on_startup`` / ``on_shutdown``: a function (plain or async) called when the ASGI server
    starts / stops.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: Any = None,
        static_files: Mapping[str, Any] | None = None,
        socketio_path: str | None = "socket.io",
        on_startup: Callable[[], Any] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        if not isinstance(socketio_server, AsyncServer):
            raise TypeError("ASGIApp needs an aiosocketio.compat.AsyncServer")
        native = socketio_server.server
        self.everything = socketio_path is None
        if socketio_path is not None:
            native.engine.path = "/" + socketio_path.strip("/")
        super().__init__(
            native,
            None if self.everything else other_asgi_app,
            static_files={} if self.everything else static_files,
            on_startup=[on_startup] if on_startup is not None else [],
            on_shutdown=[on_shutdown] if on_shutdown is not None else [],
        )
        self.own_lifespan = on_startup is not None or on_shutdown is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.own_lifespan:
            # as python-socketio: with hooks, the other app does not see the lifespan
            await self._lifespan_alone(receive, send)
        elif self.everything and scope["type"] == "http":
            await self._http(scope, receive, send)
        elif self.everything and scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
