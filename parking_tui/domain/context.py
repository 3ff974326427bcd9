"""What every use case shares: the store, the clock, who is signed in, the audit log, lookups that raise.

The use-case modules (:mod:`.accounts`, :mod:`.lots`, :mod:`.bookings`, :mod:`.views`) each take one
:class:`Context`; :class:`~parking_tui.domain.service.ParkingService` builds it and is the facade over them.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from . import rules
from .errors import AuthenticationError, Conflict, NotFound, PermissionDenied
from .models import Lot, LotPolicy, User
from .ports import AuditEvent, BookingRow, LotRow, ReadView, SlotRow, Store, UnitOfWork, UserRow

Clock = Callable[[], datetime]
CodeGenerator = Callable[[], str]

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a barrier


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, hash: str, password: str) -> bool: ...
    def check_needs_rehash(self, hash: str) -> bool: ...


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def random_code() -> str:
    """A confirmation code like ``K7QX-2M9P`` (8 characters from :data:`CODE_ALPHABET`)."""
    raw = "".join(CODE_ALPHABET[b % 32] for b in secrets.token_bytes(8))  # 32 letters: each byte picks one evenly
    return f"{raw[:4]}-{raw[4:]}"


@lru_cache(maxsize=65536)
def natural_key(slot_number: str) -> tuple[Any, ...]:
    """``A2`` sorts before ``A10``. Kept per slot number: every list of slots is sorted by it."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(slot_number))


_DIGITS = re.compile(r"(\d+)")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


DEFAULT_POLICY = LotPolicy()


def policy_of(lot: LotRow | None) -> LotPolicy:
    return (lot.policy if lot is not None else None) or DEFAULT_POLICY


def user_value(row: UserRow) -> User:
    return User(
        username=row.username,
        email=row.email,
        phone_number=row.phone_number,
        is_admin=row.is_admin,
        active=row.active,
    )


class Context:
    """The store and the settings of one service, with the steps every use case starts with."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        password_hasher: PasswordHasher,
        session_ttl: timedelta,
        terminal: str,
        time_zone: str,
        code_generator: CodeGenerator,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hasher = password_hasher
        self.session_ttl = session_ttl
        #: Where this process's users sit (``ssh:203.0.113.9``, ``tty:/dev/pts/2``, a kiosk id): audit log.
        self.terminal = terminal
        #: The zone a new lot gets when none is given (the config's ``time_zone``, else the machine's).
        self.time_zone = time_zone
        self.new_code_text = code_generator

    def now(self) -> datetime:
        return rules.aware(self.clock(), "clock")

    def zone(self, lot: LotRow | None) -> str:
        """The lot's zone: every time in a message, and "today", is on the lot's clock."""
        return (lot.time_zone if lot is not None else "") or self.time_zone

    def lot_model(self, row: LotRow) -> Lot:
        return Lot(
            id=row.id,
            name=row.name,
            location=row.location,
            total_slots=row.total_slots,
            policy=policy_of(row),
            time_zone=self.zone(row),
        )

    def authenticate(self, view: ReadView, token: object, now: datetime) -> User:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise AuthenticationError("You are not signed in.")
        session = view.sessions.get(hash_token(token))
        if session is None:
            raise AuthenticationError("Your session has ended; sign in again.")
        if session.expires_at <= now:
            raise AuthenticationError("Your session has expired; sign in again.")
        user = view.users.get(session.username)
        if user is None:
            raise AuthenticationError("Your account no longer exists.")
        if not user.active:
            raise AuthenticationError("Your account has been disabled; ask a lot manager.")
        return user_value(user)

    def admin(self, view: ReadView, token: object, now: datetime) -> User:
        """The signed-in user, who must be an admin."""
        user = self.authenticate(view, token, now)
        require_admin(user)
        return user

    def audit(self, uow: UnitOfWork, now: datetime, user: str, op: str, **details: Any) -> None:
        """One audit event: when, who, from where, what (ids, before -> after). Never a password or token."""
        uow.audit.append(AuditEvent(now, user, self.terminal, op, details))

    def new_code(self, view: ReadView) -> str:
        """A confirmation code no live booking holds."""
        for _ in range(1000):
            code = self.new_code_text()
            if not view.bookings.code_in_use(code):
                return code
        raise Conflict("No free confirmation code could be made; try again.", field="confirmation_code")


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only a lot manager (admin) can do that.")


def get_lot(view: ReadView, lot_id: object) -> LotRow:
    lot_id = rules.validate_id(lot_id, "Lot")
    row = view.lots.get(lot_id)
    if row is None:
        raise NotFound(f"No lot with id {lot_id}.", field="lot_id")
    return row


def get_slot(view: ReadView, slot_id: object) -> SlotRow:
    slot_id = rules.validate_id(slot_id, "Slot")
    row = view.slots.get(slot_id)
    if row is None:
        raise NotFound(f"No slot with id {slot_id}.", field="slot_id")
    return row


def get_booking(view: ReadView, user: User, booking_id: object) -> BookingRow:
    booking_id = rules.validate_id(booking_id, "Booking")
    row = view.bookings.get(booking_id)
    if row is None or (row.username != user.username and not user.is_admin):
        # Another driver's booking is never visible: same answer as a booking that does not exist.
        raise NotFound(f"No booking #{booking_id}.", field="booking_id")
    return row


def lots_of(view: ReadView, lot_id: int | None) -> list[LotRow]:
    """The lot asked for, or every lot."""
    return [get_lot(view, lot_id)] if lot_id is not None else view.lots.all()
