"""``AsyncServer.instrument()``: python-socketio's admin UI options on aiosocketio's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..admin import AdminUI
from ..admin import instrument as native_instrument

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["instrument"]


def instrument(
    sio: AsyncServer,
    auth: Any,
    mode: str,
    read_only: bool,
    server_id: str | None,
    namespace: str,
    server_stats_interval: float,
) -> AdminUI:
    """python-socketio's ``auth``: a dict the UI's login must equal (``{"username": ...,
    "password": ...}``; a password that is a bcrypt hash is checked as one), a list of such
    dicts, a function of the login (plain or async), or False (no login)."""
    if auth is None:
        raise ValueError("auth must be specified")
    if mode not in ("development", "production"):
        raise ValueError("mode must be 'development' or 'production'")
    return native_instrument(
        sio.server,
        auth=_native_auth(auth),
        mode=mode,  # type: ignore[arg-type]
        read_only=read_only,
        namespace_name=namespace,
        server_id=server_id,
        stats_interval=server_stats_interval,
    )


def _native_auth(auth: Any) -> Any:
    if auth is False or callable(auth):
        return auth
    logins = auth if isinstance(auth, list) else [auth]
    if not logins or not all(isinstance(login, Mapping) for login in logins):
        raise ValueError("auth must be a dict, a list of dicts, a function, or False")
    if all(set(login) == {"username", "password"} for login in logins):
        return [{"type": "basic", **login} for login in logins]
    return lambda sent: any(dict(login) == sent for login in logins)
