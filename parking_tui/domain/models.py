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

    @cached_property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)

    @property
    def early_checkin(self) -> timedelta:
        return timedelta(minutes=self.early_checkin_minutes)

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


@dataclass(frozen=True)
class Profile:
    user: User
    email: str
    phone_number: str
    is_admin: bool

    @property
    def username(self) -> str:
        return self.user.username


@dataclass(frozen=True)
class Lot:
    id: int
    name: str
    location: str
    total_slots: int
    policy: LotPolicy = field(default_factory=LotPolicy, compare=False)


@dataclass(frozen=True)
class Slot:
    id: int
    lot_id: int
    slot_number: str
    status: SlotStatus
    """Status as of the instant it was read (derived from bookings and the admin's mark)."""
    admin_status: SlotStatus = SlotStatus.AVAILABLE
    """What an admin set: ``available`` (nothing set), ``occupied`` (walk-in) or ``out_of_service``."""


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

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def overstay(self) -> timedelta:
        """How long past ``end_time`` the car left (zero when on time or not checked out)."""
        if self.checked_out_at is None or self.checked_out_at <= self.end_time:
            return timedelta(0)
        return self.checked_out_at - self.end_time

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
