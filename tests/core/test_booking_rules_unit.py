"""domain/booking_rules.py through the service: what blocks a slot, how a blocked reservation is moved or
flagged (and its audit events), when its grace period counts from, and how a slot reads.

Each test pins one behaviour a mutant of booking_rules.py changed without any other test noticing (see the
mutation-testing section of docs/testing.md). The world's lot is in UTC; the clock starts at 10:00 and only
the test moves it. Expected values are written out by hand: the slot a reservation lands on, the words of its
``attention``, the exact audit event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from parking_tui.domain import Conflict, LotPolicy
from parking_tui.domain.models import Booking, BookingStatus, Slot, SlotStatus

from .conftest import at, make_user, park

S = timedelta(seconds=1)


def last_event(world, code: str) -> dict:
    return world.svc.audit_log(world.admin, code=code)[-1]


def event(world, when: datetime, op: str, booking, slot_index: int, *, user: str = "admin", **details) -> dict:
    """The audit event we expect, written out: when, who, where, what, and the booking's ids."""
    return {
        "at": when.isoformat(timespec="microseconds"),
        "user": user,
        "terminal": world.svc.terminal,
        "op": op,
        "booking_id": booking.id,
        "code": booking.confirmation_code,
        "owner": booking.username,
        "lot_id": world.lot.id,
        "slot_id": world.slots[slot_index].id,
        **details,
    }


def a1(world) -> Slot:
    return next(s for s in world.svc.lot_slots(world.alice, world.lot.id) if s.slot_number == "A1")


# ------------------------------------------------------------------------------------------ how a slot reads


def test_a_slot_with_nothing_on_it_reads_available_with_no_mark(world):
    slot = a1(world)
    assert slot == Slot(
        world.slots[0].id, world.lot.id, "A1", SlotStatus.AVAILABLE, admin_status=SlotStatus.AVAILABLE,
        mark_until=None, mark_reason="", retired=False,
    )
    assert slot.retired is False and slot.mark_reason == ""


def test_a_mark_shows_its_end_and_reason_while_in_force_and_nothing_once_it_has_ended(world):
    svc = world.svc
    svc.set_slot_status(world.admin, world.slots[0].id, "out_of_service", until=at(11), reason="Repaint")
    assert a1(world) == Slot(
        world.slots[0].id, world.lot.id, "A1", SlotStatus.OUT_OF_SERVICE, admin_status=SlotStatus.OUT_OF_SERVICE,
        mark_until=at(11), mark_reason="Repaint", retired=False,
    )
    assert [(free, total) for _lot, free, total in svc.lot_overview(world.alice)] == [(2, 3)]
    world.clock.set(at(11))  # the mark ends by itself: nothing of it shows
    assert a1(world) == Slot(
        world.slots[0].id, world.lot.id, "A1", SlotStatus.AVAILABLE, admin_status=SlotStatus.AVAILABLE,
        mark_until=None, mark_reason="", retired=False,
    )
    assert [(free, total) for _lot, free, total in svc.lot_overview(world.alice)] == [(3, 3)]


# ------------------------------------------------------------------------------------------ what blocks a slot


def test_a_no_show_still_on_record_never_blocks_the_next_reservation(world):
    svc = world.svc
    svc.create_booking(world.bob, world.slots[0].id, at(10), at(10, 15))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 15), at(11))
    world.clock.set(at(10, 20))  # bob never came; nothing was written since, so his row is still live
    seen = svc.get_booking(world.alice, alice.id)
    assert (seen.status, seen.attention) == ("reserved", "")


def test_a_parked_car_never_blocks_a_reservation_after_its_own_end(world):
    svc = world.svc
    park(world, "carol", 0, at(10), at(11))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    world.clock.set(at(10, 30))
    assert svc.get_booking(world.alice, alice.id).attention == ""


def test_a_car_in_another_slot_never_blocks_a_reservation(world):
    svc = world.svc
    park(world, "carol", 1, at(10), at(12))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 5))
    assert svc.get_booking(world.alice, alice.id).attention == ""
    world.clock.set(at(10, 16))  # not blocked, so a no-show after the 15 minutes of grace
    assert svc.get_booking(world.alice, alice.id).status == "expired"


