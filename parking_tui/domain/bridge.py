"""The service's record-shaped reads and writes, over any store that implements :mod:`parking_tui.domain.ports`.

:class:`~parking_tui.domain.service.ParkingService` still works on JSON-shaped records (dicts with ISO-8601
stamps) through ``view()``/``transaction()``. This adapter gives it exactly that over the port's typed rows and
unit of work, so a store need implement only the port (PostgreSQL does). As the service moves onto the
repositories, this module shrinks and then goes.

Ids: the service asks ``next_id(kind)`` before it builds a new record; here that is a negative placeholder, and
``put_*`` of a record with one ``add``s the row and writes the id the store allocated back into the record (the
service reads ``rec["id"]`` only after the put).
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from .models import LotPolicy
from .ports import (
    FINISHED,
    NEW,
    AuditEvent,
    AuditFilter,
    BookingQuery,
    BookingRow,
    LoginStateRow,
    LotRow,
    ReadView,
    SessionRow,
    SlotRow,
    Store,
    UnitOfWork,
    UserRow,
)

Record = dict[str, Any]
_ALL_EVENTS = 2**62


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def to_record(row: Any) -> Record:
    out: Record = {}
    for f in dataclasses.fields(row):
        value = getattr(row, f.name)
        if isinstance(value, datetime):
            value = _stamp(value)
        elif isinstance(value, LotPolicy):
            value = dataclasses.asdict(value)
        if value is not None:
            out[f.name] = value
    return out


_HINTS: dict[type, dict[str, Any]] = {}


def to_row(cls: type, rec: Record, **fixed: Any) -> Any:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            kwargs[f.name] = fixed[f.name]
            continue
        if f.name not in rec:
            continue
        value = rec[f.name]
        hint = str(hints[f.name])
        if value is not None and "datetime" in hint and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif f.name == "policy":
            known = {p.name for p in dataclasses.fields(LotPolicy)}
            value = LotPolicy(**{k: v for k, v in value.items() if k in known}) if value else None
        kwargs[f.name] = value
    if "id" in kwargs and (kwargs["id"] is None or int(kwargs["id"]) < 0):
        kwargs["id"] = NEW
    return cls(**kwargs)


def event_record(e: AuditEvent) -> Record:
    rec: Record = {"at": _stamp(e.at), "user": e.user, "terminal": e.terminal, "op": e.op, **e.details}
    if not e.committed:
        rec["committed"] = False
    return rec


class _View:
    def __init__(self, v: ReadView) -> None:
        self.v = v

    def users(self) -> Iterator[Record]:
        return iter([to_record(u) for u in self.v.users.all()])

    def get_user(self, username: str) -> Record | None:
        u = self.v.users.get(username)
        return to_record(u) if u is not None and u.username == username else None

    def get_session(self, token_hash: str) -> Record | None:
        s = self.v.sessions.get(token_hash)
        return to_record(s) if s is not None else None

    def get_login_state(self, username: str) -> Record | None:
        s = self.v.login_states.get(username)
        return to_record(s) if s is not None else None

    def lots(self) -> list[Record]:
        return [to_record(lot) for lot in self.v.lots.all()]

    def get_lot(self, lot_id: int) -> Record | None:
        lot = self.v.lots.get(int(lot_id))
        return to_record(lot) if lot is not None else None

    def slots(self, lot_id: int) -> list[Record]:
        return [to_record(s) for s in self.v.slots.in_lot(int(lot_id))]

    def get_slot(self, slot_id: int) -> Record | None:
        s = self.v.slots.get(int(slot_id))
        return to_record(s) if s is not None else None

    def live_bookings(
        self, *, lot_id: int | None = None, username: str | None = None, slot_id: int | None = None
    ) -> list[Record]:
        return [to_record(b) for b in self.v.bookings.live(lot_id=lot_id, slot_id=slot_id, username=username)]

    def reserved_starting_before(self, lot_id: int, instant: datetime) -> list[Record]:
        return [to_record(b) for b in self.v.bookings.reserved_starting_before(lot_id, instant)]

    def get_booking(self, booking_id: int, *, username: str | None = None) -> Record | None:
        b = self.v.bookings.get(int(booking_id))
        return to_record(b) if b is not None else None

    def booking_by_code(self, code: str, *, username: str | None = None) -> Record | None:
        b = self.v.bookings.by_code(code)
        return to_record(b) if b is not None else None

    def finished_bookings(self, *, username: str | None = None, lot_id: int | None = None) -> list[Record]:
        q = BookingQuery(lot_id=lot_id, username=username, statuses=FINISHED)
        return [to_record(b) for b in self.v.bookings.query(q)]

    def code_in_use(self, code: str, *, lot_id: int | None = None) -> bool:
        return self.v.bookings.code_in_use(code)


class _Transaction(_View):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.uow = uow
        self._placeholders = itertools.count(-1, -1)

    def audit(self, event: Record) -> None:
        at = event.get("at")
        when = datetime.fromisoformat(at) if isinstance(at, str) else datetime.now(timezone.utc)
        details = {k: v for k, v in event.items() if k not in ("at", "user", "terminal", "op")}
        self.uow.audit.append(
            AuditEvent(
                when, str(event.get("user", "")), str(event.get("terminal", "")), str(event.get("op", "")), details
            )
        )

    def next_id(self, kind: str) -> int:
        return next(self._placeholders)

    def put_user(self, user: Record) -> None:
        row = to_row(UserRow, user)
        current = self.uow.users.get(row.username)
        if current is not None and current.username == row.username:
            self.uow.users.update(row)
        else:
            self.uow.users.add(row)

    def put_session(self, session: Record) -> None:
        row = to_row(SessionRow, session)
        if self.uow.sessions.get(row.token_hash) is not None:
            self.uow.sessions.delete(row.token_hash)
        self.uow.sessions.add(row)

    def delete_session(self, token_hash: str) -> None:
        self.uow.sessions.delete(token_hash)

    def purge_sessions(self, now: datetime) -> int:
        return self.uow.sessions.purge_expired(now)

    def end_sessions(self, username: str, *, keep: str | None = None) -> int:
        return self.uow.sessions.delete_for(username, keep=keep)

    def put_login_state(self, username: str, state: Record | None) -> None:
        if state is None:
            self.uow.login_states.clear(username)
        else:
            self.uow.login_states.put(to_row(LoginStateRow, state, username=username))

    def login_states(self) -> list[Record]:
        return [to_record(s) for s in self.uow.login_states.all()]

    def forget_login_states(self, usernames: list[str]) -> None:
        self.uow.login_states.forget(usernames)

    def _put(self, repo: Any, cls: type, rec: Record) -> None:
        row = to_row(cls, rec)
        if row.id == NEW:
            rec["id"] = repo.add(row)
        else:
            repo.update(row)

    def put_lot(self, lot: Record) -> None:
        self._put(self.uow.lots, LotRow, lot)

    def put_slot(self, slot: Record) -> None:
        self._put(self.uow.slots, SlotRow, slot)

    def put_booking(self, booking: Record) -> None:
        self._put(self.uow.bookings, BookingRow, booking)


class RecordStore:
    """``view()``/``transaction()``/``version()``/``read_audit()`` as the service calls them, over a port store."""

    def __init__(self, store: Store) -> None:
        self.port = store

    def describe(self) -> str:
        return self.port.describe()

    @contextmanager
    def view(self) -> Iterator[_View]:
        with self.port.view() as v:
            yield _View(v)

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self.port.unit_of_work() as uow:
            yield _Transaction(uow)
            uow.commit()

    def version(self, lot_id: int | None = None) -> Any:
        return self.port.change_token(lot_id)

    def read_audit(self) -> Iterator[Record]:
        with self.port.view() as v:
            events = v.audit.query(AuditFilter(), _ALL_EVENTS)
        return iter([event_record(e) for e in events])

    def close(self) -> None:
        self.port.close()
