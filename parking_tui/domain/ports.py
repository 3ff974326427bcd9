"""The port: what the domain service needs from a store, and what a store promises. Implement this to add a store.

Two stores stand behind it: TinyDB JSON files on one host (``parking_tui.storage.tinydb``) and PostgreSQL for
many hosts (``parking_tui.storage.postgres``). Both pass one contract suite (``tests/contract/``). Nothing here
names a file, a path, a stat stamp, an archive or an id block: those are one store's business.

A store package
---------------
A store is a package under ``parking_tui.storage`` with a module-level::

    OPTIONS: frozenset[str]                          # the open_service(**options) keys it takes
    def open_store(target: str, **options) -> Store  # options: only keys from OPTIONS
    def operations(target: str, **options) -> Operations   # operator tools; must not need healthy data

``parking_tui.open_service(target)`` picks the package by the target's scheme (a path: TinyDB;
``postgresql://``: PostgreSQL, imported only then), passes it the options it declares, and gives the rest to the
service. A store opens (and initialises an empty database or folder) in ``open_store``; it raises
:class:`~parking_tui.domain.errors.StorageError` when it cannot.

Access
------
* ``with store.view() as v:`` - a read-only :class:`ReadView` for one service call: the read half of every
  repository. It takes no lock. Every read inside it is consistent with the data as committed by someone at
  some moment (a store may read lazily, lot by lot).
* ``with store.unit_of_work() as uow: ...; uow.commit()`` - a :class:`UnitOfWork` (as cosmicpython's): the read
  and write repositories under one transaction. From the first read to ``commit()`` no other writer interleaves
  (the file store holds a cross-process lock; PostgreSQL uses a SERIALIZABLE, or locking, transaction - a
  serialisation failure is retried by the store or raised as ``StorageError``). ``commit()`` is durable before
  it returns (fsync / COMMIT). Leaving the block without ``commit()`` - normally or by an exception - rolls back:
  nothing of it is ever seen, audit events included. Reads inside the unit see its own writes.
* ``store.change_token(lot_id)`` - a cheap opaque value for live views (called every 0.5-1 s by every screen):
  it differs after any commit that changed the lot (its row, its slots, its live bookings), and, with
  ``lot_id=None``, after any commit that changed any lot or the list of lots. It may change without a real
  change (a spurious refresh is fine); it must never stay equal across one. It needs no ``view()``.

Rows
----
Rows are frozen dataclasses with typed fields: ``datetime`` values are aware (UTC when read back), ids are
``int``. The store maps rows to its records (JSON dicts with ISO strings, SQL columns) both ways; the service
never sees a record. ``id`` is allocated by the store on ``add`` (a row given to ``add`` carries ``id=NEW``, which
the store ignores) and returned; ids are never reused, not even after a restore. A row read back equals the row
written, with the allocated id (``dataclasses.replace(row, id=new_id)``).

Constraints
-----------
A store enforces, whatever the service checked before (two processes, two hosts):

* ``users``: a username, and a non-empty e-mail, are unique ignoring case (``str.casefold``);
* ``slots``: a ``slot_number`` is unique within its lot;
* ``bookings``: no two *live* bookings (status ``reserved`` or ``checked_in``) of one slot overlap in time,
  windows being half-open ``[start_time, end_time)``; a confirmation code is unique among live bookings.

A violation raises :class:`~parking_tui.domain.errors.Conflict` (with ``field`` set: ``"username"``,
``"email"``, ``"slot_number"``, ``"slot_id"``, ``"confirmation_code"``) from the ``add``/``update`` call or at the
latest from ``commit()``, and the unit of work is then rolled back. Every other failure to read or write (damaged
data, disk full, lock busy, database down) is a :class:`~parking_tui.domain.errors.StorageError` with a message
a person can read; a store never lets a driver's exception or a traceback through.

Operator tools
--------------
Backup, restore, doctor and verify belong to the store (the CLI only prints what they return).
``operations(target)`` returns an :class:`Operations`; a store that leaves one to the database's own tools
(``pg_dump``) raises :class:`NotSupported` from that method, with a message saying what to use instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol

from .errors import ParkingError
from .models import LotPolicy

#: The ``id`` of a row not yet added; ``add`` returns the id the store allocated.
NEW = 0

# ------------------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    email: str
    password_hash: str
    phone_number: str = ""
    is_admin: bool = False
    active: bool = True
    created_at: datetime | None = None
    password_changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A signed-in session. The token itself is never stored, only its hash."""

    token_hash: str
    username: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginStateRow:
    """Failed sign-ins of one username (made-up usernames too)."""

    username: str
    failures: int = 0
    last_failure: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LotRow:
    id: int
    name: str
    location: str
    total_slots: int
    time_zone: str
    policy: LotPolicy | None = None
    """``None``: the defaults (``LotPolicy()``); a store keeps it as the admin gave it."""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SlotRow:
    id: int
    lot_id: int
    slot_number: str
    admin_status: str = "available"
    """The admin's mark: ``available``, ``occupied`` (walk-in) or ``out_of_service``."""
    mark_until: datetime | None = None
    mark_reason: str = ""
    retired: bool = False