def test_an_overstay_through_a_whole_reservation_cancels_it_rather_than_making_it_a_no_show(world):
    svc = world.svc
    park(world, "carol", 0, at(10), at(10, 30))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 30), at(10, 45))
    world.clock.set(at(10, 44, 30))  # the car's hold reaches a minute past now: past her end
    assert svc.get_booking(world.alice, alice.id).attention == "previous car still in A1"
    world.clock.set(at(10, 45))
    assert svc.get_booking(world.alice, alice.id).status == "cancelled"
    world.clock.set(at(10, 50))
    assert svc.get_booking(world.alice, alice.id).status == "cancelled"


def test_an_overstay_blocks_the_next_reservation_even_behind_a_no_show(world):
    """Bob's reservation (first on the slot) is a no-show still held by the lot's long grace period; Carol's
    car, parked after him, overstays into Alice's reservation."""
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(grace_minutes=60))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(10), at(10, 20))
    carol = make_user(svc, "carol")
    car = svc.create_booking(carol, world.slots[0].id, at(10, 20), at(10, 40))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    world.clock.set(at(10, 20))
    svc.check_in(carol, car.id)
    world.clock.set(at(10, 50))
    assert svc.get_booking(world.alice, alice.id).attention == "previous car still in A1"
    assert svc.get_booking(world.bob, bob.id).status == "reserved"  # 60 minutes of grace, not the default 15


def test_a_lots_own_grace_period_decides_when_a_reservation_expires(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(grace_minutes=40))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 40))
    assert svc.get_booking(world.alice, alice.id).status == "reserved"
    world.clock.set(at(10, 40) + S)
    assert svc.get_booking(world.alice, alice.id).status == "expired"


# ------------------------------------------------------------------------------- moving a blocked reservation


def _moved_at_10_20(world):
    """Alice's reservation on A1 is blocked by an out-of-service mark at 10:05 with no free slot (a car in A2
    until 10:30, one in A3); the A2 car leaves at 10:15; at 10:20 the manager marks A1 again and she is moved
    to A2, ahead of Bob's reservation there from 11:00."""
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 10), at(11))
    bob = svc.create_booking(world.bob, world.slots[1].id, at(11), at(12))
    early, early_car = park(world, "filler1", 1, at(10), at(10, 30))
    park(world, "filler2", 2, at(10), at(12))
    clock.set(at(10, 5))
    held = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="Repaint")
    assert held.moved == [] and [(b.id, b.attention) for b in held.unplaced] == [
        (alice.id, "A1 out of service, no free slot to move to")
    ]
    clock.set(at(10, 15))
    svc.check_out(early, early_car.id)
    clock.set(at(10, 20))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="Repaint")
    return alice, bob, mark


def test_a_moved_reservation_says_where_from_and_loses_its_attention(world):
    alice, _bob, mark = _moved_at_10_20(world)
    assert [(b.id, b.slot_number, b.moved_from, b.attention) for b in mark.moved] == [(alice.id, "A2", "A1", "")]
    assert mark.unplaced == []
    assert last_event(world, alice.confirmation_code) == event(
        world, at(10, 20), "reassign", alice, 1, before="A1", after="A2", from_slot_id=world.slots[0].id,
        reason="A1 out of service",
    )
    cancelled = world.svc.cancel_booking(world.alice, alice.id)
    assert (cancelled.status, cancelled.attention) == ("cancelled", "")  # a finished booking shows what is kept


def test_a_moved_reservation_gets_its_grace_period_from_the_move(world):
    svc, clock = world.svc, world.clock
    alice, _bob, _mark = _moved_at_10_20(world)
    clock.set(at(10, 35))
    assert svc.get_booking(world.alice, alice.id).status == "reserved"
    clock.set(at(10, 35) + S)
    assert svc.get_booking(world.alice, alice.id).status == "expired"


