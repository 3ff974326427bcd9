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
    LotPolicy,
    LotSummary,
    Profile,
    Slot,
    SlotStatus,
    User,
)
from .ports import Record, Store

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


def natural_key(slot_number: str) -> tuple:
    """``A2`` sorts before ``A10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", slot_number))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _policy(rec: Record) -> LotPolicy:
    raw = rec.get("policy") or {}
    known = {f.name for f in fields(LotPolicy)}
    return LotPolicy(**{k: int(v) for k, v in raw.items() if k in known})


def _lot(rec: Record) -> Lot:
    return Lot(
        id=int(rec["id"]),
        name=rec["name"],
        location=rec["location"],
        total_slots=int(rec["total_slots"]),
        policy=_policy(rec),
    )


def _user(rec: Record) -> User:
    return User(
        username=rec["username"],
        email=rec["email"],
        phone_number=rec.get("phone_number", ""),
        is_admin=bool(rec.get("is_admin", False)),
    )


def _ts(value: str | None) -> datetime | None:
    return rules.from_stamp(value)


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
    ) -> None:
        self.store = store
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

    def version(self, lot_id: int | None = None) -> tuple:
        """Changes whenever any process commits a write (cheap: a ``stat``); the TUI polls it."""
        return self.store.version(lot_id)

    def _booking(self, rec: Record, now: datetime, policy: LotPolicy, *, hide_owner: bool = False) -> Booking:
        start = rules.from_stamp(rec["start_time"])
        assert start is not None
        status = rules.effective_status(rec["status"], start, now, policy)
        return Booking(
            id=int(rec["id"]),
            slot_id=int(rec["slot_id"]),
            username="" if hide_owner else rec["username"],
            start_time=start,
            end_time=rules.from_stamp(rec["end_time"]),  # type: ignore[arg-type]
            status=status,
            confirmation_code="" if hide_owner else rec["confirmation_code"],
            lot_id=int(rec["lot_id"]),
            slot_number=rec.get("slot_number", ""),
            created_at=_ts(rec.get("created_at")),
            checked_in_at=_ts(rec.get("checked_in_at")),
            checked_out_at=_ts(rec.get("checked_out_at")),
            cancelled_at=_ts(rec.get("cancelled_at")),
        )

    def _slot(self, rec: Record, live: Iterable[Record], now: datetime, policy: LotPolicy) -> Slot:
        windows = []
        for b in live:
            start = rules.from_stamp(b["start_time"])
            end = rules.from_stamp(b["end_time"])
            windows.append((rules.effective_status(b["status"], start, now, policy), start, end))
        admin_status = SlotStatus(rec.get("admin_status", "available"))
        return Slot(
            id=int(rec["id"]),
            lot_id=int(rec["lot_id"]),
            slot_number=rec["slot_number"],
            status=rules.slot_status_at(admin_status, windows, now),
            admin_status=admin_status,
        )

    def _authenticate(self, view, token: object, now: datetime) -> User:
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
        return _user(user)

    def _require_admin(self, user: User) -> None:
        if not user.is_admin:
            raise PermissionDenied("Only a lot manager (admin) can do that.")

    def _get_lot(self, view, lot_id: object) -> Record:
        lot_id = rules.validate_id(lot_id, "Lot")
        rec = view.get_lot(lot_id)
        if rec is None:
            raise NotFound(f"No lot with id {lot_id}.", field="lot_id")
        return rec

    def _get_slot(self, view, slot_id: object) -> Record:
        slot_id = rules.validate_id(slot_id, "Slot")
        rec = view.get_slot(slot_id)
        if rec is None:
            raise NotFound(f"No slot with id {slot_id}.", field="slot_id")
        return rec

    def _get_booking(self, view, user: User, booking_id: object) -> Record:
        booking_id = rules.validate_id(booking_id, "Booking")
        rec = view.get_booking(booking_id, username=None if user.is_admin else user.username)
        if rec is None or (rec["username"] != user.username and not user.is_admin):
            # Another driver's booking is never visible: same answer as a booking that does not exist.
            raise NotFound(f"No booking #{booking_id}.", field="booking_id")
        return rec

    def _audit(self, tx, now: datetime, user: str, op: str, **details: Any) -> None:
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

    def _release_expired(self, tx, lot_id: int, now: datetime, policy: LotPolicy) -> None:
        """Move the lot's no-shows (reserved, past the grace period) to the archive as ``expired``."""
        for rec in tx.reserved_starting_before(lot_id, now - policy.grace):
            start = rules.from_stamp(rec["start_time"])
            if rules.effective_status(rec["status"], start, now, policy) is BookingStatus.EXPIRED:
                tx.put_booking(dict(rec, status=BookingStatus.EXPIRED.value, expired_at=rules.to_stamp(now)))
                self._audit(
                    tx, now, "system", "expire", **self._booking_event(rec), before="reserved", after="expired"
                )

    def _new_code(self, view, lot_id: int) -> str:
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

    def _create_user(self, username, email, password, phone_number, *, is_admin: bool) -> User:
        username = rules.validate_username(username)
        email = rules.validate_email(email)
        password = rules.validate_password(password)
        phone = rules.validate_phone(phone_number)
        with self.store.view() as view:
            self._check_username_free(view, username)
        hashed = self._hasher.hash(password)  # slow on purpose: outside the lock
        now = self.now()
        with self.store.transaction() as tx:
            self._check_username_free(tx, username)
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
    def _check_username_free(view, username: str) -> None:
        """Usernames are unique ignoring case: ``Bob`` and ``bob`` would be one person at the barrier."""
        folded = username.casefold()
        if view.get_user(username) is not None or any(
            u["username"].casefold() == folded for u in view.users()
        ):
            raise Conflict(f"The username {username!r} is taken; choose another.", field="username")

    def login(self, username: str, password: str) -> str:
        """Check the password and return a new session token. Five failures lock the username for 5 minutes."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationError(BAD_LOGIN)
        username = username.strip()
        if not rules.USERNAME_RE.fullmatch(username) or len(password) > rules.MAX_PASSWORD:
            raise AuthenticationError(BAD_LOGIN)
        now = self.now()
        with self.store.view() as view:
            self._check_lockout(view.get_login_state(username), now)
            user = view.get_user(username)
        stored = user["password_hash"] if user else self._dummy()
        try:
            ok = self._hasher.verify(stored, password) and user is not None
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
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
                for s in tx.sessions():
                    if rules.from_stamp(s["expires_at"]) <= now:
                        tx.delete_session(s["token_hash"])
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
    def _bound_login_states(tx, now: datetime) -> None:
        """Failed sign-ins are kept per username, made-up ones too (so a lockout says nothing about which
        accounts exist). Garbage input must not grow the data: forget states that no longer matter, and keep
        at most ``MAX_LOGIN_STATES``, dropping the oldest."""
        states = tx.login_states()
        if len(states) <= MAX_LOGIN_STATES:
            return

        def latest(state: Record) -> datetime:
            stamps = [rules.from_stamp(state.get(k)) for k in ("last_failure", "locked_until")]
            return max((t for t in stamps if t is not None), default=datetime.min.replace(tzinfo=now.tzinfo))

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
        return Profile(user=user, email=user.email, phone_number=user.phone_number, is_admin=user.is_admin)

    def update_profile(self, token: str, *, email: str | None = None, phone_number: str | None = None) -> Profile:
        new_email = rules.validate_email(email) if email is not None else None
        new_phone = rules.validate_phone(phone_number) if phone_number is not None else None
        now = self.now()
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            rec = tx.get_user(user.username)
            before = {"email": rec["email"], "phone_number": rec.get("phone_number", "")}
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

    def list_users(self, token: str) -> list[User]:
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, self.now()))
            return sorted((_user(r) for r in view.users()), key=lambda u: u.username)

    # ------------------------------------------------------------------------------ lots and slots

    def create_lot(
        self, token: str, name: str, location: str, total_slots: int, *, policy: LotPolicy | None = None
    ) -> Lot:
        name = rules.validate_text(name, "name")
        location = rules.validate_text(location, "location", max_len=120)
        total = rules.validate_total_slots(total_slots)
        if policy is not None:
            if not isinstance(policy, LotPolicy):
                raise ValidationError("policy must be a LotPolicy.")
            rules.validate_policy(policy)
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
                "policy": asdict(policy) if policy else {},
                "created_at": rules.to_stamp(now),
            }
            tx.put_lot(rec)
            self._audit(tx, now, actor.username, "create_lot", lot_id=rec["id"], name=name, total_slots=total)
        return _lot(rec)

    def list_lots(self, token: str) -> list[Lot]:
        with self.store.view() as view:
            self._authenticate(view, token, self.now())
            return sorted((_lot(r) for r in view.lots()), key=lambda lot: (lot.name.casefold(), lot.id))

    def get_lot(self, token: str, lot_id: int) -> Lot:
        with self.store.view() as view:
            self._authenticate(view, token, self.now())
            return _lot(self._get_lot(view, lot_id))

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
            existing = {s["slot_number"] for s in tx.slots(lot["id"])}
            for number in numbers:
                if number in existing:
                    raise Conflict(f"Slot {number} already exists in {lot['name']}.", field="slot_number")
            if len(existing) + len(numbers) > int(lot["total_slots"]):
                raise Conflict(
                    f"{lot['name']} holds {lot['total_slots']} slots and has {len(existing)}; "
                    f"{len(numbers)} more would exceed its capacity.",
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

    def _lot_state(self, view, lot: Record, now: datetime) -> tuple[list[Record], dict[int, list[Record]]]:
        slots = view.slots(lot["id"])
        by_slot: dict[int, list[Record]] = {}
        for b in view.live_bookings(lot_id=lot["id"]):
            by_slot.setdefault(int(b["slot_id"]), []).append(b)
        return slots, by_slot

    def lot_slots(self, token: str, lot_id: int) -> list[Slot]:
        """Every slot of the lot, with its status as of now, in natural order (A2 before A10)."""
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
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> list[Slot]:
        """Free slots: now (no window given) or for the whole window ``[start_time, end_time)``."""
        now = self.now()
        if (start_time is None) != (end_time is None):
            raise ValidationError("Give both a start and an end time, or neither.", field="end_time")
        window = None
        if start_time is not None:
            start = rules.aware(start_time, "start_time")
            end = rules.aware(end_time, "end_time")
            if end <= start:
                raise ValidationError("End time must be after the start time.", field="end_time")
            window = (start, end)
        out: list[Slot] = []
        with self.store.view() as view:
            self._authenticate(view, token, now)
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots()
            for lot in lots:
                policy = _policy(lot)
                slots, by_slot = self._lot_state(view, lot, now)
                for s in slots:
                    live = by_slot.get(int(s["id"]), ())
                    slot = self._slot(s, live, now, policy)
                    if window is None:
                        free = slot.status is SlotStatus.AVAILABLE
                    else:
                        free = slot.admin_status is SlotStatus.AVAILABLE and not self._clash(
                            live, window[0], window[1], now, policy
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
        exclude: int | None = None,
    ) -> Record | None:
        """The first live booking whose blocking window overlaps ``[start, end)``."""
        for b in live:
            if exclude is not None and int(b["id"]) == exclude:
                continue
            b_start = rules.from_stamp(b["start_time"])
            status = rules.effective_status(b["status"], b_start, now, policy)
            block = rules.blocking_window(status, b_start, rules.from_stamp(b["end_time"]), now)
            if block and rules.overlaps(start, end, block[0], block[1]):
                return b
        return None

    def slot_schedule(self, token: str, slot_id: int) -> list[Booking]:
        """The slot's live bookings in time order; a driver sees times only, not who booked."""
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            slot = self._get_slot(view, slot_id)
            policy = _policy(view.get_lot(slot["lot_id"]) or {})
            out = []
            for b in view.live_bookings(lot_id=slot["lot_id"]):
                if int(b["slot_id"]) != int(slot["id"]):
                    continue
                booking = self._booking(
                    b, now, policy, hide_owner=not user.is_admin and b["username"] != user.username
                )
                if booking.is_live:
                    out.append(booking)
        out.sort(key=lambda b: b.start_time)
        return out

    def set_slot_status(self, token: str, slot_id: int, status: str) -> Slot:
        """An admin marks a slot ``available``, ``occupied`` (a walk-in, now) or ``out_of_service``.

        * ``out_of_service`` blocks new bookings and check-ins; existing bookings stay, and the admin finds
          them with ``list_reservations(token, slot_id=...)`` to resolve them. A checked-in car may still leave.
        * ``occupied`` records a car that is there without a booking. It blocks new bookings until cleared.
          It is refused while a checked-in booking already occupies the slot.
        * ``available`` clears what an admin set. A checked-in booking keeps the slot occupied until check-out.
        """
        try:
            wanted = SlotStatus(status)
        except ValueError:
            raise ValidationError(
                "Status must be available, occupied or out_of_service.", field="status"
            ) from None
        if wanted not in ADMIN_SLOT_STATUSES:
            raise ValidationError("'reserved' comes from bookings; it cannot be set by hand.", field="status")
        now = self.now()
        with self.store.transaction() as tx:
            actor = self._authenticate(tx, token, now)
            self._require_admin(actor)
            slot = self._get_slot(tx, slot_id)
            lot = self._get_lot(tx, slot["lot_id"])
            policy = _policy(lot)
            self._release_expired(tx, lot["id"], now, policy)
            live = tx.live_bookings(slot_id=int(slot["id"]))
            if wanted is SlotStatus.OCCUPIED and any(b["status"] == BookingStatus.CHECKED_IN for b in live):
                raise Conflict(
                    f"Slot {slot['slot_number']} is already occupied by a checked-in booking.", field="status"
                )
            before = slot.get("admin_status", "available")
            slot = dict(slot, admin_status=wanted.value, admin_status_at=rules.to_stamp(now))
            tx.put_slot(slot)
            self._audit(
                tx, now, actor.username, "set_slot_status", slot_id=int(slot["id"]), lot_id=int(lot["id"]),
                slot_number=slot["slot_number"], before=before, after=wanted.value,
            )
            return self._slot(slot, live, now, policy)

    # ------------------------------------------------------------------------------------ bookings

    def create_booking(self, token: str, slot_id: int, start_time: datetime, end_time: datetime) -> Booking:
        start = rules.aware(start_time, "start_time")
        end = rules.aware(end_time, "end_time")
        now = self.now()
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            slot = self._get_slot(tx, slot_id)
            lot = self._get_lot(tx, slot["lot_id"])
            policy = _policy(lot)
            rules.validate_window(start, end, now, policy)
            self._release_expired(tx, lot["id"], now, policy)
            number = slot["slot_number"]
            if slot.get("admin_status") == SlotStatus.OUT_OF_SERVICE:
                raise Conflict(f"Slot {number} is out of service; choose another slot.", field="slot_id")
            if slot.get("admin_status") == SlotStatus.OCCUPIED:
                raise Conflict(f"Slot {number} is occupied; choose another slot.", field="slot_id")
            live = tx.live_bookings(slot_id=int(slot["id"]))
            clash = self._clash(live, start, end, now, policy)
            if clash is not None:
                raise Conflict(
                    f"Slot {number} is already booked from {self._hm(clash['start_time'])} to "
                    f"{self._hm(clash['end_time'])}; choose another time or slot.",
                    field="slot_id",
                )
            self._check_hoarding(tx, user.username, start, end, now)
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
            }
            tx.put_booking(rec)
            self._audit(
                tx, now, user.username, "create_booking", **self._booking_event(rec),
                start_time=rec["start_time"], end_time=rec["end_time"], after="reserved",
            )
        return self._booking(rec, now, policy)

    def _check_hoarding(
        self, tx, username: str, start: datetime, end: datetime, now: datetime, exclude: int | None = None
    ) -> None:
        """A driver holds at most one live booking for any instant."""
        for b in tx.live_bookings(username=username):
            if exclude is not None and int(b["id"]) == exclude:
                continue
            lot = tx.get_lot(int(b["lot_id"])) or {}
            if self._clash([b], start, end, now, _policy(lot)) is not None:
                raise Conflict(
                    f"You already hold booking {b['confirmation_code']} (slot {b.get('slot_number', '?')}) "
                    f"from {self._hm(b['start_time'])} to {self._hm(b['end_time'])}; one booking at a time.",
                    field="start_time",
                )

    @staticmethod
    def _hm(stamp: str) -> str:
        value = rules.from_stamp(stamp).astimezone()
        return f"{value:%d %b %H:%M}"

    def my_bookings(self, token: str) -> list[Booking]:
        """The user's bookings, live and finished, newest start first."""
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            policies = {int(r["id"]): _policy(r) for r in view.lots()}
            seen: set[int] = set()
            out = []
            for rec in view.finished_bookings(username=user.username) + view.live_bookings(
                username=user.username
            ):
                if int(rec["id"]) in seen:
                    continue
                seen.add(int(rec["id"]))
                out.append(self._booking(rec, now, policies.get(int(rec["lot_id"]), LotPolicy())))
        out.sort(key=lambda b: (b.start_time, b.id), reverse=True)
        return out

    def get_booking(self, token: str, booking_id: int) -> Booking:
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            rec = self._get_booking(view, user, booking_id)
            return self._booking(rec, now, _policy(view.get_lot(int(rec["lot_id"])) or {}))

    def find_booking(self, token: str, confirmation_code: str) -> Booking:
        """Look a booking up by its confirmation code (owner or admin; attendants check drivers in by code)."""
        code = rules.normalize_code(confirmation_code)
        now = self.now()
        with self.store.view() as view:
            user = self._authenticate(view, token, now)
            rec = view.booking_by_code(code, username=None if user.is_admin else user.username)
            if rec is None or (rec["username"] != user.username and not user.is_admin):
                raise NotFound(f"No booking with code {code}.", field="confirmation_code")
            return self._booking(rec, now, _policy(view.get_lot(int(rec["lot_id"])) or {}))

    def _change_booking(self, token: str, booking_id: int, change, op: str) -> Booking:
        """Run ``change(tx, rec, policy, now) -> new record`` on a booking; no-shows are released first."""
        now = self.now()
        error: ParkingError | None = None
        with self.store.transaction() as tx:
            user = self._authenticate(tx, token, now)
            rec = self._get_booking(tx, user, booking_id)
            lot = tx.get_lot(int(rec["lot_id"])) or {}
            policy = _policy(lot)
            self._release_expired(tx, int(rec["lot_id"]), now, policy)
            status = rules.effective_status(rec["status"], rules.from_stamp(rec["start_time"]), now, policy)
            if status is BookingStatus.EXPIRED:
                # The release above is worth keeping: commit it, then report.
                error = Conflict(
                    f"Booking {rec['confirmation_code']} expired: nobody checked in within "
                    f"{policy.grace_minutes} minutes of the start. The slot has been released."
                )
            else:
                before = rec
                rec = change(tx, rec, status, policy, now, user)
                tx.put_booking(rec)
                extra = {"end_before": before["end_time"], "end_after": rec["end_time"]} if op == "extend" else {}
                self._audit(
                    tx, now, user.username, op, **self._booking_event(rec),
                    before=before["status"], after=rec["status"], **extra,
                )
        if error is not None:
            raise error
        return self._booking(rec, now, policy)

    def check_in(self, token: str, booking_id: int) -> Booking:
        def change(tx, rec, status, policy, now, user):
            start = rules.from_stamp(rec["start_time"])
            rules.check_can_check_in(status, start, now, policy)
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            number = rec.get("slot_number", "?")
            if slot.get("admin_status") == SlotStatus.OUT_OF_SERVICE:
                raise Conflict(f"Slot {number} is out of service; please see the attendant.")
            if slot.get("admin_status") == SlotStatus.OCCUPIED:
                raise Conflict(f"Slot {number} is marked occupied; please see the attendant.")
            for other in tx.live_bookings(slot_id=int(rec["slot_id"])):
                if (
                    int(other["slot_id"]) == int(rec["slot_id"])
                    and int(other["id"]) != int(rec["id"])
                    and other["status"] == BookingStatus.CHECKED_IN
                ):
                    raise Conflict(
                        f"Slot {number} is still occupied by the previous car; please see the attendant."
                    )
            return dict(rec, status=BookingStatus.CHECKED_IN.value, checked_in_at=rules.to_stamp(now))

        return self._change_booking(token, booking_id, change, op="check_in")

    def check_out(self, token: str, booking_id: int) -> Booking:
        """Complete the booking and free the slot. Leaving after ``end_time`` is recorded as an overstay."""

        def change(tx, rec, status, policy, now, user):
            rules.check_can_check_out(status)
            return dict(rec, status=BookingStatus.COMPLETED.value, checked_out_at=rules.to_stamp(now))

        return self._change_booking(token, booking_id, change, op="check_out")

    def cancel_booking(self, token: str, booking_id: int) -> Booking:
        def change(tx, rec, status, policy, now, user):
            rules.check_can_cancel(status)
            return dict(
                rec,
                status=BookingStatus.CANCELLED.value,
                cancelled_at=rules.to_stamp(now),
                cancelled_by=user.username,
            )

        return self._change_booking(token, booking_id, change, op="cancel")

    def extend_booking(self, token: str, booking_id: int, new_end: datetime) -> Booking:
        """Move the end of a live booking later, re-checked against the slot's other bookings."""
        end = rules.aware(new_end, "end_time")

        def change(tx, rec, status, policy, now, user):
            rules.check_can_extend(status)
            start = rules.from_stamp(rec["start_time"])
            old_end = rules.from_stamp(rec["end_time"])
            if end <= old_end:
                raise ValidationError(
                    f"The new end must be after the current end ({self._hm(rec['end_time'])}).", field="end_time"
                )
            rules.validate_window(start, end, now, policy, check_start=False)
            if end <= now:
                raise ValidationError("The new end is in the past.", field="end_time")
            slot = tx.get_slot(int(rec["slot_id"])) or {}
            if slot.get("admin_status") == SlotStatus.OUT_OF_SERVICE:
                raise Conflict(f"Slot {rec.get('slot_number', '?')} is out of service; it cannot be extended.")
            live = tx.live_bookings(slot_id=int(rec["slot_id"]))
            clash = self._clash(live, old_end, end, now, policy, exclude=int(rec["id"]))
            if clash is not None:
                number = rec.get("slot_number", "?")
                if rules.from_stamp(clash["start_time"]) <= old_end:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash['start_time'])}, right "
                        "after yours; this booking cannot be extended."
                    )
                else:
                    msg = (
                        f"Slot {number} is booked by someone else from {self._hm(clash['start_time'])}; the "
                        f"latest you can extend to is {self._hm(clash['start_time'])}."
                    )
                raise Conflict(msg, field="end_time")
            self._check_hoarding(tx, rec["username"], old_end, end, now, exclude=int(rec["id"]))
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
    ) -> list[Booking]:
        """Every reservation (admin), filtered by lot, slot, status, and - with ``since`` - only those still
        running at or after that instant (end time not before it)."""
        wanted = None
        if status is not None:
            try:
                wanted = BookingStatus(status)
            except ValueError:
                raise ValidationError("Unknown booking status.", field="status") from None
        since_at = rules.aware(since, "since") if since is not None else None
        now = self.now()
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            if lot_id is not None:
                self._get_lot(view, lot_id)
            if slot_id is not None:
                slot = self._get_slot(view, slot_id)
                lot_id = int(slot["lot_id"])
            policies = {int(r["id"]): _policy(r) for r in view.lots()}
            records = view.live_bookings(lot_id=lot_id)
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
                b = self._booking(rec, now, policies.get(int(rec["lot_id"]), LotPolicy()))
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
                slots = view.slots(lot["id"])
                free = sum(
                    1 for s in slots if s.get("admin_status", "available") == "available" and int(s["id"]) not in busy
                )
                out.append((_lot(lot), free, len(slots)))
        out.sort(key=lambda t: (t[0].name.casefold(), t[0].id))
        return out

    def lot_summary(self, token: str, lot_id: int | None = None) -> list[LotSummary]:
        """Occupancy per lot (admin): now, and today's bookings, no-shows and overstays."""
        now = self.now()
        local_now = now.astimezone()
        day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        day_end = day_start + timedelta(days=1)
        out = []
        with self.store.view() as view:
            self._require_admin(self._authenticate(view, token, now))
            lots = [self._get_lot(view, lot_id)] if lot_id is not None else view.lots()
            # The archive is read once for all lots, and only today's bookings become Booking values.
            finished_today: dict[int, list[Record]] = {}
            for r in view.finished_bookings(lot_id=lot_id):
                if day_start <= rules.from_stamp(r["start_time"]) < day_end:
                    finished_today.setdefault(int(r["lot_id"]), []).append(r)
            for lot in lots:
                policy = _policy(lot)
                slots, by_slot = self._lot_state(view, lot, now)
                counts = {s: 0 for s in SlotStatus}
                for s in slots:
                    counts[self._slot(s, by_slot.get(int(s["id"]), ()), now, policy).status] += 1
                records = finished_today.get(int(lot["id"]), []) + [
                    r for recs in by_slot.values() for r in recs
                    if day_start <= rules.from_stamp(r["start_time"]) < day_end
                ]
                today = [self._booking(r, now, policy) for r in records]
                out.append(
                    LotSummary(
                        lot=_lot(lot),
                        free_now=counts[SlotStatus.AVAILABLE],
                        reserved_now=counts[SlotStatus.RESERVED],
                        occupied_now=counts[SlotStatus.OCCUPIED],
                        out_of_service=counts[SlotStatus.OUT_OF_SERVICE],
                        bookings_today=len(today),
                        no_shows_today=sum(1 for b in today if b.status is BookingStatus.EXPIRED),
                        overstays_today=sum(1 for b in today if b.is_overstay),
                    )
                )
        out.sort(key=lambda s: (s.lot.name.casefold(), s.lot.id))
        return out


def booking_to_row(b: Booking) -> dict[str, Any]:
    """A flat dict for CSV export."""
    return {
        "id": b.id,
        "confirmation_code": b.confirmation_code,
        "username": b.username,
        "lot_id": b.lot_id,
        "slot_id": b.slot_id,
        "slot_number": b.slot_number,
        "start_time": b.start_time.isoformat(),
        "end_time": b.end_time.isoformat(),
        "status": b.status.value,
        "checked_in_at": b.checked_in_at.isoformat() if b.checked_in_at else "",
        "checked_out_at": b.checked_out_at.isoformat() if b.checked_out_at else "",
        "overstay_minutes": int(b.overstay.total_seconds() // 60),
    }
