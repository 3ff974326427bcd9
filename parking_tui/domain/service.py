"""ParkingService: the use cases. Authorisation lives here; every write runs inside one ``store.transaction()``.

Time comes from the injected clock. Expired reservations are released by the service itself: reads derive the
status at the instant, and every write to a lot first moves that lot's no-shows to the archive as ``expired``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, overload

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
    LotPolicy,
    LotHours,
    LotSummary,
    Profile,
    Slot,
    SlotMark,
    SlotStatus,
    User,
)
Record = dict[str, Any]

Clock = Callable[[], datetime]

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


def natural_key(slot_number: str) -> tuple[Any, ...]:
    """``A2`` sorts before ``A10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", slot_number))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _policy(rec: Record) -> LotPolicy:
    raw = rec.get("policy") or {}
    known = {f.name for f in fields(LotPolicy)}
    return LotPolicy(**{k: int(v) for k, v in raw.items() if k in known})


def _lot(rec: Record, zone: str = "UTC") -> Lot:
    return Lot(
        id=int(rec["id"]),
        name=rec["name"],
        location=rec["location"],
        total_slots=int(rec["total_slots"]),
        policy=_policy(rec),
        time_zone=rec.get("time_zone") or zone,
    )


def _user(rec: Record) -> User:
    return User(
        username=rec["username"],
        email=rec["email"],
        phone_number=rec.get("phone_number", ""),
        is_admin=bool(rec.get("is_admin", False)),
        active=bool(rec.get("active", True)),
    )


