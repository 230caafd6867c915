"""What the emitters (:mod:`.emitter` for Redis, :mod:`.emitter_postgres`) share: the rooms,
excluded rooms and flags of one emit (:class:`Operator`), and the modifiers an emitter passes
on to a new operator (:class:`Emitter`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

from .socketio.packets import RESERVED_EVENTS

__all__ = ["Emitter", "Operator", "check_event", "check_server_event", "room_list", "scoped"]


def room_list(rooms: tuple[str | Iterable[str], ...]) -> list[str]:
    """Rooms given one by one or as iterables, in one list."""
    out: list[str] = []
    for room in rooms:
        if isinstance(room, str):
            out.append(room)
        else:
            out.extend(room)
    return out


def scoped(nsp: str) -> str:
    """A namespace name with its leading slash."""
    return nsp if nsp.startswith("/") else "/" + nsp


def check_event(event: str) -> None:
    """ValueError for an event name the clients may not receive."""
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


def check_server_event(event: str, args: tuple[Any, ...] = ()) -> None:
    """ValueError for what the servers may not receive from an emitter: a reserved event
    name, or an acknowledgement callback as the last argument (an emitter gets no answers)."""
    if args and callable(args[-1]):
        raise ValueError("acknowledgements are not supported by the emitter")
    if event in RESERVED_EVENTS or event in ("connection", "new_namespace"):
        raise ValueError(f"{event!r} is a reserved event name")


class Operator:
    """Rooms, excluded rooms and flags of one emit; each modifier returns a new operator
    (:meth:`_with`, which keeps what the subclass adds)."""

    __slots__ = ("flags", "rooms", "skip")

    def __init__(
        self,
        rooms: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self.rooms = rooms
        self.skip = skip
        self.flags = flags if flags is not None else {}

    def _with(self, rooms: tuple[str, ...], skip: tuple[str, ...], flags: dict[str, Any]) -> Self:
        raise NotImplementedError

    def to(self, *rooms: str | Iterable[str]) -> Self:
        """Only the sockets in these rooms (any of them)."""
        merged = tuple(dict.fromkeys(self.rooms + tuple(room_list(rooms))))
        return self._with(merged, self.skip, self.flags)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> Self:
        """Not the sockets in these rooms."""
        merged = tuple(dict.fromkeys(self.skip + tuple(room_list(rooms))))
        return self._with(self.rooms, merged, self.flags)

    @property
    def volatile(self) -> Self:
        return self._with(self.rooms, self.skip, {**self.flags, "volatile": True})

    def compress(self, value: bool) -> Self:
        return self._with(self.rooms, self.skip, {**self.flags, "compress": value})

    def _opts(self) -> dict[str, Any]:
        return {"rooms": list(self.rooms), "except": list(self.skip)}


Op = TypeVar("Op", bound=Operator)


class Emitter(Generic[Op]):
    """The modifiers of an emitter: each gives a new operator (:attr:`_operator`)."""

    @property
    def _operator(self) -> Op:
        raise NotImplementedError

    def to(self, *rooms: str | Iterable[str]) -> Op:
        return self._operator.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> Op:
        return self._operator.except_(*rooms)

    @property
    def volatile(self) -> Op:
        return self._operator.volatile

    def compress(self, value: bool) -> Op:
        return self._operator.compress(value)
