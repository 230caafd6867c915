"""asyncio I/O for the engine: the standalone HTTP/1.1 + WebSocket server."""

from .standalone import Fallback, StandaloneServer

__all__ = ["Fallback", "StandaloneServer"]
