"""The WSGI-style ``environ`` python-socketio gives ``connect`` handlers, made from the
client's handshake request."""

from __future__ import annotations

from typing import Any

from ..server.socket import Socket

__all__ = ["environ_of"]


def environ_of(socket: Socket) -> dict[str, Any]:
    """``REQUEST_METHOD``, ``PATH_INFO``, ``QUERY_STRING``, ``REMOTE_ADDR``, ``REMOTE_PORT``,
    ``wsgi.url_scheme``, ``CONTENT_TYPE`` / ``CONTENT_LENGTH`` and an ``HTTP_*`` entry per
    header, as python-socketio builds it under ASGI (without the ``asgi.*`` entries)."""
    request = socket.request
    remote = request.remote or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.url,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote[0],
        "REMOTE_PORT": str(remote[1]),
        "wsgi.url_scheme": "https" if request.secure else "http",
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    return environ