def test_a_blocked_reservation_moves_past_a_busy_slot_to_the_next_free_one(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    svc.create_booking(world.bob, world.slots[1].id, at(11), at(12))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [(b.id, b.slot_number) for b in mark.moved] == [(alice.id, "A3")]


def test_a_reservation_held_past_its_grace_by_an_overstay_keeps_its_slot_from_others(world):
    """Bob's reservation on A2 is past its grace period, but Carol's car is still in A2, so it is held, not a
    no-show: Alice's reservation, blocked on A1, cannot be moved into his time."""
    svc, clock = world.svc, world.clock
    park(world, "carol", 1, at(10), at(10, 30))
    bob = svc.create_booking(world.bob, world.slots[1].id, at(10, 30), at(12))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    park(world, "filler", 2, at(10), at(13))
    clock.set(at(10, 50))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert mark.moved == [] and [b.id for b in mark.unplaced] == [alice.id]
    assert svc.get_booking(world.bob, bob.id).slot_number == "A2"


# ----------------------------------------------------------------- flagging, and lifting a block that ended


def _held_on_a1(world):
    """Carol's car is in A1 until 10:20; Alice (10:30-12:00) and Bob (12:00-13:00) have A1 after her; A2 and
    A3 are full. At 10:05 the manager marks A1 out of service (no end): both are held there, flagged."""
    svc, clock = world.svc, world.clock
    park(world, "filler1", 1, at(10), at(14))
    park(world, "filler2", 2, at(10), at(14))
    carol, car = park(world, "carol", 0, at(10), at(10, 20))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 30), at(12))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(12), at(13))
    clock.set(at(10, 5))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="Repaint")
    return carol, car, alice, bob, mark


def test_a_reservation_with_no_free_slot_is_flagged_with_an_audit_event(world):
    _carol, _car, alice, bob, mark = _held_on_a1(world)
    assert mark.moved == [] and [b.id for b in mark.unplaced] == [alice.id, bob.id]
    assert last_event(world, bob.confirmation_code) == event(
        world, at(10, 5), "attention", bob, 0, reason="A1 out of service, no free slot to move to"
    )


def test_a_shorter_mark_lifts_the_reservations_it_no_longer_covers(world):
    """At 10:10 the mark is given an end, 11:30: Bob (from 12:00) is free again, Alice (from 10:30) is not."""
    svc = world.svc
    _carol, _car, alice, bob, _mark = _held_on_a1(world)
    world.clock.set(at(10, 10))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", until=at(11, 30), reason="Repaint")
    assert mark.moved == [] and [b.id for b in mark.unplaced] == [alice.id]
    assert last_event(world, bob.confirmation_code) == event(world, at(10, 10), "attention", bob, 0, reason="")
    assert last_event(world, alice.confirmation_code)["op"] == "attention"  # from 10:05: still flagged
    cancelled = svc.cancel_booking(world.bob, bob.id)
    assert (cancelled.status, cancelled.attention) == ("cancelled", "")


def test_a_reservation_held_by_a_mark_with_an_end_gets_its_grace_period_from_that_end(world):
    svc, clock = world.svc, world.clock
    carol, car, alice, _bob, _mark = _held_on_a1(world)
    clock.set(at(10, 10))
    svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", until=at(11, 30), reason="Repaint")
    clock.set(at(10, 15))
    svc.check_out(carol, car.id)
    clock.set(at(11, 45))  # the mark ended by itself at 11:30: 15 minutes of grace from then
    seen = svc.get_booking(world.alice, alice.id)
    assert (seen.status, seen.attention) == ("reserved", "")  # nothing blocks it any more
    clock.set(at(11, 45) + S)
    assert svc.get_booking(world.alice, alice.id).status == "expired"


def test_clearing_a_slot_that_held_nothing_leaves_a_started_reservation_to_expire(world):
    svc, clock = world.svc, world.clock
    park(world, "carol", 1, at(10), at(12))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    clock.set(at(10, 10))
    svc.mark_slot(world.admin, world.slots[0].id, "available")
    clock.set(at(10, 15) + S)
    assert svc.get_booking(world.alice, alice.id).status == "expired"
    assert [e["op"] for e in svc.audit_log(world.admin, code=alice.confirmation_code)] == ["create_booking"]


def test_a_moved_reservation_blocked_again_still_counts_as_the_drivers_booking(world):
    """Moved at 10:10 (grace from then), then held on A2 by a mark with no end: at 10:20 Alice still holds it,
    so she cannot book another overlapping slot without a plate."""
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(12))
    park(world, "filler", 2, at(10), at(11))
    clock.set(at(10, 10))
    moved = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [b.slot_number for b in moved.moved] == ["A2"]
    clock.set(at(10, 12))
    held = svc.mark_slot(world.admin, world.slots[1].id, "out_of_service")
    assert [b.id for b in held.unplaced] == [alice.id]
    clock.set(at(10, 20))
    with pytest.raises(Conflict) as refused:
        svc.create_booking(world.alice, world.slots[2].id, at(11), at(12))
    assert refused.value.field == "start_time"
    assert str(refused.value).startswith(f"You already hold booking {alice.confirmation_code} (slot A2)")


# ------------------------------------------------------------------- the sweep that starts every write to a lot


