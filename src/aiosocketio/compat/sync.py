"""python-socketio's blocking ``Client`` and ``SimpleClient``: the asyncio ones on an event
loop of their own, in a background thread (:class:`~aiosocketio.client.sync.LoopThread`,
as :class:`~aiosocketio.SyncClient`).

Handlers are plain functions; each runs in a worker thread (as python-socketio runs them),
so a handler may block and may call the client's blocking methods.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..client.sync import LoopThread
from .client import AsyncClient
from .simple_client import AsyncSimpleClient

__all__ = ["Client", "SimpleClient"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _in_a_thread(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # the same signature: optional arguments are left out alike
    async def run(*args: Any) -> Any:
        return await asyncio.to_thread(func, *args)

    return run


class _Blocking:
    """The loop thread shared by the two blocking clients."""

    def __init__(self) -> None:
        self._runner = LoopThread()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if not self._runner.running:
            self._runner.start("aiosocketio-compat-client")
        return self._runner.run(coro, timeout)

    def _stop(self) -> None:
        self._runner.stop()

    def sleep(self, seconds: float = 0) -> None:
        time.sleep(seconds)

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread (started, and returned)."""
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread


class Client(_Blocking):
    """A blocking Socket.IO client with python-socketio 5's API (``socketio.Client``); the
    options are :class:`AsyncClient`'s."""

    reason = AsyncClient.reason

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.client = AsyncClient(*args, **kwargs)

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        def register(func: F) -> F:
            self.client.on(event, _in_a_thread(func), namespace)
            return func

        if handler is None:
            return register
        register(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def register(func: F) -> F:
            return self.on(func.__name__, *args, **kwargs)(func)  # type: ignore[no-any-return]

        return register

    def connect(self, url: Any, **kwargs: Any) -> None:
        """As :meth:`AsyncClient.connect`; blocks until connected."""
        try:
            self._run(self.client.connect(url, **kwargs))
        except BaseException:
            self._stop()
            raise

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def namespaces(self) -> dict[str, str | None]:
        return self.client.namespaces

    @property
    def sid(self) -> str | None:
        return self.client.sid

    def get_sid(self, namespace: str | None = None) -> str | None:
        return self.client.get_sid(namespace)

    def transport(self) -> str:
        return self.client.transport()

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        self._run(
            self.client.emit(
                event, data, namespace, None if callback is None else _in_a_thread(callback)
            )
        )

    def send(
        self, data: Any, namespace: str | None = None, callback: Callable[..., Any] | None = None
    ) -> None:
        self.emit("message", data, namespace, callback)

    def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        return self._run(self.client.call(event, data, namespace, timeout))

    def wait(self) -> None:
        """Block until the connection ends for good."""
        if self._runner.running:
            self._run(self.client.wait())

    def disconnect(self) -> None:
        if self._runner.running:
            self._run(self.client.disconnect())
            self._stop()

    def shutdown(self) -> None:
        self.disconnect()


class SimpleClient(_Blocking):
    """A blocking client that pulls events with :meth:`receive` (``socketio.SimpleClient``);
    the arguments are :class:`AsyncClient`'s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.client = AsyncSimpleClient(*args, **kwargs)

    def connect(self, url: Any, **kwargs: Any) -> None:
        try:
            self._run(self.client.connect(url, **kwargs))
        except BaseException:
            self._stop()
            raise

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def sid(self) -> str | None:
        return self.client.sid

    @property
    def transport(self) -> str:
        return self.client.transport

    def emit(self, event: str, data: Any = None) -> None:
        self._run(self.client.emit(event, data))

    def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        return self._run(self.client.call(event, data, timeout))

    def receive(self, timeout: float | None = None) -> list[Any]:
        return self._run(self.client.receive(timeout))

    def disconnect(self) -> None:
        if self._runner.running:
            self._run(self.client.disconnect())
            self._stop()

    def __enter__(self) -> SimpleClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()
