"""The PostgreSQL store: the port's repositories over SQL, with psycopg 3 and its connection pool.

Transactions. A unit of work is one READ COMMITTED transaction that takes a transaction-scoped advisory lock
on what it reads with intent to write: the lot (when it reads a lot, its slots or its bookings) and the user
(when it reads a user or a user's live bookings). Two units on different lots and different drivers run in
parallel; two on one lot or one driver run one after the other, so every read-check-write of the service holds
across hosts as it does under the TinyDB store's one lock (the per-driver rules too). Nothing is retried
behind the service's back once the server has answered: a deadlock the database breaks, a lost connection or a
server restart becomes a ``StorageError`` with nothing written (a connection found broken before any answer, as
after a restart, is replaced and the unit sent again). The database refuses what breaks an invariant whatever
the service checked (exclusion constraint, unique keys): those refusals become the same ``Conflict`` the TinyDB
store gives.

Reads outside a unit (``view()``) are one REPEATABLE READ READ ONLY transaction: one consistent snapshot, no
lock.

Round trips. Each connection works in pipeline mode and every statement is prepared at its first use on it
(see ``_Tx``): a lock travels with the read it guards, a session with its user, a slot with its lot, writes and
audit lines with the next read or the COMMIT, and a view's COMMIT with the next call's first read. What a call
asks next is sent ahead where it is known: a booking's live bookings of the slot and of the driver and the lot's
started reservations come with the slot's lock (``_Tx.read_ahead_for_slot``), a small lot's slots and live
bookings with the lot in a view (``_Lots.get``), the next block of booking ids with a COMMIT. A create_booking
costs 8 statements and 4 round trips (31 round trips at first), available_slots 6 statements and 2 round trips
(3 the first time a process looks at a lot).

Live views. ``change_token(lot)`` reads one row of ``lot_changes``, a counter that triggers bump in the
transaction of every change to the lot, its slots or its bookings (so it changes at commit, on every host at
once): one indexed read of one row per screen and second. LISTEN/NOTIFY would spare that read but costs every
write more: PostgreSQL serialises the commits of all transactions that notify (a cluster-wide lock held until
after the commit's WAL flush, ``PreCommit_Notify``), so commits can no longer share a flush. Measured with
pgbench, 8 clients, fsync on, a booking-sized transaction: 1,656 commits/s with no change tracking, 1,263/s with
the counter, 523/s with ``pg_notify`` in the transaction (``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from types import TracebackType
import threading
import typing
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from ...domain.errors import ParkingError, StorageError
from ...domain.models import LotPolicy
from ...domain.ports import (
    AuditEvent,
    AuditFilter,
    BookingQuery,
    BookingRow,
    HourCounts,
    HourWindow,
    LoginStateRow,
    LotRow,
    SessionRow,
    SlotRow,
    UserRow,
)
from . import schema
from .options import OPTIONS  # the open_service(**options) keys this store takes
from .errors import describe_url, translate

# The pool reports connection attempts through logging; with no handler configured, Python would print them to
# stderr - over a full-screen terminal app. The store's own errors say what matters.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


LIVE_SQL = "('reserved', 'checked_in')"
_LOT_LOCK = 1
_WARM_MAX = 2  # connections kept aside with a view's COMMIT unanswered
_ID_BLOCK = 32  # booking ids a process takes from the sequence at a time
_ID_LOW = 8  # ids left in the block when the next block is asked for (see PostgresStore._booking_id)
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('bookings', 'id')) FROM generate_series(1, %s)"
_USER_LOCK = 2

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- rows


def _utc(value: datetime | None) -> datetime | None:
    # The connections read times in UTC (TimeZone=UTC): psycopg gives them with timezone.utc already.
    if value is None or value.tzinfo is timezone.utc:
        return value
    return value.astimezone(timezone.utc)


def _policy_out(policy: LotPolicy | None) -> Jsonb | None:
    return Jsonb(asdict(policy)) if policy is not None else None


_POLICY_FIELDS = {f.name for f in fields(LotPolicy)}


def _policy_in(value: Any) -> LotPolicy | None:
    if value is None:
        return None
    return LotPolicy(**{k: v for k, v in value.items() if k in _POLICY_FIELDS})


USER_COLS = "username, email, password_hash, phone_number, is_admin, active, created_at, password_changed_at"
SESSION_COLS = "token_hash, username, created_at, expires_at"
LOGIN_COLS = "username, failures, last_failure, locked_until"
LOT_COLS = "id, name, location, total_slots, time_zone, policy, created_at"
SLOT_COLS = "id, lot_id, slot_number, admin_status, mark_until, mark_reason, retired"
BOOKING_FIELDS = (
    "id", "slot_id", "lot_id", "slot_number", "username", "start_time", "end_time", "status", "confirmation_code",
    "plate", "attention", "moved_from", "created_at", "grace_from", "checked_in_at", "checked_out_at",
    "cancelled_at",
)
BOOKING_COLS = ", ".join(BOOKING_FIELDS)
AUDIT_COLS = 'at, "user", terminal, op, details, committed'


SLOTS_OF_LOT = f"SELECT {SLOT_COLS} FROM slots WHERE lot_id = %s ORDER BY id"
LIVE_OF_LOT = f"SELECT {BOOKING_COLS} FROM bookings WHERE status IN {LIVE_SQL} AND lot_id = %s ORDER BY start_time, id"
_LOT_STATE = {"slots": SLOTS_OF_LOT, "live": LIVE_OF_LOT}


def _cols(cols: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in cols.split(","))


# Statements that read two tables at once (built once, not per call).
SESSION_WITH_USER = (
    f"SELECT {_cols(SESSION_COLS, 's')}, {_cols(USER_COLS, 'u')} FROM sessions s"
    " LEFT JOIN users u ON lower(u.username) = lower(s.username) WHERE s.token_hash = %s"
)
SLOT_WITH_LOT = (
    f"SELECT {_cols(SLOT_COLS, 's')}, {_cols(LOT_COLS, 'l')} FROM slots s JOIN lots l ON l.id = s.lot_id WHERE s.id = %s"
)
# A slot's live bookings come through the exclusion constraint's gist index (schema 5), which matches a bigint only.
LIVE_OF_SLOT = (
    f"SELECT {BOOKING_COLS} FROM bookings WHERE status IN {LIVE_SQL} AND slot_id = %s::bigint ORDER BY start_time, id"
)
LIVE_OF_USER_WITH_LOTS = (
    f"SELECT {_cols(BOOKING_COLS, 'b')}, {_cols(LOT_COLS, 'l')} FROM bookings b JOIN lots l ON l.id = b.lot_id"
    f" WHERE b.status IN {LIVE_SQL} AND b.username = %s ORDER BY b.start_time, b.id"
)


# A booking's reads sent ahead with its slot's lock (see _Tx.read_ahead_for_slot), as one statement: each row
# says which read it answers - 1 the slot's live bookings, 2 the driver's live bookings with their lots, 3 the
# reservations of the slot's lot that started before an instant - then the booking, then (2) its lot.
_NO_LOT = "NULL::bigint, NULL::text, NULL::text, NULL::integer, NULL::text, NULL::jsonb, NULL::timestamptz"
BOOKING_READ_AHEAD = (
    f"SELECT 1, {BOOKING_COLS}, {_NO_LOT} FROM bookings"
    f" WHERE status IN {LIVE_SQL} AND slot_id = %(slot)s::bigint"
    f" UNION ALL SELECT 2, {_cols(BOOKING_COLS, 'b')}, {_cols(LOT_COLS, 'l')} FROM bookings b"
    f" JOIN lots l ON l.id = b.lot_id WHERE b.status IN {LIVE_SQL} AND b.username = %(user)s"
    f" UNION ALL SELECT 3, {BOOKING_COLS}, {_NO_LOT} FROM bookings WHERE status = 'reserved'"
    " AND lot_id = (SELECT lot_id FROM slots WHERE id = %(slot)s::bigint) AND start_time < %(until)s"
    " ORDER BY 1, 7, 2"  # which read, start_time, id
)


class _Ahead:
    """The answer of ``BOOKING_READ_AHEAD``, fetched when first used and split by read."""

    __slots__ = ("sent", "until", "parts")

    def __init__(self, sent: _Sent, until: datetime | None) -> None:
        self.sent, self.until = sent, until
        self.parts: dict[int, list[tuple]] | None = None

    def part(self, tx: _Tx, kind: int) -> list[tuple]:
        if self.parts is None:
            self.parts = {1: [], 2: [], 3: []}
            for r in tx.fetched(self.sent):
                self.parts[r[0]].append(r)
        return self.parts[kind]


def _user_key(username: str) -> int:
    """The advisory lock key of a user: the first 32 bits of the MD5 of the lower-cased name, as a signed int
    - the same number ``_USER_KEY_SQL`` computes in the database (so a lock can be taken there by a join)."""
    return int.from_bytes(hashlib.md5(username.lower().encode()).digest()[:4], "big", signed=True)


_USER_KEY_SQL = "('x' || substr(md5(lower({})), 1, 8))::bit(32)::int"


def _user(r: tuple) -> UserRow:
    return UserRow(r[0], r[1], r[2], r[3], r[4], r[5], _utc(r[6]), _utc(r[7]))


def _session(r: tuple) -> SessionRow:
    return SessionRow(r[0], r[1], _utc(r[2]), _utc(r[3]))


def _login(r: tuple) -> LoginStateRow:
    return LoginStateRow(r[0], r[1], _utc(r[2]), _utc(r[3]))


# The capacity of each lot whose row this process has read (an upper bound of its slots: see _small_lot).
_lot_capacity: dict[int, int] = {}


def _lot(r: tuple) -> LotRow:
    if len(_lot_capacity) >= 10_000:
        _lot_capacity.clear()
    _lot_capacity[int(r[0])] = r[3]
    return LotRow(int(r[0]), r[1], r[2], r[3], r[4], _policy_in(r[5]), _utc(r[6]))


# Rows read again as they were (a lot's slots and live bookings, read by every map, availability and booking)
# are mapped once: the typed row is kept by the values read, so a slot or booking that did not change costs a
# dictionary lookup instead of building a row. Keyed by every column, so a changed row is a new entry.
_MEMO_MAX = 20_000
_slot_memo: dict[tuple, SlotRow] = {}
_booking_memo: dict[tuple, BookingRow] = {}


def _slot(r: tuple) -> SlotRow:
    row = _slot_memo.get(r)
    if row is None:
        if len(_slot_memo) >= _MEMO_MAX:
            _slot_memo.clear()
        row = _slot_memo[r] = SlotRow(int(r[0]), int(r[1]), r[2], r[3], _utc(r[4]), r[5], r[6])
    return row


def _booking(r: tuple) -> BookingRow:
    row = _booking_memo.get(r)
    if row is None:
        if len(_booking_memo) >= _MEMO_MAX:
            _booking_memo.clear()
        row = _booking_memo[r] = BookingRow(
            int(r[0]), int(r[1]), int(r[2]), r[3], r[4], _utc(r[5]), _utc(r[6]), r[7], r[8], r[9], r[10], r[11],
            _utc(r[12]), _utc(r[13]), _utc(r[14]), _utc(r[15]), _utc(r[16]),
        )
    return row


# A lot's slots and live bookings as a whole (every map, availability check and booking reads them): kept with the
# rows read, so a lot read again unchanged costs one comparison of the rows (in C) instead of a lookup per row.
_LOT_MAX = 2_000
_lot_slots: dict[int, tuple[list[tuple], list[SlotRow], dict[int, int]]] = {}
_lot_live: dict[int, tuple[list[tuple], list[BookingRow]]] = {}


def _slots_of_lot(lot_id: int, raw: list[tuple]) -> tuple[list[tuple], list[SlotRow], dict[int, int]]:
    """The typed rows of a lot's slots (and slot id -> lot id) for the rows read."""
    hit = _lot_slots.get(lot_id)
    if hit is None or hit[0] != raw:
        if len(_lot_slots) >= _LOT_MAX:
            _lot_slots.clear()
        rows = [_slot(r) for r in raw]
        hit = _lot_slots[lot_id] = (raw, rows, {row.id: row.lot_id for row in rows})
    return hit


