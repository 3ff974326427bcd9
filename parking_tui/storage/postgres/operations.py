"""Operator tools on a PostgreSQL database. Backups and restores are the database's own business (``pg_dump``,
``pg_restore``, point-in-time recovery): those methods raise ``NotSupported`` saying so. ``doctor`` checks what
the invariants rest on: the schema version, the constraints and triggers that enforce them, and the data."""

from __future__ import annotations

from typing import Any

import psycopg

from ...domain.errors import StorageError
from ...domain.ports import AuditEvent, AuditFilter, BackupCheck, Finding, NotSupported
from . import schema
from .errors import describe_url, translate
from .store import audit_query

BACKUP_HINT = (
    "backups of a PostgreSQL database are taken with its own tools: pg_dump -Fc -f parking.dump URL "
    "(restore with pg_restore --clean -d URL parking.dump), or the server's continuous archiving"
)

#: name -> what it guards; each must exist and be validated.
CONSTRAINTS = {
    "bookings_no_overlap": "no two live bookings of one slot overlap (exclusion constraint)",
    "bookings_window_check": "every booking ends after it starts",
    "bookings_slot_fkey": "every booking's slot exists, in the booking's lot",
    "slots_lot_number_key": "slot numbers are unique in their lot",
    "bookings_status_check": "booking statuses are known ones",
    "slots_admin_status_check": "slot marks are known ones",
}
INDEXES = {
    "users_username_key": "usernames are unique ignoring case",
    "users_email_key": "e-mail addresses are unique ignoring case",
    "bookings_live_code_key": "live confirmation codes are unique",
}
TRIGGERS = {
    "audit_no_update": "the audit log cannot be changed or deleted",
    "audit_no_truncate": "the audit log cannot be emptied",
    "bookings_changed": "live views see every booking change",
    "slots_changed": "live views see every slot change",
    "lots_changed": "live views see every lot change",
}


class PgOperations:
    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.where = describe_url(url)
        self.options = options

    def describe(self) -> str:
        return self.where

    # -- left to the database's tools ----------------------------------------------------------------------
    def backups(self) -> list[str]:
        raise NotSupported(BACKUP_HINT)

    def backup(self) -> str:
        raise NotSupported(BACKUP_HINT)

    def verify(self) -> list[BackupCheck]:
        raise NotSupported(BACKUP_HINT)

    def check_backup(self, name: str) -> None:
        raise NotSupported(BACKUP_HINT)

    def restore(self, name: str) -> str:
        raise NotSupported(BACKUP_HINT)

    # -- reading ----------------------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10, options="-c TimeZone=UTC")
        except Exception as exc:
            raise translate(exc, self.where) from None

    def audit(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        with self._connect() as conn:
            try:
                schema.check(conn)
                return audit_query(lambda sql, params: conn.execute(sql, params).fetchall(), filters, limit)
            except StorageError:
                raise
            except Exception as exc:
                raise translate(exc, self.where) from None

    def doctor(self) -> list[Finding]:
        try:
            conn = self._connect()
        except StorageError as exc:
            return [Finding("error", str(exc), "start the server, or check the URL, the network and TLS settings")]
        with conn:
            try:
                return self._doctor(conn)
            except Exception as exc:
                return [Finding("error", str(translate(exc, self.where)))]

    def _doctor(self, conn: psycopg.Connection) -> list[Finding]:
        out: list[Finding] = []
        (server,) = conn.execute("SHOW server_version").fetchone()
        out.append(Finding("info", f"{self.where}: PostgreSQL {server}"))
        try:
            version = schema.check(conn)
        except StorageError as exc:
            out.append(Finding("error", str(exc), "parking-tui db upgrade --db URL"))
            return out
        out.append(Finding("info", f"schema {version} (current)"))
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gist')").fetchone()[0]:
            out.append(Finding("error", "the btree_gist extension is missing", "CREATE EXTENSION btree_gist"))
        found = dict(conn.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid IN"
            " ('bookings'::regclass, 'slots'::regclass, 'users'::regclass)"
        ).fetchall())
        for name, what in CONSTRAINTS.items():
            if name not in found:
                out.append(Finding("error", f"constraint {name} is missing: nothing guarantees that {what}",
                                   "restore the schema from a pg_dump, or recreate it with the migration's SQL"))
            elif not found[name]:
                out.append(Finding("error", f"constraint {name} is not validated: {what} is not proven for old rows",
                                   f"ALTER TABLE ... VALIDATE CONSTRAINT {name}"))
        indexes = {r[0]: r[1] for r in conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = ANY(%s)", (list(INDEXES),)
        ).fetchall()}
        for name, what in INDEXES.items():
            if not indexes.get(name):
                out.append(Finding("error", f"unique index {name} is missing or invalid: nothing guarantees that {what}",
                                   "REINDEX, or recreate it with the migration's SQL"))
        triggers = dict(conn.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal AND tgname = ANY(%s)",
            (list(TRIGGERS),),
        ).fetchall())
        for name, what in TRIGGERS.items():
            state = triggers.get(name)
            if state is None or state == "D":
                out.append(Finding("error", f"trigger {name} is {'disabled' if state else 'missing'}: not ensured that {what}",
                                   f"ALTER TABLE ... ENABLE TRIGGER {name}"))
        overlaps = conn.execute(
            "SELECT a.id, b.id FROM bookings a JOIN bookings b ON a.slot_id = b.slot_id AND a.id < b.id"
            " AND a.during && b.during WHERE a.status IN ('reserved', 'checked_in')"
            " AND b.status IN ('reserved', 'checked_in') LIMIT 5"
        ).fetchall()
        for a, b in overlaps:
            out.append(Finding("error", f"live bookings {a} and {b} overlap on one slot", "cancel one of them"))
        for table in ("lots", "slots", "bookings"):
            row = conn.execute(
                f"SELECT coalesce(max(id), 0), (SELECT last_value FROM {table}_id_seq) FROM {table}"
            ).fetchone()
            if row[0] > row[1]:
                out.append(Finding("error", f"the {table} id sequence ({row[1]}) is behind the largest id ({row[0]})",
                                   f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        (superuser,) = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if superuser:
            out.append(Finding("warning", "connected as a superuser: the audit log's protection can be switched off by this role",
                               "give the app a role of its own (docs/operations.md, Many hosts)"))
        ssl = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        host = conn.info.host or ""
        if not (ssl and ssl[0]) and not host.startswith("/") and host not in ("localhost", "127.0.0.1", "::1"):
            out.append(Finding("warning", "the connection is not encrypted", "add ?sslmode=verify-full to the URL"))
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM lots), (SELECT count(*) FROM slots),"
            " (SELECT count(*) FROM bookings WHERE status IN ('reserved', 'checked_in')),"
            " (SELECT count(*) FROM bookings), (SELECT count(*) FROM audit)"
        ).fetchone()
        out.append(Finding("info", "{} users, {} lots, {} slots, {} live of {} bookings, {} audit events".format(*counts)))
        return out
