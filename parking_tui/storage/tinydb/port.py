"""The TinyDB store behind :mod:`parking_tui.domain.ports`: repositories over :class:`TinyStore`'s files.

Records stay what they are on disk (JSON dicts, ISO-8601 stamps in UTC); this module maps them to the port's
typed rows and back, allocates ids, and enforces the port's constraints (unique usernames and e-mails ignoring
case, unique slot numbers in a lot, no overlapping live bookings of a slot, unique live codes) under the
store's cross-process lock.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from types import TracebackType
from typing import Any

from ...domain import ports
from ...domain.errors import Conflict, StorageError
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
from .store import TinyStore

Record = dict[str, Any]
_EVENT_KEYS = ("at", "user", "terminal", "op", "tx", "committed")


# ---------------------------------------------------------------------------------------------------- mapping


def _stamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("a stored time must be aware")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


@lru_cache(maxsize=65536)
def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return _parse_time(value)


def _time_req(value: Any) -> datetime:
    out = _time(value)
    assert out is not None
    return out


def _record(row: Any, *, drop: tuple[str, ...] = ("id",)) -> Record:
    """A row as a record: datetimes as stamps, ``None`` left out (absent and null read the same)."""
    out: Record = {}
    for f in dataclasses.fields(row):
        if f.name in drop:
            continue
        value = getattr(row, f.name)
        if isinstance(value, datetime):
            value = _stamp(value)
        elif isinstance(value, LotPolicy):
            value = dataclasses.asdict(value)
        elif isinstance(value, frozenset):
            value = sorted(value)
        if value is not None:
            out[f.name] = value
    return out


def record_of(row: Any) -> Record:
    """A row as the record this store keeps, its ``id`` included (for bulk loads)."""
    return _record(row, drop=())


def _merge(old: Record | None, new: Record, row_type: type) -> Record:
    """``new`` over the fields of ``old`` this program does not know (kept for newer versions)."""
    if not old:
        return new
    known = {f.name for f in dataclasses.fields(row_type)}
    kept = {k: v for k, v in old.items() if k not in known}
    return kept | new


def user_row(rec: Record) -> UserRow:
    return UserRow(
        username=rec["username"],
        email=rec.get("email", ""),
        password_hash=rec.get("password_hash", ""),
        phone_number=rec.get("phone_number", ""),
        is_admin=bool(rec.get("is_admin", False)),
        active=bool(rec.get("active", True)),
        created_at=_time(rec.get("created_at")),
        password_changed_at=_time(rec.get("password_changed_at")),
    )


def session_row(rec: Record) -> SessionRow:
    return SessionRow(
        token_hash=rec["token_hash"],
        username=rec["username"],
        created_at=_time_req(rec.get("created_at", rec["expires_at"])),
        expires_at=_time_req(rec["expires_at"]),
    )


def login_row(rec: Record) -> LoginStateRow:
    return LoginStateRow(
        username=rec["username"],
        failures=int(rec.get("failures", 0)),
        last_failure=_time(rec.get("last_failure")),
        locked_until=_time(rec.get("locked_until")),
    )


def _policy(raw: Any) -> LotPolicy | None:
    if not raw:
        return None
    known = {f.name for f in dataclasses.fields(LotPolicy)}
    return LotPolicy(**{k: v for k, v in raw.items() if k in known})


def lot_row(rec: Record) -> LotRow:
    return LotRow(
        id=int(rec["id"]),
        name=rec.get("name", ""),
        location=rec.get("location", ""),
        total_slots=int(rec.get("total_slots", 0)),
        time_zone=rec.get("time_zone") or "UTC",
        policy=_policy(rec.get("policy")),
        created_at=_time(rec.get("created_at")),
    )


def slot_row(rec: Record) -> SlotRow:
    return SlotRow(
        id=int(rec["id"]),
        lot_id=int(rec["lot_id"]),
        slot_number=str(rec["slot_number"]),
        admin_status=rec.get("admin_status") or "available",
        mark_until=_time(rec.get("mark_until")),
        mark_reason=rec.get("mark_reason") or "",
        retired=bool(rec.get("retired", False)),
    )


def booking_row(rec: Record) -> BookingRow:
    return BookingRow(
        id=int(rec["id"]),
        slot_id=int(rec["slot_id"]),
        lot_id=int(rec.get("lot_id", 0)),
        slot_number=str(rec.get("slot_number", "")),
        username=rec["username"],
        start_time=_time_req(rec["start_time"]),
        end_time=_time_req(rec["end_time"]),
        status=rec["status"],
        confirmation_code=rec.get("confirmation_code", ""),
        plate=rec.get("plate") or "",
        attention=rec.get("attention") or "",
        moved_from=rec.get("moved_from") or "",
        created_at=_time(rec.get("created_at")),
        grace_from=_time(rec.get("grace_from")),
        checked_in_at=_time(rec.get("checked_in_at")),
        checked_out_at=_time(rec.get("checked_out_at")),
        cancelled_at=_time(rec.get("cancelled_at")),
    )


def audit_event(rec: Record) -> AuditEvent:
    at = rec.get("at")
    try:
        when = _time_req(at)
    except (TypeError, ValueError):
        when = datetime.min.replace(tzinfo=timezone.utc)
    return AuditEvent(
        at=when,
        user=str(rec.get("user", "")),
        terminal=str(rec.get("terminal", "")),
        op=str(rec.get("op", "")),
        details={k: v for k, v in rec.items() if k not in _EVENT_KEYS},
        committed=rec.get("committed") is not False,
    )


def audit_matches(event: AuditEvent, f: AuditFilter) -> bool:
    d = event.details
    if f.user is not None and event.user != f.user and d.get("owner") != f.user:
        return False
    if f.op is not None and event.op != f.op:
        return False
    if f.code is not None and d.get("code") != f.code:
        return False
    if f.booking_id is not None and d.get("booking_id") != f.booking_id:
        return False
    if f.since is not None and event.at < f.since:
        return False
    return f.until is None or event.at < f.until


def _by_start(b: BookingRow) -> tuple[datetime, int]:
    return (b.start_time, b.id)


def _squash(text: str) -> str:
    return text.upper().replace(" ", "").replace("-", "")


# ------------------------------------------------------------------------------------------- hours (the chart)
# A booking as the Summary chart counts it (see ports.BookingsReader.hours), in whole microseconds since the
# epoch: (reach, lot_id, status, start, end, came, left), came and left -1 when unknown. ``reach`` is the last
# instant a finished booking counts at (when the car left, else its end): an archive file's bookings are kept
# sorted by it, so a call bisects to the hours' bookings instead of reading a year of them.

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_HOUR = 3_600_000_000
_SECOND = 1_000_000


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _mark_of_record(rec: Record) -> tuple[int, int, str, int, int, int, int]:
    start, end = _us(datetime.fromisoformat(rec["start_time"])), _us(datetime.fromisoformat(rec["end_time"]))
    came_s, left_s = rec.get("checked_in_at"), rec.get("checked_out_at")
    came = _us(datetime.fromisoformat(came_s)) if came_s else -1
    left = _us(datetime.fromisoformat(left_s)) if left_s else (end if came >= 0 else -1)
    return (max(end, left), int(rec.get("lot_id", 0)), rec["status"], start, end, came, left)


def _mark_of_row(row: BookingRow) -> tuple[int, int, str, int, int, int, int]:
    end = _us(row.end_time)
    came = _us(row.checked_in_at) if row.checked_in_at is not None else -1
    left = _us(row.checked_out_at) if row.checked_out_at is not None else -1  # -1: still parked (now)
    return (end, row.lot_id, row.status, _us(row.start_time), end, came, left)


_Mark = tuple[int, int, str, int, int, int, int]
_Win = tuple[int, int, int, list[int], list[int], list[int], list[int]]


def _live_index(rows: list[BookingRow]) -> tuple[list[_Mark], list[int], list[_Mark]]:
    """A lot's live bookings for the chart: the parked cars, and the reservations by start (to bisect)."""
    marks = [_mark_of_row(r) for r in rows if r.status in ports.LIVE]
    waiting = sorted((m for m in marks if m[5] < 0), key=lambda m: m[3])
    return [m for m in marks if m[5] >= 0], [m[3] for m in waiting], waiting