def _small_lot(lot_id: int) -> bool:
    """Whether this process knows the lot to have at most ``_AHEAD_SLOTS`` slots: it read them, or it read the
    lot's row and its capacity (a lot never has more slots than its capacity). A guess from another database
    with the same lot id costs a read ahead at worst, never a wrong answer."""
    hit = _lot_slots.get(lot_id)
    if hit is not None:
        return len(hit[0]) <= _AHEAD_SLOTS
    capacity = _lot_capacity.get(lot_id)
    return capacity is not None and capacity <= _AHEAD_SLOTS


_AHEAD_SLOTS = 500


def _live_of_lot(lot_id: int, raw: list[tuple]) -> list[BookingRow]:
    hit = _lot_live.get(lot_id)
    if hit is None or hit[0] != raw:
        if len(_lot_live) >= _LOT_MAX:
            _lot_live.clear()
        hit = _lot_live[lot_id] = (raw, [_booking(r) for r in raw])
    return hit[1]


def _audit(r: tuple) -> AuditEvent:
    return AuditEvent(_utc(r[0]), r[1], r[2], r[3], dict(r[4] or {}), bool(r[5]))


def _booking_params(row: BookingRow) -> tuple:
    return (
        row.slot_id, row.lot_id, row.slot_number, row.username, row.start_time, row.end_time, row.status,
        row.confirmation_code, row.plate, row.attention, row.moved_from, row.created_at, row.grace_from,
        row.checked_in_at, row.checked_out_at, row.cancelled_at,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _jsonb(details: dict[str, Any]) -> Jsonb:
    return Jsonb(details, dumps=lambda obj: json.dumps(obj, default=_json_default, ensure_ascii=False))


# The Summary chart's hours (ports.BookingsReader.hours), counted in one statement over the hours' bookings only:
# the lots' live bookings that start before the last hour ends (and the cars parked now), and the finished ones
# that count at or after the first hour (an index-only range, schema 3). Each booking becomes its run of hours -
# kind 0 occupied, 1 reserved; 2 a no-show and 3 an overstay, an instant - in hours since the lot's first hour
# (a float of seconds / 3600: exact on whole hours, and a microsecond off one is far above its rounding), and
# each run +1 at its first hour and -1 after its last; the client adds them up (kind 4: the lot's slots).
HOURS_SQL = f"""
WITH w AS (
    SELECT lot_id, unclaimed, date_part('epoch', first) AS f
      FROM unnest(%(lots)s::bigint[], %(firsts)s::timestamptz[], %(unclaimed)s::timestamptz[])
        AS w(lot_id, first, unclaimed)
), b AS (
    SELECT lot_id, status, start_time, end_time, checked_in_at,
           coalesce(checked_out_at, greatest(%(now)s, checked_in_at + interval '1 second')) AS left_at
      FROM bookings WHERE status IN {LIVE_SQL} AND lot_id = ANY(%(lots)s::bigint[]) AND start_time < %(until)s
    UNION ALL
    SELECT lot_id, status, start_time, end_time, checked_in_at,
           coalesce(checked_out_at, greatest(%(now)s, checked_in_at + interval '1 second'))
      FROM bookings WHERE status = 'checked_in' AND lot_id = ANY(%(lots)s::bigint[]) AND start_time >= %(until)s
    UNION ALL
    SELECT lot_id, status, start_time, end_time, checked_in_at, coalesce(checked_out_at, end_time)
      FROM bookings
     WHERE status NOT IN {LIVE_SQL} AND greatest(end_time, coalesce(checked_out_at, end_time)) >= %(since)s
), r AS (
    SELECT w.lot_id,
           CASE WHEN b.checked_in_at IS NOT NULL THEN 0
                WHEN b.status = 'reserved' AND b.start_time >= w.unclaimed THEN 1
                WHEN b.status IN ('expired', 'reserved') THEN 2 END AS kind,
           (date_part('epoch', coalesce(b.checked_in_at, b.start_time)) - w.f) / 3600 AS a,
           (date_part('epoch', CASE WHEN b.checked_in_at IS NOT NULL THEN b.left_at ELSE b.end_time END) - w.f)
               / 3600 AS z,
           CASE WHEN b.checked_in_at IS NOT NULL AND b.left_at > b.end_time
                THEN (date_part('epoch', b.end_time) - w.f) / 3600 END AS o
      FROM b JOIN w ON w.lot_id = b.lot_id
), e AS MATERIALIZED (
    SELECT lot_id, kind, greatest(0, floor(a))::int AS lo, least(%(hours)s::int, ceil(z))::int AS hi FROM r
     WHERE kind IN (0, 1) AND z > 0 AND a < %(hours)s::int AND z > a
    UNION ALL
    SELECT lot_id, 2, floor(a)::int, floor(a)::int + 1 FROM r WHERE kind = 2 AND a >= 0 AND a < %(hours)s::int
    UNION ALL
    SELECT lot_id, 3, floor(o)::int, floor(o)::int + 1 FROM r WHERE o >= 0 AND o < %(hours)s::int
)
SELECT lot_id, kind, 1, array_agg(lo) FROM e GROUP BY lot_id, kind
UNION ALL
SELECT lot_id, kind, -1, array_agg(hi) FROM e GROUP BY lot_id, kind
UNION ALL
SELECT lot_id, 4, count(*)::int, NULL FROM slots WHERE lot_id = ANY(%(lots)s::bigint[]) GROUP BY lot_id
"""


def _runs(diff: list[int], hours: int) -> tuple[int, ...]:
    """Hour by hour, from the differences (+1 where a run begins, -1 after it ends)."""
    return tuple(accumulate(diff[:hours]))


# --------------------------------------------------------------------------------------------- repositories


class _Repo:
    def __init__(self, tx: _Tx) -> None:
        self.tx = tx

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.tx.one(sql, params)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.tx.all(sql, params)


class _Users(_Repo):
    def get(self, username: str) -> UserRow | None:
        key = username.lower()
        if key in self.tx.user_rows:
            return self.tx.user_rows[key]  # read with the session (under the user's lock in a unit)
        if self.tx.writes:
            self.tx.lock_user(username)
        r = self._one(f"SELECT {USER_COLS} FROM users WHERE lower(username) = lower(%s)", (username,))
        row = self.tx.user_rows[key] = _user(r) if r else None
        return row

    def by_email(self, email: str) -> UserRow | None:
        if not email:
            return None
        r = self._one(f"SELECT {USER_COLS} FROM users WHERE lower(email) = lower(%s) AND email <> ''", (email,))
        return _user(r) if r else None

    def all(self) -> list[UserRow]:
        return [_user(r) for r in self._all(f"SELECT {USER_COLS} FROM users ORDER BY username COLLATE \"C\"")]

    def add(self, row: UserRow) -> None:
        self.tx.user_rows.pop(row.username.lower(), None)
        self.tx.run(
            f"INSERT INTO users ({USER_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (row.username, row.email, row.password_hash, row.phone_number, row.is_admin, row.active,
             row.created_at, row.password_changed_at),
        )

    def update(self, row: UserRow) -> None:
        self.tx.user_rows.pop(row.username.lower(), None)
        self.tx.run(
            "UPDATE users SET email = %s, password_hash = %s, phone_number = %s, is_admin = %s, active = %s,"
            " created_at = %s, password_changed_at = %s WHERE username = %s",
            (row.email, row.password_hash, row.phone_number, row.is_admin, row.active, row.created_at,
             row.password_changed_at, row.username),
        )


