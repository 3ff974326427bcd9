"""domain/bookings.py through the service: what booking, extending, checking in, checking out and cancelling
record in the audit log, and the words and ``field`` of each refusal.

Each test pins behaviour that a mutant of bookings.py changed without any other test noticing (see the
mutation-testing section of docs/testing.md). The world's lot is in UTC; the clock starts at 10:00 and only the
test moves it. A second lot in Asia/Tokyo (UTC+9, no daylight saving) shows that times given and shown are on
the lot's clock, not the service's. Expected values are written out by hand.
"""

from __future__ import annotations


import pytest

from parking_tui.domain import Conflict, LotPolicy, NotFound, ValidationError

from .conftest import at, make_user, overstay, stamp
from .test_lots_day import fill


def ids(world, booking, slot_index: int, *, lot_id: int | None = None, slots=None) -> dict:
    """The ids an audit event about ``booking`` carries."""
    return {
        "booking_id": booking.id,
        "code": booking.confirmation_code,
        "owner": booking.username,
        "lot_id": world.lot.id if lot_id is None else lot_id,
        "slot_id": (slots or world.slots)[slot_index].id,
    }


def events(world, booking) -> list[dict]:
    """The audit events about ``booking``, oldest first, without the terminal they came from."""
    return [
        {k: v for k, v in e.items() if k != "terminal"}
        for e in world.svc.audit_log(world.admin, code=booking.confirmation_code)
    ]


def refusal(exc) -> tuple[str, str | None]:
    return str(exc.value), exc.value.field


@pytest.fixture
def tokyo(world):
    """A lot in Asia/Tokyo (10:00 UTC is 19:00 there) with slots T1 and T2, on the world's service (whose own
    zone is UTC)."""
    svc = world.svc
    lot = svc.create_lot(world.admin, "Shibuya", "Dogenzaka 1", 5, time_zone="Asia/Tokyo")
    slots = list(svc.add_slots(world.admin, lot.id, ["T1", "T2"]))
    return lot, slots


# ------------------------------------------------------------------------------------- the audit trail


def test_a_booking_extended_then_cancelled_leaves_three_exact_events(world):
    svc, clock = world.svc, world.clock
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    assert b.plate == ""
    clock.set(at(10, 5))
    extended = svc.extend_booking(world.alice, b.id, at(12, 30))
    assert (extended.end_time, extended.status) == (at(12, 30), "reserved")
    clock.set(at(10, 7))
    cancelled = svc.cancel_booking(world.alice, b.id)
    assert (cancelled.status, cancelled.cancelled_at) == ("cancelled", at(10, 7))
    about = ids(world, b, 0)
    assert events(world, b) == [
        {"at": stamp(at(10)), "user": "alice", "op": "create_booking", **about,
         "start_time": stamp(at(11)), "end_time": stamp(at(12)), "after": "reserved", "plate": ""},
        {"at": stamp(at(10, 5)), "user": "alice", "op": "extend", **about, "before": "reserved",
         "after": "reserved", "end_before": stamp(at(12)), "end_after": stamp(at(12, 30))},
        {"at": stamp(at(10, 7)), "user": "alice", "op": "cancel", **about, "before": "reserved",
         "after": "cancelled"},
    ]


def test_a_plated_booking_checked_in_and_out_by_the_admin_records_who_did_it(world):
    svc, clock = world.svc, world.clock
    b = svc.create_booking(world.alice, world.slots[1].id, at(10), at(11), plate="ab12 cde")
    assert b.plate == "AB12CDE"
    clock.set(at(10, 2))
    assert svc.check_in(world.admin, b.id).status == "checked_in"
    clock.set(at(10, 40))
    done = svc.check_out(world.admin, b.id)
    assert (done.status, done.checked_in_at, done.checked_out_at) == ("completed", at(10, 2), at(10, 40))
    about = ids(world, b, 1)
    assert events(world, b) == [
        {"at": stamp(at(10)), "user": "alice", "op": "create_booking", **about,
         "start_time": stamp(at(10)), "end_time": stamp(at(11)), "after": "reserved", "plate": "AB12CDE"},
        {"at": stamp(at(10, 2)), "user": "admin", "op": "check_in", **about, "before": "reserved",
         "after": "checked_in"},
        {"at": stamp(at(10, 40)), "user": "admin", "op": "check_out", **about, "before": "checked_in",
         "after": "completed"},
    ]