@dataclass(frozen=True, slots=True)
class BookingRow:
    id: int
    slot_id: int
    lot_id: int
    slot_number: str
    username: str
    start_time: datetime
    end_time: datetime
    status: str
    """``reserved``, ``checked_in`` (live) or ``completed``, ``cancelled``, ``expired`` (finished)."""
    confirmation_code: str
    plate: str = ""
    attention: str = ""
    moved_from: str = ""
    created_at: datetime | None = None
    grace_from: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE


LIVE = frozenset({"reserved", "checked_in"})
FINISHED = frozenset({"completed", "cancelled", "expired"})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event: when, who, from where, what. ``details`` holds JSON values only (ids, codes, before and
    after); never a password or token. ``committed`` is ``False`` only for an event a store found written but
    whose change never landed (a crash between the two)."""

    at: datetime
    user: str
    terminal: str
    op: str
    details: dict[str, Any] = field(default_factory=dict)
    committed: bool = True


# ---------------------------------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class BookingQuery:
    """Filters that combine (all must hold); ``None`` means any."""

    lot_id: int | None = None
    slot_id: int | None = None
    username: str | None = None
    statuses: frozenset[str] | None = None
    ends_at_or_after: datetime | None = None
    """Only bookings still running at or after this instant: ``end_time`` not before it, or checked out not
    before it (a car that overstayed into it)."""
    text: str | None = None
    """Kept if the plate, confirmation code, username or slot number contains it, ignoring case, spaces and
    ``-`` (the service passes it already upper-cased without spaces or ``-``)."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters that combine; ``None`` means any."""

    user: str | None = None
    """Events by this user, or about a booking this user owns (``details["owner"]``)."""
    op: str | None = None
    code: str | None = None
    """``details["code"]``: a booking's confirmation code, to trace it from creation to completion."""
    booking_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    """``since <= at < until``."""


@dataclass(frozen=True, slots=True)
class HourWindow:
    """One lot's hours for :meth:`BookingsReader.hours`: hour ``i`` is ``[first + i h, first + (i + 1) h)``."""

    lot_id: int
    first: datetime
    unclaimed_before: datetime
    """A live reservation (not checked in) that started before this instant counts as a no-show: the service
    passes ``now`` minus the lot's grace period."""


@dataclass(frozen=True, slots=True)
class HourCounts:
    """One lot hour by hour (see :meth:`BookingsReader.hours`), and how many slots the lot has (retired too)."""

    slots: int
    occupied: tuple[int, ...]
    reserved: tuple[int, ...]
    no_shows: tuple[int, ...]
    overstays: tuple[int, ...]


# ------------------------------------------------------------------------------------------------ repositories
# The read half of each repository is what a ReadView offers; the unit of work's repositories add the writes.
# Lists come back in the order stated; a method given an unknown id returns None or [] (never raises).


class UsersReader(Protocol):
    def get(self, username: str) -> UserRow | None:
        """The user whose username equals ``username`` ignoring case."""
        ...

    def by_email(self, email: str) -> UserRow | None:
        """The user whose e-mail equals ``email`` ignoring case."""
        ...

    def all(self) -> list[UserRow]:
        """Every user, by username."""
        ...


class Users(UsersReader, Protocol):
    def add(self, row: UserRow) -> None:
        """``Conflict`` if the username or the e-mail is taken (ignoring case)."""
        ...

    def update(self, row: UserRow) -> None:
        """Replace the user with this username (exact, as stored); ``Conflict`` for an e-mail taken by another."""
        ...


