"""``parking-tui db upgrade`` / ``db status``: the schema of the store the settings name.

On PostgreSQL the schema is versioned SQL (``storage/postgres/migrations``): ``upgrade`` applies what is missing,
each step in one transaction, and an app opening an older schema refuses with a message naming this command.
A TinyDB data folder upgrades itself when it is opened (a snapshot is taken first); ``upgrade`` opens it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def is_url(target: Any) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def add_commands(sub, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    db = sub.add_parser(
        "db",
        help="the store's schema (upgrade, status)",
        description="The schema of the store: a data file, or a PostgreSQL database given as "
        "--db postgresql://user@host/dbname.",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser(
        "upgrade",
        help="bring the schema up to this version's",
        description="Apply the schema changes this version of parking-tui needs (PostgreSQL: the SQL migrations "
        "not yet applied, each in one transaction; take a pg_dump backup first). A data file upgrades itself "
        "when opened; this opens it.",
    )
    add_db(up)
    status = db_sub.add_parser("status", help="print the schema version", description="Print the schema version.")
    add_db(status)
    export = sub.add_parser(
        "export",
        help="write everything to a file (to move it to another store)",
        description="Write users (with their password hashes), lots, slots, live and finished bookings and the "
        "audit log, every row with its id, to FILE (JSON lines). `parking-tui import FILE --db OTHER` loads it "
        "into another store, TinyDB or PostgreSQL. Sessions are not moved: people sign in again.",
    )
    export.add_argument("--to", metavar="FILE", required=True, help="the file to write (replaced if present)")
    add_db(export)
    load = sub.add_parser(
        "import",
        help="load an export file into an empty store",
        description="Load FILE (written by `parking-tui export`) into the store --db names, which must be empty. "
        "Ids are kept. On PostgreSQL the database checks every row (a file that would double-book a slot is "
        "refused whole).",
    )
    load.add_argument("file", metavar="FILE")
    add_db(load)


def need_driver() -> None:
    """``StorageError`` naming the extra when psycopg is not installed."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        from ..domain.errors import StorageError

        raise StorageError(
            "a postgresql:// database needs the PostgreSQL driver: pip install 'parking-tui[postgres]'"
        ) from None


def _pg_connect(url: str):
    need_driver()
    import psycopg

    from ..storage.postgres.errors import describe_url, translate

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except Exception as exc:
        raise translate(exc, describe_url(url)) from None


def transfer(args: argparse.Namespace, target: Path | str, options: dict[str, Any]) -> int:
    """``export`` / ``import``."""
    from ..storage import transfer as tr

    if is_url(target):
        need_driver()
    if args.command == "export":
        if is_url(target):
            from ..storage import postgres as backend
        else:
            from ..storage import tinydb as backend
        store = backend.open_store(str(target) if is_url(target) else target,
                                   **{k: v for k, v in options.items() if k in backend.OPTIONS})
        try:
            counts = tr.export(store, Path(args.to), source=store.describe())
        finally:
            store.close()
        verb, where = "exported to", args.to
    else:
        counts = tr.load(target, tr.read(Path(args.file)), **options)
        verb, where = "imported into", target
    print(
        f"{counts.get('user', 0)} users, {counts.get('lot', 0)} lots, {counts.get('slot', 0)} slots, "
        f"{counts.get('booking', 0)} bookings, {counts.get('audit', 0)} audit events {verb} {where}."
    )
    return 0


def dispatch(args: argparse.Namespace, target: Path | str, open_service: Callable[..., Any]) -> int:
    if not is_url(target):
        if args.db_command == "status":
            from ..storage import SCHEMA

            print(
                f"{target}: a TinyDB data file; this version writes schema {SCHEMA} "
                "and upgrades older data when opened."
            )
            return 0
        open_service(target)
        print(f"{target}: the data is at this version's schema.")
        return 0
    from ..storage.postgres import schema
    from ..storage.postgres.errors import describe_url, translate

    where = describe_url(str(target))
    with _pg_connect(str(target)) as conn:
        try:
            if args.db_command == "status":
                version = schema.current_version(conn)
                latest = schema.latest()
                if version is None:
                    print(f"{where}: not a parking-tui database (it holds other tables).")
                    return 1
                state = (
                    "empty (initialised at first open)"
                    if version == 0
                    else "current"
                    if version == latest
                    else "older: run `parking-tui db upgrade`"
                    if version < latest
                    else "newer than this parking-tui"
                )
                print(f"{where}: schema {version} of {latest}, {state}.")
                return 0 if version <= latest else 1
            applied = schema.apply(conn)
        except Exception as exc:
            raise translate(exc, where) from None
    if applied:
        for mig in applied:
            print(f"applied {mig.version:04d}_{mig.name}")
        print(f"{where}: schema {applied[-1].version}, current.")
    else:
        print(f"{where}: schema {schema.latest()}, already current; nothing to do.")
    return 0
