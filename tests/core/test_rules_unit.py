"""domain/rules.py function by function: every limit at the value it allows and one step past it, every refusal
with the field it names and the words a person reads, every normalisation.

These are the tests behind "no surviving mutant in rules.py" (docs/testing.md): each rule is pinned where a
changed comparison, constant, message or field name would show. Pure functions only: no store, no clock.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from parking_tui.domain import rules
from parking_tui.domain.errors import Conflict, ValidationError
from parking_tui.domain.models import BookingStatus as B
from parking_tui.domain.models import LotPolicy
from parking_tui.domain.models import SlotStatus as S

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
POLICY = LotPolicy()


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value


def says(call, *args, field: str, message: str, **kwargs) -> None:
    """``call(*args)`` is refused with ``ValidationError`` naming ``field`` and reading exactly ``message``."""
    error = refused(call, *args, **kwargs)
    assert (error.field, str(error)) == (field, message)


def conflict(call, *args, **kwargs) -> str:
    with pytest.raises(Conflict) as caught:
        call(*args, **kwargs)
    return str(caught.value)


# ------------------------------------------------------------------------------------------ accounts


def test_username():
    assert rules.validate_username("  alice.b-c_d  ") == "alice.b-c_d"
    assert rules.validate_username("abc") == "abc"
    assert rules.validate_username("a" * 32) == "a" * 32
    msg = "Username must be 3-32 characters: letters, digits, '_', '.' or '-'."
    for bad in ("ab", "a" * 33, "al ice", "alïce", ""):
        says(rules.validate_username, bad, field="username", message=msg)
    says(rules.validate_username, 42, field="username", message="Username must be text.")
    says(rules.validate_username, None, field="username", message="Username must be text.")


def test_email():
    assert rules.validate_email("  ann@example.com ") == "ann@example.com"
    longest = "a" * 242 + "@example.com"
    assert len(longest) == 254 and rules.validate_email(longest) == longest
    msg = "Enter a valid e-mail address, like name@example.com."
    for bad in ("a" * 243 + "@example.com", "ann", "ann@example", "an n@example.com", ""):
        says(rules.validate_email, bad, field="email", message=msg)
    says(rules.validate_email, b"ann@example.com", field="email", message="Email must be text.")


def test_password():
    assert rules.validate_password(" pass word ") == " pass word "  # never trimmed
    assert rules.validate_password("x" * 8) == "x" * 8
    assert rules.validate_password("x" * 256) == "x" * 256
    says(rules.validate_password, "x" * 7, field="password", message="Password must be at least 8 characters.")
    says(rules.validate_password, "x" * 257, field="password", message="Password must be at most 256 characters.")
    says(rules.validate_password, " " * 8, field="password", message="Password must not be blank (only spaces).")
    says(rules.validate_password, "\t\n" * 4, field="password", message="Password must not be blank (only spaces).")
    says(rules.validate_password, "abcdefg\x00", field="password", message="Password must not contain a NUL character.")
    says(rules.validate_password, "abcdefg\ud800", field="password",
         message="Password holds a character that cannot be stored.")
    says(rules.validate_password, 12345678, field="password", message="Password must be text.")


def test_phone():
    assert rules.validate_phone(None) == ""
    assert rules.validate_phone("") == ""
    assert rules.validate_phone("   ") == ""
    assert rules.validate_phone(" +49 (30) 123-45 ") == "+49 (30) 123-45"
    msg = "Phone number may hold digits, spaces, '-', '(', ')' and a leading '+' (4-23 characters)."
    for bad in ("call me", "12", "+" + "1" * 24):
        says(rules.validate_phone, bad, field="phone_number", message=msg)
    says(rules.validate_phone, 4930, field="phone_number", message="Phone number must be text.")


# ------------------------------------------------------------------------------------------ lots, slots


def test_text():
    assert rules.validate_text("  North  ", "name") == "North"
    assert rules.validate_text("x" * 80, "name") == "x" * 80
    assert rules.validate_text("", "location", required=False) == ""
    assert rules.validate_text("   ", "location", required=False) == ""
    assert rules.validate_text("abcde", "name", max_len=5) == "abcde"
    says(rules.validate_text, "", "name", field="name", message="Name must not be empty.")
    says(rules.validate_text, "   ", "lot_name", field="lot_name", message="Lot name must not be empty.")
    says(rules.validate_text, "x" * 81, "name", field="name", message="Name must be at most 80 characters.")
    says(rules.validate_text, "abcdef", "name", max_len=5, field="name", message="Name must be at most 5 characters.")
    says(rules.validate_text, "a\x07b", "lot_name", field="lot_name",
         message="Lot name must not contain control characters.")
    says(rules.validate_text, "a\u200bb", "name", field="name", message="Name must not contain control characters.")
    says(rules.validate_text, 7, "lot_name", field="lot_name", message="Lot name must be text.")


def test_total_slots():
    assert rules.validate_total_slots(1) == 1
    assert rules.validate_total_slots(10_000) == 10_000
    for bad in (True, False, 2.0, "3", None):
        says(rules.validate_total_slots, bad, field="total_slots", message="Capacity must be a whole number.")
    for bad in (0, -1, 10_001):
        says(rules.validate_total_slots, bad, field="total_slots", message="Capacity must be between 1 and 10,000.")


def test_slot_number():
    assert rules.validate_slot_number("  p2-14 ") == "P2-14"
    assert rules.validate_slot_number("a") == "A"
    assert rules.validate_slot_number("A" * 16) == "A" * 16
    msg = "Slot number must be 1-16 letters and digits, optionally joined by '-', like A5 or P2-14."
    for bad in ("", "  ", "A" * 17, "A--5", "-A5", "A 5"):
        says(rules.validate_slot_number, bad, field="slot_number", message=msg)
    says(rules.validate_slot_number, 5, field="slot_number", message="Slot number must be text.")


@pytest.mark.parametrize("name", list(rules.POLICY_LIMITS))
def test_policy_limits(name):
    low, high, label, unit = rules.POLICY_LIMITS[name]
    for good in (low, high):
        policy = dataclasses.replace(POLICY, **{name: good})
        assert rules.validate_policy(policy) is policy
    for bad in (low - 1, high + 1, True, float(low), str(low)):
        says(rules.validate_policy, dataclasses.replace(POLICY, **{name: bad}), field=name,
             message=f"{label} must be {low}-{high} {unit}.")


def test_policy_limit_words():
    """What a person reads for each policy field (the table itself is data, read once here)."""
    says(rules.validate_policy, dataclasses.replace(POLICY, grace_minutes=241), field="grace_minutes",
         message="Grace period must be 0-240 minutes.")
    says(rules.validate_policy, dataclasses.replace(POLICY, max_cars_per_driver=0), field="max_cars_per_driver",
         message="Cars per driver must be 1-20 cars.")


def test_plate():
    assert rules.normalize_plate(None) == ""
    assert rules.normalize_plate("") == ""
    assert rules.normalize_plate("ab12 cde") == "AB12CDE"
    assert rules.normalize_plate("b-ab-12") == "BAB12"
    assert rules.normalize_plate("ab") == "AB"
    assert rules.normalize_plate("a1b2c3d4e5") == "A1B2C3D4E5"
    msg = "A plate is 2-10 letters and digits, like AB12 CDE."
    for bad in ("a", "a1b2c3d4e5f", "ab.12", "äb12"):
        says(rules.normalize_plate, bad, field="plate", message=msg)
    says(rules.normalize_plate, 1234, field="plate", message="Plate must be text.")


def test_time_zone_names():
    assert rules.validate_time_zone(" Europe/Berlin ") == "Europe/Berlin"
    assert rules.validate_time_zone("UTC") == "UTC"
    shape = "Time zone must be an IANA name like Europe/Berlin or UTC."
    for bad in ("", "   ", "/etc/localtime", "Europe/../Berlin", "A" * 65):
        says(rules.validate_time_zone, bad, field="time_zone", message=shape)
    says(rules.validate_time_zone, "A" * 64, field="time_zone",
         message=f"Unknown time zone {'A' * 64!r}; use an IANA name like Europe/Berlin or UTC.")
    says(rules.validate_time_zone, "Mars/Olympus", field="time_zone",
         message="Unknown time zone 'Mars/Olympus'; use an IANA name like Europe/Berlin or UTC.")
    says(rules.validate_time_zone, 1, field="time_zone", message="Time zone must be text.")


def test_zone_of():
    for name in ("UTC", "Etc/UTC", "Z"):
        assert rules.zone_of(name) is UTC
    assert rules.zone_of("Europe/Berlin") == BERLIN
    with pytest.raises(ValueError) as caught:
        rules.zone_of("Mars/Olympus")
    assert caught.value.args == ("Mars/Olympus",)


def test_ids():
    assert rules.validate_id(1, "Slot") == 1
    assert rules.validate_id(2**53, "Slot") == 2**53
    for bad in (True, 1.0, "1", None):
        says(rules.validate_id, bad, "Slot", field="slot_id", message="Slot id must be a whole number.")
    says(rules.validate_id, 0, "Booking", field="booking_id", message="No booking with id 0.")
    says(rules.validate_id, 2**53 + 1, "Lot", field="lot_id", message=f"No lot with id {2**53 + 1}.")


def test_confirmation_codes():
    assert rules.normalize_code(" k7qx 2m9p ") == "K7QX-2M9P"
    assert rules.normalize_code("k7qx2m9p") == "K7QX-2M9P"
    assert rules.normalize_code("K7QX-2M9P") == "K7QX-2M9P"
    msg = "A confirmation code looks like K7QX-2M9P."
    for bad in ("K7QX-2M9", "K7QX--2M9P", "K7QX_2M9P", ""):
        says(rules.normalize_code, bad, field="confirmation_code", message=msg)
    says(rules.normalize_code, 1234, field="confirmation_code", message="Confirmation code must be text.")


# ---------------------------------------------------------------------------------------------- time


class Broken(tzinfo):
    """A tzinfo whose every answer is an error (a hostile client's object)."""

    def utcoffset(self, dt):
        raise RuntimeError("no")

    def dst(self, dt):
        raise RuntimeError("no")

    def tzname(self, dt):
        raise RuntimeError("no")


def test_local_instant_reads_naive_times_on_the_lots_clock():
    got = rules.local_instant(datetime(2026, 11, 27, 9, 0), "Europe/Berlin")
    assert got == NOW and got.tzinfo is UTC
    assert rules.local_instant(datetime(2026, 11, 27, 9, 0), BERLIN) == NOW
    assert rules.local_instant(" 2026-11-27T09:00 ", "Europe/Berlin") == NOW
    assert rules.local_instant("2026-11-27T09:00+00:00", "Europe/Berlin") == NOW + timedelta(hours=1)
    aware_other = datetime(2026, 11, 27, 3, 0, tzinfo=ZoneInfo("America/New_York"))
    got = rules.local_instant(aware_other, "Europe/Berlin")
    assert got == datetime(2026, 11, 27, 8, 0, tzinfo=UTC) and got.tzinfo is UTC


def test_local_instant_text_length_limit():
    forty = "2026-11-27T09:00:00.0000+01:00:00.000000"
    assert len(forty) == 40 and rules.local_instant(forty, "UTC") == NOW
    says(rules.local_instant, "2026-11-27T09:00:00.00000+01:00:00.000000", "UTC", "start_time", field="start_time",
         message="Start time must be a date and time like 2025-12-04T10:10.")
    says(rules.local_instant, "tomorrow", "UTC", field="time", message="Time must be a date and time like 2025-12-04T10:10.")


def test_local_instant_refusals():
    says(rules.local_instant, NOW, "Mars/Olympus", "start_time", field="start_time",
         message="The lot's time zone 'Mars/Olympus' is unknown on this machine.")
    says(rules.local_instant, 1700000000, "UTC", "end_time", field="end_time", message="End time must be a date and time.")
    says(rules.local_instant, datetime(2026, 1, 1, tzinfo=Broken()), "UTC", "end_time", field="end_time",
         message="End time has a time zone that cannot be read.")
    says(rules.local_instant, datetime(9999, 12, 31, 23, 0), "America/New_York", "end_time", field="end_time",
         message="End time is out of range.")
    says(rules.local_instant, datetime(2026, 3, 29, 2, 30), "Europe/Berlin", "start_time", field="start_time",
         message="Start time 2026-03-29 02:30 does not exist in Europe/Berlin: the clocks jump forward over it.")


class NoOffset(tzinfo):
    """A tzinfo that knows no offset (``utcoffset`` is ``None``): the time is naive, so the lot's clock."""

    def utcoffset(self, dt):
        return None


def test_local_instant_without_an_offset_is_the_lots_time():
    got = rules.local_instant(datetime(2026, 11, 27, 9, 0, tzinfo=NoOffset()), "Europe/Berlin")
    assert got == NOW and got.tzinfo is UTC


def test_local_instant_out_of_range_names_the_field():
    says(rules.local_instant, datetime(1960, 1, 1, tzinfo=UTC), "UTC", "start_time", field="start_time",
         message="Start time is out of range.")


def test_stamps_are_utc_whatever_the_process_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert rules.to_stamp(NOW) == "2026-11-27T08:00:00.000000+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_local_instant_ambiguous_is_the_first_unless_fold():
    first = rules.local_instant(datetime(2026, 10, 25, 2, 30), "Europe/Berlin")
    second = rules.local_instant(datetime(2026, 10, 25, 2, 30, fold=1), "Europe/Berlin")
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


class Keyed(tzinfo):
    """A zone of another kind that carries an IANA name in ``key`` (its ``str`` is the object's repr)."""

    key = "Europe/Lisbon"

    def utcoffset(self, dt):
        return timedelta(0)


def test_zone_name_and_in_zone():
    assert rules.zone_name(Keyed()) == "Europe/Lisbon"
    assert rules.zone_name(BERLIN) == "Europe/Berlin"
    assert rules.zone_name(UTC) == "UTC"
    assert rules.zone_name(timezone(timedelta(hours=2))) == "UTC+02:00"
    there = rules.in_zone(NOW, "Europe/Berlin")
    assert there.tzinfo == BERLIN and there.hour == 9
    fallback = rules.in_zone(NOW, "Mars/Olympus")
    assert fallback.tzinfo is UTC and fallback.hour == 8


def test_aware():
    assert rules.aware(NOW) is not None and rules.aware(NOW).tzinfo is UTC
    berlin = NOW.astimezone(BERLIN)
    got = rules.aware(berlin)
    assert got == NOW and got.tzinfo is UTC
    naive = datetime(2026, 11, 27, 9, 0)
    assert rules.aware(naive) == naive.astimezone().astimezone(UTC)
    lowest, highest = datetime(1970, 1, 2, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
    assert rules.aware(lowest) == lowest and rules.aware(highest) == highest
    says(rules.aware, lowest - US, "start_time", field="start_time", message="Start time is out of range.")
    says(rules.aware, highest + US, field="time", message="Time is out of range.")
    says(rules.aware, "2026-11-27", "end_time", field="end_time", message="End time must be a date and time.")
    says(rules.aware, datetime(2026, 1, 1, tzinfo=Broken()), "end_time", field="end_time",
         message="End time has a time zone that cannot be read.")


def test_aware_reads_a_zone_without_an_offset_as_the_machines():
    value = datetime(2026, 11, 27, 9, 0, tzinfo=NoOffset())
    assert rules.aware(value) == datetime(2026, 11, 27, 9, 0).astimezone().astimezone(UTC)


def test_stamps():
    assert rules.to_stamp(NOW.astimezone(BERLIN)) == "2026-11-27T08:00:00.000000+00:00"
    assert rules.to_stamp(NOW + US) == "2026-11-27T08:00:00.000001+00:00"


# ----------------------------------------------------------------------------------------- windows


def test_window_end_after_start():
    rules.validate_window(NOW, NOW + timedelta(minutes=15), NOW, POLICY)
    for end in (NOW, NOW - US):
        says(rules.validate_window, NOW, end, NOW, POLICY, field="end_time", message="End time must be after the start time.")


def test_window_length_limits():
    policy = LotPolicy(min_minutes=20, max_duration_hours=3)
    rules.validate_window(NOW, NOW + timedelta(minutes=20), NOW, policy)
    rules.validate_window(NOW, NOW + timedelta(hours=3), NOW, policy)
    says(rules.validate_window, NOW, NOW + timedelta(minutes=20) - US, NOW, policy, field="end_time",
         message="A booking must last at least 20 minutes.")
    says(rules.validate_window, NOW, NOW + timedelta(hours=3) + US, NOW, policy, field="end_time",
         message="A booking may last at most 3 hours.")


def test_window_start_limits():
    policy = LotPolicy(past_tolerance_minutes=7, max_advance_days=2)
    hour = timedelta(hours=1)
    earliest, latest = NOW - timedelta(minutes=7), NOW + timedelta(days=2)
    rules.validate_window(earliest, earliest + hour, NOW, policy)
    rules.validate_window(latest, latest + hour, NOW, policy)
    says(rules.validate_window, earliest - US, earliest + hour, NOW, policy, field="start_time",
         message="Start time is in the past.")
    says(rules.validate_window, latest + US, latest + hour, NOW, policy, field="start_time",
         message="Bookings open at most 2 days ahead.")
    # An extension checks the length only.
    rules.validate_window(earliest - hour, earliest, NOW, policy, check_start=False)
    rules.validate_window(latest + hour, latest + 2 * hour, NOW, policy, check_start=False)


def test_overlaps_is_half_open():
    a, b = NOW, NOW + timedelta(hours=1)
    assert rules.overlaps(a, b, a, b)
    assert rules.overlaps(a, b, b - US, b + US) and rules.overlaps(a, b, a - US, a + US)
    assert not rules.overlaps(a, b, b, b + US) and not rules.overlaps(a, b, a - US, a)


# --------------------------------------------------------------------------------- a booking over time


def test_effective_status_expires_after_the_grace_period():
    policy = LotPolicy(grace_minutes=10)
    grace = timedelta(minutes=10)
    assert rules.effective_status("reserved", NOW, NOW + grace, policy) is B.RESERVED
    assert rules.effective_status("reserved", NOW, NOW + grace + US, policy) is B.EXPIRED
    assert rules.effective_status(B.RESERVED, NOW, NOW + grace + US, policy, blocked=True) is B.RESERVED
    later = NOW + timedelta(hours=1)  # the block ended then: the grace period counts from there
    assert rules.effective_status("reserved", NOW, later + grace, policy, grace_from=later) is B.RESERVED
    assert rules.effective_status("reserved", NOW, later + grace + US, policy, grace_from=later) is B.EXPIRED
    earlier = NOW - timedelta(hours=1)  # before the start: the start counts
    assert rules.effective_status("reserved", NOW, NOW + grace + US, policy, grace_from=earlier) is B.EXPIRED
    assert rules.effective_status("reserved", NOW, NOW + grace, policy, grace_from=earlier) is B.RESERVED
    for status in B:
        if status is not B.RESERVED:
            assert rules.effective_status(status.value, NOW, NOW + timedelta(days=9), policy) is status
    with pytest.raises(ValueError):
        rules.effective_status("parked", NOW, NOW, policy)


def test_blocking_window():
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    assert rules.blocking_window(B.RESERVED, start, end, NOW) == (start, end)
    early = start - timedelta(minutes=10)
    assert rules.blocking_window(B.CHECKED_IN, start, end, early, early) == (early, end)
    assert rules.blocking_window(B.CHECKED_IN, start, end, start, None) == (start, end)
    late = start + timedelta(minutes=10)
    assert rules.blocking_window(B.CHECKED_IN, start, end, late, late)[1] == end
    over = end + timedelta(minutes=30)  # overstaying: held until a minute from now
    assert rules.blocking_window(B.CHECKED_IN, start, end, over, start) == (start, over + timedelta(minutes=1))
    assert rules.blocking_window(B.CHECKED_IN, start, end, end - timedelta(minutes=1), start) == (start, end)
    for status in (B.COMPLETED, B.CANCELLED, B.EXPIRED):
        assert rules.blocking_window(status, start, end, NOW) is None


def test_mark_in_force():
    assert rules.mark_in_force("available", None, NOW) is S.AVAILABLE
    assert rules.mark_in_force("reserved", None, NOW) is S.AVAILABLE
    for mark in (S.OCCUPIED, S.OUT_OF_SERVICE):
        assert rules.mark_in_force(mark.value, None, NOW) is mark
        assert rules.mark_in_force(mark.value, NOW + US, NOW) is mark
        assert rules.mark_in_force(mark.value, NOW, NOW) is S.AVAILABLE
        assert rules.mark_in_force(mark.value, NOW - US, NOW) is S.AVAILABLE


def test_check_in_rules():
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    policy = LotPolicy(early_checkin_minutes=20)
    opens = start - timedelta(minutes=20)
    rules.check_can_check_in(B.RESERVED, start, end, opens, policy)
    rules.check_can_check_in(B.RESERVED, start, end, end - US, policy)
    assert conflict(rules.check_can_check_in, B.RESERVED, start, end, opens - US, policy, "Europe/Berlin") == (
        "Check-in opens 20 minutes before the start (09:40)."
    )
    assert conflict(rules.check_can_check_in, B.RESERVED, start, end, opens - US, policy) == (
        "Check-in opens 20 minutes before the start (08:40)."
    )
    assert conflict(rules.check_can_check_in, B.RESERVED, start, end, end, policy, "Europe/Berlin") == (
        "This booking ended at 11:00; it can no longer be checked in. Book again."
    )
    assert conflict(rules.check_can_check_in, B.RESERVED, start, end, end, policy) == (
        "This booking ended at 10:00; it can no longer be checked in. Book again."
    )
    assert conflict(rules.check_can_check_in, B.CHECKED_IN, start, end, start, policy) == (
        "This booking is already checked in."
    )
    for status in (B.COMPLETED, B.CANCELLED, B.EXPIRED):
        assert conflict(rules.check_can_check_in, status, start, end, start, policy) == (
            f"This booking is {status.value}; it cannot be checked in."
        )


def test_check_out_cancel_extend_rules():
    rules.check_can_check_out(B.CHECKED_IN)
    rules.check_can_cancel(B.RESERVED)
    rules.check_can_extend(B.RESERVED)
    rules.check_can_extend(B.CHECKED_IN)
    assert conflict(rules.check_can_check_out, B.RESERVED) == "This booking is not checked in yet; cancel it instead."
    assert conflict(rules.check_can_cancel, B.CHECKED_IN) == "This booking is checked in; check out instead of cancelling."
    for status in (B.COMPLETED, B.CANCELLED, B.EXPIRED):
        assert conflict(rules.check_can_check_out, status) == f"This booking is {status.value}; it cannot be checked out."
        assert conflict(rules.check_can_cancel, status) == f"This booking is {status.value}; it cannot be cancelled."
        assert conflict(rules.check_can_extend, status) == f"This booking is {status.value}; it cannot be extended."


def test_slot_status_at():
    hour = timedelta(hours=1)
    now_window = (B.RESERVED, NOW, NOW + hour)
    assert rules.slot_status_at("available", [], NOW) is S.AVAILABLE
    assert rules.slot_status_at("available", [now_window], NOW) is S.RESERVED
    assert rules.slot_status_at("available", [(B.RESERVED, NOW + US, NOW + hour)], NOW) is S.AVAILABLE
    assert rules.slot_status_at("available", [(B.RESERVED, NOW - hour, NOW)], NOW) is S.AVAILABLE
    assert rules.slot_status_at("available", [(B.EXPIRED, NOW, NOW + hour)], NOW) is S.AVAILABLE
    assert rules.slot_status_at("available", [(B.CHECKED_IN, NOW + hour, NOW + 2 * hour)], NOW) is S.OCCUPIED
    # A reservation first, then a car that is there: the car wins.
    assert rules.slot_status_at("available", [now_window, (B.CHECKED_IN, NOW - hour, NOW)], NOW) is S.OCCUPIED
    assert rules.slot_status_at("occupied", [], NOW) is S.OCCUPIED
    assert rules.slot_status_at("occupied", [now_window], NOW) is S.OCCUPIED
    assert rules.slot_status_at("out_of_service", [(B.CHECKED_IN, NOW, NOW + hour)], NOW) is S.OUT_OF_SERVICE
    assert rules.slot_status_at("out_of_service", [], NOW) is S.OUT_OF_SERVICE