class SessionsReader(Protocol):
    def get(self, token_hash: str) -> SessionRow | None: ...


class Sessions(SessionsReader, Protocol):
    def add(self, row: SessionRow) -> None: ...

    def delete(self, token_hash: str) -> None:
        """Nothing happens if there is no such session."""
        ...

    def delete_for(self, username: str, *, keep: str | None = None) -> int:
        """End every session of ``username`` except the one whose hash is ``keep``; how many ended."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Delete the sessions whose ``expires_at <= now``; how many."""
        ...


class LoginStatesReader(Protocol):
    def get(self, username: str) -> LoginStateRow | None: ...


class LoginStates(LoginStatesReader, Protocol):
    def put(self, row: LoginStateRow) -> None:
        """Insert or replace the state of ``row.username``."""
        ...

    def clear(self, username: str) -> None: ...

    def count(self) -> int: ...

    def all(self) -> list[LoginStateRow]:
        """Every state (rarely: only when their number passes the service's bound)."""
        ...

    def forget(self, usernames: Sequence[str]) -> None: ...


class LotsReader(Protocol):
    def get(self, lot_id: int) -> LotRow | None: ...

    def all(self) -> list[LotRow]:
        """Every lot, by id."""
        ...


class Lots(LotsReader, Protocol):
    def add(self, row: LotRow) -> int:
        """Store a new lot; its id."""
        ...

    def update(self, row: LotRow) -> None: ...


class SlotsReader(Protocol):
    def get(self, slot_id: int) -> SlotRow | None: ...

    def in_lot(self, lot_id: int) -> list[SlotRow]:
        """Every slot of the lot (retired ones too), by id."""
        ...


class Slots(SlotsReader, Protocol):
    def add(self, row: SlotRow) -> int:
        """Store a new slot; its id. ``Conflict`` (field ``slot_number``) if the lot has that number."""
        ...

    def update(self, row: SlotRow) -> None: ...


class BookingsReader(Protocol):
    def get(self, booking_id: int) -> BookingRow | None:
        """The booking, live or finished."""
        ...

    def by_code(self, code: str) -> BookingRow | None:
        """The booking with this confirmation code: the live one if there is one, else the newest finished one."""
        ...

    def live(
        self, *, lot_id: int | None = None, slot_id: int | None = None, username: str | None = None
    ) -> list[BookingRow]:
        """Live bookings (``reserved``, ``checked_in``) matching every filter given, by ``(start_time, id)``.
        With no filter: every live booking."""
        ...

    def reserved_starting_before(self, lot_id: int, instant: datetime) -> list[BookingRow]:
        """The lot's ``reserved`` bookings whose ``start_time < instant`` (the candidates for expiry), by
        ``(start_time, id)``. Called on every write of a lot: a store keeps it cheap (an index)."""
        ...

    def query(self, q: BookingQuery, *, limit: int | None = None) -> list[BookingRow]:
        """Bookings live and finished matching ``q``, by ``(start_time, id)``; with ``limit``, the first
        ``limit`` of them."""
        ...

    def code_in_use(self, code: str) -> bool:
        """Whether a live booking holds this confirmation code."""
        ...

    def hours(self, windows: Sequence[HourWindow], hours: int, now: datetime) -> dict[int, HourCounts]:
        """Each window's lot hour by hour, for ``hours`` hours (the Summary chart), counted by the store: a
        query over the hours' bookings, never a walk through every finished booking. Every lot of ``windows``
        gets an entry (zeros when it has no bookings). Over the lot's bookings, live and finished:

        * one with ``checked_in_at``: ``occupied`` in every hour that meets ``[checked_in_at, left)``, where
          ``left`` is ``checked_out_at``; without one, ``max(now, checked_in_at + 1 s)`` for a live booking (a
          car parked now counts in this hour) and ``end_time`` for a finished one; and ``overstays`` in the hour
          holding ``end_time`` if ``left > end_time``;
        * else a ``reserved`` one that started at or after the window's ``unclaimed_before``: ``reserved`` in
          every hour that meets ``[start_time, end_time)``;
        * else an ``expired`` one, or a ``reserved`` one that started before ``unclaimed_before``: ``no_shows``
          in the hour holding ``start_time``;
        * a cancelled one (never checked in) counts nowhere.

        An instant ``t`` is in hour ``i`` when ``first + i h <= t < first + (i + 1) h``; an interval ``[a, b)``
        meets hour ``i`` when ``a < first + (i + 1) h`` and ``b > first + i h`` (and ``b > a``)."""
        ...


