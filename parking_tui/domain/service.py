"""ParkingService: the use cases. Authorisation lives here; every write runs inside one unit of work.

The service talks to a store only through :mod:`parking_tui.domain.ports`: ``store.view()`` for reads and
``store.unit_of_work()`` (read-check-write, then ``commit()``) for writes, with typed rows. Time comes from the
injected clock. Expired reservations are released by the service itself: reads derive the status at the instant,
and every write to a lot first finishes that lot's no-shows as ``expired``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from . import rules
from .errors import (
    AuthenticationError,
    Conflict,
    NotFound,
    ParkingError,
    PermissionDenied,
    ValidationError,
)
from .models import (
    ADMIN_SLOT_STATUSES,
    FINISHED_STATUSES,
    Booking,
    BookingStatus,
    Lot,
    LotHours,
    LotPolicy,
    LotSummary,
    Profile,
    Slot,
    SlotMark,
    SlotStatus,
    User,
)
from .ports import (
    FINISHED,
    LIVE,
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

Clock = Callable[[], datetime]
CodeGenerator = Callable[[], str]

SESSION_TTL = timedelta(hours=12)
LOCKOUT_THRESHOLD = 5
LOCKOUT_DURATION = timedelta(minutes=5)
FAILURE_WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
MAX_LOGIN_STATES = 1000  # failed-sign-in records kept at most (the oldest are forgotten first)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a barrier
BAD_LOGIN = "Wrong username or password."


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, hash: str, password: str) -> bool: ...
    def check_needs_rehash(self, hash: str) -> bool: ...


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def random_code() -> str:
    """A confirmation code like ``K7QX-2M9P`` (8 characters from :data:`CODE_ALPHABET`)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def natural_key(slot_number: str) -> tuple[Any, ...]:
    """``A2`` sorts before ``A10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", slot_number))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_DEFAULT_POLICY = LotPolicy()


def _policy(lot: LotRow | None) -> LotPolicy:
    return (lot.policy if lot is not None else None) or _DEFAULT_POLICY


def _user(row: UserRow) -> User:
    return User(
        username=row.username,
        email=row.email,
        phone_number=row.phone_number,
        is_admin=row.is_admin,
        active=row.active,
    )


class _CommitThenRaise(Exception):
    """Raised inside a booking change: keep ``rows`` (written with the unit of work), then raise ``error``."""

    def __init__(
        self, error: ParkingError, rows: list[BookingRow], events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.rows = rows
        self.events = events


#: ``change(uow, row, status, policy, now, user) -> new row`` for :meth:`ParkingService._change_booking`.
_Change = Callable[[UnitOfWork, BookingRow, BookingStatus, LotPolicy, datetime, User], BookingRow]


MAX_INSTANT = datetime(9999, 1, 1, tzinfo=timezone.utc)


class _Reader:
    """What one service call knows about lots, slots and their live bookings (cached for the call)."""

    def __init__(self, svc: ParkingService, view: ReadView, now: datetime) -> None:
        self.svc = svc
        self.view = view
        self.now = now
        self._lots: dict[int, LotRow | None] = {}
        self._slots: dict[int, SlotRow | None] = {}
        self._live: dict[int, list[BookingRow]] = {}

    def lot(self, lot_id: int) -> LotRow | None:
        if lot_id not in self._lots:
            self._lots[lot_id] = self.view.lots.get(lot_id)
        return self._lots[lot_id]

    def policy(self, lot_id: int) -> LotPolicy:
        return _policy(self.lot(lot_id))

    def preload(
        self, lot_id: int, slots: list[SlotRow] | None = None, live: list[BookingRow] | None = None
    ) -> None:
        """Read a lot's slots and live bookings in one go (for lists of many bookings); pass them when the
        caller has read them already."""
        for s in self.view.slots.in_lot(lot_id) if slots is None else slots:
            self._slots[s.id] = s
            self._live.setdefault(s.id, [])
        for b in self.view.bookings.live(lot_id=lot_id) if live is None else live:
            self._live.setdefault(b.slot_id, []).append(b)

    def slot(self, slot_id: int) -> SlotRow | None:
        if slot_id not in self._slots:
            self._slots[slot_id] = self.view.slots.get(slot_id)
        return self._slots[slot_id]

    def live(self, slot_id: int) -> list[BookingRow]:
        found = self._live.get(slot_id)
        if found is None:
            found = self._live[slot_id] = self.view.bookings.live(slot_id=slot_id)
        return found

    def block(self, row: BookingRow) -> str:
        """Why a reservation cannot be used as booked now (``""``: it can)."""
        if row.status != BookingStatus.RESERVED:
            return ""
        slot = self.slot(row.slot_id)
        if slot is None:
            return ""
        return self.svc._block_reason(slot, row, self.live(row.slot_id), self.now)

    def booking(self, row: BookingRow, *, hide_owner: bool = False) -> Booking:
        return self.svc._booking(
            row, self.now, self.policy(row.lot_id), hide_owner=hide_owner, block=self.block(row)
        )


class ParkingService:
    """The parking operations. Every public method either returns its result or raises a ``ParkingError``."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        password_hasher: PasswordHasher | None = None,
        session_ttl: timedelta = SESSION_TTL,
        terminal: str = "local",
        time_zone: str | None = None,
        code_generator: CodeGenerator | None = None,
    ) -> None:
        self.store = store
        #: The zone a new lot gets when none is given (the config's ``time_zone``, else the machine's).
        self.time_zone = rules.validate_time_zone(time_zone) if time_zone else "UTC"
        #: Where this process's users sit (``ssh:203.0.113.9``, ``tty:/dev/pts/2``, a kiosk id): audit log.
        self.terminal = str(terminal)[:120]
        self._clock = clock or system_clock
        if password_hasher is None:
            from argon2 import PasswordHasher as Argon2Hasher  # argon2id with the library's defaults

            password_hasher = Argon2Hasher()
        self._hasher = password_hasher
        self._session_ttl = session_ttl
        self._new_code_text = code_generator or random_code
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------------------------ helpers

    def now(self) -> datetime:
        return rules.aware(self._clock(), "clock")

    def version(self, lot_id: int | None = None) -> Hashable:
        """Changes whenever any process commits a change to the lot (or, without one, to any lot); cheap, so
        live views poll it."""
        return self.store.change_token(lot_id)

    def _status(self, row: BookingRow, now: datetime, policy: LotPolicy, block: str = "") -> BookingStatus:
        """A booking's status at ``now``; ``block`` is why its slot cannot be used (a blocked reservation never
        expires; one still blocked when its end has passed was never usable and reads ``cancelled``)."""
        status = rules.effective_status(
            row.status, row.start_time, now, policy, blocked=bool(block), grace_from=row.grace_from
        )
        if block and status is BookingStatus.RESERVED and now >= row.end_time:
            return BookingStatus.CANCELLED
        return status

    def _booking(
        self,
        row: BookingRow,
        now: datetime,
        policy: LotPolicy,
        *,
        hide_owner: bool = False,
        block: str = "",
    ) -> Booking:
        status = self._status(row, now, policy, block)
        attention = ""
        if status is BookingStatus.RESERVED and block:
            attention = row.attention or block
        elif row.status in FINISHED:
            attention = row.attention
        if hide_owner:
            # Another driver's booking is only a busy window: no id, name, code, plate or check-in time.
            return Booking(
                id=0,
                slot_id=row.slot_id,
                username="",
                start_time=row.start_time,
                end_time=row.end_time,
                status=status,
                confirmation_code="",
                lot_id=row.lot_id,
                slot_number=row.slot_number,
                as_of=now,
            )
        return Booking(
            id=row.id,
            slot_id=row.slot_id,
            username=row.username,
            start_time=row.start_time,
            end_time=row.end_time,
            status=status,
            confirmation_code=row.confirmation_code,
            lot_id=row.lot_id,
            slot_number=row.slot_number,
            created_at=row.created_at,
            checked_in_at=row.checked_in_at,
            checked_out_at=row.checked_out_at,
            cancelled_at=row.cancelled_at,
            plate=row.plate,
            attention=attention,
            moved_from=row.moved_from,
            as_of=now,
        )

    @staticmethod
    def _mark_of(slot: SlotRow, now: datetime) -> SlotStatus:
        """The admin's mark still in force at ``now`` (a walk-in mark ends by itself)."""
        return rules.mark_in_force(slot.admin_status, slot.mark_until, now)

    def _mark_block(self, slot: SlotRow, start: datetime, end: datetime, now: datetime) -> str:
        """Why a mark or retirement keeps ``[start, end)`` from using the slot (``""``: it does not)."""
        number = slot.slot_number
        if slot.retired:
            return f"{number} retired"
        mark = self._mark_of(slot, now)
        if mark is SlotStatus.AVAILABLE:
            return ""
        until = slot.mark_until or MAX_INSTANT
        if not rules.overlaps(start, end, now, until):
            return ""
        return f"{number} out of service" if mark is SlotStatus.OUT_OF_SERVICE else f"walk-in car in {number}"

    def _block_reason(self, slot: SlotRow, row: BookingRow, live: Iterable[BookingRow], now: datetime) -> str:
        """Why a reservation cannot use its slot now: the slot is retired or marked over its window, or a car
        that is still there (an overstay) holds part of its window."""
        start, end = row.start_time, row.end_time
        reason = self._mark_block(slot, start, end, now)
        if reason:
            return reason
        for other in live:
            if other.id == row.id or other.status != BookingStatus.CHECKED_IN:
                continue
            window = rules.blocking_window(
                BookingStatus.CHECKED_IN, other.start_time, other.end_time, now, other.checked_in_at
            )
            if window and rules.overlaps(start, end, window[0], window[1]) and now >= window[0]:
                return f"previous car still in {slot.slot_number}"
        return ""

    def _slot(self, row: SlotRow, live: Iterable[BookingRow], now: datetime, policy: LotPolicy) -> Slot:
        windows = [
            (rules.effective_status(b.status, b.start_time, now, policy), b.start_time, b.end_time) for b in live
        ]
        mark = self._mark_of(row, now)
        return Slot(
            id=row.id,
            lot_id=row.lot_id,
            slot_number=row.slot_number,
            status=rules.slot_status_at(SlotStatus.OUT_OF_SERVICE if row.retired else mark, windows, now),
            admin_status=mark,
            mark_until=row.mark_until if mark is not SlotStatus.AVAILABLE else None,
            mark_reason=row.mark_reason if mark is not SlotStatus.AVAILABLE else "",
            retired=row.retired,
        )

    def _zone(self, lot: LotRow | None) -> str:
        return (lot.time_zone if lot is not None else "") or self.time_zone

    def _lot_model(self, row: LotRow) -> Lot:
        return Lot(
            id=row.id,
            name=row.name,
            location=row.location,
            total_slots=row.total_slots,
            policy=_policy(row),
            time_zone=self._zone(row),
        )

    def _authenticate(self, view: ReadView, token: object, now: datetime) -> User:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise AuthenticationError("You are not signed in.")
        session = view.sessions.get(_hash_token(token))
        if session is None:
            raise AuthenticationError("Your session has ended; sign in again.")
        if session.expires_at <= now:
            raise AuthenticationError("Your session has expired; sign in again.")
        user = view.users.get(session.username)
        if user is None:
            raise AuthenticationError("Your account no longer exists.")
        if not user.active:
            raise AuthenticationError("Your account has been disabled; ask a lot manager.")
        return _user(user)

    def _require_admin(self, user: User) -> None:
        if not user.is_admin:
            raise PermissionDenied("Only a lot manager (admin) can do that.")

    def _get_lot(self, view: ReadView, lot_id: object) -> LotRow:
        lot_id = rules.validate_id(lot_id, "Lot")
        row = view.lots.get(lot_id)
        if row is None:
            raise NotFound(f"No lot with id {lot_id}.", field="lot_id")
        return row

    def _get_slot(self, view: ReadView, slot_id: object) -> SlotRow:
        slot_id = rules.validate_id(slot_id, "Slot")
        row = view.slots.get(slot_id)
        if row is None:
            raise NotFound(f"No slot with id {slot_id}.", field="slot_id")
        return row

    def _get_booking(self, view: ReadView, user: User, booking_id: object) -> BookingRow:
        booking_id = rules.validate_id(booking_id, "Booking")
        row = view.bookings.get(booking_id)
        if row is None or (row.username != user.username and not user.is_admin):
            # Another driver's booking is never visible: same answer as a booking that does not exist.
            raise NotFound(f"No booking #{booking_id}.", field="booking_id")
        return row

    def _audit(self, uow: UnitOfWork, now: datetime, user: str, op: str, **details: Any) -> None:
        """One audit event: when, who, from where, what (ids, before -> after). Never a password or token."""
        uow.audit.append(AuditEvent(now, user, self.terminal, op, details))

    @staticmethod
    def _booking_event(row: BookingRow) -> dict[str, Any]:
        return {
            "booking_id": row.id,
            "code": row.confirmation_code,
            "owner": row.username,
            "lot_id": row.lot_id,
            "slot_id": row.slot_id,
        }

    def _release_expired(self, uow: UnitOfWork, lot_id: int, now: datetime, policy: LotPolicy) -> None:
        """Finish the lot's no-shows (reserved, past the grace period) as ``expired``.

        A reservation whose slot is blocked is not a no-show: it is moved to a free slot if one is there, else
        it keeps (or gets) its ``attention``; one still blocked after its end is cancelled, with the reason.
        Every no-show is released before any blocked reservation is placed, so none is moved onto the window of a
        no-show that is still on record (two live bookings of one slot overlapping, even for a moment)."""
        to_place: list[tuple[BookingRow, str]] = []
        for row in uow.bookings.reserved_starting_before(lot_id, now - policy.grace):
            slot = uow.slots.get(row.slot_id)
            block = self._block_reason(slot, row, uow.bookings.live(slot_id=row.slot_id), now) if slot else ""
            status = self._status(row, now, policy, block)
            if status is BookingStatus.EXPIRED:
                uow.bookings.update(replace(row, status=BookingStatus.EXPIRED.value))
                self._audit(
                    uow, now, "system", "expire", **self._booking_event(row), before="reserved", after="expired"
                )
            elif status is BookingStatus.CANCELLED:
                reason = row.attention or f"{block}, no free slot to move to"
                uow.bookings.update(
                    replace(row, status=BookingStatus.CANCELLED.value, cancelled_at=now, attention=reason)
                )
                self._audit(
                    uow, now, "system", "cancel", **self._booking_event(row), before="reserved",
                    after="cancelled", reason=reason,
                )
            elif block:
                to_place.append((row, block))
        for row, block in to_place:
            self._place(uow, row, block, now, policy, "system")

    def _free_slot(
        self, view: ReadView, row: BookingRow, start: datetime, end: datetime, now: datetime, policy: LotPolicy
    ) -> SlotRow | None:
        """A slot of the booking's lot free for ``[start, end)`` (not its own), first in natural order."""
        by_slot: dict[int, list[BookingRow]] = {}
        for b in view.bookings.live(lot_id=row.lot_id):
            by_slot.setdefault(b.slot_id, []).append(b)
        for s in sorted(view.slots.in_lot(row.lot_id), key=lambda s: natural_key(s.slot_number)):
            if s.id == row.slot_id or self._mark_block(s, start, end, now):
                continue
            if self._clash(by_slot.get(s.id, ()), start, end, now, policy, slot=s, exclude=row.id):
                continue
            return s
        return None

    def _move(
        self, uow: UnitOfWork, row: BookingRow, target: SlotRow, reason: str, now: datetime, actor: str
    ) -> BookingRow:
        """Move a reservation to ``target`` (same lot, same window, same code); audit op ``reassign``."""
        moved = replace(
            row,
            slot_id=target.id,
            slot_number=target.slot_number,
            moved_from=row.slot_number,
            attention="",
            grace_from=max(now, row.start_time),
        )
        uow.bookings.update(moved)
        self._audit(
            uow, now, actor, "reassign", **self._booking_event(moved), before=row.slot_number,
            after=target.slot_number, from_slot_id=row.slot_id, reason=reason,
        )
        return moved

    def _place(
        self, uow: UnitOfWork, row: BookingRow, reason: str, now: datetime, policy: LotPolicy, actor: str,
    ) -> tuple[BookingRow, bool]:
        """Move a blocked reservation to a free slot, or flag it with ``attention``. Returns (row, moved)."""
        target = self._free_slot(uow, row, row.start_time, row.end_time, now, policy)
        if target is not None:
            return self._move(uow, row, target, reason, now, actor), True
        attention = f"{reason}, no free slot to move to"
        slot = uow.slots.get(row.slot_id)
        until = slot.mark_until if slot is not None and self._mark_of(slot, now) is not SlotStatus.AVAILABLE else None
        if until is not None and row.grace_from != until:
            # When the mark ends by itself, the driver's grace period counts from then.
            row = replace(row, grace_from=until)
            uow.bookings.update(row)
        if row.attention != attention:
            row = replace(row, attention=attention)
            uow.bookings.update(row)
            self._audit(uow, now, actor, "attention", **self._booking_event(row), reason=attention)
        return row, False

    def _blocked_on(self, view: ReadView, slot: SlotRow, now: datetime) -> set[int]:
        """Ids of the slot's reservations that cannot use it now."""
        live = view.bookings.live(slot_id=slot.id)
        return {
            b.id for b in live if b.status == BookingStatus.RESERVED and self._block_reason(slot, b, live, now)
        }

    def _lift(self, uow: UnitOfWork, slot: SlotRow, before: set[int], now: datetime, actor: str) -> None:
        """A block on ``slot`` has ended: the reservations it held (``before``) lose ``attention`` and their
        grace period counts from now."""
        live = uow.bookings.live(slot_id=slot.id)
        for b in live:
            if b.id not in before or b.status != BookingStatus.RESERVED:
                continue
            if self._block_reason(slot, b, live, now):
                continue
            uow.bookings.update(replace(b, attention="", grace_from=now))
            if b.attention:
                self._audit(uow, now, actor, "attention", **self._booking_event(b), reason="")

    def _new_code(self, view: ReadView) -> str:
        for _ in range(1000):
            code = self._new_code_text()
            if not view.bookings.code_in_use(code):
                return code
        raise Conflict("No free confirmation code could be made; try again.", field="confirmation_code")

    # ------------------------------------------------------------------------------- accounts

    def register(self, username: str, email: str, password: str, phone_number: str = "") -> User:
        return self._create_user(username, email, password, phone_number, is_admin=False)

    def create_admin(self, username: str, email: str, password: str) -> User:
        """For the local operator (the CLI): creates a user with ``is_admin``."""
        return self._create_user(username, email, password, "", is_admin=True)

    def _create_user(self, username: str, email: str, password: str, phone_number: str, *, is_admin: bool) -> User:
        username = rules.validate_username(username)
        email = rules.validate_email(email)
        password = rules.validate_password(password)
        phone = rules.validate_phone(phone_number)
        with self.store.view() as view:
            self._check_username_free(view, username)
            self._check_email_free(view, email)
        hashed = self._hasher.hash(password)  # slow on purpose: outside the lock
        now = self.now()
        row = UserRow(
            username=username,
            email=email,
            password_hash=hashed,
            phone_number=phone,
            is_admin=is_admin,
            created_at=now,
        )
        with self.store.unit_of_work() as uow:
            self._check_username_free(uow, username)
            self._check_email_free(uow, email)
            uow.users.add(row)
            self._audit(uow, now, username, "create_admin" if is_admin else "register", target=username)
            uow.commit()
        return _user(row)

    @staticmethod
    def _check_username_free(view: ReadView, username: str) -> None:
        """Usernames are unique ignoring case: ``Bob`` and ``bob`` would be one person at the barrier."""
        if view.users.get(username) is not None:
            raise Conflict(f"The username {username!r} is taken; choose another.", field="username")

    @staticmethod
    def _check_email_free(view: ReadView, email: str, *, exclude: str | None = None) -> None:
        """E-mail addresses are unique ignoring case (one person, one account)."""
        other = view.users.by_email(email)
        if other is not None and other.username != exclude:
            raise Conflict(f"The e-mail address {email} is already used by another account.", field="email")

    def login(self, username: str, password: str) -> str:
        """Check the password and return a new session token. Five failures lock the username for 5 minutes."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationError(BAD_LOGIN)
        username = username.strip()
        if not rules.USERNAME_RE.fullmatch(username) or len(password) > rules.MAX_PASSWORD:
            raise AuthenticationError(BAD_LOGIN)
        now = self.now()
        with self.store.view() as view:
            # Sign-in ignores case, as usernames are unique ignoring it.
            user = view.users.get(username)
            if user is not None:
                username = user.username
            self._check_lockout(view.login_states.get(username), now)
        stored = user.password_hash if user is not None else self._dummy()
        try:
            ok = self._hasher.verify(stored, password) and user is not None
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if ok and user is not None and not user.active:
            raise AuthenticationError("This account has been disabled; ask a lot manager.")
        token = secrets.token_urlsafe(32)
        failure: ParkingError | None = None
        # A rehash (old argon2 parameters) is computed here, never under the lock; inside the unit of work only
        # the hash is changed, on the user as it is then (an admin may have changed the account meanwhile).
        rehashed = self._hasher.hash(password) if ok and self._hasher.check_needs_rehash(stored) else None
        with self.store.unit_of_work() as uow:
            state = uow.login_states.get(username)
            self._check_lockout(state, now)
            if not ok:
                last = state.last_failure if state is not None else None
                recent = last is not None and now - last < FAILURE_WINDOW
                failures = (state.failures if state is not None and recent else 0) + 1
                if failures >= LOCKOUT_THRESHOLD:
                    until = now + LOCKOUT_DURATION
                    uow.login_states.put(LoginStateRow(username, failures=0, locked_until=until))
                    self._audit(uow, now, username, "login_locked", failures=failures)
                    failure = AuthenticationError(
                        f"Too many failed sign-ins: {username!r} is locked for "
                        f"{int(LOCKOUT_DURATION.total_seconds() // 60)} minutes."
                    )
                else:
                    uow.login_states.put(LoginStateRow(username, failures=failures, last_failure=now))
                    self._audit(uow, now, username, "login_failed", failures=failures)
                    failure = AuthenticationError(BAD_LOGIN)
                if state is None:
                    self._bound_login_states(uow, now)
            else:
                if state is not None:
                    uow.login_states.clear(username)
                uow.sessions.purge_expired(now)
                uow.sessions.add(
                    SessionRow(
                        token_hash=_hash_token(token),
                        username=username,
                        created_at=now,
                        expires_at=now + self._session_ttl,
                    )
                )
                self._audit(uow, now, username, "login")
                current = uow.users.get(username) if rehashed is not None else None
                if current is not None and rehashed is not None and current.password_hash == stored:
                    uow.users.update(replace(current, password_hash=rehashed))
            uow.commit()
        if failure is not None:
            raise failure
        return token

    @staticmethod
    def _bound_login_states(uow: UnitOfWork, now: datetime) -> None:
        """Failed sign-ins are kept per username, made-up ones too (so a lockout says nothing about which
        accounts exist). Garbage input must not grow the data: forget states that no longer matter, and keep
        at most ``MAX_LOGIN_STATES``, dropping the oldest."""
        if uow.login_states.count() <= MAX_LOGIN_STATES:
            return
        states = uow.login_states.all()

        def latest(state: LoginStateRow) -> datetime:
            present = [t for t in (state.last_failure, state.locked_until) if t is not None]
            return max(present, default=datetime.min.replace(tzinfo=now.tzinfo))

        def stale(state: LoginStateRow) -> bool:
            locked, last = state.locked_until, state.last_failure
            return (locked is None or locked <= now) and (last is None or now - last >= FAILURE_WINDOW)

        keep = sorted((st for st in states if not stale(st)), key=latest)
        drop = [st.username for st in states if stale(st)]
        drop += [st.username for st in keep[: max(0, len(keep) - MAX_LOGIN_STATES)]]
        uow.login_states.forget(drop)

    def _check_lockout(self, state: LoginStateRow | None, now: datetime) -> None:
        if state is None or state.locked_until is None:
            return
        until = state.locked_until
        if until > now:
            minutes = max(1, -(-int((until - now).total_seconds()) // 60))
            raise AuthenticationError(
                f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def logout(self, token: str) -> None:
        now = self.now()
        with self.store.unit_of_work() as uow:
            user = self._authenticate(uow, token, now)
            uow.sessions.delete(_hash_token(token))
            self._audit(uow, now, user.username, "logout")
            uow.commit()

    def profile(self, token: str) -> Profile:
        with self.store.view() as view:
            user = self._authenticate(view, token, self.now())
        return Profile(user=user.username, email=user.email, phone_number=user.phone_number, is_admin=user.is_admin)

    def update_profile(self, token: str, *, email: str | None = None, phone_number: str | None = None) -> Profile:
        new_email = rules.validate_email(email) if email is not None else None
        new_phone = rules.validate_phone(phone_number) if phone_number is not None else None
        now = self.now()
        with self.store.unit_of_work() as uow:
            user = self._authenticate(uow, token, now)
            row = uow.users.get(user.username)
            assert row is not None  # _authenticate found it
            before = {"email": row.email, "phone_number": row.phone_number}
            if new_email is not None and new_email.casefold() != row.email.casefold():
                self._check_email_free(uow, new_email, exclude=row.username)
            if new_email is not None:
                row = replace(row, email=new_email)
            if new_phone is not None:
                row = replace(row, phone_number=new_phone)
            uow.users.update(row)
            after = {"email": row.email, "phone_number": row.phone_number}
            self._audit(uow, now, user.username, "update_profile", before=before, after=after)
            uow.commit()
        return Profile(user=row.username, email=row.email, phone_number=row.phone_number, is_admin=row.is_admin)

    def set_admin(self, token: str, username: str, is_admin: bool) -> User:
        """An admin grants or withdraws the admin role (the only way the TUI can make an admin)."""
        now = self.now()
        if not isinstance(is_admin, bool):
            raise ValidationError("is_admin must be true or false.")
        with self.store.unit_of_work() as uow:
            actor = self._authenticate(uow, token, now)
            self._require_admin(actor)
            row = uow.users.get(rules.validate_username(username))
            if row is None:
                raise NotFound(f"No user {username!r}.", field="username")
            if row.username == actor.username and not is_admin:
                raise Conflict("You cannot remove your own admin role.")
            before = row.is_admin
            row = replace(row, is_admin=is_admin)
            uow.users.update(row)
            self._audit(uow, now, actor.username, "set_admin", target=row.username, before=before, after=is_admin)
            uow.commit()
        return _user(row)

    def change_password(self, token: str, old: str, new: str) -> None:
        """Change the signed-in user's password; every other session of theirs ends."""
        new = rules.validate_password(new)
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            found = view.users.get(user.username)
            stored = found.password_hash if found is not None else ""
        try:
            ok = isinstance(old, str) and self._hasher.verify(stored, old)
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if not ok:
            raise ValidationError("The current password is wrong.", field="old_password")
        if new == old:
            raise ValidationError("The new password must differ from the current one.", field="password")
        hashed = self._hasher.hash(new)
        with self.store.unit_of_work() as uow:
            user = self._authenticate(uow, token, now)
            row = uow.users.get(user.username)
            if row is None or row.password_hash != stored:
                raise Conflict("The password was changed meanwhile; try again.", field="old_password")
            uow.users.update(replace(row, password_hash=hashed, password_changed_at=now))
            ended = uow.sessions.delete_for(row.username, keep=_hash_token(token))
            self._audit(uow, now, user.username, "change_password", sessions_ended=ended)
            uow.commit()

    def set_user_active(self, token: str, username: str, active: bool) -> User:
        """An admin disables (or enables again) an account; a disabled one cannot sign in, its sessions end."""
        if not isinstance(active, bool):
            raise ValidationError("active must be true or false.", field="active")
        name = rules.validate_username(username)
        now = self.now()
        with self.store.unit_of_work() as uow:
            actor = self._authenticate(uow, token, now)
            self._require_admin(actor)
            row = uow.users.get(name)
            if row is None:
                raise NotFound(f"No user {name!r}.", field="username")
            if row.username == actor.username and not active:
                raise Conflict("You cannot disable your own account.", field="username")
            before = row.active
            row = replace(row, active=active)
            uow.users.update(row)
            if not active:
                uow.sessions.delete_for(row.username)
            self._audit(
                uow, now, actor.username, "set_user_active", target=row.username, before=before, after=active
            )
            uow.commit()
        return _user(row)

    def list_users(self, token: str) -> list[User]:
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, self.now()))
            return sorted((_user(r) for r in view.users.all()), key=lambda u: u.username)

    # ------------------------------------------------------------------------------ lots and slots

    def _check_policy(self, policy: object) -> LotPolicy:
        if not isinstance(policy, LotPolicy):
            raise ValidationError("policy must be a LotPolicy.", field="policy")
        return rules.validate_policy(policy)

    def create_lot(
        self,
        token: str,
        name: str,
        location: str,
        total_slots: int,
        *,
        time_zone: str | None = None,
        policy: LotPolicy | None = None,
    ) -> Lot:
        """A new lot. ``time_zone`` (an IANA name) defaults to the service's (the config's, else the machine's)."""
        name = rules.validate_text(name, "name")
        location = rules.validate_text(location, "location", max_len=120)
        total = rules.validate_total_slots(total_slots)
        zone = rules.validate_time_zone(time_zone) if time_zone is not None else self.time_zone
        if policy is not None:
            self._check_policy(policy)
        now = self.now()
        with self.store.unit_of_work() as uow:
            actor = self._authenticate(uow, token, now)
            self._require_admin(actor)
            if any(r.name.casefold() == name.casefold() for r in uow.lots.all()):
                raise Conflict(f"A lot named {name!r} already exists.", field="name")
            row = LotRow(NEW, name, location, total, zone, policy=policy, created_at=now)
            row = replace(row, id=uow.lots.add(row))
            self._audit(
                uow, now, actor.username, "create_lot", lot_id=row.id, name=name, total_slots=total, time_zone=zone
            )
            uow.commit()
        return self._lot_model(row)

    def update_lot(
        self,
        token: str,
        lot_id: int,
        *,
        name: str | None = None,
        location: str | None = None,
        total_slots: int | None = None,
        time_zone: str | None = None,
        policy: LotPolicy | None = None,
    ) -> Lot:
        """Rename, move, resize or re-zone a lot, or change its policy (admin). A capacity below the slots it
        has (retired ones not counted) is a ``Conflict``: retire slots first."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = rules.validate_text(name, "name")
        if location is not None:
            changes["location"] = rules.validate_text(location, "location", max_len=120)
        if total_slots is not None:
            changes["total_slots"] = rules.validate_total_slots(total_slots)
        if time_zone is not None:
            changes["time_zone"] = rules.validate_time_zone(time_zone)
        if policy is not None:
            changes["policy"] = self._check_policy(policy)
        now = self.now()

        def shown(value: Any) -> Any:  # audit details are JSON values
            return asdict(value) if isinstance(value, LotPolicy) else value

        with self.store.unit_of_work() as uow:
            actor = self._authenticate(uow, token, now)
            self._require_admin(actor)
            lot = self._get_lot(uow, lot_id)
            if "name" in changes and any(
                r.name.casefold() == changes["name"].casefold() and r.id != lot.id for r in uow.lots.all()
            ):
                raise Conflict(f"A lot named {changes['name']!r} already exists.", field="name")
            if "total_slots" in changes:
                in_use = sum(1 for s in uow.slots.in_lot(lot.id) if not s.retired)
                if changes["total_slots"] < in_use:
                    raise Conflict(
                        f"{lot.name} has {in_use} slots in use; retire slots before lowering its capacity "
                        f"to {changes['total_slots']}.",
                        field="total_slots",
                    )
            before = {k: shown(getattr(lot, k)) for k in changes}
            row = replace(lot, **changes)
            if not row.time_zone:
                row = replace(row, time_zone=self._zone(lot))
            uow.lots.update(row)
            self._audit(
                uow, now, actor.username, "update_lot", lot_id=lot.id, before=before,
                after={k: shown(v) for k, v in changes.items()},
            )
            uow.commit()
        return self._lot_model(row)

    def list_lots(self, token: str) -> list[Lot]:
        with self.store.view() as view:
            self._authenticate(view, token, self.now())
            return sorted(
                (self._lot_model(r) for r in view.lots.all()), key=lambda lot: (lot.name.casefold(), lot.id)
            )

    def get_lot(self, token: str, lot_id: int) -> Lot:
        with self.store.view() as view:
            self._authenticate(view, token, self.now())
            return self._lot_model(self._get_lot(view, lot_id))

    def add_slot(self, token: str, lot_id: int, slot_number: str) -> Slot:
        return self.add_slots(token, lot_id, [slot_number])[0]

    def add_slots(self, token: str, lot_id: int, slot_numbers: Iterable[str]) -> list[Slot]:
        """Add several slots in one write (the admin's row generator); all or nothing."""
        if isinstance(slot_numbers, (str, bytes)) or not isinstance(slot_numbers, Iterable):
            raise ValidationError("Give a list of slot numbers.", field="slot_number")
        numbers = [rules.validate_slot_number(n) for n in slot_numbers]
        if not numbers:
            raise ValidationError("Give at least one slot number.", field="slot_number")
        if len(set(numbers)) != len(numbers):
            raise Conflict("The same slot number is given twice.", field="slot_number")
        now = self.now()
        out: list[Slot] = []
        with self.store.unit_of_work() as uow:
            actor = self._authenticate(uow, token, now)
            self._require_admin(actor)
            lot = self._get_lot(uow, lot_id)
            current = uow.slots.in_lot(lot.id)
            existing = {s.slot_number for s in current}
            in_use = sum(1 for s in current if not s.retired)
            for number in numbers:
                if number in existing:
                    raise Conflict(f"Slot {number} already exists in {lot.name}.", field="slot_number")
            if in_use + len(numbers) > lot.total_slots:
                raise Conflict(
                    f"{lot.name} holds {lot.total_slots} slots and has {in_use}; "
                    f"{len(numbers)} more would exceed its capacity (raise it with Edit lot).",
                    field="slot_number",
                )
            for number in numbers:
                slot_id = uow.slots.add(SlotRow(NEW, lot.id, number, admin_status=SlotStatus.AVAILABLE.value))
                out.append(Slot(slot_id, lot.id, number, SlotStatus.AVAILABLE, admin_status=SlotStatus.AVAILABLE))
            self._audit(
                uow, now, actor.username, "add_slots", lot_id=lot.id, slots={s.slot_number: s.id for s in out},
            )
            uow.commit()
        return out

    @staticmethod
    def _lot_state(view: ReadView, lot_id: int) -> tuple[list[SlotRow], dict[int, list[BookingRow]]]:
        slots = view.slots.in_lot(lot_id)
        by_slot: dict[int, list[BookingRow]] = {}
        for b in view.bookings.live(lot_id=lot_id):
            by_slot.setdefault(b.slot_id, []).append(b)
        return slots, by_slot

    def lot_slots(self, token: str, lot_id: int) -> list[Slot]:
        """Every slot of the lot (retired ones too, ``retired`` set), with its status as of now, in natural
        order (A2 before A10)."""
        now = self.now()
        with self.store.view() as view:
            self._authenticate(view, token, now)
            lot = self._get_lot(view, lot_id)
            policy = _policy(lot)
            slots, by_slot = self._lot_state(view, lot.id)
            out = [self._slot(s, by_slot.get(s.id, ()), now, policy) for s in slots]
        out.sort(key=lambda s: natural_key(s.slot_number))
        return out

    def available_slots(
        self,
        token: str,
        lot_id: int | None = None,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
    ) -> list[Slot]:
        """Free slots: now (no window given) or for the whole window ``[start_time, end_time)``.

        A window is read in each lot's time zone and checked as ``create_booking`` checks it: a window that
        ``create_booking`` would refuse is refused here with the same message."""
        now = self.now()
        if (start_time is None) != (end_time is None):
            raise ValidationError("Give both a start and an end time, or neither.", field="end_time")
        out: list[Slot] = []
        with self.store.view() as view:
            self._authenticate(view, token, now)
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots.all()
            for lot in lots:
                policy = _policy(lot)
                window = None
                if start_time is not None:
                    zone = self._zone(lot)
                    window = (
                        rules.local_instant(start_time, zone, "start_time"),
                        rules.local_instant(end_time, zone, "end_time"),
                    )
                    rules.validate_window(window[0], window[1], now, policy)
                slots, by_slot = self._lot_state(view, lot.id)
                for s in slots:
                    if s.retired:
                        continue
                    live = by_slot.get(s.id, ())
                    slot = self._slot(s, live, now, policy)
                    if window is None:
                        free = slot.status is SlotStatus.AVAILABLE
                    else:
                        free = not self._mark_block(s, window[0], window[1], now) and not self._clash(
                            live, window[0], window[1], now, policy, slot=s
                        )
                    if free:
                        out.append(slot)
        out.sort(key=lambda s: (s.lot_id, natural_key(s.slot_number)))
        return out

    def _clash(
        self,
        live: Iterable[BookingRow],
        start: datetime,
        end: datetime,
        now: datetime,
        policy: LotPolicy,
        *,
        slot: SlotRow | None = None,
        exclude: int | None = None,
    ) -> BookingRow | None:
        """The first live booking whose blocking window overlaps ``[start, end)``. With the ``slot``'s row, a
        reservation held past its grace period because the slot is blocked still counts."""
        live = list(live)
        for b in live:
            if exclude is not None and b.id == exclude:
                continue
            status = rules.effective_status(b.status, b.start_time, now, policy, grace_from=b.grace_from)
            if status is BookingStatus.EXPIRED and slot is not None and self._block_reason(slot, b, live, now):
                status = BookingStatus.RESERVED if now < b.end_time else BookingStatus.CANCELLED
            block = rules.blocking_window(status, b.start_time, b.end_time, now, b.checked_in_at)
            if block and rules.overlaps(start, end, block[0], block[1]):
                return b
        return None

    def slot_schedule(self, token: str, slot_id: int) -> list[Booking]:
        """The slot's live bookings in time order. A driver sees another driver's bookings only as busy windows
        (no id, name, code, plate or check-in time)."""
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            slot = self._get_slot(view, slot_id)
            reader = _Reader(self, view, now)
            out = []
            for b in reader.live(slot.id):
                if b.slot_id != slot.id:
                    continue
                booking = reader.booking(b, hide_owner=not user.is_admin and b.username != user.username)
                if booking.is_live:
                    out.append(booking)
        out.sort(key=lambda b: b.start_time)
        return out

    def set_slot_status(
        self, token: str, slot_id: int, status: str, *, until: datetime | str | None = None, reason: str = ""
    ) -> Slot:
        """An admin marks a slot; see :meth:`mark_slot` (this returns only the slot)."""
        return self.mark_slot(token, slot_id, status, until=until, reason=reason).slot

    def mark_slot(
        self, token: str, slot_id: int, status: str, *, until: datetime | str | None = None, reason: str = ""
    ) -> SlotMark:
        """An admin marks a slot ``available``, ``occupied`` (a walk-in) or ``out_of_service``.

        * ``occupied`` records a car that is there without a booking, until ``until`` (default: now + the lot's
          ``walk_in_hours``); it ends by itself then. Refused while a checked-in booking occupies the slot.
        * ``out_of_service`` lasts until ``until``, or until cleared with ``available``. A checked-in car may
          still leave.
        * ``available`` clears the mark; reservations it held get their grace period counted from now.

        Reservations whose window the mark covers are moved at once to a free slot of the same lot (same
        window, same code); those that cannot be placed keep their slot with ``attention`` set and do not
        expire while it is blocked. The answer says which moved and which did not."""
        return self._mark(token, slot_id, status, until=until, reason=reason, commit=True)

    def preview_mark(
        self, token: str, slot_id: int, status: str, *, until: datetime | str | None = None, reason: str = ""
    ) -> SlotMark:
        """What :meth:`mark_slot` (or, with ``status="retired"``, :meth:`retire_slot`) would do now, without
        doing it: the same checks, the same moves, nothing written."""
        return self._mark(token, slot_id, status, until=until, reason=reason, commit=False)

    def retire_slot(self, token: str, slot_id: int) -> Slot:
        """Retire a slot (admin): it takes no new bookings and no longer counts against the lot's capacity;
        its reservations move as for ``out_of_service``. A car parked there may still leave."""
        return self.retire_slot_mark(token, slot_id).slot

    def retire_slot_mark(self, token: str, slot_id: int) -> SlotMark:
        """:meth:`retire_slot`, answering which reservations moved and which could not be placed."""
        return self._mark(token, slot_id, "retired", commit=True)

    def _mark(
        self,
        token: str,
        slot_id: int,
        status: str,
        *,
        until: datetime | str | None = None,
        reason: str = "",
        commit: bool,
    ) -> SlotMark:
        retire = status == "retired"
        if not retire:
            try:
                wanted = SlotStatus(status)
            except ValueError:
                raise ValidationError(
                    "Status must be available, occupied or out_of_service.", field="status"
                ) from None
            if wanted not in ADMIN_SLOT_STATUSES:
                raise ValidationError("'reserved' comes from bookings; it cannot be set by hand.", field="status")
        reason = rules.validate_text(reason, "reason", required=False)
        now = self.now()
        with self.store.unit_of_work() as uow:
            result = self._mark_in(uow, token, slot_id, status, until, reason, now)
            if commit:
                uow.commit()
            # A preview leaves without commit(): nothing of it is written.
        return result

    def _mark_in(
        self,
        uow: UnitOfWork,
        token: str,
        slot_id: int,
        status: str,
        until: datetime | str | None,
        reason: str,
        now: datetime,
    ) -> SlotMark:
        actor = self._authenticate(uow, token, now)
        self._require_admin(actor)
        slot = self._get_slot(uow, slot_id)
        lot = self._get_lot(uow, slot.lot_id)
        policy = _policy(lot)
        zone = self._zone(lot)
        number = slot.slot_number
        if slot.retired:
            raise Conflict(f"Slot {number} is retired.", field="status")
        self._release_expired(uow, lot.id, now, policy)
        live = uow.bookings.live(slot_id=slot.id)
        before_ids = self._blocked_on(uow, slot, now)
        before = slot.admin_status
        extra: dict[str, Any] = {}
        if status == "retired":
            slot = replace(slot, retired=True)
            op, after = "retire_slot", "retired"
        else:
            wanted = SlotStatus(status)
            until_at = rules.local_instant(until, zone, "until") if until is not None else None
            if wanted is SlotStatus.AVAILABLE:
                until_at = None
            elif until_at is not None and until_at <= now:
                raise ValidationError("The mark must end in the future.", field="until")
            if wanted is SlotStatus.OCCUPIED:
                if any(b.status == BookingStatus.CHECKED_IN for b in live):
                    raise Conflict(f"Slot {number} is already occupied by a checked-in booking.", field="status")
                until_at = until_at or now + policy.walk_in
            slot = replace(
                slot,
                admin_status=wanted.value,
                mark_until=until_at,
                mark_reason=reason if wanted is not SlotStatus.AVAILABLE else "",
            )
            op, after = "set_slot_status", wanted.value
            extra = {"until": rules.to_stamp(until_at) if until_at is not None else None, "reason": reason}
        uow.slots.update(slot)
        self._audit(
            uow, now, actor.username, op, slot_id=slot.id, lot_id=lot.id, slot_number=number,
            before=before, after=after, **extra,
        )
        moved: list[Booking] = []
        unplaced: list[Booking] = []
        for b in sorted(live, key=lambda r: (r.start_time, r.id)):
            if b.status != BookingStatus.RESERVED:
                continue
            block = self._block_reason(slot, b, uow.bookings.live(slot_id=slot.id), now)
            if not block:
                continue
            row, did_move = self._place(uow, b, block, now, policy, actor.username)
            (moved if did_move else unplaced).append(self._booking(row, now, policy, block="" if did_move else block))
        self._lift(uow, slot, before_ids, now, actor.username)
        after_live = uow.bookings.live(slot_id=slot.id)
        return SlotMark(self._slot(slot, after_live, now, policy), moved, unplaced)

    # ------------------------------------------------------------------------------------ bookings

    def _slot_refusal(
        self, slot: SlotRow, start: datetime, end: datetime, now: datetime, what: str, zone: str
    ) -> None:
        """A retired slot, or a mark in force over the window, refuses new time (``what``: the verb's end)."""
        number = slot.slot_number
        if slot.retired:
            raise Conflict(f"Slot {number} is retired; {what}.", field="slot_id")
        block = self._mark_block(slot, start, end, now)
        if not block:
            return
        mark = self._mark_of(slot, now)
        label = "out of service" if mark is SlotStatus.OUT_OF_SERVICE else "occupied"
        if slot.mark_until is not None:
            raise Conflict(f"Slot {number} is {label} until {self._hm(slot.mark_until, zone)}; {what}.",
                           field="slot_id")
        raise Conflict(f"Slot {number} is {label}; {what}.", field="slot_id")

    def create_booking(
        self,
        token: str,
        slot_id: int,
        start_time: datetime | str,
        end_time: datetime | str,
        *,
        plate: str = "",
    ) -> Booking:
        """Reserve a slot for ``[start_time, end_time)``, read in the lot's time zone when naive."""
        plate = rules.normalize_plate(plate)
        now = self.now()
        with self.store.unit_of_work() as uow:
            user = self._authenticate(uow, token, now)
            slot = self._get_slot(uow, slot_id)
            lot = self._get_lot(uow, slot.lot_id)
            policy = _policy(lot)
            zone = self._zone(lot)
            start = rules.local_instant(start_time, zone, "start_time")
            end = rules.local_instant(end_time, zone, "end_time")
            rules.validate_window(start, end, now, policy)
            self._release_expired(uow, lot.id, now, policy)
            number = slot.slot_number
            self._slot_refusal(slot, start, end, now, "choose another slot", zone)
            live = uow.bookings.live(slot_id=slot.id)
            clash = self._clash(live, start, end, now, policy, slot=slot)
            if clash is not None:
                raise Conflict(
                    f"Slot {number} is already booked from {self._hm(clash.start_time, zone)} to "
                    f"{self._hm(clash.end_time, zone)}; choose another time or slot.",
                    field="slot_id",
                )
            self._check_hoarding(uow, user.username, start, end, now, plate=plate, policy=policy)
            row = BookingRow(
                id=NEW,
                slot_id=slot.id,
                lot_id=lot.id,
                slot_number=number,
                username=user.username,
                start_time=start,
                end_time=end,
                status=BookingStatus.RESERVED.value,
                confirmation_code=self._new_code(uow),
                plate=plate,
                created_at=now,
            )
            row = replace(row, id=uow.bookings.add(row))
            self._audit(
                uow, now, user.username, "create_booking", **self._booking_event(row),
                start_time=rules.to_stamp(start), end_time=rules.to_stamp(end), after="reserved", plate=plate,
            )
            uow.commit()
        return self._booking(row, now, policy)

    def _check_hoarding(
        self,
        view: ReadView,
        username: str,
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        plate: str = "",
        policy: LotPolicy | None = None,
        exclude: int | None = None,
    ) -> None:
        """A driver may hold overlapping bookings only for different plates, up to the lot's
        ``max_cars_per_driver``; without a plate, one booking at a time."""
        limit = (policy or _DEFAULT_POLICY).max_cars_per_driver
        overlapping: list[tuple[BookingRow, str]] = []
        lots: dict[int, LotRow | None] = {}
        for b in view.bookings.live(username=username):
            if exclude is not None and b.id == exclude:
                continue
            if b.lot_id not in lots:
                lots[b.lot_id] = view.lots.get(b.lot_id)
            lot = lots[b.lot_id]
            if self._clash([b], start, end, now, _policy(lot)) is not None:
                overlapping.append((b, self._zone(lot)))
        if not overlapping:
            return
        b, zone = overlapping[0]
        held = (
            f"booking {b.confirmation_code} (slot {b.slot_number or '?'}) from "
            f"{self._hm(b.start_time, zone)} to {self._hm(b.end_time, zone)}"
        )
        if not plate or any(not o.plate for o, _ in overlapping):
            raise Conflict(
                f"You already hold {held}; one booking at a time unless each booking names its car's plate.",
                field="start_time",
            )
        for o, z in overlapping:
            if o.plate == plate:
                raise Conflict(
                    f"Car {plate} already has booking {o.confirmation_code} from {self._hm(o.start_time, z)} "
                    f"to {self._hm(o.end_time, z)}.",
                    field="plate",
                )
        if len(overlapping) + 1 > limit:
            raise Conflict(
                f"You already hold {len(overlapping)} booking{'s' if len(overlapping) != 1 else ''} at that time; "
                f"this lot allows {limit} car{'s' if limit != 1 else ''} per driver.",
                field="start_time",
            )

    @staticmethod
    def _hm(value: datetime, zone: str) -> str:
        """A time for a message, on the lot's clock."""
        return f"{rules.in_zone(value, zone):%d %b %H:%M}"

    def my_bookings(self, token: str) -> list[Booking]:
        """The user's bookings, live and finished, newest start first."""
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            reader = _Reader(self, view, now)
            out = [reader.booking(row) for row in view.bookings.query(BookingQuery(username=user.username))]
        out.sort(key=lambda b: (b.start_time, b.id), reverse=True)
        return out

    def get_booking(self, token: str, booking_id: int) -> Booking:
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            row = self._get_booking(view, user, booking_id)
            return _Reader(self, view, now).booking(row)

    def find_booking(self, token: str, confirmation_code: str) -> Booking:
        """Look a booking up by its confirmation code (owner or admin; attendants check drivers in by code)."""
        code = rules.normalize_code(confirmation_code)
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            row = view.bookings.by_code(code)
            if row is None or (row.username != user.username and not user.is_admin):
                raise NotFound(f"No booking with code {code}.", field="confirmation_code")
            return _Reader(self, view, now).booking(row)

    def _change_booking(self, token: str, booking_id: int, change: _Change, op: str) -> Booking:
        """Run ``change(uow, row, status, policy, now, user) -> new row`` on a booking; no-shows are released
        first. ``change`` may raise ``_CommitThenRaise`` to keep some rows and still refuse."""
        now = self.now()
        error: ParkingError | None = None
        with self.store.unit_of_work() as uow:
            user = self._authenticate(uow, token, now)
            row = self._get_booking(uow, user, booking_id)
            policy = _policy(uow.lots.get(row.lot_id))
            self._release_expired(uow, row.lot_id, now, policy)
            row = uow.bookings.get(row.id) or row  # the release may have moved or finished it
            slot = uow.slots.get(row.slot_id) if row.status == BookingStatus.RESERVED else None
            block = self._block_reason(slot, row, uow.bookings.live(slot_id=row.slot_id), now) if slot else ""
            status = self._status(row, now, policy, block)
            if status is BookingStatus.EXPIRED:
                # The release above is worth keeping: commit it, then report.
                error = Conflict(
                    f"Booking {row.confirmation_code} expired: nobody checked in within "
                    f"{policy.grace_minutes} minutes of the start. The slot has been released."
                )
            else:
                before = row
                try:
                    row = change(uow, row, status, policy, now, user)
                except _CommitThenRaise as keep:
                    for r in keep.rows:
                        uow.bookings.update(r)
                    for event_op, details in keep.events:
                        self._audit(uow, now, user.username, event_op, **details)
                    error = keep.error
                    row = keep.rows[-1] if keep.rows else row
                else:
                    uow.bookings.update(row)
                    extra: dict[str, Any] = (
                        {"end_before": rules.to_stamp(before.end_time), "end_after": rules.to_stamp(row.end_time)}
                        if op == "extend" else {}
                    )
                    if row.slot_id != before.slot_id:
                        extra["slot_before"] = before.slot_number
                        extra["slot_after"] = row.slot_number
                    self._audit(
                        uow, now, user.username, op, **self._booking_event(row),
                        before=before.status, after=row.status, **extra,
                    )
            uow.commit()
        if error is not None:
            raise error
        return self._booking(row, now, policy)

    def check_in(self, token: str, booking_id: int) -> Booking:
        """Check a car in. Early by up to the lot's ``early_checkin_minutes``, but never into time another
        booking holds; never after the end. A blocked slot (a car still there, a mark, a retired slot) moves
        the booking to a free slot of the lot first (same code); with none free, the booking keeps
        ``attention`` and the check-in is refused."""

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            zone = self._zone(uow.lots.get(row.lot_id))
            start, end = row.start_time, row.end_time
            rules.check_can_check_in(status, start, end, now, policy, zone)
            slot = uow.slots.get(row.slot_id)
            live = uow.bookings.live(slot_id=row.slot_id)
            block = self._block_reason(slot, row, live, now) if slot else ""
            begin = min(now, start)
            if not block and now < start and self._clash(live, begin, start, now, policy, slot=slot, exclude=row.id):
                # The early part is another driver's: another slot for the early arrival, else refuse.
                target = self._free_slot(uow, row, begin, end, now, policy)
                if target is None:
                    other = self._clash(live, begin, start, now, policy, slot=slot, exclude=row.id)
                    assert other is not None  # the same question as just above
                    until = max(other.end_time, now)
                    raise Conflict(
                        f"Slot {row.slot_number or '?'} is still booked by another driver until "
                        f"{rules.in_zone(until, zone):%H:%M}; check in from then."
                    )
                row = self._move(uow, row, target, "early arrival", now, user.username)
            elif block:
                target = self._free_slot(uow, row, begin, end, now, policy)
                if target is None:
                    attention = f"{block}, no free slot to move to"
                    flagged = replace(row, attention=attention)
                    changed = row.attention != attention
                    raise _CommitThenRaise(
                        Conflict(
                            f"Slot {row.slot_number or '?'} cannot be used ({block}) and no other slot is "
                            "free; please see the attendant."
                        ),
                        [flagged] if changed else [],
                        [("attention", dict(self._booking_event(row), reason=attention))] if changed else [],
                    )
                row = self._move(uow, row, target, block, now, user.username)
            for other in uow.bookings.live(slot_id=row.slot_id):
                if other.id != row.id and other.status == BookingStatus.CHECKED_IN:
                    raise Conflict(
                        f"Slot {row.slot_number or '?'} is still occupied by the previous car; please see "
                        "the attendant."
                    )
            return replace(row, status=BookingStatus.CHECKED_IN.value, checked_in_at=now, attention="")

        return self._change_booking(token, booking_id, change, op="check_in")

    def check_out(self, token: str, booking_id: int) -> Booking:
        """Complete the booking and free the slot. Leaving after ``end_time`` is recorded as an overstay; the
        reservations the car held up get their grace period counted from now."""

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_check_out(status)
            slot = uow.slots.get(row.slot_id)
            waiting = self._blocked_on(uow, slot, now) if slot is not None else set()
            done = replace(row, status=BookingStatus.COMPLETED.value, checked_out_at=now)
            if waiting and slot is not None:
                uow.bookings.update(done)
                self._lift(uow, slot, waiting, now, user.username)
            return done

        return self._change_booking(token, booking_id, change, op="check_out")

    def cancel_booking(self, token: str, booking_id: int) -> Booking:
        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_cancel(status)
            return replace(row, status=BookingStatus.CANCELLED.value, cancelled_at=now)

        return self._change_booking(token, booking_id, change, op="cancel")

    def extend_booking(self, token: str, booking_id: int, new_end: datetime | str) -> Booking:
        """Move the end of a live booking later, under the same rules as ``create_booking`` (marks, other
        bookings, the driver's other cars). A naive ``new_end`` is read in the lot's time zone."""

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_extend(status)
            zone = self._zone(uow.lots.get(row.lot_id))
            end = rules.local_instant(new_end, zone, "end_time")
            start, old_end = row.start_time, row.end_time
            if end <= old_end:
                raise ValidationError(
                    f"The new end must be after the current end ({self._hm(old_end, zone)}).",
                    field="end_time",
                )
            rules.validate_window(start, end, now, policy, check_start=False)
            if end <= now:
                raise ValidationError("The new end is in the past.", field="end_time")
            slot = uow.slots.get(row.slot_id)
            if slot is not None:
                self._slot_refusal(slot, old_end, end, now, "this booking cannot be extended", zone)
            live = uow.bookings.live(slot_id=row.slot_id)
            clash = self._clash(live, old_end, end, now, policy, slot=slot, exclude=row.id)
            if clash is not None:
                number = row.slot_number or "?"
                if clash.start_time <= old_end:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash.start_time, zone)}, "
                        "right after yours; this booking cannot be extended."
                    )
                else:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash.start_time, zone)}; the "
                        f"latest you can extend to is {self._hm(clash.start_time, zone)}."
                    )
                raise Conflict(msg, field="end_time")
            self._check_hoarding(
                uow, row.username, old_end, end, now, plate=row.plate, policy=policy, exclude=row.id,
            )
            return replace(row, end_time=end)

        return self._change_booking(token, booking_id, change, op="extend")

    # ------------------------------------------------------------------------------------- admin

    def audit_log(
        self,
        token: str,
        *,
        username: str | None = None,
        op: str | None = None,
        code: str | None = None,
        booking_id: int | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """The audit log (admin), oldest first, filtered; at most ``limit`` of the newest matching events.

        ``code`` traces a booking from creation to completion by its confirmation code."""
        wanted_code = rules.normalize_code(code) if code else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValidationError("limit must be a positive whole number.", field="limit")
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, self.now()))
            events = view.audit.query(
                AuditFilter(user=username, op=op, code=wanted_code, booking_id=booking_id), limit
            )
        out: list[dict[str, Any]] = []
        for e in events:
            event = {"at": rules.to_stamp(e.at), "user": e.user, "terminal": e.terminal, "op": e.op, **e.details}
            if not e.committed:
                event["committed"] = False
            out.append(event)
        return out

    def list_reservations(
        self,
        token: str,
        lot_id: int | None = None,
        *,
        slot_id: int | None = None,
        status: str | None = None,
        since: datetime | None = None,
        include_finished: bool = True,
        q: str | None = None,
    ) -> list[Booking]:
        """Every reservation (admin), filtered by lot, slot, status, and - with ``since`` - only those still
        running at or after that instant (end time not before it). ``q`` keeps those whose plate, code,
        driver or slot number contains it (ignoring case, spaces and '-': ``ab12 cde`` finds ``AB12CDE``)."""
        needle = ""
        if q is not None:
            needle = rules.validate_text(q, "q", required=False, max_len=40).upper().replace(" ", "").replace("-", "")
        wanted = None
        if status is not None:
            try:
                wanted = BookingStatus(status)
            except ValueError:
                raise ValidationError("Unknown booking status.", field="status") from None
        now = self.now()
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            zone = self.time_zone
            if lot_id is not None:
                zone = self._zone(self._get_lot(view, lot_id))
            if slot_id is not None:
                slot = self._get_slot(view, slot_id)
                lot_id = slot.lot_id
                zone = self._zone(view.lots.get(lot_id))
            since_at = rules.local_instant(since, zone, "since") if since is not None else None
            reader = _Reader(self, view, now)
            by_lot: dict[int, list[BookingRow]] = {}
            for r in view.bookings.live(lot_id=lot_id):
                by_lot.setdefault(r.lot_id, []).append(r)
            for lid, live in by_lot.items():
                reader.preload(lid, live=live)
            finished = include_finished and (wanted is None or wanted in FINISHED_STATUSES)
            rows = view.bookings.query(
                BookingQuery(
                    lot_id=lot_id,
                    slot_id=slot_id,
                    statuses=None if finished else LIVE,
                    ends_at_or_after=since_at,
                    text=needle or None,
                )
            )
            out = []
            for row in rows:
                b = reader.booking(row)
                if wanted is not None and b.status is not wanted:
                    continue
                out.append(b)
        out.sort(key=lambda b: (b.start_time, b.id))
        return out

    def lot_overview(self, token: str) -> list[tuple[Lot, int, int]]:
        """Every lot with the number of slots free now and the number of slots it has."""
        now = self.now()
        out = []
        with self.store.view() as view:
            self._authenticate(view, token, now)
            for lot in view.lots.all():
                policy = _policy(lot)
                # The same rule as rules.slot_status_at, counted without building a Slot per slot.
                busy: set[int] = set()
                for b in view.bookings.live(lot_id=lot.id):
                    status = rules.effective_status(b.status, b.start_time, now, policy)
                    if status is BookingStatus.CHECKED_IN or (
                        status is BookingStatus.RESERVED and b.start_time <= now < b.end_time
                    ):
                        busy.add(b.slot_id)
                slots = [s for s in view.slots.in_lot(lot.id) if not s.retired]
                free = sum(
                    1 for s in slots if self._mark_of(s, now) is SlotStatus.AVAILABLE and s.id not in busy
                )
                out.append((self._lot_model(lot), free, len(slots)))
        out.sort(key=lambda t: (t[0].name.casefold(), t[0].id))
        return out

    def _lots_of(self, view: ReadView, lot_id: int | None) -> list[LotRow]:
        return [self._get_lot(view, lot_id)] if lot_id is not None else view.lots.all()

    def lot_summary(self, token: str, lot_id: int | None = None) -> list[LotSummary]:
        """Occupancy per lot (admin): now (cars overstaying included), and today's bookings, no-shows and
        overstays - "today" on the lot's own clock."""
        now = self.now()
        out = []
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            lots = self._lots_of(view, lot_id)
            days: dict[int, tuple[datetime, datetime]] = {}
            for lot in lots:
                local_now = rules.in_zone(now, self._zone(lot))
                day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
                days[lot.id] = (day_start, day_start + timedelta(days=1))
            # The finished bookings are read once for all lots (only those that end today or later).
            finished_today: dict[int, list[BookingRow]] = {}
            earliest = min((d[0] for d in days.values()), default=now)
            query = BookingQuery(lot_id=lot_id, statuses=FINISHED, ends_at_or_after=earliest)
            for r in view.bookings.query(query):
                day = days.get(r.lot_id)
                if day is not None and day[0] <= r.start_time < day[1]:
                    finished_today.setdefault(r.lot_id, []).append(r)
            reader = _Reader(self, view, now)
            for lot in lots:
                policy = _policy(lot)
                day_start, day_end = days[lot.id]
                slots, by_slot = self._lot_state(view, lot.id)
                live = [r for recs in by_slot.values() for r in recs]
                reader.preload(lot.id, slots, live)
                counts = {s: 0 for s in SlotStatus}
                for s in slots:
                    counts[self._slot(s, by_slot.get(s.id, ()), now, policy).status] += 1
                rows = finished_today.get(lot.id, []) + [r for r in live if day_start <= r.start_time < day_end]
                today = [reader.booking(r) for r in rows]
                overstaying = sum(1 for r in live if r.status == BookingStatus.CHECKED_IN and r.end_time < now)
                out.append(
                    LotSummary(
                        lot=self._lot_model(lot),
                        free_now=counts[SlotStatus.AVAILABLE],
                        reserved_now=counts[SlotStatus.RESERVED],
                        occupied_now=counts[SlotStatus.OCCUPIED],
                        out_of_service=counts[SlotStatus.OUT_OF_SERVICE],
                        bookings_today=len(today),
                        no_shows_today=sum(1 for b in today if b.status is BookingStatus.EXPIRED),
                        overstays_today=sum(1 for b in today if b.is_overstay),
                        overstaying_now=overstaying,
                    )
                )
        out.sort(key=lambda s: (s.lot.name.casefold(), s.lot.id))
        return out

    def occupancy_by_hour(self, token: str, days: int = 1, lot_id: int | None = None) -> list[LotHours]:
        """Per lot, hour by hour for today and the ``days - 1`` days before it (the lot's own clock): cars
        parked, reservations held, no-shows and overstays (admin). One pass over the bookings of the window."""
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 31:
            raise ValidationError("days must be a whole number from 1 to 31.", field="days")
        now = self.now()
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            lots = self._lots_of(view, lot_id)
            windows: dict[int, tuple[datetime, datetime]] = {}
            for lot in lots:
                local_now = rules.in_zone(now, self._zone(lot))
                first = local_now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
                windows[lot.id] = (first, first + timedelta(days=days))
            since = min((w[0] for w in windows.values()), default=now)
            by_lot: dict[int, list[BookingRow]] = {}
            # ends_at_or_after keeps a car that overstayed into the window too (it left after ``since``).
            for r in view.bookings.query(BookingQuery(lot_id=lot_id, statuses=FINISHED, ends_at_or_after=since)):
                by_lot.setdefault(r.lot_id, []).append(r)
            for lot in lots:
                by_lot.setdefault(lot.id, []).extend(view.bookings.live(lot_id=lot.id))
            out = []
            for lot in lots:
                first, last = windows[lot.id]
                hours = days * 24
                counts = {k: [0] * hours for k in ("occupied", "reserved", "no_shows", "overstays")}
                policy = _policy(lot)

                def mark(kind: str, begin: datetime, end: datetime) -> None:
                    if end <= first or begin >= last or end <= begin:
                        return
                    lo = max(0, int((begin - first).total_seconds() // 3600))
                    hi = min(hours, -int(-(end - first).total_seconds() // 3600))
                    row = counts[kind]
                    for i in range(lo, hi):
                        row[i] += 1

                def point(kind: str, at: datetime) -> None:
                    if first <= at < last:
                        counts[kind][int((at - first).total_seconds() // 3600)] += 1

                for r in by_lot.get(lot.id, ()):
                    start, end = r.start_time, r.end_time
                    status = rules.effective_status(r.status, start, now, policy)
                    came, left = r.checked_in_at, r.checked_out_at
                    if came is not None:
                        gone = left if left is not None else now
                        # A car parked now counts in this hour even if it arrived this very minute.
                        mark("occupied", came, gone if left is not None else max(gone, came + timedelta(seconds=1)))
                        if gone > end:
                            point("overstays", end)
                    elif status is BookingStatus.RESERVED:
                        mark("reserved", start, end)
                    elif status is BookingStatus.EXPIRED:
                        point("no_shows", start)
                out.append(
                    LotHours(
                        lot=self._lot_model(lot),
                        start=first,
                        capacity=len(view.slots.in_lot(lot.id)),
                        occupied=tuple(counts["occupied"]),
                        reserved=tuple(counts["reserved"]),
                        no_shows=tuple(counts["no_shows"]),
                        overstays=tuple(counts["overstays"]),
                    )
                )
        out.sort(key=lambda h: (h.lot.name.casefold(), h.lot.id))
        return out
