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


def open_service(path: str | os.PathLike[str] | None = None, *, clock: Clock | None = None, **options: Any) -> ParkingService:
    """Open (creating if needed) the data file at ``path`` and return the service over it.

    ``options`` go to the store (``lock_timeout``, ``file_mode``) or the service (``password_hasher``,
    ``session_ttl``).
    """
    from .storage import TinyStore

    store_keys = {"lock_timeout", "file_mode", "archive_buckets"}
    store_opts = {k: v for k, v in options.items() if k in store_keys}
    svc_opts = {k: v for k, v in options.items() if k not in store_keys}
    store = TinyStore(path if path is not None else default_db_path(), **store_opts)
    return ParkingService(store, clock=clock, **svc_opts)


__all__ = ["DEFAULT_DB", "ParkingService", "default_db_path", "open_service"]
