"""Engine.IO on asyncio: sessions, long-polling and WebSocket transports, request routing.

Front doors (the ASGI app and the standalone HTTP server) turn their requests into
:class:`~aiosocketio.engine.http.Request` objects and hand them to an
:class:`~aiosocketio.engine.server.EngineServer`; everything else happens here.
"""

from .http import CorsPolicy, Request
from .server import EngineServer
from .socket import EngineSocket

__all__ = ["CorsPolicy", "EngineServer", "EngineSocket", "Request"]
