"""The PostgreSQL store: one database shared by every host (kiosks, attendants, API workers).

The database guards the invariants itself (an exclusion constraint on live bookings, unique keys, check
constraints, an append-only audit table); the schema is versioned SQL in ``migrations/``. The driver (psycopg 3
and its pool, the ``postgres`` extra) is imported only when a store is opened.
"""

from __future__ import annotations

from typing import Any

from .options import OPTIONS


def _driver() -> None:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        from ...domain.errors import StorageError

        raise StorageError(
            "a postgresql:// database needs the PostgreSQL driver: pip install 'parking-tui[postgres]'"
        ) from None


def open_store(target: str, **options: Any):
    """The store over the database at the URL ``target`` (an empty database is initialised)."""
    _driver()
    from .store import open_store as _open

    return _open(target, **options)


def operations(target: str, **options: Any):
    _driver()
    from .operations import PgOperations

    return PgOperations(target, **options)


__all__ = ["OPTIONS", "open_store", "operations"]
