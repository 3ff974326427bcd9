"""Bulk loading into an EMPTY PostgreSQL database: every row with its own id, in one transaction (``COPY``).

Used by ``parking-tui import`` (rows moved from another store keep their ids, so the audit log's booking ids
and codes still point at the right bookings) and by the benchmark (200,000 bookings through ``create_booking``
would measure the loader, not the store). The database's constraints check every row as it arrives: a dump that
would double-book a slot is refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from ...domain.errors import StorageError
from ...domain.ports import AuditEvent, BookingRow, LoginStateRow, LotRow, SessionRow, SlotRow, UserRow
from .errors import translate
from .store import BOOKING_FIELDS, PostgresStore, _json_default

_TABLES = ("users", "sessions", "login_states", "lots", "slots", "bookings", "audit")


def _policy(policy: Any) -> str | None:
    return json.dumps(asdict(policy)) if policy is not None else None


def bulk_load(
    store: PostgresStore,
    *,
    users: Iterable[UserRow] = (),
    sessions: Iterable[SessionRow] = (),
    login_states: Iterable[LoginStateRow] = (),
    lots: Iterable[LotRow] = (),
    slots: Iterable[SlotRow] = (),
    bookings: Iterable[BookingRow] = (),
    audit: Iterable[AuditEvent] = (),
) -> dict[str, int]:
    """Fill an empty database; how many rows of each kind. ``StorageError`` if it holds data already, or if a
    row breaks a constraint (nothing is then written)."""
    conn = store._getconn()  # noqa: SLF001 - the store's own pool
    counts = dict.fromkeys(_TABLES, 0)
    try:
        conn.execute("BEGIN")
        for table in ("users", "lots", "bookings", "audit"):
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                raise StorageError(
                    f"The database at {store.where} already holds data ({table}); import needs an empty one."
                )
        # The per-lot change counters are set once at the end, not bumped per row.
        for table in ("lots", "slots", "bookings"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_changed")
        with conn.cursor() as cur:

            def copy(table: str, columns: str, rows: Iterable[tuple]) -> None:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
                    for row in rows:
                        counts[table] += 1
                        cp.write_row(row)

            copy(
                "users",
                "username, email, password_hash, phone_number, is_admin, active, created_at, password_changed_at",
                ((u.username, u.email, u.password_hash, u.phone_number, u.is_admin, u.active, u.created_at,
                  u.password_changed_at) for u in users),
            )
            copy("sessions", "token_hash, username, created_at, expires_at",
                 ((s.token_hash, s.username, s.created_at, s.expires_at) for s in sessions))
            copy("login_states", "username, failures, last_failure, locked_until",
                 ((s.username, s.failures, s.last_failure, s.locked_until) for s in login_states))
            copy("lots", "id, name, location, total_slots, time_zone, policy, created_at",
                 ((lot.id, lot.name, lot.location, lot.total_slots, lot.time_zone, _policy(lot.policy),
                   lot.created_at) for lot in lots))
            copy("slots", "id, lot_id, slot_number, admin_status, mark_until, mark_reason, retired",
                 ((s.id, s.lot_id, s.slot_number, s.admin_status, s.mark_until, s.mark_reason, s.retired)
                  for s in slots))
            copy("bookings", ", ".join(BOOKING_FIELDS),
                 (tuple(getattr(b, f) for f in BOOKING_FIELDS) for b in bookings))
            copy("audit", 'at, "user", terminal, op, details, committed',
                 ((e.at, e.user, e.terminal, e.op, json.dumps(e.details, default=_json_default), e.committed)
                  for e in audit))
        for table in ("lots", "slots", "bookings"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_changed")
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )
        conn.execute("INSERT INTO lot_changes (lot_id, n) SELECT id, 1 FROM lots ON CONFLICT (lot_id) DO UPDATE SET n = lot_changes.n + 1")
        conn.execute("COMMIT")
    except BaseException as exc:
        try:
            conn.rollback()
        except Exception:
            pass
        raise translate(exc, store.where) from None
    finally:
        store._putconn(conn)  # noqa: SLF001
    try:
        with store._connect(autocommit=True) as c:  # noqa: SLF001
            c.execute("ANALYZE")
    except StorageError:
        pass
    return counts