class _Sessions(_Repo):
    def get(self, token_hash: str) -> SessionRow | None:
        """The session, and its user with it (kept for the ``users.get`` that follows). In a unit of work the
        user's lock is taken first, by the same statement (``parking_session_locked``, schema 4)."""
        tx = self.tx
        if tx.writes:
            r = self._one("SELECT * FROM parking_session_locked(%s)", (token_hash,))
            if r is None:
                return None
            locked, r = r[0], r[1:]
        else:
            locked = None
            r = self._one(SESSION_WITH_USER, (token_hash,))
            if r is None:
                return None
        session = _session(r[:4])
        key = session.username.lower()
        if tx.writes:
            if locked is None or locked.lower() != key:
                return session  # the session appeared or changed between the two looks: users.get locks and reads
            tx.locked.add((_USER_LOCK, key))
        tx.user_rows[key] = _user(r[4:]) if r[4] is not None else None
        if tx.writes and r[4] is not None:
            tx.session_user = r[4]  # locked: the next read may bring this user's live bookings along
        tx.session_only = True  # until the next statement is sent
        return session

    def add(self, row: SessionRow) -> None:
        self.tx.run(
            f"INSERT INTO sessions ({SESSION_COLS}) VALUES (%s, %s, %s, %s)",
            (row.token_hash, row.username, row.created_at, row.expires_at),
        )

    def delete(self, token_hash: str) -> None:
        self.tx.run("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))

    def delete_for(self, username: str, *, keep: str | None = None) -> int:
        return self.tx.rowcount(
            "DELETE FROM sessions WHERE username = %s AND token_hash IS DISTINCT FROM %s", (username, keep)
        )

    def purge_expired(self, now: datetime) -> int:
        return self.tx.rowcount("DELETE FROM sessions WHERE expires_at <= %s", (now,))


class _LoginStates(_Repo):
    def get(self, username: str) -> LoginStateRow | None:
        r = self._one(f"SELECT {LOGIN_COLS} FROM login_states WHERE username = %s", (username,))
        return _login(r) if r else None

    def put(self, row: LoginStateRow) -> None:
        self.tx.run(
            f"INSERT INTO login_states ({LOGIN_COLS}) VALUES (%s, %s, %s, %s) ON CONFLICT (username) DO UPDATE"
            " SET failures = EXCLUDED.failures, last_failure = EXCLUDED.last_failure,"
            " locked_until = EXCLUDED.locked_until",
            (row.username, row.failures, row.last_failure, row.locked_until),
        )

    def clear(self, username: str) -> None:
        self.tx.run("DELETE FROM login_states WHERE username = %s", (username,))

    def count(self) -> int:
        return int(self._one("SELECT count(*) FROM login_states")[0])

    def all(self) -> list[LoginStateRow]:
        return [_login(r) for r in self._all(f"SELECT {LOGIN_COLS} FROM login_states ORDER BY username COLLATE \"C\"")]

    def forget(self, usernames: Sequence[str]) -> None:
        if usernames:
            self.tx.run("DELETE FROM login_states WHERE username = ANY(%s)", (list(usernames),))


class _Lots(_Repo):
    def get(self, lot_id: int) -> LotRow | None:
        # No lock: the service reads the lots of a driver's other bookings (their policies) while it holds the
        # lot it writes to; locking those too would let two units lock two lots in opposite orders. A unit that
        # changes a lot's row also reads its slots, which takes the lot's lock.
        # Read once per unit or view: the service asks for the same lot again for each of a driver's bookings.
        # In a view, the second lot asked for that is not known yet brings every lot (a few dozen rows): a list
        # of bookings (my bookings, reservations) reads the lot of each, one by one, and would otherwise wait once
        # per lot; a call about one lot still reads one.
        key = int(lot_id)
        if key not in self.tx.lot_rows:
            if not self.tx.writes and not self.tx.all_lots_read and self.tx.lots_asked:
                self.all()
                self.tx.lot_rows.setdefault(key, None)
            else:
                ahead = not self.tx.writes and self.tx.session_only and _small_lot(key)
                sent = self.tx.run(f"SELECT {LOT_COLS} FROM lots WHERE id = %s", (key,))
                if ahead:
                    # A view that asks for one lot right after the session (a map, availability) reads the lot's
                    # slots and live bookings next: they come in the same round trip, for a lot this process
                    # knows to be small (so a view that wanted the lot row only wastes little).
                    for kind in ("slots", "live"):
                        self.tx.ahead[(kind, key)] = self.tx.run(_LOT_STATE[kind], (key,))
                r = self.tx.fetched_one(sent)
                self.tx.lot_rows[key] = _lot(r) if r else None
                self.tx.lots_asked = True
        return self.tx.lot_rows[key]

    def all(self) -> list[LotRow]:
        rows = [_lot(r) for r in self._all(f"SELECT {LOT_COLS} FROM lots ORDER BY id")]
        self.tx.lot_rows.update((row.id, row) for row in rows)
        self.tx.all_lots_read = True
        return rows

    def add(self, row: LotRow) -> int:
        (new_id,) = self._one(
            "INSERT INTO lots (name, location, total_slots, time_zone, policy, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (row.name, row.location, row.total_slots, row.time_zone, _policy_out(row.policy), row.created_at),
        )
        self.tx.locked.add((_LOT_LOCK, int(new_id)))  # nobody else can know it yet
        self.tx.lot_rows.pop(int(new_id), None)
        return int(new_id)

    def update(self, row: LotRow) -> None:
        self.tx.lot_rows.pop(int(row.id), None)
        self.tx.run(
            "UPDATE lots SET name = %s, location = %s, total_slots = %s, time_zone = %s, policy = %s,"
            " created_at = %s WHERE id = %s",
            (row.name, row.location, row.total_slots, row.time_zone, _policy_out(row.policy), row.created_at,
             row.id),
        )


class _Slots(_Repo):
    def get(self, slot_id: int) -> SlotRow | None:
        # The slot with its lot (kept for the lots.get that follows). In a unit: the lot's lock first, then the
        # read, in one statement (parking_slot_locked, schema 4; read again under the right lock in the rare case
        # the slot moved to another lot in between).
        sql = SLOT_WITH_LOT
        tx = self.tx
        if tx.writes:
            user, tx.session_user = tx.session_user, None
            sent = tx.run("SELECT * FROM parking_slot_locked(%s)", (slot_id,))
            ahead = tx.read_ahead_for_slot(slot_id, user) if user is not None else None
            r = tx.fetched_one(sent)
            if r is not None:
                tx.locked.add((_LOT_LOCK, int(r[0]) & 0x7FFFFFFF))
                r = r[1:]
                if tx.lock_lot(int(r[1])):
                    r = self._one(sql, (slot_id,))
                    tx.read_ahead.clear()  # the slot moved to another lot in between: read again
                elif ahead is not None:
                    tx.read_ahead[("reserved", int(r[1]))] = ahead
        else:
            r = self._one(sql, (slot_id,))
        if r is None:
            return None
        slot = _slot(r[:7])
        self.tx.slot_lots[slot.id] = slot.lot_id
        self.tx.lot_rows.setdefault(slot.lot_id, _lot(r[7:]))
        return slot

    def in_lot(self, lot_id: int) -> list[SlotRow]:
        if self.tx.writes:
            self.tx.lock_lot(lot_id)
        _, rows, lots = _slots_of_lot(int(lot_id), self.tx.lot_state("slots", lot_id))
        self.tx.slot_lots.update(lots)
        return list(rows)

    def add(self, row: SlotRow) -> int:
        (new_id,) = self._one(
            "INSERT INTO slots (lot_id, slot_number, admin_status, mark_until, mark_reason, retired)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (row.lot_id, row.slot_number, row.admin_status, row.mark_until, row.mark_reason, row.retired),
        )
        return int(new_id)

    def update(self, row: SlotRow) -> None:
        self.tx.run(
            "UPDATE slots SET lot_id = %s, slot_number = %s, admin_status = %s, mark_until = %s,"
            " mark_reason = %s, retired = %s WHERE id = %s",
            (row.lot_id, row.slot_number, row.admin_status, row.mark_until, row.mark_reason, row.retired, row.id),
        )


class _Bookings(_Repo):
    def _locked_one(self, where: str, params: Sequence[Any]) -> BookingRow | None:
        sql = f"SELECT {BOOKING_COLS} FROM bookings WHERE {where}"
        # In a unit: the booking's lot is locked, then the booking read, in one round trip; read again in the
        # rare case it moved to another lot in between.
        taken = self.tx.lock_lot_of("bookings", where, params) if self.tx.writes else None
        r = self._one(sql, params)
        if taken is not None:
            taken()
            if r is not None and self.tx.lock_lot(int(r[2])):
                r = self._one(sql, params)
        return _booking(r) if r else None

    def get(self, booking_id: int) -> BookingRow | None:
        if not self.tx.writes:
            r = self._one(f"SELECT {BOOKING_COLS} FROM bookings WHERE id = %s", (booking_id,))
            return _booking(r) if r else None
        # The booking's lot locked, then the booking read, in one statement (parking_booking_locked, schema 4).
        r = self._one("SELECT * FROM parking_booking_locked(%s)", (booking_id,))
        if r is None:
            return None
        self.tx.locked.add((_LOT_LOCK, int(r[0]) & 0x7FFFFFFF))
        if self.tx.lock_lot(int(r[3])):  # it moved to another lot in between
            return self._locked_one("id = %s", (booking_id,))
        return _booking(r[1:])

    def by_code(self, code: str) -> BookingRow | None:
        return self._locked_one(
            f"confirmation_code = %s ORDER BY (status IN {LIVE_SQL}) DESC, id DESC LIMIT 1", (code,)
        )

    def live(
        self, *, lot_id: int | None = None, slot_id: int | None = None, username: str | None = None
    ) -> list[BookingRow]:
        slot_only = slot_id is not None and lot_id is None and username is None
        user_only = username is not None and lot_id is None and slot_id is None
        if self.tx.read_ahead and (slot_only or user_only):
            sent = self.tx.read_ahead.pop(("slot", int(slot_id)) if slot_only else ("user", username), None)
            if sent is not None:  # read after the same locks, and nothing written to bookings since
                rows = sent.part(self.tx, 1 if slot_only else 2)
                if user_only:  # the driver's bookings came with their lots
                    for r in rows:
                        self.tx.lot_rows.setdefault(int(r[18]), _lot(r[18:]))
                return [_booking(r[1:18]) for r in rows]
        if lot_id is not None and slot_id is None and username is None:
            if self.tx.writes:
                self.tx.lock_lot(lot_id)
            return list(_live_of_lot(int(lot_id), self.tx.lot_state("live", lot_id)))
        where = [f"status IN {LIVE_SQL}"]
        params: list[Any] = []
        taken = None
        if self.tx.writes:
            if lot_id is not None:
                self.tx.lock_lot(lot_id)
            if username is not None:
                self.tx.lock_user(username)
            if slot_id is not None and lot_id is None:
                known = self.tx.slot_lots.get(int(slot_id))
                if known is not None:
                    self.tx.lock_lot(known)
                else:
                    taken = self.tx.lock_lot_of("slots", "id = %s", (slot_id,))
        if lot_id is not None:
            where.append("lot_id = %s")
            params.append(lot_id)
        if slot_id is not None:
            where.append("slot_id = %s::bigint")
            params.append(slot_id)
        if username is not None:
            where.append("username = %s")
            params.append(username)
        if user_only:
            # A driver's bookings come with their lots (the per-driver rules read each one's policy next).
            rows = self._all(LIVE_OF_USER_WITH_LOTS, (username,))
            for r in rows:
                self.tx.lot_rows.setdefault(int(r[17]), _lot(r[17:]))
            return [_booking(r[:17]) for r in rows]
        sql = LIVE_OF_SLOT if slot_only else (
            f"SELECT {BOOKING_COLS} FROM bookings WHERE {' AND '.join(where)} ORDER BY start_time, id"
        )
        rows = self._all(sql, params)
        if taken is not None:
            taken()
        return [_booking(r) for r in rows]

    def reserved_starting_before(self, lot_id: int, instant: datetime) -> list[BookingRow]:
        ahead = self.tx.read_ahead.pop(("reserved", int(lot_id)), None)
        if ahead is not None and ahead.until is not None and instant <= ahead.until:
            # Read ahead for an instant at or after this one: the same rows, and some that started later.
            rows = ahead.part(self.tx, 3)
            if all(int(r[3]) == int(lot_id) for r in rows):
                return [_booking(r[1:18]) for r in rows if r[6] < instant]
        if self.tx.writes:
            self.tx.lock_lot(lot_id)
        rows = self._all(
            f"SELECT {BOOKING_COLS} FROM bookings WHERE status = 'reserved' AND lot_id = %s AND start_time < %s"
            " ORDER BY start_time, id",
            (lot_id, instant),
        )
        return [_booking(r) for r in rows]

    def query(self, q: BookingQuery, *, limit: int | None = None) -> list[BookingRow]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("lot_id", q.lot_id), ("slot_id", q.slot_id), ("username", q.username)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if q.statuses is not None:
            where.append("status = ANY(%s)")
            params.append(sorted(q.statuses))
        if q.ends_at_or_after is not None:
            where.append("(end_time >= %s OR checked_out_at >= %s)")
            params += [q.ends_at_or_after, q.ends_at_or_after]
        if q.text:
            squash = "upper(replace(replace({}, ' ', ''), '-', ''))"
            where.append(
                "(" + " OR ".join(f"strpos({squash.format(c)}, %s) > 0" for c in
                                  ("plate", "confirmation_code", "username", "slot_number")) + ")"
            )
            params += [q.text] * 4
        sql = f"SELECT {BOOKING_COLS} FROM bookings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time, id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(max(0, int(limit)))
        return [_booking(r) for r in self._all(sql, params)]

    def hours(self, windows: Sequence[HourWindow], hours: int, now: datetime) -> dict[int, HourCounts]:
        if not windows:
            return {}
        lot_ids = [int(w.lot_id) for w in windows]
        rows = self._all(
            HOURS_SQL,
            {"lots": lot_ids, "firsts": [w.first for w in windows], "unclaimed": [w.unclaimed_before for w in windows],
             "hours": int(hours), "now": now, "since": min(w.first for w in windows),
             "until": max(w.first for w in windows) + timedelta(hours=int(hours))},
        )
        slots = dict.fromkeys(lot_ids, 0)
        diffs = {lot_id: [[0] * (hours + 1) for _ in range(4)] for lot_id in lot_ids}
        for lot_id, kind, n, at in rows:
            if kind == 4:
                slots[int(lot_id)] = int(n)
                continue
            d = diffs[int(lot_id)][kind]
            for i in at:
                d[i] += n
        return {lot_id: HourCounts(slots[lot_id], *(_runs(d, hours) for d in diffs[lot_id])) for lot_id in lot_ids}

    def code_in_use(self, code: str) -> bool:
        r = self._one(f"SELECT EXISTS (SELECT 1 FROM bookings WHERE confirmation_code = %s AND status IN {LIVE_SQL})", (code,))
        return bool(r[0])

    def add(self, row: BookingRow) -> int:
        # The id comes from a block this process took from the sequence ahead (as the TinyDB store does), so the
        # INSERT needs no answer now: it travels with the next read or the COMMIT (a Conflict comes from there).
        new_id = self.tx.store._booking_id(self.tx)
        self.tx.read_ahead.clear()
        self.tx.run(
            f"INSERT INTO bookings ({', '.join(BOOKING_FIELDS)}) VALUES ({', '.join(['%s'] * 17)})",
            (new_id, *_booking_params(row)),
        )
        return new_id

    def update(self, row: BookingRow) -> None:
        sets = ", ".join(f"{c} = %s" for c in BOOKING_FIELDS[1:])
        self.tx.read_ahead.clear()
        self.tx.run(f"UPDATE bookings SET {sets} WHERE id = %s", (*_booking_params(row), row.id))


class _Audit(_Repo):
    def query(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        return audit_query(self.tx.all, filters, limit)

    def append(self, event: AuditEvent) -> None:
        if not self.tx.writes:
            raise StorageError("The audit log is written only inside a unit of work.")
        self.tx.events.append(event)


def audit_query(fetch_all: Callable[[str, Sequence[Any]], list[tuple]], filters: AuditFilter, limit: int) -> list[AuditEvent]:
    where: list[str] = []
    params: list[Any] = []
    if filters.user is not None:
        where.append("(\"user\" = %s OR details ->> 'owner' = %s)")
        params += [filters.user, filters.user]
    if filters.op is not None:
        where.append("op = %s")
        params.append(filters.op)
    if filters.code is not None:
        where.append("details ->> 'code' = %s")
        params.append(filters.code)
    if filters.booking_id is not None:
        where.append("details ->> 'booking_id' = %s")
        params.append(str(int(filters.booking_id)))
    if filters.since is not None:
        where.append("at >= %s")
        params.append(filters.since)
    if filters.until is not None:
        where.append("at < %s")
        params.append(filters.until)
    sql = f"SELECT {AUDIT_COLS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT %s"
    params.append(max(1, int(limit)))
    rows = fetch_all(sql, params)
    return [_audit(r) for r in reversed(rows)]


# --------------------------------------------------------------------------------------------- transactions


def _rollback(conn: psycopg.Connection) -> None:
    """End the connection's transaction, if any, with a ROLLBACK psycopg does not see: psycopg forgets every
    statement prepared on a connection when it sees one (a unit refused with a Conflict would cost the next
    units their prepared statements)."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    result = conn.pgconn.exec_(b"ROLLBACK")
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise psycopg.OperationalError((conn.pgconn.error_message or b"ROLLBACK failed").decode(errors="replace"))


class _Sent:
    """A statement sent in the pipeline; ``cur`` holds its answer once a later read or the commit fetched it."""

    __slots__ = ("sql", "params", "cur")

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        self.sql, self.params, self.cur = sql, params, None


class _Tx:
    """One transaction on one pooled connection: the view and the unit of work share it.

    The connection is in pipeline mode: what needs no answer yet (BEGIN, advisory locks, writes without
    RETURNING, the audit lines, COMMIT) is sent at once without waiting, and its answer is read with the next
    statement whose rows are needed. So a lock and the read it guards, or the audit lines and the COMMIT, cost
    one round trip. Statements are prepared on the server at their first use on a connection."""

    writes = False

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.conn: psycopg.Connection | None = None
        self._pipeline: Any = None  # the connection's pipeline() context, entered
        self._pipe: psycopg.Pipeline | None = None
        self.failed = False
        self.begin_sql = ""
        # Until the first answer arrives nothing has been done: a connection found broken then (the server
        # restarted, an idle connection was cut) is replaced and what was sent is sent again, once.
        self.answered = False
        self.retried = False
        self.sent: list[_Sent] = []
        self.locked: set[tuple[int, int | str]] = set()
        self.user_rows: dict[str, UserRow | None] = {}  # by lower-cased username, as read in this unit
        self.lot_rows: dict[int, LotRow | None] = {}
        self.all_lots_read = False
        self.lots_asked = False  # a lot was read alone (the next unknown one brings them all, in a view)
        self.slot_lots: dict[int, int] = {}  # slot id -> lot id, as read (a slot never changes lots)
        self.ahead: dict[tuple[str, int], _Sent] = {}  # a lot's slots or live bookings, asked for ahead (views)
        self.lot_state_read: set[tuple[str, int]] = set()
        # A unit's reads sent ahead with the slot it locks (see read_ahead_for_slot), by what they answer; any
        # write to bookings in the unit drops them.
        self.read_ahead: dict[tuple[str, Any], _Ahead] = {}
        self.session_user: str | None = None  # set while the session (and its user's lock) is all a unit read
        self.session_only = False  # the session is all this view or unit has read so far
        self.events: list[AuditEvent] = []
        self.on_release: list[Callable[[], None]] = []  # called once the transaction is over
        self.users = _Users(self)
        self.sessions = _Sessions(self)
        self.login_states = _LoginStates(self)
        self.lots = _Lots(self)
        self.slots = _Slots(self)
        self.bookings = _Bookings(self)
        self.audit = _Audit(self)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _begin(self, sql: str) -> None:
        self.begin_sql = sql
        self._connect()
        try:
            self.run(sql)
        except BaseException:
            self._release()
            raise

    def _connect(self) -> None:
        warm = self.store._take_warm()
        if warm is not None:
            self.conn, self._pipeline, self._pipe = warm
            return
        self.conn = self.store._getconn()
        try:
            self._pipeline = self.conn.pipeline()
            self._pipe = self._pipeline.__enter__()
        except BaseException as exc:
            self._pipeline = self._pipe = None
            self._release()
            raise translate(exc, self.store.where) from None

    def _usable(self) -> psycopg.Connection:
        if self.conn is None or self.failed:
            raise StorageError("This unit of work is over (rolled back after an error); nothing more is done in it.")
        return self.conn

    def run(self, sql: str, params: Sequence[Any] = ()) -> _Sent:
        """Send a statement; its answer (or its error) comes with the next read or the commit."""
        conn = self._usable()
        self.session_only = False
        sent = _Sent(sql, params)
        if not self.answered:
            self.sent.append(sent)
        try:
            sent.cur = conn.execute(sql, params)
        except BaseException as exc:
            self._again_or_fail(exc)
        return sent

    def _fetch(self, sent: _Sent, how: Callable[[psycopg.Cursor], T]) -> T:
        try:
            value = how(sent.cur)
        except BaseException as exc:
            self._again_or_fail(exc)
            try:
                value = how(sent.cur)
            except BaseException as exc2:
                self._fail(exc2)
        if not self.answered:
            self.answered = True
            self.sent.clear()
        return value

    def read_ahead_for_slot(self, slot_id: int, username: str) -> _Ahead:
        """Sent right after a unit's first lock and read of a slot, when the unit has read only the signed-in
        user's session before (a booking): what a booking asks next, in the same round trip - the slot's live
        bookings, the user's live bookings with their lots, and the reservations of the slot's lot that started
        before now on the service's clock (the no-shows to release: the service asks for those that started
        before its own "now", read before the unit began, less the grace period; a later instant is read
        again). Each is read after the slot's lot and the user are locked, as the service's own reads would be.
        One statement (``BOOKING_READ_AHEAD``); returns it, for the lot's key once the slot's lot is known."""
        until: datetime | None
        try:
            until = self.store.clock()
            until = (until if until.tzinfo is not None else until.astimezone()).astimezone(timezone.utc)
        except Exception:  # the service will say what is wrong with its clock; no reservations are read ahead
            until = None
        ahead = _Ahead(self.run(BOOKING_READ_AHEAD, {"slot": int(slot_id), "user": username, "until": until}), until)
        self.read_ahead[("slot", int(slot_id))] = ahead
        self.read_ahead[("user", username)] = ahead
        return ahead

    def fetched_one(self, sent: _Sent) -> tuple | None:
        return self._fetch(sent, lambda cur: cur.fetchone())

    def lot_state(self, kind: str, lot_id: int) -> list[tuple]:
        """A lot's slots (``kind`` "slots") or live bookings ("live"). The two are asked together (the map,
        availability, the overview, the chart): in a view, reading one sends the other's query along, so the
        second costs no round trip."""
        key = (kind, int(lot_id))
        sent = self.ahead.pop(key, None)
        if sent is None:
            sent = self.run(_LOT_STATE[kind], (int(lot_id),))
            other = ("live" if kind == "slots" else "slots", int(lot_id))
            if not self.writes and other not in self.ahead and other not in self.lot_state_read:
                self.ahead[other] = self.run(_LOT_STATE[other[0]], (int(lot_id),))
        self.lot_state_read.add(key)
        return self.fetched(sent)

    def fetched(self, sent: _Sent) -> list[tuple]:
        """The rows of a statement sent earlier (no wait if a later statement's answer has been read)."""
        return self._fetch(sent, lambda cur: cur.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self._fetch(self.run(sql, params), lambda cur: cur.fetchone())

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._fetch(self.run(sql, params), lambda cur: cur.fetchall())

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        sent = self.run(sql, params)

        def count(cur: psycopg.Cursor) -> int:
            assert self._pipe is not None
            self._pipe.sync()
            return cur.rowcount

        return self._fetch(sent, count)

    def _again_or_fail(self, exc: BaseException) -> None:
        """After a failure: send everything again on a fresh connection if nothing was answered yet and the
        connection itself broke; otherwise the unit is over (rolled back) and the error is raised."""
        conn = self.conn
        broken = conn is not None and (conn.closed or conn.broken)
        if self.answered or self.retried or not broken or not isinstance(exc, psycopg.OperationalError):
            self._fail(exc)
        self.retried = True
        self._release()
        self.store._drop_broken()
        self._connect()
        try:
            for sent in self.sent:
                sent.cur = self.conn.execute(sent.sql, sent.params)
        except BaseException as exc2:
            self._fail(exc2)

    def _fail(self, exc: BaseException) -> typing.NoReturn:
        self.failed = True
        self._rollback_quietly()
        raise translate(exc, self.store.where) from None

    def _lock(self, key: tuple[int, int]) -> bool:
        """Take the advisory lock ``key`` for the rest of the transaction (sent, not waited for: the next read
        waits for it); whether it was newly taken."""
        if key in self.locked:
            return False
        self.run("SELECT pg_advisory_xact_lock(%s, %s)", key)
        self.locked.add(key)
        return True

    def lock_lot(self, lot_id: int) -> bool:
        return self._lock((_LOT_LOCK, int(lot_id) & 0x7FFFFFFF))

    def lock_lot_of(self, table: str, where: str, params: Sequence[Any]) -> Callable[[], None]:
        """Send the lock of the lot of the row of ``table`` matching ``where``; call the result after the next
        read to note which lot that was (its answer has arrived by then)."""
        sent = self.run(
            f"SELECT l.lot_id, pg_advisory_xact_lock({_LOT_LOCK}, (l.lot_id & 2147483647)::int)"
            f" FROM (SELECT lot_id FROM {table} WHERE {where}) AS l",
            params,
        )

        def taken() -> None:
            for (lot_id, _) in self.fetched(sent):
                self.locked.add((_LOT_LOCK, int(lot_id) & 0x7FFFFFFF))

        return taken

    def lock_user(self, username: str) -> bool:
        key = (_USER_LOCK, username.lower())
        if key in self.locked:
            return False
        self.run("SELECT pg_advisory_xact_lock(%s, %s)", (_USER_LOCK, _user_key(username)))
        self.locked.add(key)
        return True

    def _end(self, sql: str) -> None:
        """Send ``sql`` (COMMIT) and leave pipeline mode: one round trip that also brings every
        answer not read yet (an error among them is raised)."""
        self._usable().execute(sql)
        self._end_pipeline()

    def _end_pipeline(self) -> None:
        pipeline, self._pipeline, self._pipe = self._pipeline, None, None
        pipeline.__exit__(None, None, None)

    def _rollback_quietly(self) -> None:
        conn = self.conn
        if conn is None:
            return
        pipeline, self._pipeline, self._pipe = self._pipeline, None, None
        if pipeline is not None:
            try:
                pipeline.__exit__(None, None, None)  # a Sync: the server ends an aborted batch
            except Exception:
                pass
        try:
            _rollback(conn)
        except Exception:
            try:
                conn.close()  # the pool drops a closed connection
            except Exception:
                pass

    def _release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        pipeline, self._pipeline, self._pipe = self._pipeline, None, None
        if pipeline is not None:
            try:
                pipeline.__exit__(None, None, None)
            except Exception:
                pass
            try:
                if not conn.closed:
                    _rollback(conn)
            except Exception:
                try:
                    conn.close()
                except Exception:
                    pass
        self.store._putconn(conn)
        calls, self.on_release = self.on_release, []
        for call in calls:
            call()


class _View(_Tx):
    def __enter__(self) -> _View:
        self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return self

    def __exit__(self, *exc: object) -> None:
        # COMMIT, not ROLLBACK, ends a read-only transaction just as well, and psycopg drops every prepared
        # statement of the connection when it sees a ROLLBACK. Nothing waits for its answer: the connection is
        # kept aside, still in pipeline mode, and the next view or unit of this process reads that answer with
        # its own first one (a view costs one round trip per read, nothing more).
        try:
            if self.conn is not None and not self.failed:
                self._usable().execute("COMMIT")
                if self.store._keep_warm(self.conn, self._pipeline, self._pipe):
                    self.conn = self._pipeline = self._pipe = None
                    return
                self._end_pipeline()
        except Exception:
            self._rollback_quietly()
        finally:
            self._release()


class PgUnitOfWork(_Tx):
    writes = True

    def __init__(self, store: PostgresStore) -> None:
        super().__init__(store)
        self.done = False

    def __enter__(self) -> PgUnitOfWork:
        self._begin("BEGIN ISOLATION LEVEL READ COMMITTED")
        return self

    def commit(self) -> None:
        if self.done:
            raise StorageError("This unit of work was already committed or rolled back.")
        events, self.events = self.events, []
        conn = self._usable()
        try:
            if events:
                # Not closed here: closing a cursor in a pipeline waits for its answer; the COMMIT brings it.
                conn.cursor().executemany(
                    f"INSERT INTO audit ({AUDIT_COLS}) VALUES (%s, %s, %s, %s, %s, %s)",
                    [(e.at, e.user, e.terminal, e.op, _jsonb(e.details), e.committed) for e in events],
                )
            self._end("COMMIT")
        except BaseException as exc:
            self._fail(exc)
        self.done = True

    def rollback(self) -> None:
        if not self.done:
            self.events.clear()
            self._rollback_quietly()
            self.done = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.rollback()
        finally:
            self._release()


# --------------------------------------------------------------------------------------------- the store


class PostgresStore:
    kind = "postgres"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = url
        # The service's clock (open_service passes it): a unit reads ahead the reservations that started before
        # its "now" (see _Tx.read_ahead_for_slot).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(timezone.utc))
        self.where = describe_url(url)
        self.connect_timeout = float(connect_timeout)
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StorageError(f"The database URL cannot be read: {exc}") from None
        options = " ".join(
            part for part in (
                str(params.get("options", "")),
                "-c TimeZone=UTC",
                f"-c statement_timeout={int(statement_timeout * 1000)}",
                "-c idle_in_transaction_session_timeout=60000",
            ) if part
        )
        self.kwargs: dict[str, Any] = {"options": options, "application_name": params.get("application_name", "parking-tui")}
        # Every statement is prepared on its connection at its first use (parse and plan once, then only
        # bind and execute): the repositories send a few dozen distinct statements over and over.
        self.pooled_kwargs: dict[str, Any] = {**self.kwargs, "row_factory": tuple_row, "autocommit": True,
                                              "prepare_threshold": 0}
        for key, value in (("connect_timeout", max(1, int(connect_timeout))), ("keepalives", 1),
                           ("keepalives_idle", 10), ("keepalives_interval", 5), ("keepalives_count", 3)):
            if key not in params:
                self.kwargs[key] = value
        self._unpooled: set[int] = set()
        # Connections whose last view's COMMIT was sent and not waited for (see _View.__exit__).
        self._warm: list[tuple[psycopg.Connection, Any, Any]] = []
        self._warm_lock = threading.Lock()
        self._booking_ids: list[int] = []  # ids taken from the sequence ahead, the next one last
        self._ids_coming = False  # the next block was asked for and not received yet
        self._ids_lock = threading.Lock()
        self._initialise()
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, int(pool_size)),
            kwargs=self.pooled_kwargs,
            timeout=self.connect_timeout,
            reconnect_timeout=24 * 3600,  # keep trying in the background while the server is away
            open=False,
            name="parking-tui",
        )
        try:
            self.pool.open(wait=False)
        except Exception as exc:  # the pool's own start-up; connections come when first asked for
            raise translate(exc, self.where) from None
        self._closed = False

    def _connect(self, **extra: Any) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, **{**self.kwargs, "row_factory": tuple_row, **extra})
        except Exception as exc:
            raise translate(exc, self.where) from None

    def _initialise(self) -> None:
        """Create the schema in an empty database; refuse an older or newer one."""
        with self._connect(autocommit=True) as conn:
            try:
                schema.apply(conn, only_if_empty=True)
                schema.check(conn)
            except ParkingError:
                raise
            except Exception as exc:
                raise translate(exc, self.where) from None

    def _getconn(self) -> psycopg.Connection:
        """A connection from the pool; when the pool has none to give within a second (all busy, or still
        waiting to reconnect after the server came back), a connection of its own, closed after use - so the
        first call after a restart works, and a server that is down says why at once."""
        if getattr(self, "_closed", False):
            raise StorageError("The store is closed.")
        try:
            # Not checked on the way out (that would be a round trip on every call): a connection found
            # broken at its first use is replaced then (see _Tx._again_or_fail).
            conn = self.pool.getconn(timeout=min(1.0, self.connect_timeout))
        except PoolTimeout:
            conn = self._connect(**self.pooled_kwargs)
            self._unpooled.add(id(conn))
        except Exception as exc:
            raise translate(exc, self.where) from None
        return conn

    def _drop_broken(self) -> None:
        """A connection was found broken (the server restarted?): drop the pool's idle ones that are too."""
        try:
            self.pool.check()
        except Exception:
            pass

    def _putconn(self, conn: psycopg.Connection) -> None:
        if id(conn) in self._unpooled:
            self._unpooled.discard(id(conn))
            try:
                conn.close()
            except Exception:
                pass
            return
        try:
            self.pool.putconn(conn)
        except Exception:
            pass

    # -- the port ---------------------------------------------------------------------------------------------
    def describe(self) -> str:
        return self.where

    @contextmanager
    def view(self) -> Iterator[_View]:
        with _View(self) as v:
            yield v

    def unit_of_work(self) -> PgUnitOfWork:
        return PgUnitOfWork(self)

    def change_token(self, lot_id: int | None = None) -> Hashable:
        if lot_id is None:
            row = self._read_one("SELECT count(*), coalesce(sum(n), 0) FROM lot_changes", ())
            return ("all", int(row[0]), int(row[1]))
        row = self._read_one("SELECT n FROM lot_changes WHERE lot_id = %s", (lot_id,))
        return ("lot", int(lot_id), int(row[0]) if row else 0)

    def _read_one(self, sql: str, params: Sequence[Any]) -> tuple | None:
        """One statement outside a transaction (a connection found broken is replaced once)."""
        for attempt in (1, 2):
            conn = self._getconn()
            try:
                return conn.execute(sql, params).fetchone()
            except Exception as exc:
                if attempt == 1 and conn.broken and isinstance(exc, psycopg.OperationalError):
                    self._drop_broken()
                    continue
                raise translate(exc, self.where) from None
            finally:
                self._putconn(conn)
        raise AssertionError("unreachable")

    def _booking_id(self, tx: _Tx) -> int:
        """A new booking id: from this process's block of ids taken from the sequence ahead (ids are never
        reused; a block cut short by an exit leaves a gap). When the block runs low, the next one is asked for in
        ``tx`` without waiting: its answer comes with the unit's COMMIT, so no booking waits for ids (only the
        first, or one after a unit that asked for them failed)."""
        with self._ids_lock:
            if not self._booking_ids:
                rows = tx.all(_NEXT_IDS, (_ID_BLOCK,))
                self._booking_ids.extend(sorted((int(r[0]) for r in rows), reverse=True))
            new_id = self._booking_ids.pop()
            if len(self._booking_ids) <= _ID_LOW and not self._ids_coming:
                sent = tx.run(_NEXT_IDS, (_ID_BLOCK,))
                self._ids_coming = True
                tx.on_release.append(lambda: self._ids_arrived(sent))
            return new_id

    def _ids_arrived(self, sent: _Sent) -> None:
        """The block asked for ahead, once its unit is over (lost with a unit that failed: a gap, no harm)."""
        try:
            ids = sorted((int(r[0]) for r in sent.cur.fetchall()), reverse=True) if sent.cur is not None else []
        except Exception:
            ids = []
        with self._ids_lock:
            self._booking_ids[:0] = ids  # after the ids left of the current block (the next one is last)
            self._ids_coming = False

    def _keep_warm(self, conn: psycopg.Connection, pipeline: Any, pipe: Any) -> bool:
        with self._warm_lock:
            if self._closed or len(self._warm) >= _WARM_MAX or id(conn) in self._unpooled:
                return False
            self._warm.append((conn, pipeline, pipe))
            return True

    def _take_warm(self) -> tuple[psycopg.Connection, Any, Any] | None:
        with self._warm_lock:
            return self._warm.pop() if self._warm else None

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        with self._warm_lock:
            self._closed = True
            warm, self._warm = self._warm, []
        for conn, pipeline, _ in warm:
            try:
                pipeline.__exit__(None, None, None)
            except Exception:
                pass
            self._putconn(conn)
        try:
            self.pool.close(timeout=2)
        except Exception:
            pass

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def open_store(target: str, **options: Any) -> PostgresStore:
    unknown = set(options) - OPTIONS
    if unknown:
        raise TypeError(f"unknown PostgreSQL store options: {', '.join(sorted(unknown))}")
    return PostgresStore(target, **options)