class _CommitThenRaise(Exception):
    """Raised inside a booking change: keep ``records`` (written with the transaction), then raise ``error``."""

    def __init__(self, error: ParkingError, records: list[Record], events: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(str(error))
        self.error = error
        self.records = records
        self.events = events


#: ``change(tx, rec, status, policy, now, user) -> new record`` for :meth:`ParkingService._change_booking`.
_Change = Callable[[Any, Record, BookingStatus, LotPolicy, datetime, User], Record]


class _Rollback(Exception):
    """Ends a transaction without writing anything (a preview)."""


MAX_INSTANT = datetime(9999, 1, 1, tzinfo=timezone.utc)


class _Reader:
    """What one service call knows about lots, slots and their live bookings (cached for the call)."""

    def __init__(self, svc: "ParkingService", view: Any, now: datetime) -> None:
        self.svc = svc
        self.view = view
        self.now = now
        self._lots: dict[int, Record] = {}
        self._slots: dict[int, Record | None] = {}
        self._live: dict[int, list[Record]] = {}

    def lot(self, lot_id: int) -> Record:
        rec = self._lots.get(lot_id)
        if rec is None:
            rec = self._lots[lot_id] = self.view.get_lot(lot_id) or {"id": lot_id}
        return rec

    def policy(self, lot_id: int) -> LotPolicy:
        return _policy(self.lot(lot_id))

    def zone(self, lot_id: int) -> str:
        return self.lot(lot_id).get("time_zone") or self.svc.time_zone

    def preload(self, lot_id: int, slots: list[Record] | None = None, live: list[Record] | None = None) -> None:
        """Read a lot's slots and live bookings in one go (for lists of many bookings); pass them when the
        caller has read them already."""
        for s in self.view.slots(lot_id) if slots is None else slots:
            self._slots[int(s["id"])] = dict(s, lot_id=lot_id)
            self._live.setdefault(int(s["id"]), [])
        for b in self.view.live_bookings(lot_id=lot_id) if live is None else live:
            self._live.setdefault(int(b["slot_id"]), []).append(b)

    def slot(self, slot_id: int) -> Record | None:
        if slot_id not in self._slots:
            self._slots[slot_id] = self.view.get_slot(slot_id)
        return self._slots[slot_id]

    def live(self, slot_id: int) -> list[Record]:
        found = self._live.get(slot_id)
        if found is None:
            found = self._live[slot_id] = self.view.live_bookings(slot_id=slot_id)
        return found

    def block(self, rec: Record) -> str:
        """Why a reservation cannot be used as booked now (``""``: it can)."""
        if rec.get("status") != BookingStatus.RESERVED:
            return ""
        slot = self.slot(int(rec["slot_id"]))
        if slot is None:
            return ""
        return self.svc._block_reason(slot, rec, self.live(int(rec["slot_id"])), self.now)

    def booking(self, rec: Record, *, hide_owner: bool = False) -> Booking:
        return self.svc._booking(
            rec, self.now, self.policy(int(rec["lot_id"])), hide_owner=hide_owner, block=self.block(rec)
        )


@overload
def _ts(value: str) -> datetime: ...
@overload
def _ts(value: str | None) -> datetime | None: ...
def _ts(value: str | None) -> datetime | None:
    return rules.from_stamp(value)


class ParkingService:
    """The parking operations. Every public method either returns its result or raises a ``ParkingError``."""

    def __init__(
        self,
        store: Any,  # the TinyDB store's view()/transaction() until the service moves onto ports.Store
        *,
        clock: Clock | None = None,
        password_hasher: PasswordHasher | None = None,
        session_ttl: timedelta = SESSION_TTL,
        terminal: str = "local",
        time_zone: str | None = None,
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
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------------------------ helpers

    def now(self) -> datetime:
        return rules.aware(self._clock(), "clock")

    def version(self, lot_id: int | None = None) -> Any:
        """Changes whenever any process commits a write (cheap: a ``stat``); the TUI polls it."""
        return self.store.version(lot_id)

    def _status(
        self, rec: Record, now: datetime, policy: LotPolicy, block: str = ""
    ) -> BookingStatus:
        """A booking's status at ``now``; ``block`` is why its slot cannot be used (a blocked reservation never
        expires; one still blocked when its end has passed was never usable and reads ``cancelled``)."""
        start = rules.from_stamp(rec["start_time"])
        status = rules.effective_status(
            rec["status"], start, now, policy, blocked=bool(block), grace_from=_ts(rec.get("grace_from"))
        )
        if block and status is BookingStatus.RESERVED and now >= rules.from_stamp(rec["end_time"]):
            return BookingStatus.CANCELLED
        return status

    def _booking(
        self,
        rec: Record,
        now: datetime,
        policy: LotPolicy,
        *,
        hide_owner: bool = False,
        block: str = "",
    ) -> Booking:
        start = rules.from_stamp(rec["start_time"])
        assert start is not None
        status = self._status(rec, now, policy, block)
        attention = ""
        if status is BookingStatus.RESERVED and block:
            attention = rec.get("attention") or block
        elif rec.get("status") in FINISHED_STATUSES:
            attention = rec.get("attention", "")
        if hide_owner:
            # Another driver's booking is only a busy window: no id, name, code, plate or check-in time.
            return Booking(
                id=0,
                slot_id=int(rec["slot_id"]),
                username="",
                start_time=start,
                end_time=rules.from_stamp(rec["end_time"]),
                status=status,
                confirmation_code="",
                lot_id=int(rec["lot_id"]),
                slot_number=rec.get("slot_number", ""),
                as_of=now,
            )
        return Booking(
            id=int(rec["id"]),
            slot_id=int(rec["slot_id"]),
            username=rec["username"],
            start_time=start,
            end_time=rules.from_stamp(rec["end_time"]),
            status=status,
            confirmation_code=rec["confirmation_code"],
            lot_id=int(rec["lot_id"]),
            slot_number=rec.get("slot_number", ""),
            created_at=_ts(rec.get("created_at")),
            checked_in_at=_ts(rec.get("checked_in_at")),
            checked_out_at=_ts(rec.get("checked_out_at")),
            cancelled_at=_ts(rec.get("cancelled_at")),
            plate=rec.get("plate", ""),
            attention=attention,
            moved_from=rec.get("moved_from", ""),
            as_of=now,
        )

    @staticmethod
    def _mark_of(slot: Record, now: datetime) -> SlotStatus:
        """The admin's mark still in force at ``now`` (a walk-in mark ends by itself)."""
        return rules.mark_in_force(slot.get("admin_status", "available"), _ts(slot.get("mark_until")), now)

    def _mark_block(self, slot: Record, start: datetime, end: datetime, now: datetime) -> str:
        """Why a mark or retirement keeps ``[start, end)`` from using the slot (``""``: it does not)."""
        number = slot.get("slot_number", "?")
        if slot.get("retired"):
            return f"{number} retired"
        mark = self._mark_of(slot, now)
        if mark is SlotStatus.AVAILABLE:
            return ""
        until = _ts(slot.get("mark_until")) or MAX_INSTANT
        if not rules.overlaps(start, end, now, until):
            return ""
        return f"{number} out of service" if mark is SlotStatus.OUT_OF_SERVICE else f"walk-in car in {number}"

    def _block_reason(self, slot: Record, rec: Record, live: Iterable[Record], now: datetime) -> str:
        """Why a reservation cannot use its slot now: the slot is retired or marked over its window, or a car
        that is still there (an overstay) holds part of its window."""
        start = rules.from_stamp(rec["start_time"])
        end = rules.from_stamp(rec["end_time"])
        reason = self._mark_block(slot, start, end, now)
        if reason:
            return reason
        for other in live:
            if int(other["id"]) == int(rec["id"]) or other.get("status") != BookingStatus.CHECKED_IN:
                continue
            window = rules.blocking_window(
                BookingStatus.CHECKED_IN,
                rules.from_stamp(other["start_time"]),
                rules.from_stamp(other["end_time"]),
                now,
                _ts(other.get("checked_in_at")),
            )
            if window and rules.overlaps(start, end, window[0], window[1]) and now >= window[0]:
                return f"previous car still in {slot.get('slot_number', '?')}"
        return ""

    def _slot(self, rec: Record, live: Iterable[Record], now: datetime, policy: LotPolicy) -> Slot:
        windows = []
        for b in live:
            start = rules.from_stamp(b["start_time"])
            end = rules.from_stamp(b["end_time"])
            windows.append((rules.effective_status(b["status"], start, now, policy), start, end))
        mark = self._mark_of(rec, now)
        retired = bool(rec.get("retired"))
        return Slot(
            id=int(rec["id"]),
            lot_id=int(rec["lot_id"]),
            slot_number=rec["slot_number"],
            status=rules.slot_status_at(SlotStatus.OUT_OF_SERVICE if retired else mark, windows, now),
            admin_status=mark,
            mark_until=_ts(rec.get("mark_until")) if mark is not SlotStatus.AVAILABLE else None,
            mark_reason=rec.get("mark_reason", "") if mark is not SlotStatus.AVAILABLE else "",
            retired=retired,
        )

    def _zone(self, lot: Record) -> str:
        return lot.get("time_zone") or self.time_zone

    def _lot_model(self, rec: Record) -> Lot:
        return _lot(rec, self.time_zone)

    def _authenticate(self, view: Any, token: object, now: datetime) -> User:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise AuthenticationError("You are not signed in.")
        session = view.get_session(_hash_token(token))
        if session is None:
            raise AuthenticationError("Your session has ended; sign in again.")
        if rules.from_stamp(session["expires_at"]) <= now:
            raise AuthenticationError("Your session has expired; sign in again.")
        user = view.get_user(session["username"])
        if user is None:
            raise AuthenticationError("Your account no longer exists.")
        if not user.get("active", True):
            raise AuthenticationError("Your account has been disabled; ask a lot manager.")
        return _user(user)

    def _require_admin(self, user: User) -> None:
        if not user.is_admin:
            raise PermissionDenied("Only a lot manager (admin) can do that.")

    def _get_lot(self, view: Any, lot_id: object) -> Record:
        lot_id = rules.validate_id(lot_id, "Lot")
        rec: Record | None = view.get_lot(lot_id)
        if rec is None:
            raise NotFound(f"No lot with id {lot_id}.", field="lot_id")
        return rec

    def _get_slot(self, view: Any, slot_id: object) -> Record:
        slot_id = rules.validate_id(slot_id, "Slot")
        rec: Record | None = view.get_slot(slot_id)
        if rec is None:
            raise NotFound(f"No slot with id {slot_id}.", field="slot_id")
        return rec

    def _get_booking(self, view: Any, user: User, booking_id: object) -> Record:
        booking_id = rules.validate_id(booking_id, "Booking")
        rec: Record | None = view.get_booking(booking_id, username=None if user.is_admin else user.username)
        if rec is None or (rec["username"] != user.username and not user.is_admin):
            # Another driver's booking is never visible: same answer as a booking that does not exist.
            raise NotFound(f"No booking #{booking_id}.", field="booking_id")
        return rec

    def _audit(self, tx: Any, now: datetime, user: str, op: str, **details: Any) -> None:
        """One audit event: when, who, from where, what (ids, before -> after). Never a password or token."""
        tx.audit({"at": rules.to_stamp(now), "user": user, "terminal": self.terminal, "op": op, **details})

    def _booking_event(self, rec: Record) -> dict[str, Any]:
        return {
            "booking_id": int(rec["id"]),
            "code": rec.get("confirmation_code", ""),
            "owner": rec.get("username", ""),
            "lot_id": int(rec.get("lot_id", 0)),
            "slot_id": int(rec.get("slot_id", 0)),
        }

    def _release_expired(self, tx: Any, lot_id: int, now: datetime, policy: LotPolicy) -> None:
        """Move the lot's no-shows (reserved, past the grace period) to the archive as ``expired``.

        A reservation whose slot is blocked is not a no-show: it is moved to a free slot if one is there, else
        it keeps (or gets) its ``attention``; one still blocked after its end is cancelled, with the reason.
        Every no-show is released before any blocked reservation is placed, so none is moved onto the window of a
        no-show that is still on record (two live bookings of one slot overlapping, even for a moment)."""
        to_place: list[tuple[Record, str]] = []
        for rec in tx.reserved_starting_before(lot_id, now - policy.grace):
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            block = self._block_reason(slot, rec, tx.live_bookings(slot_id=int(rec["slot_id"])), now) if slot else ""
            status = self._status(rec, now, policy, block)
            if status is BookingStatus.EXPIRED:
                tx.put_booking(dict(rec, status=BookingStatus.EXPIRED.value, expired_at=rules.to_stamp(now)))
                self._audit(
                    tx, now, "system", "expire", **self._booking_event(rec), before="reserved", after="expired"
                )
            elif status is BookingStatus.CANCELLED:
                reason = rec.get("attention") or f"{block}, no free slot to move to"
                tx.put_booking(
                    dict(
                        rec, status=BookingStatus.CANCELLED.value, cancelled_at=rules.to_stamp(now),
                        cancelled_by="system", attention=reason,
                    )
                )
                self._audit(
                    tx, now, "system", "cancel", **self._booking_event(rec), before="reserved",
                    after="cancelled", reason=reason,
                )
            elif block:
                to_place.append((rec, block))
        for rec, block in to_place:
            self._place(tx, rec, block, now, policy, "system")

    def _free_slot(
        self, tx: Any, rec: Record, start: datetime, end: datetime, now: datetime, policy: LotPolicy
    ) -> Record | None:
        """A slot of the booking's lot free for ``[start, end)`` (not its own), first in natural order."""
        lot_id = int(rec["lot_id"])
        by_slot: dict[int, list[Record]] = {}
        for b in tx.live_bookings(lot_id=lot_id):
            by_slot.setdefault(int(b["slot_id"]), []).append(b)
        for s in sorted(tx.slots(lot_id), key=lambda s: natural_key(s["slot_number"])):
            s = dict(s, lot_id=lot_id)
            if int(s["id"]) == int(rec["slot_id"]) or self._mark_block(s, start, end, now):
                continue
            if self._clash(by_slot.get(int(s["id"]), ()), start, end, now, policy, slot=s, exclude=int(rec["id"])):
                continue
            return s
        return None

    def _move(self, tx: Any, rec: Record, target: Record, reason: str, now: datetime, actor: str) -> Record:
        """Move a reservation to ``target`` (same lot, same window, same code); audit op ``reassign``."""
        moved = dict(
            rec,
            slot_id=int(target["id"]),
            slot_number=target["slot_number"],
            moved_from=rec.get("slot_number", ""),
            moved_at=rules.to_stamp(now),
            moved_because=reason,
            attention="",
            grace_from=rules.to_stamp(max(now, rules.from_stamp(rec["start_time"]))),
        )
        tx.put_booking(moved)
        self._audit(
            tx, now, actor, "reassign", **self._booking_event(moved), before=rec.get("slot_number", ""),
            after=target["slot_number"], from_slot_id=int(rec["slot_id"]), reason=reason,
        )
        return moved

    def _place(
        self, tx: Any, rec: Record, reason: str, now: datetime, policy: LotPolicy, actor: str,
        start: datetime | None = None,
    ) -> tuple[Record, bool]:
        """Move a blocked reservation to a free slot, or flag it with ``attention``. Returns (record, moved)."""
        begin = start or rules.from_stamp(rec["start_time"])
        target = self._free_slot(tx, rec, begin, rules.from_stamp(rec["end_time"]), now, policy)
        if target is not None:
            return self._move(tx, rec, target, reason, now, actor), True
        attention = f"{reason}, no free slot to move to"
        slot = tx.get_slot(int(rec["slot_id"])) or {}
        until = _ts(slot.get("mark_until")) if self._mark_of(slot, now) is not SlotStatus.AVAILABLE else None
        if until is not None and rec.get("grace_from") != rules.to_stamp(until):
            # When the mark ends by itself, the driver's grace period counts from then.
            rec = dict(rec, grace_from=rules.to_stamp(until))
            tx.put_booking(rec)
        if rec.get("attention") != attention:
            rec = dict(rec, attention=attention, attention_at=rules.to_stamp(now))
            tx.put_booking(rec)
            self._audit(tx, now, actor, "attention", **self._booking_event(rec), reason=attention)
        return rec, False

    def _blocked_on(self, tx: Any, slot: Record, now: datetime) -> set[int]:
        """Ids of the slot's reservations that cannot use it now."""
        live = tx.live_bookings(slot_id=int(slot["id"]))
        return {
            int(b["id"]) for b in live
            if b.get("status") == BookingStatus.RESERVED and self._block_reason(slot, b, live, now)
        }

    def _lift(self, tx: Any, slot: Record, before: set[int], now: datetime, actor: str) -> None:
        """A block on ``slot`` has ended: the reservations it held (``before``) lose ``attention`` and their
        grace period counts from now."""
        live = tx.live_bookings(slot_id=int(slot["id"]))
        for b in live:
            if int(b["id"]) not in before or b.get("status") != BookingStatus.RESERVED:
                continue
            if self._block_reason(slot, b, live, now):
                continue
            tx.put_booking(dict(b, attention="", grace_from=rules.to_stamp(now)))
            if b.get("attention"):
                self._audit(tx, now, actor, "attention", **self._booking_event(b), reason="")

    def _new_code(self, view: Any, lot_id: int) -> str:
        while True:
            raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
            code = f"{raw[:4]}-{raw[4:]}"
            if not view.code_in_use(code, lot_id=lot_id):
                return code

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
        with self.store.transaction() as tx:
            self._check_username_free(tx, username)
            self._check_email_free(tx, email)
            rec = {
                "username": username,
                "email": email,
                "phone_number": phone,
                "password_hash": hashed,
                "is_admin": is_admin,
                "created_at": rules.to_stamp(now),
            }
            tx.put_user(rec)
            self._audit(tx, now, username, "create_admin" if is_admin else "register", target=username)
        return _user(rec)

    @staticmethod
    def _check_username_free(view: Any, username: str) -> None:
        """Usernames are unique ignoring case: ``Bob`` and ``bob`` would be one person at the barrier."""
        folded = username.casefold()
        if view.get_user(username) is not None or any(
            u["username"].casefold() == folded for u in view.users()
        ):
            raise Conflict(f"The username {username!r} is taken; choose another.", field="username")

    @staticmethod
    def _check_email_free(view: Any, email: str, *, exclude: str | None = None) -> None:
        """E-mail addresses are unique ignoring case (one person, one account)."""
        folded = email.casefold()
        if any(u["email"].casefold() == folded and u["username"] != exclude for u in view.users()):
            raise Conflict(f"The e-mail address {email} is already used by another account.", field="email")

    @staticmethod
    def _find_user(view: Any, username: str) -> Record | None:
        """The user with this name, ignoring case (sign-in ignores case, as names are unique ignoring it)."""
        rec: Record | None = view.get_user(username)
        if rec is not None:
            return rec
        folded = username.casefold()
        return next((u for u in view.users() if u["username"].casefold() == folded), None)

    def login(self, username: str, password: str) -> str:
        """Check the password and return a new session token. Five failures lock the username for 5 minutes."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationError(BAD_LOGIN)
        username = username.strip()
        if not rules.USERNAME_RE.fullmatch(username) or len(password) > rules.MAX_PASSWORD:
            raise AuthenticationError(BAD_LOGIN)
        now = self.now()
        with self.store.view() as view:
            user = self._find_user(view, username)
            if user is not None:
                username = user["username"]
            self._check_lockout(view.get_login_state(username), now)
        stored = user["password_hash"] if user else self._dummy()
        try:
            ok = self._hasher.verify(stored, password) and user is not None
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if ok and user is not None and not user.get("active", True):
            raise AuthenticationError("This account has been disabled; ask a lot manager.")
        token = secrets.token_urlsafe(32)
        failure: ParkingError | None = None
        # A rehash (old argon2 parameters) is computed here, never under the lock; inside the transaction only
        # the hash is changed, on the user as it is then (an admin may have changed the account meanwhile).
        rehashed = self._hasher.hash(password) if ok and self._hasher.check_needs_rehash(stored) else None
        with self.store.transaction() as tx:
            state = tx.get_login_state(username)
            self._check_lockout(state, now)
            if not ok:
                last = rules.from_stamp((state or {}).get("last_failure"))
                recent = last is not None and now - last < FAILURE_WINDOW
                failures = (int((state or {}).get("failures", 0)) if recent else 0) + 1
                if failures >= LOCKOUT_THRESHOLD:
                    until = now + LOCKOUT_DURATION
                    tx.put_login_state(username, {"failures": 0, "locked_until": rules.to_stamp(until)})
                    self._audit(tx, now, username, "login_locked", failures=failures)
                    failure = AuthenticationError(
                        f"Too many failed sign-ins: {username!r} is locked for "
                        f"{int(LOCKOUT_DURATION.total_seconds() // 60)} minutes."
                    )
                else:
                    tx.put_login_state(username, {"failures": failures, "last_failure": rules.to_stamp(now)})
                    self._audit(tx, now, username, "login_failed", failures=failures)
                    failure = AuthenticationError(BAD_LOGIN)
                if state is None:
                    self._bound_login_states(tx, now)
            else:
                tx.put_login_state(username, None)
                tx.purge_sessions(now)
                tx.put_session(
                    {
                        "token_hash": _hash_token(token),
                        "username": username,
                        "created_at": rules.to_stamp(now),
                        "expires_at": rules.to_stamp(now + self._session_ttl),
                    }
                )
                self._audit(tx, now, username, "login")
                current = tx.get_user(username) if rehashed is not None else None
                if current is not None and current.get("password_hash") == stored:
                    tx.put_user(dict(current, password_hash=rehashed))
        if failure is not None:
            raise failure
        return token

    @staticmethod
    def _bound_login_states(tx: Any, now: datetime) -> None:
        """Failed sign-ins are kept per username, made-up ones too (so a lockout says nothing about which
        accounts exist). Garbage input must not grow the data: forget states that no longer matter, and keep
        at most ``MAX_LOGIN_STATES``, dropping the oldest."""
        states = tx.login_states()
        if len(states) <= MAX_LOGIN_STATES:
            return

        def latest(state: Record) -> datetime:
            stamps: list[datetime | None] = [rules.from_stamp(state.get(k)) for k in ("last_failure", "locked_until")]
            present: list[datetime] = [t for t in stamps if t is not None]
            return max(present, default=datetime.min.replace(tzinfo=now.tzinfo))

        def stale(state: Record) -> bool:
            locked = rules.from_stamp(state.get("locked_until"))
            last = rules.from_stamp(state.get("last_failure"))
            return (locked is None or locked <= now) and (last is None or now - last >= FAILURE_WINDOW)

        keep = sorted((st for st in states if not stale(st)), key=latest)
        drop = [st["username"] for st in states if stale(st)]
        drop += [st["username"] for st in keep[: max(0, len(keep) - MAX_LOGIN_STATES)]]
        tx.forget_login_states(drop)

    def _check_lockout(self, state: Record | None, now: datetime) -> None:
        if not state or not state.get("locked_until"):
            return
        until = rules.from_stamp(state["locked_until"])
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
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            tx.delete_session(_hash_token(token))
            self._audit(tx, now, user.username, "logout")

    def profile(self, token: str) -> Profile:
        with self.store.view() as view:
            user = self._authenticate(view, token, self.now())
        return Profile(user=user.username, email=user.email, phone_number=user.phone_number, is_admin=user.is_admin)

    def update_profile(self, token: str, *, email: str | None = None, phone_number: str | None = None) -> Profile:
        new_email = rules.validate_email(email) if email is not None else None
        new_phone = rules.validate_phone(phone_number) if phone_number is not None else None
        now = self.now()
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            rec = tx.get_user(user.username)
            before = {"email": rec["email"], "phone_number": rec.get("phone_number", "")}
            if new_email is not None and new_email.casefold() != rec["email"].casefold():
                self._check_email_free(tx, new_email, exclude=user.username)
            if new_email is not None:
                rec["email"] = new_email
            if new_phone is not None:
                rec["phone_number"] = new_phone
            tx.put_user(rec)
            after = {"email": rec["email"], "phone_number": rec.get("phone_number", "")}
            self._audit(tx, now, user.username, "update_profile", before=before, after=after)
        return self.profile(token)

    def set_admin(self, token: str, username: str, is_admin: bool) -> User:
        """An admin grants or withdraws the admin role (the only way the TUI can make an admin)."""
        now = self.now()
        if not isinstance(is_admin, bool):
            raise ValidationError("is_admin must be true or false.")
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            rec = tx.get_user(rules.validate_username(username))
            if rec is None:
                raise NotFound(f"No user {username!r}.", field="username")
            if rec["username"] == actor.username and not is_admin:
                raise Conflict("You cannot remove your own admin role.")
            before = bool(rec.get("is_admin", False))
            rec["is_admin"] = is_admin
            tx.put_user(rec)
            self._audit(tx, now, actor.username, "set_admin", target=rec["username"], before=before, after=is_admin)
        return _user(rec)

    def change_password(self, token: str, old: str, new: str) -> None:
        """Change the signed-in user's password; every other session of theirs ends."""
        new = rules.validate_password(new)
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            stored = view.get_user(user.username)["password_hash"]
        try:
            ok = isinstance(old, str) and self._hasher.verify(stored, old)
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if not ok:
            raise ValidationError("The current password is wrong.", field="old_password")
        if new == old:
            raise ValidationError("The new password must differ from the current one.", field="password")
        hashed = self._hasher.hash(new)
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            rec = tx.get_user(user.username)
            if rec["password_hash"] != stored:
                raise Conflict("The password was changed meanwhile; try again.", field="old_password")
            tx.put_user(dict(rec, password_hash=hashed, password_changed_at=rules.to_stamp(now)))
            ended = tx.end_sessions(user.username, keep=_hash_token(token))
            self._audit(tx, now, user.username, "change_password", sessions_ended=ended)

    def set_user_active(self, token: str, username: str, active: bool) -> User:
        """An admin disables (or enables again) an account; a disabled one cannot sign in, its sessions end."""
        if not isinstance(active, bool):
            raise ValidationError("active must be true or false.", field="active")
        name = rules.validate_username(username)
        now = self.now()
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            rec = self._find_user(tx, name)
            if rec is None:
                raise NotFound(f"No user {name!r}.", field="username")
            if rec["username"] == actor.username and not active:
                raise Conflict("You cannot disable your own account.", field="username")
            before = bool(rec.get("active", True))
            rec = dict(rec, active=active)
            tx.put_user(rec)
            if not active:
                tx.end_sessions(rec["username"])
            self._audit(
                tx, now, actor.username, "set_user_active", target=rec["username"], before=before, after=active
            )
        return _user(rec)

    def list_users(self, token: str) -> list[User]:
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, self.now()))
            return sorted((_user(r) for r in view.users()), key=lambda u: u.username)

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
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            if any(r["name"].casefold() == name.casefold() for r in tx.lots()):
                raise Conflict(f"A lot named {name!r} already exists.", field="name")
            rec = {
                "id": tx.next_id("lot"),
                "name": name,
                "location": location,
                "total_slots": total,
                "time_zone": zone,
                "policy": asdict(policy) if policy else {},
                "created_at": rules.to_stamp(now),
            }
            tx.put_lot(rec)
            self._audit(
                tx, now, actor.username, "create_lot", lot_id=rec["id"], name=name, total_slots=total, time_zone=zone
            )
        return self._lot_model(rec)

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
            changes["policy"] = asdict(self._check_policy(policy))
        now = self.now()
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            lot = self._get_lot(tx, lot_id)
            if "name" in changes and any(
                r["name"].casefold() == changes["name"].casefold() and int(r["id"]) != int(lot["id"])
                for r in tx.lots()
            ):
                raise Conflict(f"A lot named {changes['name']!r} already exists.", field="name")
            if "total_slots" in changes:
                in_use = sum(1 for s in tx.slots(int(lot["id"])) if not s.get("retired"))
                if changes["total_slots"] < in_use:
                    raise Conflict(
                        f"{lot['name']} has {in_use} slots in use; retire slots before lowering its capacity "
                        f"to {changes['total_slots']}.",
                        field="total_slots",
                    )
            before = {k: lot.get(k) for k in changes}
            rec = dict(lot, **changes, updated_at=rules.to_stamp(now))
            rec.setdefault("time_zone", self._zone(lot))
            tx.put_lot(rec)
            self._audit(
                tx, now, actor.username, "update_lot", lot_id=int(lot["id"]), before=before,
                after={k: rec[k] for k in changes},
            )
        return self._lot_model(rec)

    def list_lots(self, token: str) -> list[Lot]:
        with self.store.view() as view:
            self._authenticate(view, token, self.now())
            return sorted((self._lot_model(r) for r in view.lots()), key=lambda lot: (lot.name.casefold(), lot.id))

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
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            lot = self._get_lot(tx, lot_id)
            current = tx.slots(lot["id"])
            existing = {s["slot_number"] for s in current}
            in_use = sum(1 for s in current if not s.get("retired"))
            for number in numbers:
                if number in existing:
                    raise Conflict(f"Slot {number} already exists in {lot['name']}.", field="slot_number")
            if in_use + len(numbers) > int(lot["total_slots"]):
                raise Conflict(
                    f"{lot['name']} holds {lot['total_slots']} slots and has {in_use}; "
                    f"{len(numbers)} more would exceed its capacity (raise it with Edit lot).",
                    field="slot_number",
                )
            for number in numbers:
                rec = {
                    "id": tx.next_id("slot"),
                    "lot_id": lot["id"],
                    "slot_number": number,
                    "admin_status": SlotStatus.AVAILABLE.value,
                }
                tx.put_slot(rec)
                out.append(
                    Slot(rec["id"], lot["id"], number, SlotStatus.AVAILABLE, admin_status=SlotStatus.AVAILABLE)
                )
            self._audit(
                tx, now, actor.username, "add_slots", lot_id=int(lot["id"]),
                slots={s.slot_number: s.id for s in out},
            )
        return out

    def _lot_state(self, view: Any, lot: Record, now: datetime) -> tuple[list[Record], dict[int, list[Record]]]:
        slots = view.slots(lot["id"])
        by_slot: dict[int, list[Record]] = {}
        for b in view.live_bookings(lot_id=lot["id"]):
            by_slot.setdefault(int(b["slot_id"]), []).append(b)
        return slots, by_slot

    def lot_slots(self, token: str, lot_id: int) -> list[Slot]:
        """Every slot of the lot (retired ones too, ``retired`` set), with its status as of now, in natural
        order (A2 before A10)."""
        now = self.now()
        with self.store.view() as view:
            self._authenticate(view, token, now)
            lot = self._get_lot(view, lot_id)
            policy = _policy(lot)
            slots, by_slot = self._lot_state(view, lot, now)
            out = [self._slot(s, by_slot.get(int(s["id"]), ()), now, policy) for s in slots]
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
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots()
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
                slots, by_slot = self._lot_state(view, lot, now)
                for s in slots:
                    if s.get("retired"):
                        continue
                    live = by_slot.get(int(s["id"]), ())
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
        live: Iterable[Record],
        start: datetime,
        end: datetime,
        now: datetime,
        policy: LotPolicy,
        *,
        slot: Record | None = None,
        exclude: int | None = None,
    ) -> Record | None:
        """The first live booking whose blocking window overlaps ``[start, end)``. With the ``slot``'s record,
        a reservation held past its grace period because the slot is blocked still counts."""
        live = list(live)
        for b in live:
            if exclude is not None and int(b["id"]) == exclude:
                continue
            b_start = rules.from_stamp(b["start_time"])
            b_end = rules.from_stamp(b["end_time"])
            status = rules.effective_status(b["status"], b_start, now, policy, grace_from=_ts(b.get("grace_from")))
            if status is BookingStatus.EXPIRED and slot is not None and self._block_reason(slot, b, live, now):
                status = BookingStatus.RESERVED if now < b_end else BookingStatus.CANCELLED
            block = rules.blocking_window(status, b_start, b_end, now, _ts(b.get("checked_in_at")))
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
            for b in reader.live(int(slot["id"])):
                if int(b["slot_id"]) != int(slot["id"]):
                    continue
                booking = reader.booking(b, hide_owner=not user.is_admin and b["username"] != user.username)
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
        result: SlotMark | None = None
        try:
            with self.store.transaction() as tx:
                result = self._mark_in(tx, token, slot_id, status, until, reason, now)
                if not commit:
                    raise _Rollback
        except _Rollback:
            pass
        assert result is not None
        return result

    def _mark_in(
        self, tx: Any, token: str, slot_id: int, status: str, until: datetime | str | None, reason: str, now: datetime
    ) -> SlotMark:
        actor = self._authenticate(tx, token, now)
        self._require_admin(actor)
        slot = dict(self._get_slot(tx, slot_id))
        lot = self._get_lot(tx, slot["lot_id"])
        policy = _policy(lot)
        zone = self._zone(lot)
        number = slot["slot_number"]
        if slot.get("retired"):
            raise Conflict(f"Slot {number} is retired.", field="status")
        self._release_expired(tx, lot["id"], now, policy)
        live = tx.live_bookings(slot_id=int(slot["id"]))
        before_ids = self._blocked_on(tx, slot, now)
        before = slot.get("admin_status", "available")
        if status == "retired":
            slot.update(retired=True, retired_at=rules.to_stamp(now))
            op, after = "retire_slot", "retired"
        else:
            wanted = SlotStatus(status)
            until_at = rules.local_instant(until, zone, "until") if until is not None else None
            if wanted is SlotStatus.AVAILABLE:
                until_at = None
            elif until_at is not None and until_at <= now:
                raise ValidationError("The mark must end in the future.", field="until")
            if wanted is SlotStatus.OCCUPIED:
                if any(b["status"] == BookingStatus.CHECKED_IN for b in live):
                    raise Conflict(f"Slot {number} is already occupied by a checked-in booking.", field="status")
                until_at = until_at or now + policy.walk_in
            slot.update(
                admin_status=wanted.value,
                admin_status_at=rules.to_stamp(now),
                mark_until=rules.to_stamp(until_at) if until_at is not None else None,
                mark_reason=reason if wanted is not SlotStatus.AVAILABLE else "",
            )
            op, after = "set_slot_status", wanted.value
        tx.put_slot(slot)
        extra = {"until": slot.get("mark_until"), "reason": reason} if op == "set_slot_status" else {}
        self._audit(
            tx, now, actor.username, op, slot_id=int(slot["id"]), lot_id=int(lot["id"]), slot_number=number,
            before=before, after=after, **extra,
        )
        moved: list[Booking] = []
        unplaced: list[Booking] = []
        for b in sorted(live, key=lambda r: (r["start_time"], int(r["id"]))):
            if b.get("status") != BookingStatus.RESERVED:
                continue
            block = self._block_reason(slot, b, tx.live_bookings(slot_id=int(slot["id"])), now)
            if not block:
                continue
            rec, did_move = self._place(tx, b, block, now, policy, actor.username)
            (moved if did_move else unplaced).append(self._booking(rec, now, policy, block="" if did_move else block))
        self._lift(tx, slot, before_ids, now, actor.username)
        after_live = tx.live_bookings(slot_id=int(slot["id"]))
        return SlotMark(self._slot(slot, after_live, now, policy), moved, unplaced)

    # ------------------------------------------------------------------------------------ bookings

    def _slot_refusal(
        self, slot: Record, start: datetime, end: datetime, now: datetime, what: str, zone: str
    ) -> None:
        """A retired slot, or a mark in force over the window, refuses new time (``what``: the verb's end)."""
        number = slot["slot_number"]
        if slot.get("retired"):
            raise Conflict(f"Slot {number} is retired; {what}.", field="slot_id")
        block = self._mark_block(slot, start, end, now)
        if not block:
            return
        mark = self._mark_of(slot, now)
        until = _ts(slot.get("mark_until"))
        label = "out of service" if mark is SlotStatus.OUT_OF_SERVICE else "occupied"
        if until is not None:
            raise Conflict(f"Slot {number} is {label} until {self._hm(rules.to_stamp(until), zone)}; {what}.",
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
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            slot = self._get_slot(tx, slot_id)
            lot = self._get_lot(tx, slot["lot_id"])
            policy = _policy(lot)
            zone = self._zone(lot)
            start = rules.local_instant(start_time, zone, "start_time")
            end = rules.local_instant(end_time, zone, "end_time")
            rules.validate_window(start, end, now, policy)
            self._release_expired(tx, lot["id"], now, policy)
            number = slot["slot_number"]
            self._slot_refusal(slot, start, end, now, "choose another slot", zone)
            live = tx.live_bookings(slot_id=int(slot["id"]))
            clash = self._clash(live, start, end, now, policy, slot=slot)
            if clash is not None:
                raise Conflict(
                    f"Slot {number} is already booked from {self._hm(clash['start_time'], zone)} to "
                    f"{self._hm(clash['end_time'], zone)}; choose another time or slot.",
                    field="slot_id",
                )
            self._check_hoarding(tx, user.username, start, end, now, plate=plate, policy=policy)
            rec = {
                "id": tx.next_id("booking"),
                "slot_id": int(slot["id"]),
                "lot_id": int(lot["id"]),
                "slot_number": number,
                "username": user.username,
                "start_time": rules.to_stamp(start),
                "end_time": rules.to_stamp(end),
                "status": BookingStatus.RESERVED.value,
                "confirmation_code": self._new_code(tx, int(lot["id"])),
                "created_at": rules.to_stamp(now),
                "plate": plate,
            }
            tx.put_booking(rec)
            self._audit(
                tx, now, user.username, "create_booking", **self._booking_event(rec),
                start_time=rec["start_time"], end_time=rec["end_time"], after="reserved", plate=plate,
            )
        return self._booking(rec, now, policy)

    def _check_hoarding(
        self,
        tx: Any,
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
        limit = (policy or LotPolicy()).max_cars_per_driver
        overlapping = []
        for b in tx.live_bookings(username=username):
            if exclude is not None and int(b["id"]) == exclude:
                continue
            lot = tx.get_lot(int(b["lot_id"])) or {}
            if self._clash([b], start, end, now, _policy(lot)) is not None:
                overlapping.append((b, self._zone(lot)))
        if not overlapping:
            return
        b, zone = overlapping[0]
        held = (
            f"booking {b['confirmation_code']} (slot {b.get('slot_number', '?')}) from "
            f"{self._hm(b['start_time'], zone)} to {self._hm(b['end_time'], zone)}"
        )
        if not plate or any(not o.get("plate") for o, _ in overlapping):
            raise Conflict(
                f"You already hold {held}; one booking at a time unless each booking names its car's plate.",
                field="start_time",
            )
        for o, z in overlapping:
            if o.get("plate") == plate:
                raise Conflict(
                    f"Car {plate} already has booking {o['confirmation_code']} from {self._hm(o['start_time'], z)} "
                    f"to {self._hm(o['end_time'], z)}.",
                    field="plate",
                )
        if len(overlapping) + 1 > limit:
            raise Conflict(
                f"You already hold {len(overlapping)} booking{'s' if len(overlapping) != 1 else ''} at that time; "
                f"this lot allows {limit} car{'s' if limit != 1 else ''} per driver.",
                field="start_time",
            )

    def _hm(self, stamp: str, zone: str | None = None) -> str:
        value = rules.in_zone(rules.from_stamp(stamp), zone or self.time_zone)
        return f"{value:%d %b %H:%M}"

    def my_bookings(self, token: str) -> list[Booking]:
        """The user's bookings, live and finished, newest start first."""
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            reader = _Reader(self, view, now)
            seen: set[int] = set()
            out = []
            for rec in view.finished_bookings(username=user.username) + view.live_bookings(
                username=user.username
            ):
                if int(rec["id"]) in seen:
                    continue
                seen.add(int(rec["id"]))
                out.append(reader.booking(rec))
        out.sort(key=lambda b: (b.start_time, b.id), reverse=True)
        return out

    def get_booking(self, token: str, booking_id: int) -> Booking:
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            rec = self._get_booking(view, user, booking_id)
            return _Reader(self, view, now).booking(rec)

    def find_booking(self, token: str, confirmation_code: str) -> Booking:
        """Look a booking up by its confirmation code (owner or admin; attendants check drivers in by code)."""
        code = rules.normalize_code(confirmation_code)
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            rec = view.booking_by_code(code, username=None if user.is_admin else user.username)
            if rec is None or (rec["username"] != user.username and not user.is_admin):
                raise NotFound(f"No booking with code {code}.", field="confirmation_code")
            return _Reader(self, view, now).booking(rec)

    def _change_booking(self, token: str, booking_id: int, change: _Change, op: str) -> Booking:
        """Run ``change(tx, rec, status, policy, now, user) -> new record`` on a booking; no-shows are released
        first. ``change`` may raise ``_CommitThenRaise`` to keep some records and still refuse."""
        now = self.now()
        error: ParkingError | None = None
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            rec = self._get_booking(tx, user, booking_id)
            lot = tx.get_lot(int(rec["lot_id"])) or {}
            policy = _policy(lot)
            self._release_expired(tx, int(rec["lot_id"]), now, policy)
            rec = tx.get_booking(int(rec["id"])) or rec  # the release may have moved or finished it
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            block = (
                self._block_reason(slot, rec, tx.live_bookings(slot_id=int(rec["slot_id"])), now)
                if slot and rec.get("status") == BookingStatus.RESERVED else ""
            )
            status = self._status(rec, now, policy, block)
            if status is BookingStatus.EXPIRED:
                # The release above is worth keeping: commit it, then report.
                error = Conflict(
                    f"Booking {rec['confirmation_code']} expired: nobody checked in within "
                    f"{policy.grace_minutes} minutes of the start. The slot has been released."
                )
            else:
                before = rec
                try:
                    rec = change(tx, rec, status, policy, now, user)
                except _CommitThenRaise as keep:
                    for r in keep.records:
                        tx.put_booking(r)
                    for event_op, details in keep.events:
                        self._audit(tx, now, user.username, event_op, **details)
                    error = keep.error
                    rec = keep.records[-1] if keep.records else rec
                else:
                    tx.put_booking(rec)
                    extra = (
                        {"end_before": before["end_time"], "end_after": rec["end_time"]} if op == "extend" else {}
                    )
                    if rec.get("slot_id") != before.get("slot_id"):
                        extra["slot_before"] = before.get("slot_number", "")
                        extra["slot_after"] = rec.get("slot_number", "")
                    self._audit(
                        tx, now, user.username, op, **self._booking_event(rec),
                        before=before["status"], after=rec["status"], **extra,
                    )
        if error is not None:
            raise error
        return self._booking(rec, now, policy)

    def check_in(self, token: str, booking_id: int) -> Booking:
        """Check a car in. Early by up to the lot's ``early_checkin_minutes``, but never into time another
        booking holds; never after the end. A blocked slot (a car still there, a mark, a retired slot) moves
        the booking to a free slot of the lot first (same code); with none free, the booking keeps
        ``attention`` and the check-in is refused."""

        def change(tx: Any, rec: Record, status: BookingStatus, policy: LotPolicy, now: datetime, user: User) -> Record:
            lot = tx.get_lot(int(rec["lot_id"])) or {}
            zone = self._zone(lot)
            start = rules.from_stamp(rec["start_time"])
            end = rules.from_stamp(rec["end_time"])
            rules.check_can_check_in(status, start, end, now, policy, zone)
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            live = tx.live_bookings(slot_id=int(rec["slot_id"]))
            block = self._block_reason(slot, rec, live, now) if slot else ""
            begin = min(now, start)
            if not block and now < start and self._clash(live, begin, start, now, policy, slot=slot,
                                                         exclude=int(rec["id"])):
                # The early part is another driver's: another slot for the early arrival, else refuse.
                target = self._free_slot(tx, rec, begin, end, now, policy)
                if target is None:
                    other = self._clash(live, begin, start, now, policy, slot=slot, exclude=int(rec["id"]))
                    assert other is not None  # the same question as just above
                    until = max(rules.from_stamp(other["end_time"]), now)
                    raise Conflict(
                        f"Slot {rec.get('slot_number', '?')} is still booked by another driver until "
                        f"{rules.in_zone(until, zone):%H:%M}; check in from then."
                    )
                rec = self._move(tx, rec, target, "early arrival", now, user.username)
            elif block:
                target = self._free_slot(tx, rec, begin, end, now, policy)
                if target is None:
                    attention = f"{block}, no free slot to move to"
                    flagged = dict(rec, attention=attention, attention_at=rules.to_stamp(now))
                    raise _CommitThenRaise(
                        Conflict(
                            f"Slot {rec.get('slot_number', '?')} cannot be used ({block}) and no other slot is "
                            "free; please see the attendant."
                        ),
                        [flagged] if rec.get("attention") != attention else [],
                        [("attention", dict(self._booking_event(rec), reason=attention))]
                        if rec.get("attention") != attention else [],
                    )
                rec = self._move(tx, rec, target, block, now, user.username)
            for other in tx.live_bookings(slot_id=int(rec["slot_id"])):
                if int(other["id"]) != int(rec["id"]) and other["status"] == BookingStatus.CHECKED_IN:
                    raise Conflict(
                        f"Slot {rec.get('slot_number', '?')} is still occupied by the previous car; please see "
                        "the attendant."
                    )
            return dict(rec, status=BookingStatus.CHECKED_IN.value, checked_in_at=rules.to_stamp(now), attention="")

        return self._change_booking(token, booking_id, change, op="check_in")

    def check_out(self, token: str, booking_id: int) -> Booking:
        """Complete the booking and free the slot. Leaving after ``end_time`` is recorded as an overstay; the
        reservations the car held up get their grace period counted from now."""

        def change(tx: Any, rec: Record, status: BookingStatus, policy: LotPolicy, now: datetime, user: User) -> Record:
            rules.check_can_check_out(status)
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            waiting = self._blocked_on(tx, slot, now) if slot else set()
            done = dict(rec, status=BookingStatus.COMPLETED.value, checked_out_at=rules.to_stamp(now))
            if waiting:
                tx.put_booking(done)
                self._lift(tx, slot, waiting, now, user.username)
            return done

        return self._change_booking(token, booking_id, change, op="check_out")

    def cancel_booking(self, token: str, booking_id: int) -> Booking:
        def change(tx: Any, rec: Record, status: BookingStatus, policy: LotPolicy, now: datetime, user: User) -> Record:
            rules.check_can_cancel(status)
            return dict(
                rec,
                status=BookingStatus.CANCELLED.value,
                cancelled_at=rules.to_stamp(now),
                cancelled_by=user.username,
            )

        return self._change_booking(token, booking_id, change, op="cancel")

    def extend_booking(self, token: str, booking_id: int, new_end: datetime | str) -> Booking:
        """Move the end of a live booking later, under the same rules as ``create_booking`` (marks, other
        bookings, the driver's other cars). A naive ``new_end`` is read in the lot's time zone."""

        def change(tx: Any, rec: Record, status: BookingStatus, policy: LotPolicy, now: datetime, user: User) -> Record:
            rules.check_can_extend(status)
            lot = tx.get_lot(int(rec["lot_id"])) or {}
            zone = self._zone(lot)
            end = rules.local_instant(new_end, zone, "end_time")
            start = rules.from_stamp(rec["start_time"])
            old_end = rules.from_stamp(rec["end_time"])
            if end <= old_end:
                raise ValidationError(
                    f"The new end must be after the current end ({self._hm(rec['end_time'], zone)}).",
                    field="end_time",
                )
            rules.validate_window(start, end, now, policy, check_start=False)
            if end <= now:
                raise ValidationError("The new end is in the past.", field="end_time")
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            self._slot_refusal(slot, old_end, end, now, "this booking cannot be extended", zone)
            live = tx.live_bookings(slot_id=int(rec["slot_id"]))
            clash = self._clash(live, old_end, end, now, policy, slot=slot, exclude=int(rec["id"]))
            if clash is not None:
                number = rec.get("slot_number", "?")
                if rules.from_stamp(clash["start_time"]) <= old_end:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash['start_time'], zone)}, "
                        "right after yours; this booking cannot be extended."
                    )
                else:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash['start_time'], zone)}; the "
                        f"latest you can extend to is {self._hm(clash['start_time'], zone)}."
                    )
                raise Conflict(msg, field="end_time")
            self._check_hoarding(
                tx, rec["username"], old_end, end, now, plate=rec.get("plate", ""), policy=policy,
                exclude=int(rec["id"]),
            )
            return dict(rec, end_time=rules.to_stamp(end), extended_at=rules.to_stamp(now))

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
        out: list[dict[str, Any]] = []
        for event in self.store.read_audit():
            if username is not None and event.get("user") != username and event.get("owner") != username:
                continue
            if op is not None and event.get("op") != op:
                continue
            if wanted_code is not None and event.get("code") != wanted_code:
                continue
            if booking_id is not None and event.get("booking_id") != booking_id:
                continue
            out.append(event)
        return out[-limit:]

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
                lot_id = int(slot["lot_id"])
                zone = self._zone(view.get_lot(lot_id) or {})
            since_at = rules.local_instant(since, zone, "since") if since is not None else None
            reader = _Reader(self, view, now)
            records = view.live_bookings(lot_id=lot_id)
            by_lot: dict[int, list[Record]] = {}
            for r in records:
                by_lot.setdefault(int(r["lot_id"]), []).append(r)
            for lid, live in by_lot.items():
                reader.preload(lid, live=live)
            if include_finished and (wanted is None or wanted in FINISHED_STATUSES):
                records = view.finished_bookings(lot_id=lot_id) + records
            seen: set[int] = set()
            out = []
            for rec in records:
                if int(rec["id"]) in seen:
                    continue
                seen.add(int(rec["id"]))
                if slot_id is not None and int(rec["slot_id"]) != slot_id:
                    continue
                if since_at is not None and rules.from_stamp(rec["end_time"]) < since_at:
                    continue  # before building a Booking: the archive holds years of them
                if needle and not any(
                    needle in str(rec.get(k, "")).upper().replace("-", "")
                    for k in ("plate", "confirmation_code", "username", "slot_number")
                ):
                    continue
                b = reader.booking(rec)
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
            for lot in view.lots():
                policy = _policy(lot)
                # The same rule as rules.slot_status_at, counted without building a Slot per slot.
                busy: set[int] = set()
                for b in view.live_bookings(lot_id=lot["id"]):
                    start = rules.from_stamp(b["start_time"])
                    status = rules.effective_status(b["status"], start, now, policy)
                    if status is BookingStatus.CHECKED_IN or (
                        status is BookingStatus.RESERVED and start <= now < rules.from_stamp(b["end_time"])
                    ):
                        busy.add(int(b["slot_id"]))
                slots = [s for s in view.slots(lot["id"]) if not s.get("retired")]
                free = sum(
                    1 for s in slots
                    if self._mark_of(s, now) is SlotStatus.AVAILABLE and int(s["id"]) not in busy
                )
                out.append((self._lot_model(lot), free, len(slots)))
        out.sort(key=lambda t: (t[0].name.casefold(), t[0].id))
        return out

    def lot_summary(self, token: str, lot_id: int | None = None) -> list[LotSummary]:
        """Occupancy per lot (admin): now (cars overstaying included), and today's bookings, no-shows and
        overstays - "today" on the lot's own clock."""
        now = self.now()
        out = []
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots()
            days: dict[int, tuple[datetime, datetime]] = {}
            for lot in lots:
                local_now = rules.in_zone(now, self._zone(lot))
                day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
                days[int(lot["id"])] = (day_start, day_start + timedelta(days=1))
            # The archive is read once for all lots, and only today's bookings become Booking values.
            finished_today: dict[int, list[Record]] = {}
            for r in view.finished_bookings(lot_id=lot_id):
                day = days.get(int(r.get("lot_id", 0)))
                if day is not None and day[0] <= rules.from_stamp(r["start_time"]) < day[1]:
                    finished_today.setdefault(int(r["lot_id"]), []).append(r)
            reader = _Reader(self, view, now)
            for lot in lots:
                policy = _policy(lot)
                day_start, day_end = days[int(lot["id"])]
                slots, by_slot = self._lot_state(view, lot, now)
                reader.preload(int(lot["id"]), slots, [r for recs in by_slot.values() for r in recs])
                counts = {s: 0 for s in SlotStatus}
                for s in slots:
                    counts[self._slot(s, by_slot.get(int(s["id"]), ()), now, policy).status] += 1
                records = finished_today.get(int(lot["id"]), []) + [
                    r for recs in by_slot.values() for r in recs
                    if day_start <= rules.from_stamp(r["start_time"]) < day_end
                ]
                today = [reader.booking(r) for r in records]
                overstaying = sum(
                    1 for recs in by_slot.values() for r in recs
                    if r.get("status") == BookingStatus.CHECKED_IN and rules.from_stamp(r["end_time"]) < now
                )
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
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots()
            windows: dict[int, tuple[datetime, datetime]] = {}
            for lot in lots:
                local_now = rules.in_zone(now, self._zone(lot))
                first = local_now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
                windows[int(lot["id"])] = (first, first + timedelta(days=days))
            # Stamps are fixed-width UTC text, so the archive is narrowed to the window by comparing text.
            since = rules.to_stamp(min((w[0] for w in windows.values()), default=now))
            by_lot: dict[int, list[Record]] = {}
            for r in view.finished_bookings(lot_id=lot_id):
                if r["end_time"] >= since or (r.get("checked_out_at") or "") >= since:
                    by_lot.setdefault(int(r.get("lot_id", 0)), []).append(r)
            for lot in lots:
                by_lot.setdefault(int(lot["id"]), []).extend(view.live_bookings(lot_id=int(lot["id"])))
            out = []
            for lot in lots:
                first, last = windows[int(lot["id"])]
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

                for r in by_lot.get(int(lot["id"]), ()):
                    start = rules.from_stamp(r["start_time"])
                    end = rules.from_stamp(r["end_time"])
                    if start is None or end is None:
                        continue
                    status = rules.effective_status(r["status"], start, now, policy)
                    came = rules.from_stamp(r.get("checked_in_at")) if r.get("checked_in_at") else None
                    left = rules.from_stamp(r.get("checked_out_at")) if r.get("checked_out_at") else None
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
                        capacity=len(view.slots(int(lot["id"]))),
                        occupied=tuple(counts["occupied"]),
                        reserved=tuple(counts["reserved"]),
                        no_shows=tuple(counts["no_shows"]),
                        overstays=tuple(counts["overstays"]),
                    )
                )
        out.sort(key=lambda h: (h.lot.name.casefold(), h.lot.id))
        return out

