"""Bookings in words: status labels and colours, "starts in 14m", the order a driver reads them in.

Shared by My bookings and Admin (screens take it from here, not from each other).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text

from ..domain.models import Booking, BookingStatus, Lot
from . import timefmt

STATUS_LABELS = {
    BookingStatus.RESERVED: "reserved",
    BookingStatus.CHECKED_IN: "checked in",
    BookingStatus.COMPLETED: "completed",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.EXPIRED: "no-show",
}

#: Theme variable that colours each booking status.
STATUS_COLOURS = {
    BookingStatus.RESERVED: "warning",
    BookingStatus.CHECKED_IN: "success",
    BookingStatus.COMPLETED: "",
    BookingStatus.CANCELLED: "",
    BookingStatus.EXPIRED: "error",
}


def zone_of(lot: Lot | None) -> str | None:
    """The zone a booking's times are shown in: its lot's (``None``: the terminal's)."""
    return lot.time_zone if lot is not None else None


def local(value: datetime, zone: str | None = None) -> datetime:
    """The instant on the display clock (the lots' zone, else this terminal's)."""
    return timefmt.local(value, zone)


def fmt_delta(delta: timedelta) -> str:
    """A short duration: ``45m``, ``1h 15m``, ``2d 3h``."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins:02d}m" if mins else f"{hours}h"
    return f"{mins}m"


def status_text(app, status: BookingStatus) -> Text:
    """The status label coloured from the current theme (no colour when the theme has none)."""
    colour = STATUS_COLOURS.get(status, "")
    style = ""
    if colour:
        style = app.theme_variables.get(colour, "") if hasattr(app, "theme_variables") else ""
    if status is BookingStatus.CHECKED_IN:
        style = f"bold {style}".strip()
    return Text(STATUS_LABELS.get(status, str(status)), style=style)


def timing(booking: Booking, now: datetime, lot: Lot | None) -> str:
    """What a driver wants to know about the clock: time to start or to end, or how it ended."""
    grace = lot.policy.grace if lot is not None else timedelta(minutes=15)
    status = booking.status
    if status is BookingStatus.RESERVED:
        if booking.attention:
            return "held: see the attendant"
        if now < booking.start_time:
            return f"starts in {fmt_delta(booking.start_time - now)}"
        return f"check in by {local(booking.start_time + grace, zone_of(lot)):%H:%M}"
    if status is BookingStatus.CHECKED_IN:
        if now < booking.end_time:
            return f"ends in {fmt_delta(booking.end_time - now)}"
        return f"overstaying {fmt_delta(now - booking.end_time)}"
    if status is BookingStatus.COMPLETED:
        if booking.is_overstay:
            return f"overstayed {fmt_delta(booking.overstay)}"
        if booking.checked_out_at is not None:
            return f"left {local(booking.checked_out_at, zone_of(lot)):%H:%M}"
        return "done"
    if status is BookingStatus.EXPIRED:
        return "not claimed"
    return ""


def order_bookings(bookings: list[Booking]) -> list[Booking]:
    """Active first, then upcoming (soonest first), then past (most recent first)."""
    active = sorted((b for b in bookings if b.status is BookingStatus.CHECKED_IN), key=lambda b: b.end_time)
    upcoming = sorted((b for b in bookings if b.status is BookingStatus.RESERVED), key=lambda b: b.start_time)
    past = sorted(
        (b for b in bookings if not b.is_live), key=lambda b: (b.start_time, b.id), reverse=True
    )
    return active + upcoming + past
