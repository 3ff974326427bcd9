"""The schema: versioned SQL migrations (``migrations/NNNN_name.sql``), applied in order, each in its own
transaction, recorded in ``schema_version``.

* An empty database is initialised at the first open (every migration applied).
* An older schema is refused at open with a message naming ``parking-tui db upgrade``; that command applies
  what is missing.
* A newer schema (written by a newer parking-tui) is refused: this version would not know its rules.

Concurrent openers or upgraders take one advisory lock, so two hosts starting at once apply nothing twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ...domain.errors import StorageError

#: ``pg_advisory_lock`` key held while migrating ("parking" in ASCII, read as a number).
MIGRATION_LOCK = 0x7061726B696E67
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = _NAME.fullmatch(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..n: {versions}")
    return found


def latest() -> int:
    return len(migrations())


def current_version(conn: Any) -> int | None:
    """The schema version of the database; ``0`` for an empty database; ``None`` when the database holds
    tables but no ``schema_version`` (not a parking-tui database)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if row[0]:
        (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(version)
    (tables,) = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchone()
    return 0 if tables == 0 else None


def apply(conn: Any, *, only_if_empty: bool = False) -> list[Migration]:
    """Apply the missing migrations (all of them, for an empty database); what was applied.

    ``conn`` must be in autocommit mode. With ``only_if_empty``, a database that already has a schema is left
    alone (the first open initialises; it never upgrades)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        version = current_version(conn)
        if version is None:
            raise StorageError(
                "the database holds other tables and no parking-tui schema: give parking-tui a database of its own"
            )
        if only_if_empty and version != 0:
            return []
        newest = latest()
        if version > newest:
            raise newer_error(version, newest)
        applied = []
        for mig in migrations():
            if mig.version <= version:
                continue
            with conn.transaction():
                conn.execute(mig.sql)
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (mig.version, mig.name)
                )
            applied.append(mig)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def newer_error(version: int, newest: int) -> StorageError:
    return StorageError(
        f"the database has schema {version}, written by a newer parking-tui (this one knows schema {newest}): "
        "upgrade parking-tui on this host; the database was not changed"
    )


def check(conn: Any) -> int:
    """Raise ``StorageError`` unless the database's schema is the one this version knows; return it."""
    version = current_version(conn)
    newest = latest()
    if version is None:
        raise StorageError(
            "the database holds other tables and no parking-tui schema: give parking-tui a database of its own"
        )
    if version < newest:
        raise StorageError(
            f"the database has schema {version}, older than this parking-tui's schema {newest}: "
            "run `parking-tui db upgrade --db URL` (take a pg_dump backup first)"
        )
    if version > newest:
        raise newer_error(version, newest)
    return version
