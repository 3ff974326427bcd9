"""parking-tui: find a free slot, reserve it, check in and out - from a terminal.

``open_service`` is the composition root: it opens the store the target names (TinyDB files or PostgreSQL) and
hands it to the pure domain service through the port (:mod:`parking_tui.domain.ports`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def machine_time_zone() -> str:
    """This machine's IANA zone name: ``TZ`` if it names one, else ``/etc/localtime``'s link, else
    ``/etc/timezone``, else ``UTC``."""
    from zoneinfo import ZoneInfo

    candidates = []
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        candidates.append(tz)
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        pass
    for name in candidates:
        if not name or name.startswith("/") or ".." in name:
            continue
        try:
            ZoneInfo(name)
        except Exception:  # ZoneInfoNotFoundError, ValueError for a POSIX TZ string
            continue
        return name
    return "UTC"


def is_database_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_service(
    target: str | os.PathLike[str] | None = None, *, clock: Clock | None = None, **options: Any
) -> ParkingService:
    """Open (creating if needed) the data at ``target`` and return the service over it.

    ``target`` picks the store by its scheme: a path (default ``data/parking.json``) opens the TinyDB store; a
    ``postgresql://`` URL opens the PostgreSQL store (imported only then). ``options`` go to the store when it
    declares them (its ``OPTIONS``: TinyDB takes ``lock_timeout``, ``file_mode``, ``backups``,
    ``backup_interval``...) and otherwise to the service (``password_hasher``, ``session_ttl``, ``terminal`` -
    the audit log's "from where", ``time_zone`` - the zone new lots get, default this machine's).
    """
    backend: Any
    if is_database_url(target):
        from .domain.errors import StorageError

        try:
            from .storage import postgres as backend
        except ImportError as exc:
            raise StorageError(
                f"PostgreSQL needs the postgres extra (pip install 'parking-tui[postgres]'): {exc}."
            ) from None
        if not hasattr(backend, "open_store"):
            raise StorageError("This version of parking-tui cannot open a postgresql:// database yet.")
    else:
        from .storage import tinydb as backend

    store_keys: frozenset[str] = backend.OPTIONS
    store_opts = {k: v for k, v in options.items() if k in store_keys}
    svc_opts = {k: v for k, v in options.items() if k not in store_keys or k == "time_zone"}
    svc_opts.setdefault("terminal", terminal_id())
    if not svc_opts.get("time_zone"):
        svc_opts["time_zone"] = machine_time_zone()
    if "time_zone" in store_keys:
        store_opts.setdefault("time_zone", svc_opts["time_zone"])
        if not store_opts["time_zone"]:
            store_opts["time_zone"] = svc_opts["time_zone"]
    if "clock" in store_keys and clock is not None:
        store_opts["clock"] = clock  # a store that reads ahead by the service's time
    where = str(target) if is_database_url(target) else (target if target is not None else default_db_path())
    store = backend.open_store(where, **store_opts)
    from .domain.service import ParkingService

    return ParkingService(store, clock=clock, **svc_opts)


def __getattr__(name: str) -> Any:
    """``ParkingService`` is imported when first asked for (the sign-in screen shows before the domain loads)."""
    if name == "ParkingService":
        from .domain.service import ParkingService

        return ParkingService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_DB", "ParkingService", "is_database_url", "default_db_path", "machine_time_zone", "open_service", "terminal_id"]
