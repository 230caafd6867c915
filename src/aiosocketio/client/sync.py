"""A blocking facade: the asyncio client on an event loop of its own, in a background thread.

    with SyncClient("http://localhost:3000", transports=["websocket"]) as client:
        client.on("news", print)          # called on the client's thread
        print(client.call("add", 1, 2))   # emit and wait for the acknowledgement

There is no second protocol implementation: every call is handed to the asyncio
:class:`~aiosocketio.client.Socket` on the loop thread. Handlers (plain or coroutine
functions) run on that thread; a plain handler must not block it for long.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .events import ListenerApi, log

__all__ = ["LoopThread", "SyncClient"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread of its own; blocking callers hand it
    coroutines (:meth:`run`) and calls (:meth:`call_soon`)."""

    __slots__ = ("loop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None

    def on_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result (not from the loop thread)."""
        loop = self.loop
        if loop is None:
            coro.close()
            raise RuntimeError("the client is not connected (call connect() first)")
        if self.on_thread():
            coro.close()
            raise RuntimeError("blocking calls cannot be made from a handler; use the socket")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def call_soon(self, func: Callable[..., Any], *args: Any) -> None:
        """Call ``func(*args)`` on the loop thread (at once when already on it)."""
        loop = self.loop
        if loop is None:
            raise RuntimeError("the client is not connected (call connect() first)")
        if self.on_thread():
            func(*args)
        else:
            loop.call_soon_threadsafe(func, *args)

    def start(self, name: str = "aiosocketio-client") -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        ready.wait()
        self.loop = loop
        self.thread = thread
        return loop

    def stop(self) -> None:
        """Stop the loop; wait for its thread unless called from it."""
        loop, thread = self.loop, self.thread
        self.loop = self.thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(5.0)


class SyncClient(ListenerApi):
    """A Socket.IO client for code without an event loop (one namespace: the URL's path).

    ``options`` are those of :func:`aiosocketio.client.io` (``auth``, ``transports``,
    ``reconnection``, ...). Listeners may be added before or after :meth:`connect`.
    """

    __slots__ = (
        "_done",
        "_listeners",
        "_lock",
        "_runner",
        "_socket",
        "options",
        "url",
    )

    def __init__(self, url: str = "http://localhost", **options: Any) -> None:
        self.url = url
        self.options = options
        self._runner = LoopThread()
        self._socket: Any = None
        self._listeners: list[tuple[str, Callable[..., Any], bool]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    # ------------------------------------------------------------------ loop thread
    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return self._runner.loop

    @property
    def _thread(self) -> threading.Thread | None:
        return self._runner.thread

    @staticmethod
    def _refuse_event_loop() -> None:
        """Blocking here would block the caller's event loop, and a server on it."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(
            "SyncClient would block the running event loop of this thread: in async code, "
            "use the asyncio client (sock = await aiosocketio.connect(url, ...))"
        )

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._runner.run(coro, timeout)

    def _call_soon(self, func: Callable[..., Any], *args: Any) -> None:
        self._runner.call_soon(func, *args)

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        return self._runner.start()

    def _stop_loop(self) -> None:
        self._runner.stop()

    # ------------------------------------------------------------------ connecting
    def connect(self, timeout: float | None = 20.0) -> None:
        """Connect and wait for the namespace; raises what ``connect_error`` reports
        (ConnectionRefused, TransportError) or TimeoutError. RuntimeError at once on a
        thread that runs an event loop (use :func:`aiosocketio.connect` there)."""
        self._refuse_event_loop()
        with self._lock:
            if self._loop is not None:
                raise RuntimeError("the client is connected already")
            self._start_loop()
        try:
            self._run(self._connect(timeout))
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self, timeout: float | None) -> None:
        from . import io

        options = dict(self.options)
        options.setdefault("force_new", True)
        options.setdefault("auto_connect", False)
        sock = io(self.url, **options)
        for event, handler, once in self._listeners:
            (sock.once if once else sock.on)(event, handler)
        self._socket = sock
        self._done.clear()

        def on_disconnect(reason: str) -> None:
            if not sock.active:  # no reconnection follows
                self._done.set()

        sock.on("disconnect", on_disconnect)
        sock.connect()
        try:
            await sock.wait_connected(timeout)
        except BaseException:
            await sock.disconnect()
            raise

    def disconnect(self) -> None:
        """Disconnect, wait for the connection to close, and stop the loop thread.

        From a handler (on the client's thread) it only starts that: the thread stops
        once the connection is closed."""
        loop, sock = self._loop, self._socket
        if loop is None:
            return
        self._done.set()
        if threading.current_thread() is self._thread:
            self._runner.loop = self._runner.thread = None
            if sock is None:
                loop.stop()
            else:
                sock.disconnect().add_done_callback(lambda _: loop.stop())
            return
        try:
            if sock is not None:
                self._run(_await(sock.disconnect), 10.0)
        except Exception:
            log.exception("error while disconnecting")
        finally:
            self._stop_loop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the client is disconnected for good (by :meth:`disconnect`, or by
        the server without a reconnection); False after ``timeout`` seconds."""
        self._refuse_event_loop()
        return self._done.wait(timeout)

    close = disconnect

    def __enter__(self) -> SyncClient:
        if self._loop is None:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    # ------------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        sock = self._socket
        return bool(sock is not None and sock.connected)

    @property
    def id(self) -> str | None:
        sock = self._socket
        return None if sock is None else sock.id

    @property
    def recovered(self) -> bool:
        sock = self._socket
        return bool(sock is not None and sock.recovered)

    @property
    def socket(self) -> Any:
        """The asyncio socket (use it on the loop thread only, e.g. from a handler)."""
        return self._socket

    # ------------------------------------------------------------------ listeners
    # on() and once() (ListenerApi): a listener runs on the client's thread
    def _register(self, event: str, func: Callable[..., Any], once: bool) -> None:
        self._listeners.append((event, func, once))
        if self._socket is not None:
            method = self._socket.once if once else self._socket.on
            self._call_soon(method, event, func)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        self._listeners = [
            item
            for item in self._listeners
            if not (event is None or (item[0] == event and handler in (None, item[1])))
        ]
        if self._socket is not None:
            self._call_soon(self._socket.off, event, handler)

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event (buffered while disconnected); ``callback`` runs on the client's
        thread with the acknowledgement arguments."""
        self._call_soon(self._emit, event, args, callback)

    def _emit(self, event: str, args: tuple[Any, ...], callback: Any) -> None:
        try:
            self._socket.emit(event, *args, callback=callback)
        except Exception:
            log.exception("error while emitting %r", event)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        self.emit("message", *args, callback=callback)

    def call(self, event: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Emit and wait for the acknowledgement (None, the argument, or a tuple).
        Raises AckTimeout after ``timeout`` seconds, NotConnected on a disconnection."""
        self._refuse_event_loop()
        sock = self._socket
        if sock is None:
            raise RuntimeError("the client is not connected (call connect() first)")
        return self._run(sock.emit_with_ack(event, *args, timeout=timeout))

    emit_with_ack = call

    def sleep(self, seconds: float) -> None:
        """Sleep without blocking the client's thread (handlers keep running)."""
        threading.Event().wait(seconds)


async def _await(make: Callable[[], Any]) -> None:
    await make()
