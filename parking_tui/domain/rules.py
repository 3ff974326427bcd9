"""Pure rules: validation, time windows, the booking state machine and the status of a slot at an instant."""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import Conflict, ValidationError
from .models import BookingStatus, LotPolicy, SlotStatus

USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
# A practical e-mail check: one @, a dot in the domain, no spaces or control characters.
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+")  # noqa: E501
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()\-]{3,22}")
SLOT_NUMBER_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
CODE_RE = re.compile(r"[A-Z0-9]{4}-?[A-Z0-9]{4}")
PLATE_RE = re.compile(r"[A-Z0-9]{2,10}")

MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_TEXT = 80
MAX_SLOTS = 10_000
MAX_ID = 2**53

LIVE = (BookingStatus.RESERVED, BookingStatus.CHECKED_IN)


def _is_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must be text.", field=field)
    return value


def _printable(value: str) -> bool:
    return value.isprintable()


def validate_username(value: object) -> str:
    name = _is_str(value, "username").strip()
    if not USERNAME_RE.fullmatch(name):
        raise ValidationError(
            "Username must be 3-32 characters: letters, digits, '_', '.' or '-'.", field="username"
        )
    return name


def validate_email(value: object) -> str:
    email = _is_str(value, "email").strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise ValidationError("Enter a valid e-mail address, like name@example.com.", field="email")
    return email


def validate_password(value: object) -> str:
    password = _is_str(value, "password")
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"Password must be at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"Password must be at most {MAX_PASSWORD} characters.", field="password")
    if not password.strip():
        raise ValidationError("Password must not be blank (only spaces).", field="password")
    if "\x00" in password:
        raise ValidationError("Password must not contain a NUL character.", field="password")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no keyboard types it, and the hasher cannot encode it
        raise ValidationError("Password holds a character that cannot be stored.", field="password") from None
    return password


def validate_phone(value: object) -> str:
    if value is None:
        return ""
    phone = _is_str(value, "phone_number").strip()
    if phone and not PHONE_RE.fullmatch(phone):
        raise ValidationError(
            "Phone number may hold digits, spaces, '-', '(', ')' and a leading '+' (4-23 characters).",
            field="phone_number",
        )
    return phone


def validate_text(value: object, field: str, *, required: bool = True, max_len: int = MAX_TEXT) -> str:
    text = _is_str(value, field).strip()
    label = field.replace("_", " ").capitalize()
    if required and not text:
        raise ValidationError(f"{label} must not be empty.", field=field)
    if len(text) > max_len:
        raise ValidationError(f"{label} must be at most {max_len} characters.", field=field)
    if not _printable(text):
        raise ValidationError(f"{label} must not contain control characters.", field=field)
    return text


def validate_total_slots(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("Capacity must be a whole number.", field="total_slots")
    if not 1 <= value <= MAX_SLOTS:
        raise ValidationError(f"Capacity must be between 1 and {MAX_SLOTS:,}.", field="total_slots")
    return value


def validate_slot_number(value: object) -> str:
    number = _is_str(value, "slot_number").strip().upper()
    if not number or len(number) > 16 or not SLOT_NUMBER_RE.fullmatch(number):
        raise ValidationError(
            "Slot number must be 1-16 letters and digits, optionally joined by '-', like A5 or P2-14.",
            field="slot_number",
        )
    return number


POLICY_LIMITS = {
    "grace_minutes": (0, 240, "Grace period", "minutes"),
    "early_checkin_minutes": (0, 240, "Early check-in", "minutes"),
    "max_duration_hours": (1, 168, "Longest booking", "hours"),
    "max_advance_days": (1, 365, "Booking horizon", "days"),
    "past_tolerance_minutes": (0, 60, "Start-time tolerance", "minutes"),
    "min_minutes": (1, 240, "Shortest booking", "minutes"),
    "walk_in_hours": (1, 72, "Walk-in mark", "hours"),
    "max_cars_per_driver": (1, 20, "Cars per driver", "cars"),
}


def validate_policy(policy: LotPolicy) -> LotPolicy:
    for name, (low, high, label, unit) in POLICY_LIMITS.items():
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"{label} must be {low}-{high} {unit}.", field=name)
    return policy


def normalize_plate(value: object) -> str:
    """A vehicle registration: upper case, spaces and '-' dropped (``"ab12 cde"`` -> ``"AB12CDE"``)."""
    if value is None:
        return ""
    plate = _is_str(value, "plate").upper().replace(" ", "").replace("-", "")
    if plate and not PLATE_RE.fullmatch(plate):
        raise ValidationError("A plate is 2-10 letters and digits, like AB12 CDE.", field="plate")
    return plate


def validate_time_zone(value: object) -> str:
    """An IANA zone name (``Europe/Berlin``) that this machine knows."""
    name = _is_str(value, "time_zone").strip()
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise ValidationError("Time zone must be an IANA name like Europe/Berlin or UTC.", field="time_zone")
    try:
        zone_of(name)
    except ValueError:
        raise ValidationError(
            f"Unknown time zone {name!r}; use an IANA name like Europe/Berlin or UTC.", field="time_zone"
        ) from None
    return name


