"""The domain's values: frozen dataclasses and string enums (``slot.status == "available"`` holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta
from enum import StrEnum


class SlotStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out_of_service"


class BookingStatus(StrEnum):
    RESERVED = "reserved"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_live(self) -> bool:
        return self in LIVE_STATUSES


LIVE_STATUSES = frozenset({BookingStatus.RESERVED, BookingStatus.CHECKED_IN})
FINISHED_STATUSES = frozenset({BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.EXPIRED})

#: What an admin may set with ``set_slot_status``.
ADMIN_SLOT_STATUSES = frozenset({SlotStatus.AVAILABLE, SlotStatus.OCCUPIED, SlotStatus.OUT_OF_SERVICE})


@dataclass(frozen=True)
class LotPolicy:
    """Per-lot booking rules. The defaults are what a lot gets unless an admin says otherwise."""

    grace_minutes: int = 15
    """After ``start_time`` a reservation is held this long; unclaimed, it expires and the slot is free."""
    early_checkin_minutes: int = 15
    """A driver may check in this long before ``start_time``."""
    max_duration_hours: int = 24
    max_advance_days: int = 30
    past_tolerance_minutes: int = 5
    """A window may start this far in the past (the driver filled the form slowly)."""
    min_minutes: int = 15
    """The shortest booking."""
    walk_in_hours: int = 4
    """An ``occupied`` (walk-in) mark set without an end ends by itself this long after it was set."""
    max_cars_per_driver: int = 2
    """A driver may hold overlapping bookings only for different plates, up to this many (without a plate, one
    at a time)."""

    @cached_property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)

    @property
    def early_checkin(self) -> timedelta:
        return timedelta(minutes=self.early_checkin_minutes)

    @property
    def min_duration(self) -> timedelta:
        return timedelta(minutes=self.min_minutes)

    @property
    def walk_in(self) -> timedelta:
        return timedelta(hours=self.walk_in_hours)

    @property
    def max_duration(self) -> timedelta:
        return timedelta(hours=self.max_duration_hours)

    @property
    def max_advance(self) -> timedelta:
        return timedelta(days=self.max_advance_days)

    @property
    def past_tolerance(self) -> timedelta:
        return timedelta(minutes=self.past_tolerance_minutes)


@dataclass(frozen=True)
class User:
    username: str
    email: str
    phone_number: str = ""
    is_admin: bool = False
    active: bool = True
    """An inactive account cannot sign in (``set_user_active``)."""


@dataclass(frozen=True)
class Profile:
    user: str
    """The username, as in the seed's ``{"user": "user_1", ...}``."""
    email: str
    phone_number: str
    is_admin: bool

    @property
    def username(self) -> str:
        return self.user


@dataclass(frozen=True)
class Lot:
    id: int
    name: str
    location: str
    total_slots: int
    policy: LotPolicy = field(default_factory=LotPolicy, compare=False)
    time_zone: str = "UTC"
    """The IANA zone the lot's clocks show (``Europe/Berlin``); naive times given for the lot are read in it."""


@dataclass(frozen=True)
class Slot:
    id: int
    lot_id: int
    slot_number: str
    status: SlotStatus
    """Status as of the instant it was read (derived from bookings and the admin's mark)."""
    admin_status: SlotStatus = SlotStatus.AVAILABLE
    """What an admin set and is still in force: ``available`` (nothing set, or the mark has ended),
    ``occupied`` (walk-in) or ``out_of_service``."""
    mark_until: datetime | None = None
    """When the admin's mark ends by itself (``None``: until cleared)."""
    mark_reason: str = ""
    retired: bool = False
    """A retired slot takes no new bookings (its status reads ``out_of_service``)."""


@dataclass(frozen=True)
class Booking:
    id: int
    slot_id: int
    username: str
    start_time: datetime
    end_time: datetime
    status: BookingStatus
    confirmation_code: str
    lot_id: int = 0
    slot_number: str = ""
    created_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    cancelled_at: datetime | None = None
    plate: str = ""
    """The vehicle registration, normalised (upper case, no spaces); ``""`` when none was given."""
    attention: str = ""
    """``""``, or a short reason a person must act on ("previous car still in A1")."""
    moved_from: str = ""
    """The slot number the booking was moved away from because that slot was blocked (``""``: never moved)."""
    as_of: datetime | None = field(default=None, compare=False, repr=False)
    """The instant the booking was read at: a car still parked past its end overstays until then."""

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def overstay(self) -> timedelta:
        """How long past ``end_time`` the car stayed: until it left, or - still parked - until now (the
        instant the booking was read). Zero when on time."""
        if self.checked_out_at is not None:
            left = self.checked_out_at
        elif self.status is BookingStatus.CHECKED_IN and self.as_of is not None:
            left = self.as_of
        else:
            return timedelta(0)
        if left <= self.end_time:
            return timedelta(0)
        return left - self.end_time

    @property
    def is_overstay(self) -> bool:
        return self.overstay > timedelta(0)


@dataclass(frozen=True)
class LotSummary:
    """Occupancy figures of one lot (admin view)."""

    lot: Lot
    free_now: int
    reserved_now: int
    occupied_now: int
    out_of_service: int
    bookings_today: int
    no_shows_today: int
    overstays_today: int
    overstaying_now: int = 0
    """Cars checked in and still parked past their booking's end."""


@dataclass(frozen=True)
class LotHours:
    """One lot hour by hour (admin view), on the lot's own clock, from ``start`` (a local midnight).

    ``occupied[i]``: cars parked at some time in hour ``i`` (checked in, until checked out or now);
    ``reserved[i]``: reservations holding a slot in that hour but not (yet) checked in;
    ``no_shows[i]``: reservations that started in that hour and were never claimed;
    ``overstays[i]``: stays whose booked end fell in that hour and that went on past it."""

    lot: Lot
    start: datetime
    capacity: int
    occupied: tuple[int, ...]
    reserved: tuple[int, ...]
    no_shows: tuple[int, ...]
    overstays: tuple[int, ...]


@dataclass(frozen=True)
class SlotMark:
    """What an admin's mark did: the slot as marked, the bookings moved to other slots (same code, same
    window), and those that could not be placed (they carry ``attention``)."""

    slot: Slot
    moved: list[Booking] = field(default_factory=list)
    unplaced: list[Booking] = field(default_factory=list)
