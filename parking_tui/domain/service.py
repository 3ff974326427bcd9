"""ParkingService: the facade of the use cases - the contract's methods (DESIGN.md), in one place.

Each method hands over to the module that holds the use case: :mod:`.accounts` (accounts and sign-in),
:mod:`.lots` (lots, slots and their marks), :mod:`.bookings` (a booking's day) and :mod:`.views` (the read
models), with the booking rules in :mod:`.booking_rules`. They talk to a store only through the port
(:mod:`.ports`): ``store.view()`` for reads, one ``store.unit_of_work()`` per write (read-check-write, then
``commit()``), typed rows. Authorisation lives in them; time comes from the injected clock. Expired reservations
are released by the service itself: reads derive the status at the instant, and every write to a lot first
finishes that lot's no-shows as ``expired``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any

from . import rules
from .accounts import LOCKOUT_DURATION, LOCKOUT_THRESHOLD, MAX_LOGIN_STATES, SESSION_TTL, Accounts
from .bookings import Bookings
from .context import CODE_ALPHABET, Clock, CodeGenerator, Context, PasswordHasher, random_code, system_clock
from .lots import Lots
from .models import Booking, Lot, LotHours, LotPolicy, LotSummary, Profile, Slot, SlotMark, User
from .ports import Store
from .views import Views


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
        """``code_generator`` makes confirmation codes (default: random, ``K7QX-2M9P``); ``terminal`` is where
        this process's users sit, for the audit log; ``time_zone`` the zone new lots get."""
        if password_hasher is None:
            from argon2 import PasswordHasher as Argon2Hasher  # argon2id with the library's defaults

            password_hasher = Argon2Hasher()
        self._ctx = Context(
            store,
            clock=clock or system_clock,
            password_hasher=password_hasher,
            session_ttl=session_ttl,
            terminal=str(terminal)[:120],
            time_zone=rules.validate_time_zone(time_zone) if time_zone else "UTC",
            code_generator=code_generator or random_code,
        )
        self.store = store
        self._hasher = password_hasher
        self._accounts = Accounts(self._ctx)
        self._lots = Lots(self._ctx)
        self._bookings = Bookings(self._ctx)
        self._views = Views(self._ctx)

    # ------------------------------------------------------------------------------------ settings

    @property
    def terminal(self) -> str:
        """Where this process's users sit (``ssh:203.0.113.9``, ``tty:/dev/pts/2``, a kiosk id): audit log."""
        return self._ctx.terminal

    @terminal.setter
    def terminal(self, value: str) -> None:
        self._ctx.terminal = str(value)[:120]

    @property
    def time_zone(self) -> str:
        """The zone a new lot gets when none is given (the config's ``time_zone``, else the machine's)."""
        return self._ctx.time_zone

    def now(self) -> datetime:
        return self._ctx.now()

    def version(self, lot_id: int | None = None) -> Hashable:
        """Changes whenever any process commits a change to the lot (or, without one, to any lot); cheap, so
        live views poll it."""
        return self.store.change_token(lot_id)

    # ------------------------------------------------------------------------------- accounts

    def register(self, username: str, email: str, password: str, phone_number: str = "") -> User:
        return self._accounts.create_user(username, email, password, phone_number, is_admin=False)

    def create_admin(self, username: str, email: str, password: str) -> User:
        """For the local operator (the CLI): creates a user with ``is_admin``."""
        return self._accounts.create_user(username, email, password, "", is_admin=True)

    def login(self, username: str, password: str) -> str:
        """Check the password and return a new session token. Five failures lock the username for 5 minutes."""
        return self._accounts.login(username, password)

    def logout(self, token: str) -> None:
        self._accounts.logout(token)

    def profile(self, token: str) -> Profile:
        return self._accounts.profile(token)

    def update_profile(self, token: str, *, email: str | None = None, phone_number: str | None = None) -> Profile:
        return self._accounts.update_profile(token, email=email, phone_number=phone_number)

    def set_admin(self, token: str, username: str, is_admin: bool) -> User:
        """An admin grants or withdraws the admin role (the only way the TUI can make an admin)."""
        return self._accounts.set_admin(token, username, is_admin)

    def change_password(self, token: str, old: str, new: str) -> None:
        """Change the signed-in user's password; every other session of theirs ends."""
        self._accounts.change_password(token, old, new)

    def set_user_active(self, token: str, username: str, active: bool) -> User:
        """An admin disables (or enables again) an account; a disabled one cannot sign in, its sessions end."""
        return self._accounts.set_user_active(token, username, active)

    def list_users(self, token: str) -> list[User]:
        return self._accounts.list_users(token)

    # ------------------------------------------------------------------------------ lots and slots

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
        return self._lots.create_lot(token, name, location, total_slots, time_zone=time_zone, policy=policy)

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
        return self._lots.update_lot(
            token, lot_id, name=name, location=location, total_slots=total_slots, time_zone=time_zone, policy=policy
        )

    def list_lots(self, token: str) -> list[Lot]:
        return self._lots.list_lots(token)

    def get_lot(self, token: str, lot_id: int) -> Lot:
        return self._lots.get_lot(token, lot_id)

    def add_slot(self, token: str, lot_id: int, slot_number: str) -> Slot:
        return self._lots.add_slots(token, lot_id, [slot_number])[0]

    def add_slots(self, token: str, lot_id: int, slot_numbers: Iterable[str]) -> list[Slot]:
        """Add several slots in one write (the admin's row generator); all or nothing."""
        return self._lots.add_slots(token, lot_id, slot_numbers)

    def lot_slots(self, token: str, lot_id: int) -> list[Slot]:
        """Every slot of the lot (retired ones too, ``retired`` set), with its status as of now, in natural
        order (A2 before A10)."""
        return self._lots.lot_slots(token, lot_id)

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
        return self._lots.available_slots(token, lot_id, start_time, end_time)

    def slot_schedule(self, token: str, slot_id: int) -> list[Booking]:
        """The slot's live bookings in time order. A driver sees another driver's bookings only as busy windows
        (no id, name, code, plate or check-in time)."""
        return self._lots.slot_schedule(token, slot_id)

    def set_slot_status(
        self, token: str, slot_id: int, status: str, *, until: datetime | str | None = None, reason: str = ""
    ) -> Slot:
        """An admin marks a slot; see :meth:`mark_slot` (this returns only the slot)."""
        return self._lots.mark(token, slot_id, status, until=until, reason=reason, commit=True).slot

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
        return self._lots.mark(token, slot_id, status, until=until, reason=reason, commit=True)

    def preview_mark(
        self, token: str, slot_id: int, status: str, *, until: datetime | str | None = None, reason: str = ""
    ) -> SlotMark:
        """What :meth:`mark_slot` (or, with ``status="retired"``, :meth:`retire_slot`) would do now, without
        doing it: the same checks, the same moves, nothing written."""
        return self._lots.mark(token, slot_id, status, until=until, reason=reason, commit=False)

    def retire_slot(self, token: str, slot_id: int) -> Slot:
        """Retire a slot (admin): it takes no new bookings and no longer counts against the lot's capacity;
        its reservations move as for ``out_of_service``. A car parked there may still leave."""
        return self._lots.mark(token, slot_id, "retired", commit=True).slot

    def retire_slot_mark(self, token: str, slot_id: int) -> SlotMark:
        """:meth:`retire_slot`, answering which reservations moved and which could not be placed."""
        return self._lots.mark(token, slot_id, "retired", commit=True)

    # ------------------------------------------------------------------------------------ bookings

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
        return self._bookings.create_booking(token, slot_id, start_time, end_time, plate=plate)

    def my_bookings(self, token: str) -> list[Booking]:
        """The user's bookings, live and finished, newest start first."""
        return self._bookings.my_bookings(token)

    def get_booking(self, token: str, booking_id: int) -> Booking:
        return self._bookings.get_booking(token, booking_id)

    def find_booking(self, token: str, confirmation_code: str) -> Booking:
        """Look a booking up by its confirmation code (owner or admin; attendants check drivers in by code)."""
        return self._bookings.find_booking(token, confirmation_code)

    def check_in(self, token: str, booking_id: int) -> Booking:
        """Check a car in. Early by up to the lot's ``early_checkin_minutes``, but never into time another
        booking holds; never after the end. A blocked slot (a car still there, a mark, a retired slot) moves
        the booking to a free slot of the lot first (same code); with none free, the booking keeps
        ``attention`` and the check-in is refused."""
        return self._bookings.check_in(token, booking_id)

    def check_out(self, token: str, booking_id: int) -> Booking:
        """Complete the booking and free the slot. Leaving after ``end_time`` is recorded as an overstay; the
        reservations the car held up get their grace period counted from now."""
        return self._bookings.check_out(token, booking_id)

    def cancel_booking(self, token: str, booking_id: int) -> Booking:
        return self._bookings.cancel_booking(token, booking_id)

    def extend_booking(self, token: str, booking_id: int, new_end: datetime | str) -> Booking:
        """Move the end of a live booking later, under the same rules as ``create_booking`` (marks, other
        bookings, the driver's other cars). A naive ``new_end`` is read in the lot's time zone."""
        return self._bookings.extend_booking(token, booking_id, new_end)

    # ------------------------------------------------------------------------------ read models

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
        return self._views.audit_log(token, username=username, op=op, code=code, booking_id=booking_id, limit=limit)

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
        running at or after that instant. ``q`` keeps those whose plate, code, driver or slot number contains
        it (ignoring case, spaces and '-': ``ab12 cde`` finds ``AB12CDE``)."""
        return self._views.list_reservations(
            token, lot_id, slot_id=slot_id, status=status, since=since, include_finished=include_finished, q=q
        )

    def lot_overview(self, token: str) -> list[tuple[Lot, int, int]]:
        """Every lot with the number of slots free now and the number of slots it has."""
        return self._views.lot_overview(token)

    def lot_summary(self, token: str, lot_id: int | None = None) -> list[LotSummary]:
        """Occupancy per lot (admin): now (cars overstaying included), and today's bookings, no-shows and
        overstays - "today" on the lot's own clock."""
        return self._views.lot_summary(token, lot_id)

    def occupancy_by_hour(self, token: str, days: int = 1, lot_id: int | None = None) -> list[LotHours]:
        """Per lot, hour by hour for today and the ``days - 1`` days before it (the lot's own clock): cars
        parked, reservations held, no-shows and overstays (admin)."""
        return self._views.occupancy_by_hour(token, days, lot_id)


__all__ = [
    "CODE_ALPHABET",
    "LOCKOUT_DURATION",
    "LOCKOUT_THRESHOLD",
    "MAX_LOGIN_STATES",
    "SESSION_TTL",
    "Clock",
    "CodeGenerator",
    "ParkingService",
    "PasswordHasher",
    "random_code",
    "system_clock",
]