def test_an_early_arrival_moved_to_a_free_slot_is_recorded_as_a_reassign_then_a_check_in_naming_both_slots(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    clock.set(at(10, 50))
    early = svc.check_in(world.bob, bob.id)
    assert (early.slot_number, early.moved_from, early.status, early.checked_in_at) == (
        "A2", "A1", "checked_in", at(10, 50)
    )
    assert events(world, bob)[1:] == [
        {"at": stamp(at(10, 50)), "user": "bob", "op": "reassign", **ids(world, bob, 1), "before": "A1",
         "after": "A2", "from_slot_id": world.slots[0].id, "reason": "early arrival"},
        {"at": stamp(at(10, 50)), "user": "bob", "op": "check_in", **ids(world, bob, 1), "before": "reserved",
         "after": "checked_in", "slot_before": "A1", "slot_after": "A2"},
    ]
    assert svc.check_in(world.alice, alice.id).slot_number == "A1"


# ------------------------------------------------------------------------------------------- extending


def test_extending_on_a_tokyo_lot_reads_and_shows_the_new_end_on_the_lots_clock(world, tokyo):
    svc = world.svc
    lot, slots = tokyo
    b = svc.create_booking(world.alice, slots[0].id, "2030-06-15T20:00", "2030-06-15T21:00")
    assert (b.start_time, b.end_time) == (at(11), at(12))
    with pytest.raises(ValidationError) as exc:
        svc.extend_booking(world.alice, b.id, "2030-06-15T20:30")
    assert refusal(exc) == ("The new end must be after the current end (15 Jun 21:00).", "end_time")
    with pytest.raises(ValidationError) as exc:
        svc.extend_booking(world.alice, b.id, "soon")
    assert refusal(exc) == ("End time must be a date and time like 2025-12-04T10:10.", "end_time")
    assert svc.extend_booking(world.alice, b.id, "2030-06-15T21:30").end_time == at(12, 30)


def test_an_overstaying_car_extends_from_its_old_end_and_not_to_the_present(world):
    """Checked in at 10:00 for 10:00-11:00 and still there at 11:30: the start is long past (no start check),
    its own booking is no clash and no second booking, and a new end at 11:30 exactly is already past."""
    svc, clock = world.svc, world.clock
    b = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.check_in(world.alice, b.id)
    clock.set(at(11, 30))
    with pytest.raises(ValidationError) as exc:
        svc.extend_booking(world.alice, b.id, at(11, 30))
    assert refusal(exc) == ("The new end is in the past.", "end_time")
    extended = svc.extend_booking(world.alice, b.id, at(12))
    assert (extended.end_time, extended.status) == (at(12), "checked_in")


def test_an_extension_into_the_next_booking_is_refused_in_words_naming_its_start(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(12), at(13))
    with pytest.raises(Conflict) as exc:
        svc.extend_booking(world.alice, b.id, at(12, 30))
    assert refusal(exc) == (
        "Slot A1 is booked by someone else from 15 Jun 12:00, right after yours; this booking cannot be extended.",
        "end_time",
    )
    svc.cancel_booking(world.bob, bob.id)
    svc.create_booking(world.bob, world.slots[0].id, at(12, 30), at(13))
    with pytest.raises(Conflict) as exc:
        svc.extend_booking(world.alice, b.id, at(13))
    assert refusal(exc) == (
        "Slot A1 is booked by someone else from 15 Jun 12:30; the latest you can extend to is 15 Jun 12:30.",
        "end_time",
    )
    assert svc.get_booking(world.alice, b.id).end_time == at(12)


def test_another_slots_booking_and_another_drivers_booking_do_not_stop_an_extension(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    svc.create_booking(world.bob, world.slots[1].id, at(12), at(14))
    assert svc.extend_booking(world.alice, b.id, at(12, 30)).end_time == at(12, 30)


def test_an_extension_into_a_marked_slot_is_refused_naming_the_mark(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.check_in(world.alice, b.id)
    svc.set_slot_status(world.admin, world.slots[0].id, "out_of_service", until=at(14), reason="Repaint")
    with pytest.raises(Conflict) as exc:
        svc.extend_booking(world.alice, b.id, at(11, 30))
    assert refusal(exc) == (
        "Slot A1 is out of service until 15 Jun 14:00; this booking cannot be extended.", "slot_id"
    )


def test_an_extension_counts_the_drivers_other_plated_bookings_against_the_lots_own_limit(world):
    """The lot allows three cars a driver: with two other cars booked over the new time, the third plate may
    still extend (the default limit of two would refuse it)."""
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(max_cars_per_driver=3))
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="AA11")
    svc.create_booking(world.alice, world.slots[1].id, at(12), at(13), plate="BB22")
    svc.create_booking(world.alice, world.slots[2].id, at(12), at(13), plate="CC33")
    assert svc.extend_booking(world.alice, b.id, at(12, 30)).end_time == at(12, 30)


# ------------------------------------------------------------------------------------------- booking


def test_booking_refusals_name_their_field_and_the_lots_clock(world, tokyo):
    svc = world.svc
    lot, slots = tokyo
    with pytest.raises(ValidationError) as exc:
        svc.create_booking(world.alice, slots[0].id, "at eight", "2030-06-15T21:00")
    assert refusal(exc) == ("Start time must be a date and time like 2025-12-04T10:10.", "start_time")
    with pytest.raises(ValidationError) as exc:
        svc.create_booking(world.alice, slots[0].id, "2030-06-15T20:00", "at nine")
    assert refusal(exc) == ("End time must be a date and time like 2025-12-04T10:10.", "end_time")
    svc.create_booking(world.bob, slots[0].id, "2030-06-15T20:00", "2030-06-15T21:00")
    with pytest.raises(Conflict) as exc:
        svc.create_booking(world.alice, slots[0].id, "2030-06-15T20:30", "2030-06-15T21:30")
    assert refusal(exc) == (
        "Slot T1 is already booked from 15 Jun 20:00 to 15 Jun 21:00; choose another time or slot.", "slot_id"
    )
    svc.set_slot_status(world.admin, slots[1].id, "out_of_service", until=at(14), reason="Repaint")
    with pytest.raises(Conflict) as exc:
        svc.create_booking(world.alice, slots[1].id, "2030-06-15T20:30", "2030-06-15T21:30")
    assert refusal(exc) == ("Slot T2 is out of service until 15 Jun 23:00; choose another slot.", "slot_id")


def test_a_third_car_may_be_booked_where_the_lot_allows_three(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(max_cars_per_driver=3))
    svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="AA11")
    svc.create_booking(world.alice, world.slots[1].id, at(11), at(12), plate="BB22")
    third = svc.create_booking(world.alice, world.slots[2].id, at(11), at(12), plate="CC33")
    assert (third.slot_number, third.plate) == ("A3", "CC33")


