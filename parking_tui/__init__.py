"""parking-tui: find a free slot, reserve it, check in and out - from a terminal.

``open_service`` is the composition root: it wires the TinyDB store under the pure domain service.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .domain.service import Clock, ParkingService

__version__ = "0.1.0"

DEFAULT_DB = Path("data") / "parking.json"


def default_db_path() -> Path:
    """``PARKING_TUI_DB`` if set, else ``data/parking.json`` under the working directory."""
    env = os.environ.get("PARKING_TUI_DB")
    return Path(env) if env else DEFAULT_DB


def terminal_id() -> str:
    """Where this process's user sits, for the audit log: ``PARKING_TUI_TERMINAL`` (a kiosk id), else the SSH
    client address, else the terminal device, else ``local``."""
    explicit = os.environ.get("PARKING_TUI_TERMINAL")
    if explicit:
        return explicit
    ssh = os.environ.get("SSH_CONNECTION")
    if ssh:
        return "ssh:" + ssh.split()[0]
    for fd in (0, 1, 2):
        try:
            return "tty:" + os.ttyname(fd)
        except OSError:
            continue
    return "local"


def open_service(path: str | os.PathLike[str] | None = None, *, clock: Clock | None = None, **options: Any) -> ParkingService:
    """Open (creating if needed) the data file at ``path`` and return the service over it.

    ``options`` go to the store (``lock_timeout``, ``file_mode``, ``backups``, ``backup_interval``) or the
    service (``password_hasher``, ``session_ttl``, ``terminal`` - the audit log's "from where").
    """
    from .storage import TinyStore

    store_keys = {"lock_timeout", "file_mode", "archive_buckets", "backups", "backup_interval"}
    store_opts = {k: v for k, v in options.items() if k in store_keys}
    svc_opts = {k: v for k, v in options.items() if k not in store_keys}
    svc_opts.setdefault("terminal", terminal_id())
    store = TinyStore(path if path is not None else default_db_path(), **store_opts)
    return ParkingService(store, clock=clock, **svc_opts)


__all__ = ["DEFAULT_DB", "ParkingService", "default_db_path", "open_service", "terminal_id"]