class Bookings(BookingsReader, Protocol):
    def add(self, row: BookingRow) -> int:
        """Store a new booking; its id. ``Conflict`` if it is live and overlaps another live booking of its slot
        (field ``slot_id``), or its code is held by another live booking (field ``confirmation_code``)."""
        ...

    def update(self, row: BookingRow) -> None:
        """Replace the booking with ``row.id`` (its status, slot, times may change; a finished booking stays
        readable through ``get``/``query``/``by_code``). Same ``Conflict`` rules as ``add``."""
        ...


class AuditReader(Protocol):
    def query(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        """The newest ``limit`` events matching ``filters``, oldest first (``limit >= 1``)."""
        ...


class Audit(AuditReader, Protocol):
    def append(self, event: AuditEvent) -> None:
        """Queue an event; it is written only if the unit of work commits, with its change."""
        ...


# ------------------------------------------------------------------------------------------- views and units


class ReadView(Protocol):
    @property
    def users(self) -> UsersReader: ...
    @property
    def sessions(self) -> SessionsReader: ...
    @property
    def login_states(self) -> LoginStatesReader: ...
    @property
    def lots(self) -> LotsReader: ...
    @property
    def slots(self) -> SlotsReader: ...
    @property
    def bookings(self) -> BookingsReader: ...
    @property
    def audit(self) -> AuditReader: ...


class UnitOfWork(ReadView, Protocol):
    @property
    def users(self) -> Users: ...
    @property
    def sessions(self) -> Sessions: ...
    @property
    def login_states(self) -> LoginStates: ...
    @property
    def lots(self) -> Lots: ...
    @property
    def slots(self) -> Slots: ...
    @property
    def bookings(self) -> Bookings: ...
    @property
    def audit(self) -> Audit: ...

    def commit(self) -> None:
        """Make every change of this unit durable and visible, all or nothing. Called at most once."""
        ...

    def rollback(self) -> None:
        """Discard every change (also what leaving the block without ``commit()`` does)."""
        ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Store(Protocol):
    #: A short name for messages: ``"tinydb"``, ``"postgres"``.
    kind: str

    def describe(self) -> str:
        """Where the data is, for a person: a path, or a URL without its password."""
        ...

    def view(self) -> AbstractContextManager[ReadView]: ...

    def unit_of_work(self) -> UnitOfWork: ...

    def change_token(self, lot_id: int | None = None) -> Hashable: ...

    def close(self) -> None:
        """Release files, locks, connections. Idempotent."""
        ...


# ------------------------------------------------------------------------------------------- operator tools


class NotSupported(ParkingError):
    """This store leaves the operation to other tools; the message says which."""

    code = "not_supported"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of a doctor's or verifier's report."""

    level: Literal["error", "warning", "info"]
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.level.upper():7} {self.what}" + (f"\n        fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True, slots=True)
class BackupCheck:
    name: str
    state: Literal["ok", "unproven", "damaged"]
    problems: tuple[str, ...] = ()


class Operations(Protocol):
    """Operator tools on one store's data. Usable when the data is damaged (that is when they are needed):
    building it opens nothing the data's health could stop."""

    def describe(self) -> str: ...

    def backups(self) -> list[str]:
        """The names of the backups kept, oldest first."""
        ...

    def backup(self) -> str:
        """Take a backup now; where it is (a path or a name a person can pass to ``restore``)."""
        ...

    def verify(self) -> list[BackupCheck]:
        """Check every backup against its checksums."""
        ...

    def check_backup(self, name: str) -> None:
        """``NotFound`` if there is no backup of that name (asked before a restore's confirmation)."""
        ...

    def restore(self, name: str) -> str:
        """Replace the data with backup ``name``, all or nothing, keeping the data as it was as a new backup
        (whose name is returned). Files keep the modes they had."""
        ...

    def doctor(self) -> list[Finding]:
        """Check every part of the data and every invariant; change nothing."""
        ...

    def audit(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        """As ``AuditReader.query``, without needing healthy data; includes events marked not committed."""
        ...
