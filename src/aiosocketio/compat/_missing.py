"""python-socketio's names for what aiosocketio.compat does not offer: using one raises an
error that says what to use instead (rather than an AttributeError at import)."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["unsupported"]

_WHY = {
    "Server": "the WSGI server is not supported: use AsyncServer with ASGIApp",
    "WSGIApp": "WSGI is not supported: use ASGIApp (under uvicorn, hypercorn, ...)",
    "Middleware": "WSGI is not supported: use ASGIApp (under uvicorn, hypercorn, ...)",
    "get_tornado_handler": "tornado is not supported: use ASGIApp",
    "Manager": "the WSGI server's manager is not supported: use AsyncManager",
    "PubSubManager": "use AsyncRedisManager, or aiosocketio's cluster adapters",
    "Namespace": "the WSGI server is not supported: use AsyncNamespace",
    "ClientNamespace": "use AsyncClientNamespace with AsyncClient",
}


def unsupported(name: str, base: type = object) -> Any:
    """A class (or function) named ``name`` that refuses to be used."""
    why = _WHY.get(name, "not supported")

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"socketio.{name} is not in aiosocketio.compat: {why}")

    if name[0].islower():
        refuse.__name__ = name
        return refuse
    return type(name, (base,), {"__init__": refuse, "__doc__": f"Not supported: {why}."})