def test_the_next_write_expires_a_no_show_with_an_audit_event(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 16))
    svc.create_booking(world.bob, world.slots[1].id, at(11), at(12))
    assert last_event(world, alice.confirmation_code) == event(
        world, at(10, 16), "expire", alice, 0, user="system", before="reserved", after="expired"
    )


def test_the_next_write_cancels_a_reservation_an_overstay_held_through_its_end(world):
    svc = world.svc
    park(world, "carol", 0, at(10), at(10, 30))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 30), at(10, 45))
    world.clock.set(at(10, 50))  # nothing was written since 10:00: nobody flagged her reservation
    svc.create_booking(world.bob, world.slots[1].id, at(11), at(12))
    reason = "previous car still in A1, no free slot to move to"
    seen = svc.get_booking(world.alice, alice.id)
    assert (seen.status, seen.attention, seen.cancelled_at) == ("cancelled", reason, at(10, 50))
    assert last_event(world, alice.confirmation_code) == event(
        world, at(10, 50), "cancel", alice, 0, user="system", before="reserved", after="cancelled", reason=reason
    )


def test_the_next_write_moves_a_held_reservation_once_a_slot_is_free(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.create_booking(world.bob, world.slots[1].id, at(11), at(12))
    early, early_car = park(world, "filler1", 1, at(10), at(10, 20))
    park(world, "filler2", 2, at(10), at(12))
    held = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [b.id for b in held.unplaced] == [alice.id]
    clock.set(at(10, 20))
    svc.check_out(early, early_car.id)
    clock.set(at(10, 25))
    svc.create_booking(world.bob, world.slots[1].id, at(12), at(13))
    moved = svc.get_booking(world.alice, alice.id)
    assert (moved.slot_number, moved.moved_from, moved.status) == ("A2", "A1", "reserved")
    assert last_event(world, alice.confirmation_code) == event(
        world, at(10, 25), "reassign", moved, 1, user="system", before="A1", after="A2",
        from_slot_id=world.slots[0].id, reason="A1 out of service",
    )


# --------------------------------------------------------------------------------- refusing new time


def refusal(call, *args, **kwargs) -> tuple[str | None, str]:
    with pytest.raises(Conflict) as caught:
        call(*args, **kwargs)
    return caught.value.field, str(caught.value)


def test_a_retired_slot_refuses_new_bookings_naming_the_slot(world):
    svc = world.svc
    svc.retire_slot(world.admin, world.slots[0].id)
    assert refusal(svc.create_booking, world.alice, world.slots[0].id, at(11), at(12)) == (
        "slot_id", "Slot A1 is retired; choose another slot."
    )


def test_a_mark_refuses_new_bookings_with_its_end_if_it_has_one(world):
    svc = world.svc
    svc.set_slot_status(world.admin, world.slots[0].id, "out_of_service", until=at(11))
    assert refusal(svc.create_booking, world.alice, world.slots[0].id, at(10, 30), at(11, 30)) == (
        "slot_id", "Slot A1 is out of service until 15 Jun 11:00; choose another slot."
    )
    svc.set_slot_status(world.admin, world.slots[1].id, "occupied", until=at(11))
    assert refusal(svc.create_booking, world.alice, world.slots[1].id, at(10, 30), at(11, 30)) == (
        "slot_id", "Slot A2 is occupied until 15 Jun 11:00; choose another slot."
    )
    svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service")
    assert refusal(svc.create_booking, world.alice, world.slots[2].id, at(10, 30), at(11, 30)) == (
        "slot_id", "Slot A3 is out of service; choose another slot."
    )


def test_a_mark_that_ended_by_itself_refuses_nothing(world):
    svc = world.svc
    svc.set_slot_status(world.admin, world.slots[0].id, "out_of_service", until=at(11))
    world.clock.set(at(11))
    assert svc.create_booking(world.alice, world.slots[0].id, at(11), at(12)).slot_number == "A1"


def test_a_walk_in_mark_flags_a_reservation_it_cannot_move_as_a_walk_in(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    park(world, "filler1", 1, at(10), at(13))
    park(world, "filler2", 2, at(10), at(13))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "occupied", until=at(12, 30))
    assert [(b.id, b.attention) for b in mark.unplaced] == [(alice.id, "walk-in car in A1, no free slot to move to")]


# ------------------------------------------------------------------------------------- one driver, many cars


def test_a_booking_without_a_plate_allows_no_other_at_the_same_time_on_the_lots_clock(world):
    svc = world.svc
    berlin = svc.create_lot(world.admin, "Berlin", "Unter den Linden 1", 2, time_zone="Europe/Berlin")
    b1, b2 = svc.add_slots(world.admin, berlin.id, ["B1", "B2"])
    held = svc.create_booking(world.alice, b1.id, at(11), at(12))
    assert refusal(svc.create_booking, world.alice, b2.id, at(11, 30), at(12, 30), plate="AB12 CDE") == (
        "start_time",
        f"You already hold booking {held.confirmation_code} (slot B1) from 15 Jun 13:00 to 15 Jun 14:00; one "
        "booking at a time unless each booking names its car's plate.",
    )


def test_the_same_plate_cannot_be_booked_twice_at_the_same_time(world):
    svc = world.svc
    held = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="AB12 CDE")
    assert refusal(svc.create_booking, world.alice, world.slots[1].id, at(11, 30), at(12, 30), plate="ab12cde") == (
        "plate", f"Car AB12CDE already has booking {held.confirmation_code} from 15 Jun 11:00 to 15 Jun 12:00."
    )