def test_an_unknown_code_is_not_found_in_words_naming_the_field(world):
    b = world.svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    with pytest.raises(NotFound) as exc:
        world.svc.find_booking(world.bob, b.confirmation_code)
    assert refusal(exc) == (f"No booking with code {b.confirmation_code}.", "confirmation_code")


# ------------------------------------------------------------------------------------------ checking in


def test_check_in_on_a_tokyo_lot_opens_on_the_lots_clock(world, tokyo):
    svc = world.svc
    lot, slots = tokyo
    b = svc.create_booking(world.alice, slots[0].id, "2030-06-15T20:00", "2030-06-15T21:00")
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.alice, b.id)
    assert str(exc.value) == "Check-in opens 15 minutes before the start (19:45)."


def test_an_early_arrival_with_nowhere_to_go_is_told_in_words_when_to_come(world):
    svc, clock = world.svc, world.clock
    carol = make_user(svc, "carol")
    svc.create_booking(carol, world.slots[1].id, at(10, 40), at(13))
    fill(world, (2,), at(10), at(13))
    svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    clock.set(at(10, 50))
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.bob, bob.id)
    assert str(exc.value) == "Slot A1 is still booked by another driver until 11:00; check in from then."


def test_a_held_reservation_asks_for_the_attendant_once_and_is_let_go_when_the_car_leaves(world):
    """10:00-11:00 is overstayed on A1 and the other slots are full: the 11:00 reservation cannot be checked
    into. The first try flags it (one event by the driver), the second flags nothing new; the car leaving
    lifts the flag (an event by whoever checked it out), and the driver gets in."""
    svc, clock = world.svc, world.clock
    a, b = overstay(world)
    fill(world, (1, 2), at(10), at(13))
    clock.set(at(11, 5))
    words = (
        "Slot A1 cannot be used (previous car still in A1) and no other slot is free; please see the attendant."
    )
    for _ in range(2):
        with pytest.raises(Conflict) as exc:
            svc.check_in(world.bob, b.id)
        assert str(exc.value) == words
    reason = "previous car still in A1, no free slot to move to"
    assert svc.get_booking(world.bob, b.id).attention == reason
    clock.set(at(11, 10))
    svc.check_out(world.alice, a.id)
    clock.set(at(11, 12))
    done = svc.check_in(world.bob, b.id)
    assert (done.status, done.attention, done.slot_number) == ("checked_in", "", "A1")
    about = ids(world, b, 0)
    assert events(world, b)[1:] == [
        {"at": stamp(at(11, 5)), "user": "bob", "op": "attention", **about, "reason": reason},
        {"at": stamp(at(11, 10)), "user": "alice", "op": "attention", **about, "reason": ""},
        {"at": stamp(at(11, 12)), "user": "bob", "op": "check_in", **about, "before": "reserved",
         "after": "checked_in"},
    ]


