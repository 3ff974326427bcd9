"""Bookings at every boundary, with a frozen clock: windows, overlap, hoarding, check-in/out, expiry, extend."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from parking_tui.domain import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError

from .conftest import live_overlaps, make_user

M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_create_booking_happy_path(world):
    svc, clock = world.svc, world.clock
    start, end = world.window(30, 90)
    b = svc.create_booking(world.alice, world.slots[1].id, start, end)
    assert (b.slot_id, b.username, b.start_time, b.end_time, b.status) == (
        world.slots[1].id,
        "alice",
        start,
        end,
        "reserved",
    )
    assert b.lot_id == world.lot.id and b.slot_number == "A2"
    assert len(b.confirmation_code) == 9 and b.confirmation_code[4] == "-"
    assert b.created_at == clock.now
    assert svc.my_bookings(world.alice) == [b]
    assert svc.get_booking(world.alice, b.id) == b


def test_create_booking_errors(world):
    svc = world.svc
    start, end = world.window()
    with pytest.raises(AuthenticationError):
        svc.create_booking("bogus", world.slots[0].id, start, end)
    with pytest.raises(NotFound):
        svc.create_booking(world.alice, 999, start, end)
    with pytest.raises(ValidationError):
        svc.create_booking(world.alice, "1", start, end)
    with pytest.raises(ValidationError):
        svc.create_booking(world.alice, world.slots[0].id, "tomorrow", end)
    assert svc.my_bookings(world.alice) == []


# ----------------------------------------------------------------------------------- the window


def test_end_equal_start_rejected(world):
    start = world.clock.now + H
    with pytest.raises(ValidationError) as exc:
        world.svc.create_booking(world.alice, world.slots[0].id, start, start)
    assert exc.value.field == "end_time"
    with pytest.raises(ValidationError):
        world.svc.create_booking(world.alice, world.slots[0].id, start, start - M)


def test_start_five_minutes_past_ok_six_rejected(world):
    now = world.clock.now
    with pytest.raises(ValidationError) as exc:
        world.svc.create_booking(world.alice, world.slots[0].id, now - 6 * M, now + H)
    assert exc.value.field == "start_time"
    b = world.svc.create_booking(world.alice, world.slots[0].id, now - 5 * M, now + H)
    assert b.start_time == now - 5 * M


def test_duration_24h_ok_24h_plus_minute_rejected(world):
    start = world.clock.now + H
    with pytest.raises(ValidationError) as exc:
        world.svc.create_booking(world.alice, world.slots[0].id, start, start + 24 * H + M)
    assert exc.value.field == "end_time"
    assert world.svc.create_booking(world.alice, world.slots[0].id, start, start + 24 * H).status == "reserved"


def test_thirty_days_ahead_ok_more_rejected(world):
    now = world.clock.now
    with pytest.raises(ValidationError) as exc:
        world.svc.create_booking(world.alice, world.slots[0].id, now + timedelta(days=30) + M, now + timedelta(days=30, hours=1))
    assert exc.value.field == "start_time"
    b = world.svc.create_booking(world.alice, world.slots[0].id, now + timedelta(days=30), now + timedelta(days=30, hours=1))
    assert b.status == "reserved"


def test_lot_policy_overrides_defaults(svc, clock):
    from parking_tui.domain import LotPolicy

    admin = make_user(svc, "admin", admin=True)
    alice = make_user(svc, "alice")
    lot = svc.create_lot(admin, "Short", "x", 2, policy=LotPolicy(max_duration_hours=2, max_advance_days=1))
    slot = svc.add_slot(admin, lot.id, "A1")
    start = clock.now + H
    with pytest.raises(ValidationError):
        svc.create_booking(alice, slot.id, start, start + 2 * H + M)
    with pytest.raises(ValidationError):
        svc.create_booking(alice, slot.id, clock.now + timedelta(days=1, minutes=1), clock.now + timedelta(days=1, hours=1))
    assert svc.create_booking(alice, slot.id, start, start + 2 * H).status == "reserved"


def test_naive_datetimes_are_the_lots_time_not_the_process(world, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30, no DST: the process's zone clearly differs from the lot's
    time.tzset()
    try:
        assert world.lot.time_zone == "UTC"
        naive_start = (world.clock.now + H).replace(tzinfo=None)  # on the lot's (UTC) clock
        naive_end = naive_start + H
        b = world.svc.create_booking(world.alice, world.slots[0].id, naive_start, naive_end)
        assert b.start_time == world.clock.now + H  # the lot's 11:00, not the process's
        assert b.end_time == world.clock.now + 2 * H
        # Naive windows in queries mean the lot's time too.
        free = world.svc.available_slots(world.bob, world.lot.id, naive_start, naive_end)
        assert world.slots[0].id not in {s.id for s in free}
    finally:
        monkeypatch.undo()
        time.tzset()


def test_naive_clock_is_local_time(open_svc, clock, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2030, 6, 15, 6, 0)  # 06:00 EDT = 10:00 UTC
        clock.set(naive)  # type: ignore[arg-type]
        svc = open_svc()
        assert svc.now() == datetime(2030, 6, 15, 10, 0, tzinfo=timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()


# ---------------------------------------------------------------------------------------- overlap


def test_overlap_conflict_and_half_open_back_to_back(world):
    svc = world.svc
    slot = world.slots[0].id
    t = world.clock.now + H
    svc.create_booking(world.alice, slot, t, t + H)
    for s, e in [(t, t + H), (t - 30 * M, t + M), (t + H - M, t + 2 * H), (t + 10 * M, t + 25 * M), (t - H, t + 2 * H)]:
        with pytest.raises(Conflict):
            svc.create_booking(world.bob, slot, s, e)
    after = svc.create_booking(world.bob, slot, t + H, t + 2 * H)  # starts exactly when the other ends
    assert after.status == "reserved"
    carol = make_user(svc, "carol")
    before = svc.create_booking(carol, slot, t - H, t)  # ends exactly when the other starts
    assert before.status == "reserved"
    assert live_overlaps(svc.list_reservations(world.admin)) == []


def test_other_slot_same_time_is_fine(world):
    world.book(world.alice, 0)
    assert world.book(world.bob, 1).status == "reserved"


def test_hoarding(world):
    world.book(world.alice, 0, 60, 60)
    with pytest.raises(Conflict) as exc:
        world.book(world.alice, 1, 90, 60)  # same driver, another slot, overlapping
    assert "one booking at a time" in str(exc.value)
    assert world.book(world.alice, 1, 120, 60).status == "reserved"  # back to back is fine
    assert world.book(world.alice, 2, 300, 60).status == "reserved"
    assert len(world.svc.my_bookings(world.alice)) == 3


def test_booking_for_tomorrow_does_not_block_today(world):
    svc = world.svc
    tomorrow = world.clock.now + timedelta(days=1)
    svc.create_booking(world.alice, world.slots[0].id, tomorrow, tomorrow + 2 * H)
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "available"
    assert world.slots[0].id in {s.id for s in svc.available_slots(world.bob, world.lot.id)}
    assert world.slots[0].id in {s.id for s in svc.available_slots(world.bob, world.lot.id, *world.window(0, 120))}
    assert world.book(world.bob, 0, 0, 120).status == "reserved"
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "reserved"


# ------------------------------------------------------------------------------------ availability


def test_available_slots(world):
    svc = world.svc
    world.book(world.alice, 0, 0, 60)  # A1 reserved now
    world.book(world.bob, 1, 120, 60)  # A2 later
    now_free = {s.slot_number for s in svc.available_slots(world.bob)}
    assert now_free == {"A2", "A3"}
    assert {s.slot_number for s in svc.available_slots(world.bob, world.lot.id, *world.window(130, 30))} == {"A1", "A3"}
    assert {s.slot_number for s in svc.available_slots(world.bob, world.lot.id, *world.window(60, 60))} == {"A1", "A2", "A3"}
    with pytest.raises(ValidationError):
        svc.available_slots(world.bob, world.lot.id, world.clock.now, None)
    with pytest.raises(ValidationError):
        svc.available_slots(world.bob, world.lot.id, world.clock.now, world.clock.now)
    with pytest.raises(NotFound):
        svc.available_slots(world.bob, 999)
    with pytest.raises(AuthenticationError):
        svc.available_slots("bogus")


def test_slot_schedule_hides_other_drivers(world):
    svc = world.svc
    a = world.book(world.alice, 0, 60, 60)
    b = world.book(world.bob, 0, 180, 60)
    sched = svc.slot_schedule(world.alice, world.slots[0].id)
    assert [x.id for x in sched] == [a.id, 0]  # another driver's booking is a busy window, without its id
    assert sched[0].username == "alice" and sched[0].confirmation_code == a.confirmation_code
    assert sched[1].username == "" and sched[1].confirmation_code == ""
    admin_view = svc.slot_schedule(world.admin, world.slots[0].id)
    assert [(x.username, x.confirmation_code) for x in admin_view] == [
        ("alice", a.confirmation_code),
        ("bob", b.confirmation_code),
    ]
    svc.cancel_booking(world.bob, b.id)
    assert [x.id for x in svc.slot_schedule(world.alice, world.slots[0].id)] == [a.id]
    with pytest.raises(NotFound):
        svc.slot_schedule(world.alice, 999)


# --------------------------------------------------------------------------------- another's booking


def test_other_users_booking_is_never_visible(world):
    svc = world.svc
    b = world.book(world.alice, 0)
    for call in (svc.get_booking, svc.check_in, svc.check_out, svc.cancel_booking):
        with pytest.raises(NotFound) as exc:
            call(world.bob, b.id)
        assert "alice" not in str(exc.value) and b.confirmation_code not in str(exc.value)
    with pytest.raises(NotFound):
        svc.extend_booking(world.bob, b.id, b.end_time + H)
    with pytest.raises(NotFound):
        svc.find_booking(world.bob, b.confirmation_code)
    assert svc.my_bookings(world.bob) == []
    assert svc.get_booking(world.alice, b.id).status == "reserved"
    with pytest.raises(NotFound):
        svc.get_booking(world.alice, 999)


def test_finished_booking_of_another_user_is_not_visible(world):
    svc = world.svc
    b = world.book(world.alice, 0)
    svc.cancel_booking(world.alice, b.id)  # now in the archive
    with pytest.raises(NotFound):
        svc.get_booking(world.bob, b.id)
    with pytest.raises(NotFound):
        svc.find_booking(world.bob, b.confirmation_code)
    assert svc.get_booking(world.alice, b.id).status == "cancelled"


def test_find_booking(world):
    svc = world.svc
    b = world.book(world.alice, 0)
    assert svc.find_booking(world.alice, b.confirmation_code) == b
    assert svc.find_booking(world.admin, b.confirmation_code.lower().replace("-", "")) == b
    with pytest.raises(ValidationError):
        svc.find_booking(world.admin, "nope")
    with pytest.raises(NotFound):
        svc.find_booking(world.admin, "ZZZZ-ZZZZ" if b.confirmation_code != "ZZZZ-ZZZZ" else "YYYY-YYYY")
    with pytest.raises(AuthenticationError):
        svc.find_booking("bogus", b.confirmation_code)
    svc.cancel_booking(world.alice, b.id)
    assert svc.find_booking(world.admin, b.confirmation_code).status == "cancelled"


# ----------------------------------------------------------------------------- check in / check out


def test_check_in_window_opens_15_minutes_early(world):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 60, 60)
    clock.advance(minutes=44)  # start - 16 min
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.alice, b.id)
    assert "opens" in str(exc.value)
    clock.advance(minutes=1)  # start - 15 min
    done = svc.check_in(world.alice, b.id)
    assert done.status == "checked_in" and done.checked_in_at == clock.now
    with pytest.raises(Conflict):
        svc.check_in(world.alice, b.id)
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "occupied"


def test_check_in_at_grace_end_ok(world):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 60, 60)
    clock.advance(minutes=75)  # start + 15 min
    assert svc.check_in(world.alice, b.id).status == "checked_in"


def _raw_booking(db_path, booking_id):
    """The stored record of a booking, wherever the store keeps it."""
    found = []
    for p in db_path.parent.glob("parking.*.json"):
        data = json.loads(p.read_bytes())
        rec = data.get("bookings", {}).get(str(booking_id))
        if rec is not None:
            found.append((p.name, rec))
    return found


def test_no_show_expires_after_grace_and_frees_slot(world, db_path):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 60, 60)
    clock.advance(minutes=76)  # start + 16 min
    # Reads already see it expired and the slot free...
    assert svc.get_booking(world.alice, b.id).status == "expired"
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "available"
    assert world.slots[0].id in {s.id for s in svc.available_slots(world.bob, world.lot.id)}
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.alice, b.id)
    assert "expired" in str(exc.value)
    # ... and the failed check-in still persisted the release.
    ((name, rec),) = _raw_booking(db_path, b.id)
    assert rec["status"] == "expired" and "archive" in name


def test_expiry_persisted_on_next_write(world, db_path, open_svc):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 60, 60)
    clock.advance(minutes=76)
    ((_, rec),) = _raw_booking(db_path, b.id)
    assert rec["status"] == "reserved"  # reads change nothing on disk
    other = world.book(world.bob, 0, 0, 30)  # the next write to the lot, by someone else
    ((name, rec),) = _raw_booking(db_path, b.id)
    assert rec["status"] == "expired" and "archive" in name
    fresh = open_svc()
    assert [(x.id, x.status) for x in fresh.my_bookings(world.alice)] == [(b.id, "expired")]
    statuses = {x.id: x.status for x in fresh.list_reservations(world.admin)}
    assert statuses == {b.id: "expired", other.id: "reserved"}
    assert [x.id for x in fresh.list_reservations(world.admin, status="expired")] == [b.id]


def test_cannot_cancel_or_extend_expired(world):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 60, 60)
    clock.advance(minutes=76)
    with pytest.raises(Conflict):
        svc.cancel_booking(world.alice, b.id)
    with pytest.raises(Conflict):
        svc.extend_booking(world.alice, b.id, b.end_time + H)
    with pytest.raises(Conflict):
        svc.check_out(world.alice, b.id)


def test_check_out_completes_and_frees(world):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 0, 60)
    with pytest.raises(Conflict):
        svc.check_out(world.alice, b.id)  # not checked in yet
    svc.check_in(world.alice, b.id)
    clock.advance(minutes=30)
    done = svc.check_out(world.alice, b.id)
    assert done.status == "completed" and done.checked_out_at == clock.now
    assert done.overstay == timedelta(0) and not done.is_overstay
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "available"
    with pytest.raises(Conflict):
        svc.check_out(world.alice, b.id)
    with pytest.raises(Conflict):
        svc.check_in(world.alice, b.id)
    assert svc.my_bookings(world.alice)[0].status == "completed"


def test_overstay_recorded(world):
    svc, clock = world.svc, world.clock
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    clock.advance(minutes=60)
    # A car that stays keeps the slot occupied past its end_time and blocks the slot for new bookings now.
    assert svc.lot_slots(world.bob, world.lot.id)[0].status == "occupied"
    with pytest.raises(Conflict):
        world.book(world.bob, 0, 0, 30)
    clock.advance(minutes=25)
    done = svc.check_out(world.alice, b.id)
    assert done.overstay == timedelta(minutes=25) and done.is_overstay
    assert svc.get_booking(world.admin, b.id).overstay == timedelta(minutes=25)


def test_next_driver_cannot_check_in_while_previous_car_is_there(world):
    svc, clock = world.svc, world.clock
    a = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, a.id)
    b = world.book(world.bob, 0, 60, 60)
    carol, dave = make_user(svc, "carol"), make_user(svc, "dave")
    for token, index in ((carol, 1), (dave, 2)):  # no other slot is free to move to
        svc.check_in(token, world.book(token, index, 0, 180).id)
    clock.advance(minutes=60)
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.bob, b.id)
    assert "previous car still in A1" in str(exc.value)
    assert svc.get_booking(world.bob, b.id).attention == "previous car still in A1, no free slot to move to"
    clock.advance(minutes=30)  # held past the grace period: the slot is blocked, it is no no-show
    assert svc.get_booking(world.bob, b.id).status == "reserved"
    svc.check_out(world.alice, a.id)
    back = svc.check_in(world.bob, b.id)
    assert (back.status, back.slot_number, back.attention) == ("checked_in", "A1", "")


def test_admin_checks_in_and_out_for_driver(world):
    svc = world.svc
    b = world.book(world.alice, 0, 0, 60)
    found = svc.find_booking(world.admin, b.confirmation_code)
    assert svc.check_in(world.admin, found.id).status == "checked_in"
    assert svc.check_out(world.admin, found.id).status == "completed"


def test_admin_occupied_slot_moves_the_booking_before_check_in(world):
    svc = world.svc
    b = world.book(world.alice, 0, 0, 60)
    mark = svc.mark_slot(world.admin, world.slots[0].id, "occupied")
    assert [(m.id, m.slot_number, m.confirmation_code) for m in mark.moved] == [(b.id, "A2", b.confirmation_code)]
    done = svc.check_in(world.alice, b.id)
    assert (done.status, done.slot_number, done.moved_from) == ("checked_in", "A2", "A1")


# ---------------------------------------------------------------------------------------- cancel


def test_cancel_before_check_in(world):
    svc = world.svc
    b = world.book(world.alice, 0)
    done = svc.cancel_booking(world.alice, b.id)
    assert done.status == "cancelled" and done.cancelled_at == world.clock.now
    assert world.book(world.bob, 0).status == "reserved"  # the window is free again
    with pytest.raises(Conflict):
        svc.cancel_booking(world.alice, b.id)


def test_cancel_after_check_in_conflict(world):
    svc = world.svc
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    with pytest.raises(Conflict):
        svc.cancel_booking(world.alice, b.id)
    assert svc.get_booking(world.alice, b.id).status == "checked_in"


def test_admin_may_cancel(world):
    b = world.book(world.alice, 0)
    assert world.svc.cancel_booking(world.admin, b.id).status == "cancelled"
    assert world.svc.my_bookings(world.alice)[0].status == "cancelled"


# ----------------------------------------------------------------------------------------- extend


def test_extend_booking(world):
    svc = world.svc
    b = world.book(world.alice, 0, 60, 60)
    world.book(world.bob, 0, 180, 60)
    longer = svc.extend_booking(world.alice, b.id, b.end_time + H)  # right up to bob's start
    assert longer.end_time == b.end_time + H and longer.start_time == b.start_time
    with pytest.raises(Conflict):
        svc.extend_booking(world.alice, b.id, longer.end_time + M)
    with pytest.raises(ValidationError):
        svc.extend_booking(world.alice, b.id, longer.end_time)  # not later
    with pytest.raises(ValidationError):
        svc.extend_booking(world.alice, b.id, b.start_time + 24 * H + M)  # longer than 24 h
    with pytest.raises(ValidationError):
        svc.extend_booking(world.alice, b.id, "later")
    assert svc.get_booking(world.alice, b.id).end_time == longer.end_time


def test_extend_respects_hoarding(world):
    svc = world.svc
    b = world.book(world.alice, 0, 60, 60)
    world.book(world.alice, 1, 180, 60)
    with pytest.raises(Conflict):
        svc.extend_booking(world.alice, b.id, b.end_time + H + M)
    assert svc.extend_booking(world.alice, b.id, b.end_time + H).end_time == b.end_time + H


def test_extend_checked_in_and_finished(world):
    svc = world.svc
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    assert svc.extend_booking(world.alice, b.id, b.end_time + H).status == "checked_in"
    svc.check_out(world.alice, b.id)
    with pytest.raises(Conflict):
        svc.extend_booking(world.alice, b.id, b.end_time + 2 * H)


# --------------------------------------------------------------------------------- list_reservations


def test_list_reservations_filters(world):
    svc, admin = world.svc, world.admin
    other_lot = svc.create_lot(admin, "Annex", "x", 2)
    (z1,) = svc.add_slots(admin, other_lot.id, ["Z1"])
    a = world.book(world.alice, 0, 0, 60)
    b = world.book(world.bob, 1, 120, 60)
    carol = make_user(svc, "carol")
    c = svc.create_booking(carol, z1.id, *world.window(30, 30))
    svc.cancel_booking(world.bob, b.id)
    svc.check_in(world.alice, a.id)

    ids = lambda xs: [x.id for x in xs]  # noqa: E731
    assert ids(svc.list_reservations(admin)) == [a.id, c.id, b.id]  # by start time
    assert ids(svc.list_reservations(admin, world.lot.id)) == [a.id, b.id]
    assert ids(svc.list_reservations(admin, other_lot.id)) == [c.id]
    assert ids(svc.list_reservations(admin, slot_id=world.slots[1].id)) == [b.id]
    assert ids(svc.list_reservations(admin, status="cancelled")) == [b.id]
    assert ids(svc.list_reservations(admin, status="checked_in")) == [a.id]
    assert ids(svc.list_reservations(admin, include_finished=False)) == [a.id, c.id]
    assert ids(svc.list_reservations(admin, since=world.clock.now + 90 * M)) == [b.id]
    with pytest.raises(ValidationError):
        svc.list_reservations(admin, status="bogus")
    with pytest.raises(NotFound):
        svc.list_reservations(admin, 999)
    with pytest.raises(NotFound):
        svc.list_reservations(admin, slot_id=999)
    with pytest.raises(PermissionDenied):
        svc.list_reservations(world.alice)
    with pytest.raises(AuthenticationError):
        svc.list_reservations("bogus")


def test_my_bookings_only_mine_newest_first(world):
    svc = world.svc
    a1 = world.book(world.alice, 0, 60, 60)
    a2 = world.book(world.alice, 1, 300, 60)
    world.book(world.bob, 2, 60, 60)
    svc.cancel_booking(world.alice, a1.id)
    mine = svc.my_bookings(world.alice)
    assert [(x.id, x.status) for x in mine] == [(a2.id, "reserved"), (a1.id, "cancelled")]
    assert all(x.username == "alice" for x in mine)
    with pytest.raises(AuthenticationError):
        svc.my_bookings("bogus")


def test_confirmation_codes_unique(world):
    codes = set()
    for i in range(30):
        codes.add(world.book(world.alice, i % 3, 60 * i, 30).confirmation_code)
    assert len(codes) == 30


def test_errors_leave_files_unchanged(world, db_path):
    """A refused write changes nothing on disk."""
    before = {p.name: p.read_bytes() for p in db_path.parent.glob("parking*.json")}
    world.book(world.alice, 0, 60, 60)
    after_ok = {p.name: p.read_bytes() for p in db_path.parent.glob("parking*.json")}
    assert after_ok != before
    for attempt in (
        lambda: world.book(world.bob, 0, 60, 60),  # overlap
        lambda: world.book(world.alice, 1, 60, 60),  # hoarding
        lambda: world.svc.create_lot(world.alice, "X", "y", 3),  # permission
    ):
        with pytest.raises((Conflict, PermissionDenied)):
            attempt()
        assert {p.name: p.read_bytes() for p in db_path.parent.glob("parking*.json")} == after_ok
    assert os.listdir(db_path.parent)


def test_when_no_free_confirmation_code_can_be_made_the_booking_is_refused(open_svc, clock):
    """Codes come from the service's generator until one is not held by a live booking; a generator that only
    ever makes a code in use gets the booking refused, in words, not a second booking with the same code."""
    from conftest import populate

    svc = open_svc(code_generator=lambda: "K7QX-2M9P")
    world = populate(svc, clock, time_zone="UTC")
    first = world.book(world.alice)
    assert first.confirmation_code == "K7QX-2M9P"
    with pytest.raises(Conflict) as caught:
        world.book(world.bob, 1)
    assert (str(caught.value), caught.value.field) == (
        "No free confirmation code could be made; try again.",
        "confirmation_code",
    )
    assert [b.id for b in svc.list_reservations(world.admin)] == [first.id]


def test_a_booking_id_is_checked_and_another_drivers_booking_is_not_found(world):
    with pytest.raises(ValidationError) as caught:
        world.svc.cancel_booking(world.alice, "7")
    assert (str(caught.value), caught.value.field) == ("Booking id must be a whole number.", "booking_id")
    theirs = world.book(world.bob)
    with pytest.raises(NotFound) as caught:
        world.svc.cancel_booking(world.alice, theirs.id)
    assert (str(caught.value), caught.value.field) == (f"No booking #{theirs.id}.", "booking_id")


def test_the_system_clock_is_utc():
    from parking_tui.domain.context import system_clock

    now = system_clock()
    assert now.tzinfo is timezone.utc
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_a_slot_id_is_checked_and_an_unknown_slot_is_not_found(world):
    start, end = world.window()
    with pytest.raises(ValidationError) as caught:
        world.svc.create_booking(world.alice, "3", start, end)
    assert (str(caught.value), caught.value.field) == ("Slot id must be a whole number.", "slot_id")
    with pytest.raises(NotFound) as caught:
        world.svc.create_booking(world.alice, 9999, start, end)
    assert (str(caught.value), caught.value.field) == ("No slot with id 9999.", "slot_id")


# ------------------------------------------------------------------------------------ the admin's lists


def test_the_reservations_list_searches_filters_and_refuses_in_words(world, clock):
    svc, admin = world.svc, world.admin
    done = world.book(world.alice, 0, start_min=30)
    svc.cancel_booking(world.alice, done.id)
    live = world.book(world.alice, 1, start_min=90)
    other = world.book(world.bob, 2, start_min=90)
    everything = svc.list_reservations(admin)  # finished ones included unless asked otherwise
    assert [b.id for b in everything] == [done.id, live.id, other.id]
    assert [b.id for b in svc.list_reservations(admin, include_finished=False)] == [live.id, other.id]
    code = live.confirmation_code
    for typed in (code, code.lower(), code.replace("-", " "), code.replace("-", "").lower()):
        assert [b.id for b in svc.list_reservations(admin, q=typed)] == [live.id], typed
    assert [b.id for b in svc.list_reservations(admin, q="")] == [done.id, live.id, other.id]
    with pytest.raises(ValidationError) as caught:
        svc.list_reservations(admin, q="x" * 41)
    assert caught.value.field == "q"
    assert [b.id for b in svc.list_reservations(admin, q="x" * 40)] == []
    assert [b.id for b in svc.list_reservations(admin, slot_id=world.slots[2].id)] == [other.id]
    assert [b.id for b in svc.list_reservations(admin, status="cancelled")] == [done.id]
    with pytest.raises(ValidationError) as caught:
        svc.list_reservations(admin, status="lost")
    assert (str(caught.value), caught.value.field) == ("Unknown booking status.", "status")
    since = clock.now + timedelta(minutes=100)  # ends at or after: the two live ones end at +150
    assert [b.id for b in svc.list_reservations(admin, since=since)] == [live.id, other.id]
    assert [b.id for b in svc.list_reservations(admin, slot_id=world.slots[2].id, since=since)] == [other.id]


def test_the_audit_log_filters_and_refuses_a_bad_limit_in_words(world):
    svc, admin = world.svc, world.admin
    mine = world.book(world.alice)
    theirs = world.book(world.bob, 1)
    everything = svc.audit_log(admin)
    assert len(everything) >= 4
    assert {e["user"] for e in svc.audit_log(admin, username="alice")} == {"alice"}
    assert {e.get("booking_id") for e in svc.audit_log(admin, op="create_booking", booking_id=theirs.id)} == {
        theirs.id
    }
    assert [e["op"] for e in svc.audit_log(admin, code=mine.confirmation_code.lower())] == ["create_booking"]
    assert len(svc.audit_log(admin, limit=1)) == 1
    assert all(e.get("committed", True) is True and "committed" not in e for e in everything)
    for bad in (0, -1, True, "5", 2.0):
        with pytest.raises(ValidationError) as caught:
            svc.audit_log(admin, limit=bad)
        assert (str(caught.value), caught.value.field) == ("limit must be a positive whole number.", "limit"), bad


def test_the_summary_and_the_hours_list_lots_by_name_and_check_the_days(world, clock):
    svc, admin = world.svc, world.admin
    svc.create_lot(admin, "Alpha", "First Street 1", 2)  # made after "Central", listed before it
    assert [s.lot.name for s in svc.lot_summary(admin)] == ["Alpha", "Central"]
    hours = svc.occupancy_by_hour(admin)
    assert [h.lot.name for h in hours] == ["Alpha", "Central"]
    midnight = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)  # the lots are in UTC
    assert {h.start for h in hours} == {midnight}  # one day by default: today's
    assert {h.start for h in svc.occupancy_by_hour(admin, days=31)} == {midnight - timedelta(days=30)}
    for bad in (0, 32, True, "2"):
        with pytest.raises(ValidationError) as caught:
            svc.occupancy_by_hour(admin, days=bad)
        assert (str(caught.value), caught.value.field) == ("days must be a whole number from 1 to 31.", "days"), bad


def test_the_summarys_day_starts_at_the_lots_midnight_to_the_microsecond(world, clock):
    """A booking that starts at midnight exactly is today's, whatever the time of the day now."""
    from .conftest import PASSWORD

    svc = world.svc
    clock.advance(hours=14, minutes=3, microseconds=500_000)  # 00:03:00.5 the next day (the lot is in UTC)
    admin, alice = svc.login("admin", PASSWORD), svc.login("alice", PASSWORD)  # a new day, new sessions
    midnight = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
    svc.create_booking(alice, world.slots[0].id, midnight, midnight + timedelta(hours=1))  # within tolerance
    clock.advance(minutes=7, seconds=30, microseconds=200_000)  # 00:10:30.7
    [summary] = svc.lot_summary(admin)
    assert summary.bookings_today == 1