def test_a_lot_allowing_one_car_per_driver_refuses_a_second_plate(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(max_cars_per_driver=1))
    svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="CAR1")
    assert refusal(svc.create_booking, world.alice, world.slots[1].id, at(11), at(12), plate="CAR2") == (
        "start_time", "You already hold 1 booking at that time; this lot allows 1 car per driver."
    )


def test_the_default_lot_allows_two_cars_per_driver_and_not_three(world):
    svc = world.svc
    svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="CAR1")
    svc.create_booking(world.alice, world.slots[1].id, at(11), at(12), plate="CAR2")
    assert refusal(svc.create_booking, world.alice, world.slots[2].id, at(11), at(12), plate="CAR3") == (
        "start_time", "You already hold 2 bookings at that time; this lot allows 2 cars per driver."
    )


def test_a_no_show_held_by_the_lots_long_grace_still_counts_as_the_drivers_booking(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(grace_minutes=60))
    held = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 30))
    field, message = refusal(svc.create_booking, world.alice, world.slots[1].id, at(10, 30), at(11, 30))
    assert field == "start_time" and message.startswith(f"You already hold booking {held.confirmation_code}")


def test_an_overstaying_car_can_still_be_extended(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(10, 30))
    svc.check_in(world.alice, alice.id)
    world.clock.set(at(10, 40))
    longer = svc.extend_booking(world.alice, alice.id, at(11, 30))
    assert (longer.status, longer.end_time) == ("checked_in", at(11, 30))


# ------------------------------------------------------------------------------------- clashes


def test_an_extension_stops_at_the_next_booking_on_the_slot(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.create_booking(world.bob, world.slots[0].id, at(11, 30), at(12, 30))
    assert refusal(svc.extend_booking, world.alice, alice.id, at(12)) == (
        "end_time",
        "Slot A1 is booked by someone else from 15 Jun 11:30; the latest you can extend to is 15 Jun 11:30.",
    )


def test_a_moved_reservation_keeps_its_new_slot_from_others_through_its_grace_from_the_move(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    clock.set(at(10, 10))
    moved = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [b.slot_number for b in moved.moved] == ["A2"]
    clock.set(at(10, 20))  # 20 minutes after her start, 10 after the move
    assert refusal(svc.create_booking, world.bob, world.slots[1].id, at(10, 20), at(11)) == (
        "slot_id", "Slot A2 is already booked from 15 Jun 10:00 to 15 Jun 11:00; choose another time or slot."
    )
    assert svc.get_booking(world.alice, alice.id).status == "reserved"


# ------------------------------------------------------------------------------ another driver's booking


def test_another_drivers_booking_is_a_busy_window_that_still_shows_its_overstay(world):
    svc = world.svc
    bob = svc.create_booking(world.bob, world.slots[0].id, at(10), at(10, 30))
    svc.check_in(world.bob, bob.id)
    world.clock.set(at(10, 50))
    (seen,) = svc.slot_schedule(world.alice, world.slots[0].id)
    assert seen == Booking(
        id=0, slot_id=world.slots[0].id, username="", start_time=at(10), end_time=at(10, 30),
        status=BookingStatus.CHECKED_IN, confirmation_code="", lot_id=world.lot.id, slot_number="A1",
    )
    assert seen.overstay == timedelta(minutes=20)