def _finished_index(records: dict[str, Record]) -> tuple[list[int], list[_Mark]]:
    marks = sorted(_mark_of_record(r) for r in records.values() if r.get("status") not in ports.LIVE)
    return [m[0] for m in marks], marks


def _count_hours(marks: Iterable[_Mark], wins: dict[int, _Win], hours: int, now: int) -> None:
    """Add each booking's hours to its lot's difference arrays (``+1`` at the hour where a run of hours begins,
    ``-1`` after the hour it ends); an instant is the run ``[t, t + 1 microsecond)``."""
    for _reach, lot_id, status, start, end, came, left in marks:
        w = wins.get(lot_id)
        if w is None:
            continue
        first, unclaimed, last, occupied, reserved, no_shows, overstays = w
        if came >= 0:
            if left < 0:
                left = max(now, came + _SECOND)
            if left > first and came < last and left > came:
                occupied[(came - first) // _HOUR if came > first else 0] += 1
                occupied[min(hours, -((first - left) // _HOUR))] -= 1
            if left > end and first <= end < last:
                i = (end - first) // _HOUR
                overstays[i] += 1
                overstays[i + 1] -= 1
        elif status == "reserved" and start >= unclaimed:
            if end > first and start < last and end > start:
                reserved[(start - first) // _HOUR if start > first else 0] += 1
                reserved[min(hours, -((first - end) // _HOUR))] -= 1
        elif (status == "expired" or status == "reserved") and first <= start < last:
            i = (start - first) // _HOUR
            no_shows[i] += 1
            no_shows[i + 1] -= 1


def _runs(diff: list[int], hours: int) -> tuple[int, ...]:
    """Hour by hour, from the differences (+1 where a run begins, -1 after it ends)."""
    return tuple(accumulate(diff[:hours]))


# ------------------------------------------------------------------------------------------------ repositories


class _Repo:
    def __init__(self, tx: Any, store: TinyStore) -> None:
        self.tx = tx  # TinyStore's _View or _Transaction
        self.store = store


class _Users(_Repo):
    def get(self, username: str) -> UserRow | None:
        rec = self.tx.get_user(username)
        if rec is None:
            folded = username.casefold()
            rec = next((u for u in self.tx.users() if u["username"].casefold() == folded), None)
        return user_row(rec) if rec is not None else None

    def by_email(self, email: str) -> UserRow | None:
        folded = email.casefold()
        if not folded:
            return None
        rec = next((u for u in self.tx.users() if str(u.get("email", "")).casefold() == folded), None)
        return user_row(rec) if rec is not None else None

    def all(self) -> list[UserRow]:
        return sorted((user_row(r) for r in self.tx.users()), key=lambda u: u.username)

    def _check(self, row: UserRow, *, updating: bool) -> None:
        if not updating and self.get(row.username) is not None:
            raise Conflict(f"The username {row.username!r} is taken; choose another.", field="username")
        other = self.by_email(row.email)
        if other is not None and (not updating or other.username.casefold() != row.username.casefold()):
            raise Conflict("That e-mail address is already registered.", field="email")

    def add(self, row: UserRow) -> None:
        self._check(row, updating=False)
        self.tx.put_user(_record(row))

    def update(self, row: UserRow) -> None:
        old = self.tx.get_user(row.username)
        if old is None:
            raise StorageError(f"No user {row.username!r} to update.")
        self._check(row, updating=True)
        self.tx.put_user(_merge(old, _record(row), UserRow))


class _Sessions(_Repo):
    def get(self, token_hash: str) -> SessionRow | None:
        rec = self.tx.get_session(token_hash)
        return session_row(rec) if rec is not None else None

    def add(self, row: SessionRow) -> None:
        self.tx.put_session(_record(row))

    def delete(self, token_hash: str) -> None:
        self.tx.delete_session(token_hash)

    def delete_for(self, username: str, *, keep: str | None = None) -> int:
        return int(self.tx.end_sessions(username, keep=keep))

    def purge_expired(self, now: datetime) -> int:
        return int(self.tx.purge_sessions(now))


class _LoginStates(_Repo):
    def get(self, username: str) -> LoginStateRow | None:
        rec = self.tx.get_login_state(username)
        return login_row(dict(rec, username=username)) if rec is not None else None

    def put(self, row: LoginStateRow) -> None:
        self.tx.put_login_state(row.username, _record(row))

    def clear(self, username: str) -> None:
        self.tx.put_login_state(username, None)

    def count(self) -> int:
        return len(self.tx.login_states())

    def all(self) -> list[LoginStateRow]:
        return [login_row(r) for r in self.tx.login_states()]

    def forget(self, usernames: Sequence[str]) -> None:
        self.tx.forget_login_states(list(usernames))


class _Lots(_Repo):
    def get(self, lot_id: int) -> LotRow | None:
        row: LotRow | None = self.tx.lot_row(lot_row, lot_id)
        return row

    def all(self) -> list[LotRow]:
        return sorted(self.tx.lot_rows(lot_row), key=lambda lot: lot.id)

    def add(self, row: LotRow) -> int:
        lot_id: int = self.tx.next_id("lot")
        self.tx.put_lot(dict(_record(row), id=lot_id))
        return lot_id

    def update(self, row: LotRow) -> None:
        old = self.tx.get_lot(row.id)
        if old is None:
            raise StorageError(f"No lot {row.id} to update.")
        self.tx.put_lot(dict(_merge(old, _record(row), LotRow), id=row.id))


class _Slots(_Repo):
    def get(self, slot_id: int) -> SlotRow | None:
        row: SlotRow | None = self.tx.slot_row(slot_row, slot_id)
        return row

    def in_lot(self, lot_id: int) -> list[SlotRow]:
        if self.tx.get_lot(lot_id) is None:
            return []
        return sorted(self.tx.slot_rows(slot_row, lot_id), key=lambda s: s.id)

    def _check(self, row: SlotRow) -> None:
        for other in self.tx.slots(row.lot_id):
            if other["slot_number"] == row.slot_number and int(other["id"]) != row.id:
                raise Conflict(f"The lot already has a slot {row.slot_number}.", field="slot_number")

    def add(self, row: SlotRow) -> int:
        self._check(row)
        slot_id: int = self.tx.next_id("slot")
        self.tx.put_slot(dict(_record(row), id=slot_id))
        return slot_id

    def update(self, row: SlotRow) -> None:
        old = self.tx.get_slot(row.id)
        if old is None:
            raise StorageError(f"No slot {row.id} to update.")
        self._check(row)
        self.tx.put_slot(dict(_merge(old, _record(row), SlotRow), id=row.id))


class _Bookings(_Repo):
    def get(self, booking_id: int) -> BookingRow | None:
        rec = self.tx.get_booking(booking_id)
        return booking_row(rec) if rec is not None else None

    def by_code(self, code: str) -> BookingRow | None:
        rec = self.tx.booking_by_code(code)
        return booking_row(rec) if rec is not None else None

    def live(
        self, *, lot_id: int | None = None, slot_id: int | None = None, username: str | None = None
    ) -> list[BookingRow]:
        rows: list[BookingRow] = self.tx.live_rows(booking_row, lot_id=lot_id, username=username, slot_id=slot_id)
        rows = [r for r in rows if r.status in ports.LIVE]
        if lot_id is not None and slot_id is not None:
            rows = [r for r in rows if r.lot_id == lot_id]
        return sorted(rows, key=_by_start)

    def reserved_starting_before(self, lot_id: int, instant: datetime) -> list[BookingRow]:
        rows: list[BookingRow] = self.tx.reserved_rows_starting_before(booking_row, lot_id, instant)
        return sorted((r for r in rows if r.status == "reserved"), key=_by_start)

    def query(self, q: BookingQuery, *, limit: int | None = None) -> list[BookingRow]:
        rows: dict[int, BookingRow] = {}
        want_finished = q.statuses is None or bool(q.statuses & ports.FINISHED)
        want_live = q.statuses is None or bool(q.statuses & ports.LIVE)
        if want_finished:
            for r in self.tx.archive_rows(booking_row, username=q.username):
                rows[r.id] = r
        if want_live:
            for r in self.tx.live_rows(booking_row, lot_id=q.lot_id, username=q.username, slot_id=q.slot_id):
                rows[r.id] = r
        needle = _squash(q.text) if q.text else ""
        since = q.ends_at_or_after
        out: list[BookingRow] = []
        for row in rows.values():
            if q.slot_id is not None and row.slot_id != q.slot_id:
                continue
            if q.lot_id is not None and row.lot_id != q.lot_id:
                continue
            if q.username is not None and row.username != q.username:
                continue
            if q.statuses is not None and row.status not in q.statuses:
                continue
            if since is not None and row.end_time < since and (
                row.checked_out_at is None or row.checked_out_at < since
            ):
                continue
            if needle and not any(
                needle in _squash(v) for v in (row.plate, row.confirmation_code, row.username, row.slot_number)
            ):
                continue
            out.append(row)
        out.sort(key=_by_start)
        return out[:limit] if limit is not None else out

    def code_in_use(self, code: str) -> bool:
        return bool(self.tx.code_in_use(code))

    def hours(self, windows: Sequence[HourWindow], hours: int, now: datetime) -> dict[int, HourCounts]:
        wins: dict[int, _Win] = {}
        for w in windows:
            first = _us(w.first)
            diffs = ([0] * (hours + 1) for _ in range(4))  # occupied, reserved, no-shows, overstays
            wins[w.lot_id] = (first, _us(w.unclaimed_before), first + hours * _HOUR, *diffs)
        if wins:
            since, until, at = min(w[0] for w in wins.values()), max(w[2] for w in wins.values()), _us(now)
            for keys, marks in self.tx.archive_indexes("hours.finished", _finished_index):
                _count_hours(marks[bisect.bisect_left(keys, since):], wins, hours, at)
            for lot_id in wins:
                parked, starts, waiting = self.tx.lot_index(lot_id, "hours.live", _live_index, booking_row)
                _count_hours(parked, wins, hours, at)
                _count_hours(waiting[: bisect.bisect_left(starts, until)], wins, hours, at)
        return {
            lot_id: HourCounts(len(self.tx.slot_rows(slot_row, lot_id)), *(_runs(d, hours) for d in w[3:]))
            for lot_id, w in wins.items()
        }

    def _check(self, row: BookingRow, old: Record | None = None) -> None:
        if not row.is_live:
            return
        if row.end_time <= row.start_time:
            raise Conflict("A booking must end after it starts.", field="end_time")
        others: list[BookingRow] = self.tx.live_rows(booking_row, slot_id=row.slot_id)
        for other in others:
            if other.id == row.id or other.status not in ports.LIVE:
                continue
            if other.start_time < row.end_time and row.start_time < other.end_time:
                raise Conflict(
                    f"Slot {row.slot_number or row.slot_id} is already booked for part of that time.", field="slot_id"
                )
        if row.confirmation_code and (old is None or old.get("confirmation_code") != row.confirmation_code):
            held = self.tx.live_code_holder(row.confirmation_code, lot_id=row.lot_id)
            if held is not None and held != row.id:
                raise Conflict("That confirmation code is in use.", field="confirmation_code")

    def add(self, row: BookingRow) -> int:
        self._check(row)
        booking_id: int = self.tx.next_id("booking")
        self.tx.put_booking(dict(_record(row), id=booking_id))
        return booking_id

    def update(self, row: BookingRow) -> None:
        old = self.tx.get_booking(row.id)
        if old is None:
            raise StorageError(f"No booking {row.id} to update.")
        self._check(row, old)
        self.tx.put_booking(dict(_merge(old, _record(row), BookingRow), id=row.id))


class _Audit(_Repo):
    def query(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        out = [e for e in map(audit_event, self.store.read_audit()) if audit_matches(e, filters)]
        return out[-max(1, limit) :]

    def append(self, event: AuditEvent) -> None:
        self.tx.audit(
            {"at": _stamp(event.at), "user": event.user, "terminal": event.terminal, "op": event.op, **event.details}
        )


class _Repos:
    def __init__(self, tx: Any, store: TinyStore) -> None:
        self.users = _Users(tx, store)
        self.sessions = _Sessions(tx, store)
        self.login_states = _LoginStates(tx, store)
        self.lots = _Lots(tx, store)
        self.slots = _Slots(tx, store)
        self.bookings = _Bookings(tx, store)
        self.audit = _Audit(tx, store)


class _Rollback(Exception):
    pass


class TinyUnitOfWork(_Repos):
    """``TinyStore.transaction()`` with an explicit commit: leaving without ``commit()`` discards everything."""

    def __init__(self, store: TinyStore) -> None:
        self._store = store
        self._cm: AbstractContextManager[Any] | None = None
        self._done = False

    def __enter__(self) -> TinyUnitOfWork:
        if self._cm is not None:
            raise RuntimeError("a unit of work is entered once")
        self._cm = self._store.transaction()
        tx = self._cm.__enter__()
        _Repos.__init__(self, tx, self._store)
        return self

    def commit(self) -> None:
        if self._cm is None or self._done:
            raise RuntimeError("commit() outside the unit of work, or twice")
        self._done = True
        self._cm.__exit__(None, None, None)  # writes durably, or raises with nothing written

    def rollback(self) -> None:
        if self._cm is None or self._done:
            return
        self._done = True
        try:
            self._cm.__exit__(_Rollback, _Rollback(), None)
        except _Rollback:
            pass

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._done:
            return
        self._done = True
        assert self._cm is not None
        if exc is None:
            exc_type, exc = _Rollback, _Rollback()
        try:
            self._cm.__exit__(exc_type, exc, tb)
        except _Rollback:
            pass


class TinyDBStore:
    """:class:`parking_tui.domain.ports.Store` over :class:`TinyStore`."""

    kind = "tinydb"

    def __init__(self, files: TinyStore) -> None:
        self.files = files

    def describe(self) -> str:
        return str(self.files.path)

    @contextmanager
    def view(self) -> Iterator[_Repos]:
        with self.files.view() as v:
            yield _Repos(v, self.files)

    def unit_of_work(self) -> TinyUnitOfWork:
        return TinyUnitOfWork(self.files)

    def change_token(self, lot_id: int | None = None) -> Hashable:
        return self.files.version(lot_id)

    def close(self) -> None:
        self.files.close()


if False:  # pragma: no cover - type checks that the classes implement the port
    _s: ports.Store = TinyDBStore(TinyStore("x"))
    _u: ports.UnitOfWork = TinyUnitOfWork(TinyStore("x"))