@lru_cache(maxsize=256)
def zone_of(name: str) -> tzinfo:
    """The ``tzinfo`` of an IANA name. ``ValueError`` for an unknown name."""
    if name in ("UTC", "Etc/UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(name) from None


def validate_id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} id must be a whole number.", field=f"{what.lower()}_id")
    if not 1 <= value <= MAX_ID:
        raise ValidationError(f"No {what.lower()} with id {value}.", field=f"{what.lower()}_id")
    return value


def normalize_code(value: object) -> str:
    code = _is_str(value, "confirmation_code").strip().upper().replace(" ", "")
    if not CODE_RE.fullmatch(code):
        raise ValidationError("A confirmation code looks like K7QX-2M9P.", field="confirmation_code")
    if "-" not in code:
        code = f"{code[:4]}-{code[4:]}"
    return code


# ---------------------------------------------------------------------------------------------- time

_MIN = datetime(1970, 1, 2, tzinfo=timezone.utc)
_MAX = datetime(9000, 1, 1, tzinfo=timezone.utc)


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def local_instant(value: object, zone: str | tzinfo, field: str = "time") -> datetime:
    """The UTC instant of a time given for a lot.

    An aware ``datetime`` (or an ISO-8601 string with an offset) is taken as is; a naive one (or a string
    without an offset) is read in ``zone``, the lot's time zone, whatever the process's ``TZ``. A local time
    that does not exist (the spring-forward gap) is a ``ValidationError``; an ambiguous one (the autumn
    fall-back) is the first of the two unless ``fold=1``.
    """
    try:
        tz = zone_of(zone) if isinstance(zone, str) else zone
    except ValueError:
        raise ValidationError(f"The lot's time zone {zone!r} is unknown on this machine.", field=field) from None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) > 40:
                raise ValueError
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                f"{_label(field)} must be a date and time like 2025-12-04T10:10.", field=field
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError(f"{_label(field)} must be a date and time.", field=field)
    try:
        naive = value.tzinfo is None or value.utcoffset() is None
    except Exception:  # a tzinfo that raises (any error at all): the value is unusable, never a traceback
        raise ValidationError(f"{_label(field)} has a time zone that cannot be read.", field=field) from None
    if naive:
        try:
            local = value.replace(tzinfo=tz)
            back = local.astimezone(timezone.utc).astimezone(tz)
        except (ValueError, OverflowError, OSError):
            raise ValidationError(f"{_label(field)} is out of range.", field=field) from None
        if back.replace(tzinfo=None, fold=0) != value.replace(fold=0):
            raise ValidationError(
                f"{_label(field)} {value:%Y-%m-%d %H:%M} does not exist in {zone_name(tz)}: the clocks "
                "jump forward over it.",
                field=field,
            )
        value = local
    return aware(value, field).astimezone(timezone.utc)


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or ("UTC" if tz is timezone.utc else str(tz))


def in_zone(value: datetime, zone: str) -> datetime:
    """``value`` on the lot's clocks."""
    try:
        return value.astimezone(zone_of(zone))
    except ValueError:
        return value.astimezone(timezone.utc)


def aware(value: object, field: str = "time") -> datetime:
    """Return an aware datetime. A naive one means the machine's local zone."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must be a date and time.", field=field)
    try:
        result = value if value.tzinfo is not None and value.utcoffset() is not None else value.astimezone()
        if not _MIN <= result <= _MAX:
            raise ValueError
        # Every rule is checked on UTC instants: two times with the same zone object compare as wall-clock
        # times in Python, which is wrong across a DST change (extreme offsets overflow here, too).
        result = result.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ValidationError(
            f"{field.replace('_', ' ').capitalize()} is out of range.", field=field
        ) from None
    except Exception:  # a tzinfo that raises (any error at all): the value is unusable, never a traceback
        raise ValidationError(
            f"{field.replace('_', ' ').capitalize()} has a time zone that cannot be read.", field=field
        ) from None
    return result


def to_stamp(value: datetime) -> str:
    """UTC, fixed width (``2026-11-27T09:00:00.000000+00:00``), so stored stamps also sort as text."""
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def validate_window(
    start: datetime, end: datetime, now: datetime, policy: LotPolicy, *, check_start: bool = True
) -> None:
    """A booking window ``[start, end)``: end after start, not in the past, not too short or too long, not too
    far ahead. Checked on UTC instants."""
    if end <= start:
        raise ValidationError("End time must be after the start time.", field="end_time")
    if end - start < policy.min_duration:
        raise ValidationError(
            f"A booking must last at least {policy.min_minutes} minutes.", field="end_time"
        )
    if end - start > policy.max_duration:
        raise ValidationError(
            f"A booking may last at most {policy.max_duration_hours} hours.", field="end_time"
        )
    if check_start:
        if start < now - policy.past_tolerance:
            raise ValidationError("Start time is in the past.", field="start_time")
        if start > now + policy.max_advance:
            raise ValidationError(
                f"Bookings open at most {policy.max_advance_days} days ahead.", field="start_time"
            )


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open windows ``[a_start, a_end)`` and ``[b_start, b_end)`` share an instant."""
    return a_start < b_end and b_start < a_end


