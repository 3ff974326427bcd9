"""Reading and showing times on the lot's clock. "Now" always comes from the service's clock.

Every function takes the zone to show or read times in (``zone``: the IANA name of the lot the time belongs
to; ``None``: the terminal's own zone). There is no process-wide display zone: a row shows its own lot's
time, whatever map was opened last. The service reads a naive time in the lot's zone too, so both agree.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

QUARTER = timedelta(minutes=15)

@lru_cache(maxsize=64)
def tz(zone: str | None) -> tzinfo | None:
    """The ``tzinfo`` of an IANA name (``None``, or an unknown name: the terminal's zone)."""
    if not zone:
        return None
    try:
        return ZoneInfo(zone)
    except Exception:  # an unknown zone: the terminal's, rather than no times at all
        return None


def zone_note(now: datetime, zone: str | None) -> str:
    """``"times in Europe/Berlin"`` when ``zone``'s clock differs from the terminal's, else ``""``."""
    info = tz(zone)
    if info is None or now.astimezone(info).utcoffset() == now.astimezone().utcoffset():
        return ""
    return f"times in {zone}"


def local(moment: datetime, zone: str | None = None) -> datetime:
    """``moment`` on the clock of ``zone`` (``None``: the terminal's)."""
    info = tz(zone)
    return moment.astimezone(info) if info is not None else moment.astimezone()


def next_quarter(now: datetime, zone: str | None = None) -> datetime:
    """``now`` rounded up to the quarter hour, local (09:00 stays 09:00; 09:01 becomes 09:15)."""
    now = local(now, zone)
    base = now.replace(second=0, microsecond=0)
    if base < now:
        base += timedelta(minutes=1)
    return base + timedelta(minutes=(-base.minute) % 15)


def default_window(now: datetime, hours: int = 1, zone: str | None = None) -> tuple[datetime, datetime]:
    start = next_quarter(now, zone)
    return start, start + timedelta(hours=hours)


def parse_date(text: str, today: date) -> date:
    """``2026-11-27``, ``27.11.2026``, ``27/11``, ``today``, ``tomorrow`` or ``+2`` (days from today)."""
    value = text.strip().lower()
    if value in ("", "today"):
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    if re.fullmatch(r"\+\d{1,3}", value):
        return today + timedelta(days=int(value[1:]))
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            y, m, d = (int(p) for p in value.split("-"))
            return date(y, m, d)
        match = re.fullmatch(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?\.?", value)
        if match:
            d, m = int(match.group(1)), int(match.group(2))
            y = int(match.group(3)) if match.group(3) else today.year
            if y < 100:
                y += 2000
            candidate = date(y, m, d)
            if not match.group(3) and candidate < today:
                candidate = date(y + 1, m, d)
            return candidate
    except ValueError:
        pass
    raise ValueError("Enter a date like 2026-11-27, 27.11. or 'tomorrow'.")


def parse_time(text: str) -> time:
    """``9:30``, ``09:30``, ``0930``, ``9.30`` or ``9`` (24-hour clock)."""
    value = text.strip().replace(".", ":").replace("h", ":")
    match = re.fullmatch(r"(\d{1,2})(?::?(\d{2}))?:?", value)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour == 24 and minute == 0:
            hour = 0
        if 0 <= hour < 24 and 0 <= minute < 60:
            return time(hour, minute)
    raise ValueError("Enter a time like 09:30 (24-hour clock).")


def combine(day: date, at: time, zone: str | None = None) -> datetime:
    """The aware datetime of ``day`` at ``at`` on ``zone``'s clock."""
    info = tz(zone)
    if info is not None:
        return datetime.combine(day, at).replace(tzinfo=info)
    return datetime.combine(day, at).astimezone()


OUT_OF_RANGE = "Enter a date between the years 1900 and 9998."


def window_from(day: date, start: time, end: time, zone: str | None = None) -> tuple[datetime, datetime]:
    """A window on ``day``; an end at or before the start means the next day (an overnight stay).

    A day at the edge of the calendar (9999-12-31 with an overnight end, year 1 in a zone east of UTC) is a
    ``ValueError`` with a message for the person, never an ``OverflowError``."""
    if not 1900 <= day.year <= 9998:
        raise ValueError(OUT_OF_RANGE)
    try:
        begin = combine(day, start, zone)
        finish = combine(day, end, zone)
        if finish <= begin:
            finish = combine(day + timedelta(days=1), end, zone)
    except (OverflowError, ValueError):
        raise ValueError(OUT_OF_RANGE) from None
    return begin, finish


def hm(moment: datetime, zone: str | None = None) -> str:
    return f"{local(moment, zone):%H:%M}"


def day_label(moment: datetime, now: datetime, zone: str | None = None) -> str:
    """``today``, ``tomorrow`` or ``Fri 27 Nov`` (on ``zone``'s calendar)."""
    d = local(moment, zone).date()
    today = local(now, zone).date()
    if d == today:
        return "today"
    if d == today + timedelta(days=1):
        return "tomorrow"
    return f"{local(moment, zone):%a %d %b}"


def span(start: datetime, end: datetime, now: datetime, zone: str | None = None) -> str:
    """``today 09:00-10:00`` or ``Fri 27 Nov 22:00 - Sat 28 Nov 06:00`` (on ``zone``'s clock)."""
    first, last = local(start, zone), local(end, zone)
    if first.date() == last.date() or (last - first <= timedelta(hours=24) and hm(end, zone) == "00:00"):
        return f"{day_label(start, now, zone)} {hm(start, zone)}–{hm(end, zone)}"
    return f"{day_label(start, now, zone)} {hm(start, zone)} – {day_label(end, now, zone)} {hm(end, zone)}"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"
