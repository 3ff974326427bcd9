"""domain/bookings.py through the service: the audit event each change of a booking leaves, the refusals a
driver reads (with their fields), and what a refused change still keeps.

Each test pins a behaviour a mutant of bookings.py changed without any other test noticing (see the
mutation-testing section of docs/testing.md). The world's lot is in UTC; the clock starts at 10:00 and only the
test moves it. Expected values are written out by hand.
"""

from __future__ import annotations

from datetime import datetime


from parking_tui.domain import Conflict, ValidationError

from .conftest import at, park, refused, stamp


def event(world, when: datetime, user: str, op: str, booking, slot_index: int, **details) -> dict:
    return {
        "at": stamp(when), "user": user, "terminal": world.svc.terminal, "op": op, "booking_id": booking.id,
        "code": booking.confirmation_code, "owner": booking.username, "lot_id": world.lot.id,
        "slot_id": world.slots[slot_index].id, **details,
    }


def events(world, booking) -> list[dict]:
    return world.svc.audit_log(world.admin, code=booking.confirmation_code)


def test_a_booking_is_recorded_with_its_window_and_plate(world):
    alice = world.svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="ab12 cde")
    assert events(world, alice) == [
        event(world, at(10), "alice", "create_booking", alice, 0, start_time=stamp(at(11)), end_time=stamp(at(12)),
              after="reserved", plate="AB12CDE")
    ]


def test_an_extension_is_recorded_with_the_end_before_and_after(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    world.clock.set(at(10, 5))
    longer = svc.extend_booking(world.alice, alice.id, at(12, 30))
    assert longer.end_time == at(12, 30)
    assert events(world, alice)[-1] == event(
        world, at(10, 5), "alice", "extend", alice, 0, before="reserved", after="reserved",
        end_before=stamp(at(12)), end_after=stamp(at(12, 30)),
    )


def test_a_check_in_moved_to_another_slot_is_recorded_with_both_slots(world):
    svc = world.svc
    svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    world.clock.set(at(10, 50))
    moved = svc.check_in(world.bob, bob.id)
    assert events(world, bob)[-1] == event(
        world, at(10, 50), "bob", "check_in", moved, 1, before="reserved", after="checked_in",
        slot_before="A1", slot_after="A2",
    )
    world.clock.set(at(11, 30))
    svc.check_out(world.bob, bob.id)
    assert events(world, bob)[-1] == event(
        world, at(11, 30), "bob", "check_out", moved, 1, before="checked_in", after="completed"
    )


def test_a_check_in_refused_for_want_of_a_free_slot_still_flags_the_booking(world):
    svc = world.svc
    park(world, "carol", 0, at(10), at(10, 30))
    park(world, "filler1", 1, at(10), at(12))
    park(world, "filler2", 2, at(10), at(12))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(10, 30), at(11))
    world.clock.set(at(10, 35))
    assert refused(Conflict, svc.check_in, world.bob, bob.id) == (
        None, "Slot A1 cannot be used (previous car still in A1) and no other slot is free; please see the attendant."
    )
    reason = "previous car still in A1, no free slot to move to"
    assert events(world, bob)[-1] == event(world, at(10, 35), "bob", "attention", bob, 0, reason=reason)
    assert svc.get_booking(world.bob, bob.id).attention == reason


def test_a_change_to_a_no_show_says_it_expired_and_keeps_the_release(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 16))
    assert refused(Conflict, svc.check_in, world.alice, alice.id) == (
        None,
        f"Booking {alice.confirmation_code} expired: nobody checked in within 15 minutes of the start. The slot "
        "has been released.",
    )
    assert [e["op"] for e in events(world, alice)] == ["create_booking", "expire"]


def test_an_extension_is_refused_with_the_field_and_words_a_person_reads(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    assert refused(ValidationError, svc.extend_booking, world.alice, alice.id, at(12)) == (
        "end_time", "The new end must be after the current end (15 Jun 12:00)."
    )
    svc.create_booking(world.bob, world.slots[0].id, at(12), at(13))
    assert refused(Conflict, svc.extend_booking, world.alice, alice.id, at(12, 30)) == (
        "end_time",
        "Slot A1 is booked by someone else from 15 Jun 12:00, right after yours; this booking cannot be extended.",
    )
    other = svc.create_booking(world.alice, world.slots[2].id, at(13), at(14))
    assert refused(ValidationError, svc.extend_booking, world.alice, other.id, "2030-06-15T99:00")[0] == "end_time"

