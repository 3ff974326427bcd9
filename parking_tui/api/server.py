"""Serving the API with uvicorn: one process, or ``workers`` processes on the same data (the store is
multi-process safe). Each process opens its own service, once."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: How the settings reach worker processes (uvicorn starts them from an import string).
ENV_SETTINGS = "PARKING_TUI_API_SETTINGS"


@dataclass(frozen=True)
class ApiSettings:
    db: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: tuple[str, ...] = ()
    access_log: bool = False
    #: ``open_service`` options (file_mode, terminal, lock_timeout).
    service_options: dict[str, Any] = field(default_factory=dict)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> ApiSettings:
        data = json.loads(text)
        data["cors_origins"] = tuple(data.get("cors_origins", ()))
        return cls(**data)


def _open(settings: ApiSettings):
    from .. import open_service

    target = settings.db if "://" in settings.db else Path(settings.db)  # a database URL passes as it is
    return open_service(target, **settings.service_options)


def build_app(settings: ApiSettings, svc=None):
    from .app import create_app

    return create_app(svc if svc is not None else _open(settings), cors_origins=settings.cors_origins)


def app_from_environment():
    """The app factory each worker process calls (``uvicorn --factory``)."""
    return build_app(ApiSettings.from_env(os.environ[ENV_SETTINGS]))


def _check_port(host: str, port: int) -> str | None:
    """``None`` if ``host:port`` can be listened on, else why not (one line)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def serve(settings: ApiSettings) -> int:
    """Run until interrupted. The data file is opened first, so a bad one stops here with one line."""
    try:
        import uvicorn
    except ImportError:
        print(
            "parking-tui: the HTTP API needs FastAPI and uvicorn; install them with pip install 'parking-tui[api]'.",
            file=sys.stderr,
        )
        return 2
    svc = _open(settings)  # raises ParkingError (one line in the CLI) when the data is unusable
    problem = _check_port(settings.host, settings.port)
    if problem:
        print(f"parking-tui: {problem}", file=sys.stderr)
        return 1
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"parking-tui API on http://{shown}:{settings.port}/api/ (docs: /api/docs/), data {settings.db}, "
        f"{settings.workers} worker{'s' if settings.workers != 1 else ''}. Ctrl+C stops it.",
        flush=True,
    )
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": settings.access_log,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
    }
    logging.getLogger("parking_tui.api").setLevel(logging.INFO)
    if settings.workers <= 1:
        uvicorn.run(build_app(settings, svc), **common)
    else:
        del svc
        os.environ[ENV_SETTINGS] = settings.to_env()
        uvicorn.run("parking_tui.api.server:app_from_environment", factory=True, workers=settings.workers, **common)
    return 0