# ----------------------------------------------------------------------------- the booking over time


_STATUS = {s.value: s for s in BookingStatus}


def effective_status(
    status: str,
    start: datetime,
    now: datetime,
    policy: LotPolicy,
    *,
    blocked: bool = False,
    grace_from: datetime | None = None,
) -> BookingStatus:
    """The status of a booking at ``now``: a reservation not claimed within the grace period has expired.

    A reservation whose slot is blocked (``blocked``: an overstaying car, a mark, a retired slot) never
    expires; once the block ends the grace period counts from then (``grace_from``)."""
    st = _STATUS.get(status) or BookingStatus(status)
    if st is BookingStatus.RESERVED and not blocked:
        since = start if grace_from is None or grace_from < start else grace_from
        if now > since + policy.grace:
            return BookingStatus.EXPIRED
    return st


def blocking_window(
    status: BookingStatus,
    start: datetime,
    end: datetime,
    now: datetime,
    checked_in_at: datetime | None = None,
) -> tuple[datetime, datetime] | None:
    """The time a live booking keeps its slot from others; ``None`` for a finished booking.

    A checked-in car holds the slot from when it arrived (early arrivals included) until it leaves, even past
    ``end_time`` (an overstay).
    """
    if status is BookingStatus.RESERVED:
        return start, end
    if status is BookingStatus.CHECKED_IN:
        since = start if checked_in_at is None or checked_in_at > start else checked_in_at
        return since, max(end, now + timedelta(minutes=1))
    return None


def mark_in_force(admin_status: str, until: datetime | None, now: datetime) -> SlotStatus:
    """An admin's mark as of ``now``: a mark whose ``until`` has passed has ended (``available``)."""
    if admin_status not in (SlotStatus.OCCUPIED, SlotStatus.OUT_OF_SERVICE):
        return SlotStatus.AVAILABLE
    if until is not None and until <= now:
        return SlotStatus.AVAILABLE
    return SlotStatus(admin_status)


def check_can_check_in(
    status: BookingStatus,
    start: datetime,
    end: datetime,
    now: datetime,
    policy: LotPolicy,
    zone: str = "UTC",
) -> None:
    if status is BookingStatus.CHECKED_IN:
        raise Conflict("This booking is already checked in.")
    if status is not BookingStatus.RESERVED:
        raise Conflict(f"This booking is {status.replace('_', ' ')}; it cannot be checked in.")
    if now < start - policy.early_checkin:
        opens = start - policy.early_checkin
        raise Conflict(
            f"Check-in opens {policy.early_checkin_minutes} minutes before the start "
            f"({in_zone(opens, zone):%H:%M})."
        )
    if now >= end:
        raise Conflict(
            f"This booking ended at {in_zone(end, zone):%H:%M}; it can no longer be checked in. Book again."
        )


def check_can_check_out(status: BookingStatus) -> None:
    if status is BookingStatus.RESERVED:
        raise Conflict("This booking is not checked in yet; cancel it instead.")
    if status is not BookingStatus.CHECKED_IN:
        raise Conflict(f"This booking is {status.replace('_', ' ')}; it cannot be checked out.")


def check_can_cancel(status: BookingStatus) -> None:
    if status is BookingStatus.CHECKED_IN:
        raise Conflict("This booking is checked in; check out instead of cancelling.")
    if status is not BookingStatus.RESERVED:
        raise Conflict(f"This booking is {status.replace('_', ' ')}; it cannot be cancelled.")


def check_can_extend(status: BookingStatus) -> None:
    if status not in LIVE:
        raise Conflict(f"This booking is {status.replace('_', ' ')}; it cannot be extended.")


def slot_status_at(
    admin_status: str,
    bookings: Iterable[tuple[BookingStatus, datetime, datetime]],
    now: datetime,
) -> SlotStatus:
    """The status a person sees for a slot at ``now``.

    ``bookings`` are the slot's bookings as ``(effective status, start, end)``. Out of service wins, then a car
    that is there (checked in, or an admin's walk-in mark), then a reservation whose window holds ``now``.
    """
    if admin_status == SlotStatus.OUT_OF_SERVICE:
        return SlotStatus.OUT_OF_SERVICE
    reserved = False
    for status, start, end in bookings:
        if status is BookingStatus.CHECKED_IN:
            return SlotStatus.OCCUPIED
        if status is BookingStatus.RESERVED and start <= now < end:
            reserved = True
    if admin_status == SlotStatus.OCCUPIED:
        return SlotStatus.OCCUPIED
    return SlotStatus.RESERVED if reserved else SlotStatus.AVAILABLE
