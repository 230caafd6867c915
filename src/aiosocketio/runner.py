"""``aiosocketio.run()`` and ``Server.run()``: serve from Python, in this process or in
worker processes (the same as ``aiosocketio serve``)."""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .workers import supervisor

if TYPE_CHECKING:
    from .server.server import Server

__all__ = ["app_spec", "run"]


def run(
    app: str | Server | Any,
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    workers: int | str | None = None,
    grace: float = 10.0,
    log_level: str = "info",
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, as ``aiosocketio serve`` does.

    ``app`` is a :class:`~aiosocketio.Server`, a function returning one, or its import path
    (``"module:attribute"``). With ``workers`` (a number, or ``"auto"``: one per CPU), a
    supervisor runs that many worker processes, each of which imports the app: the server
    (or function) must then be a module attribute, and the call must be guarded by
    ``if __name__ == "__main__":`` (each worker imports the module again). Raises
    ``SystemExit`` with the exit code of ``aiosocketio serve`` when it fails."""
    from . import cli

    if supervisor.in_worker:
        raise RuntimeError(
            "run() was called while a worker process imported the app: call it under "
            "`if __name__ == '__main__':` so that it runs in the supervisor only"
        )
    count = None if workers is None else supervisor.workers_arg(str(workers))
    if count is None and not isinstance(app, str):
        code = _run_here(app, host, port, log_level)
    else:
        spec, import_path = app_spec(app) if not isinstance(app, str) else (app, [])
        args = ["serve", "--app", spec, "--host", host, "--port", str(port)]
        args += ["--log-level", log_level, "--grace", str(grace)]
        if count is not None:
            parsed = cli._parser().parse_args(args)
            parsed.workers = count
            cli._setup_logging(log_level, False)
            code = cli._supervise(parsed, import_path)
        else:
            code = cli.main(args)
    if code:
        raise SystemExit(code)


def app_spec(app: Any) -> tuple[str, list[str]]:
    """The ``module:attribute`` that imports ``app`` in another process, and the directories
    to add to its import path; ValueError when there is none."""
    if callable(app) and not hasattr(app, "engine"):
        module_name = getattr(app, "__module__", None)
        name = getattr(app, "__qualname__", "")
        module = sys.modules.get(module_name or "")
        if module is None or not name or "<" in name:
            raise ValueError(f"{app!r} cannot be imported by name (define it in a module)")
        return _module_spec(module, name)
    main = sys.modules.get("__main__")
    modules = [main] if main is not None else []
    modules += [m for m in list(sys.modules.values()) if m is not main]
    for module in modules:
        for name, value in list(vars(module).items()):
            if value is app and not name.startswith("__"):
                return _module_spec(module, name)
    raise ValueError(
        "the server is not a module attribute, so the workers cannot import it: define it "
        "at the top level of a module (io = Server(...)), or pass its import path "
        '("module:attribute") or a function that returns it'
    )


def _module_spec(module: ModuleType, attribute: str) -> tuple[str, list[str]]:
    name = module.__name__
    if name != "__main__":
        return f"{name}:{attribute}", []
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return f"{spec.name}:{attribute}", [os.getcwd()]  # python -m package.module
    path = getattr(module, "__file__", None)
    if not path:
        raise ValueError("the app's module has no file (interactive session?): workers need one")
    directory, filename = os.path.split(os.path.abspath(path))
    stem = os.path.splitext(filename)[0]
    if not stem.isidentifier():
        raise ValueError(f"{filename} cannot be imported as a module: rename it")
    return f"{stem}:{attribute}", [directory]


def _run_here(app: Any, host: str, port: int, log_level: str) -> int:
    from . import cli
    from .server.server import Server

    if not isinstance(app, Server):
        app = app()
    if not isinstance(app, Server):
        raise TypeError(f"not an aiosocketio.Server: {app!r}")
    cli._setup_logging(log_level, False)
    with contextlib.suppress(KeyboardInterrupt):
        cli._run(_serve(app, host, port))
    return supervisor.EXIT_OK


async def _serve(server: Server, host: str, port: int) -> int:
    await server.serve(host, port)  # prints where it listens; stops on SIGINT or SIGTERM
    return supervisor.EXIT_OK