# ------------------------------------------------------------ a reservation held past its grace by a blocked slot


def held(world):
    """Carol's car overstays 10:00-10:20 on A1 while the other slots are full, so alice's 10:20-11:00 on A1,
    past its grace period at 10:40, is held (not expired) for her: the slot still counts it as booked."""
    svc, clock = world.svc, world.clock
    carol = make_user(svc, "carol")
    c = svc.create_booking(carol, world.slots[0].id, at(10), at(10, 20))
    svc.check_in(carol, c.id)
    svc.create_booking(world.alice, world.slots[0].id, at(10, 20), at(11))
    fill(world, (1, 2), at(10), at(13))
    clock.set(at(10, 40))
    return carol, c


def test_a_held_reservation_still_refuses_a_new_booking_over_it(world):
    held(world)
    with pytest.raises(Conflict) as exc:
        world.svc.create_booking(world.bob, world.slots[0].id, at(10, 45), at(11))
    assert refusal(exc) == (
        "Slot A1 is already booked from 15 Jun 10:20 to 15 Jun 11:00; choose another time or slot.", "slot_id"
    )


def test_a_held_reservation_still_refuses_an_extension_into_it(world):
    carol, c = held(world)
    with pytest.raises(Conflict) as exc:
        world.svc.extend_booking(carol, c.id, at(10, 50))
    assert refusal(exc) == (
        "Slot A1 is booked by someone else from 15 Jun 10:20, right after yours; this booking cannot be extended.",
        "end_time",
    )



def test_a_held_reservation_past_its_grace_may_still_be_cancelled(world):
    held(world)
    mine = world.svc.my_bookings(world.alice)[0]
    assert world.svc.cancel_booking(world.alice, mine.id).status == "cancelled"


def test_a_held_reservation_moved_by_the_housekeeping_is_checked_in_where_it_was_moved(world):
    """A2's car leaves at 10:45 (that write's housekeeping flags alice's held reservation, A2 being still taken
    while it runs); at 10:50 alice checks in: the housekeeping of her own write first moves her reservation to
    A2, and the check-in is on A2 with no second move."""
    svc, clock = world.svc, world.clock
    held(world)
    filler = svc.my_bookings(world.svc.login("filler1", "correct-horse"))[0]
    clock.set(at(10, 45))
    svc.check_out(world.admin, filler.id)
    clock.set(at(10, 50))
    mine = svc.my_bookings(world.alice)[0]
    done = svc.check_in(world.alice, mine.id)
    assert (done.slot_number, done.status) == ("A2", "checked_in")
    assert [(e["op"], e["user"], e.get("before"), e.get("after")) for e in events(world, mine)[1:]] == [
        ("attention", "system", None, None),
        ("reassign", "system", "A1", "A2"),
        ("check_in", "alice", "reserved", "checked_in"),
    ]


def test_a_reservation_whose_slot_is_still_taken_is_moved_at_check_in_by_its_driver(world):
    svc, clock = world.svc, world.clock
    a, b = overstay(world)
    clock.set(at(11, 5))
    done = svc.check_in(world.bob, b.id)
    assert (done.slot_number, done.moved_from, done.status) == ("A2", "A1", "checked_in")
    assert events(world, b)[1:] == [
        {"at": stamp(at(11, 5)), "user": "bob", "op": "reassign", **ids(world, b, 1), "before": "A1",
         "after": "A2", "from_slot_id": world.slots[0].id, "reason": "previous car still in A1"},
        {"at": stamp(at(11, 5)), "user": "bob", "op": "check_in", **ids(world, b, 1), "before": "reserved",
         "after": "checked_in", "slot_before": "A1", "slot_after": "A2"},
    ]
