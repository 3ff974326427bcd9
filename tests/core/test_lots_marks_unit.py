"""Marking a slot (a walk-in car, out of service, cleared) and retiring it, as the admin who does it and a lot
manager reading the audit log see it: the words and field of each refusal, the audit event of each mark, the
bookings a mark moves or holds (and which it leaves alone), and a lot's slots read on its own clock and policy."""

from __future__ import annotations

import pytest

from parking_tui.domain.errors import Conflict, ValidationError
from parking_tui.domain.models import LotPolicy

from .conftest import held_on_a1_until_a3_frees, make_user
from .test_housekeeping_unit import events
from .test_lots_day import at, fill


def refusal(exc_info) -> tuple[type, str, str | None]:
    return type(exc_info.value), str(exc_info.value), exc_info.value.field


def slot_event(world, slot_index, when, before, after, **extra):
    """The audit event of a mark set on ``world.slots[slot_index]`` by the admin."""
    op = "retire_slot" if after == "retired" else "set_slot_status"
    slot = world.slots[slot_index]
    return {
        "at": when, "user": "admin", "op": op, "slot_id": slot.id, "lot_id": world.lot.id,
        "slot_number": slot.slot_number, "before": before, "after": after, **extra,
    }


@pytest.mark.parametrize(
    ("status", "options", "refused"),
    [
        ("broken", {}, (ValidationError, "Status must be available, occupied or out_of_service.", "status")),
        ("reserved", {}, (ValidationError, "'reserved' comes from bookings; it cannot be set by hand.", "status")),
        ("out_of_service", {"reason": "x" * 81}, (ValidationError, "Reason must be at most 80 characters.", "reason")),
        ("out_of_service", {"until": "soon"},
         (ValidationError, "Until must be a date and time like 2025-12-04T10:10.", "until")),
        ("out_of_service", {"until": at(10)}, (ValidationError, "The mark must end in the future.", "until")),
        ("occupied", {"until": "2030-06-15T10:00:00+00:00"},
         (ValidationError, "The mark must end in the future.", "until")),
    ],
)
def test_a_mark_refused_says_why_names_the_field_and_writes_nothing(world, status, options, refused):
    """``until`` exactly now is not in the future (the clock stands at 10:00)."""
    with pytest.raises(ValidationError) as exc:
        world.svc.mark_slot(world.admin, world.slots[0].id, status, **options)
    assert refusal(exc) == refused
    assert events(world, "set_slot_status") == []
    assert world.svc.lot_slots(world.admin, world.lot.id)[0].admin_status == "available"


def test_a_walk_in_mark_on_a_slot_with_a_car_checked_in_is_refused(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.check_in(world.alice, alice.id)
    with pytest.raises(Conflict) as exc:
        svc.mark_slot(world.admin, world.slots[0].id, "occupied")
    assert refusal(exc) == (Conflict, "Slot A1 is already occupied by a checked-in booking.", "status")
    assert events(world, "set_slot_status") == []


def test_a_retired_slot_is_retired_once_with_one_event_and_refuses_every_mark_after(world):
    svc, clock = world.svc, world.clock
    svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    clock.set(at(10, 5))
    retired = svc.retire_slot(world.admin, world.slots[0].id)
    assert (retired.retired, retired.status) == (True, "out_of_service")
    clock.set(at(10, 10))
    for status in ("available", "occupied", "out_of_service"):
        with pytest.raises(Conflict) as exc:
            svc.mark_slot(world.admin, world.slots[0].id, status)
        assert refusal(exc) == (Conflict, "Slot A1 is retired.", "status")
    with pytest.raises(Conflict) as exc:
        svc.retire_slot(world.admin, world.slots[0].id)
    assert refusal(exc) == (Conflict, "Slot A1 is retired.", "status")
    assert events(world, "retire_slot") == [slot_event(world, 0, at(10, 5), "out_of_service", "retired")]


def test_each_mark_leaves_one_event_with_its_end_and_reason(world):
    """The reason is trimmed; ``until`` is written as a UTC stamp; clearing a mark ends nothing (``until`` None)
    and keeps the reason the admin gave for clearing it."""
    svc, clock = world.svc, world.clock
    marked = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", until=at(11, 30), reason="  Repaint ")
    assert (marked.slot.status, marked.slot.admin_status, marked.slot.mark_until, marked.slot.mark_reason) == (
        "out_of_service", "out_of_service", at(11, 30), "Repaint"
    )
    clock.set(at(10, 5))
    cleared = svc.set_slot_status(world.admin, world.slots[0].id, "available", reason="Done early")
    assert (cleared.status, cleared.admin_status, cleared.mark_until, cleared.mark_reason) == (
        "available", "available", None, ""
    )
    assert events(world, "set_slot_status") == [
        slot_event(world, 0, at(10), "available", "out_of_service",
                   until="2030-06-15T11:30:00.000000+00:00", reason="Repaint"),
        slot_event(world, 0, at(10, 5), "out_of_service", "available", until=None, reason="Done early"),
    ]


def test_a_mark_is_read_on_the_lots_clock_and_policy(world):
    """A lot in Berlin (UTC+2 in June) whose walk-in marks last 2 hours and whose reservations are held 30
    minutes: a naive ``until`` is Berlin time, a walk-in mark without one ends 2 hours on, and a reservation 20
    minutes late still holds its slot."""
    svc, clock = world.svc, world.clock
    lot = svc.create_lot(
        world.admin, "Harbour", "Quay 2", 5, time_zone="Europe/Berlin",
        policy=LotPolicy(walk_in_hours=2, grace_minutes=30),
    )
    b1, b2, b3 = svc.add_slots(world.admin, lot.id, ["B1", "B2", "B3"])
    walk_in = svc.mark_slot(world.admin, b1.id, "occupied")
    assert (walk_in.slot.status, walk_in.slot.mark_until) == ("occupied", at(12))
    closed = svc.mark_slot(world.admin, b2.id, "out_of_service", until="2030-06-15T14:00")
    assert (closed.slot.status, closed.slot.mark_until) == ("out_of_service", at(12))
    svc.create_booking(world.alice, b3.id, at(10), at(11))
    clock.set(at(10, 20))
    assert [(s.slot_number, s.status) for s in svc.lot_slots(world.bob, lot.id)] == [
        ("B1", "occupied"), ("B2", "out_of_service"), ("B3", "reserved")
    ]


def test_a_mark_moves_each_reservation_it_blocks_in_start_order_and_leaves_the_car_that_is_there(world):
    """A car is checked in on A1 (before the reservations in start order); A2 has a reservation of its own
    later in the day, which the move must look at and step round."""
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(10, 30))
    svc.check_in(world.alice, alice.id)
    carol = make_user(svc, "carol")
    late = svc.create_booking(carol, world.slots[0].id, at(12), at(13))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    other = svc.create_booking(world.alice, world.slots[1].id, at(14), at(15))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="Repaint")
    assert [(b.id, b.slot_number, b.moved_from, b.status, b.attention, b.confirmation_code) for b in mark.moved] == [
        (bob.id, "A2", "A1", "reserved", "", bob.confirmation_code),
        (late.id, "A2", "A1", "reserved", "", late.confirmation_code),
    ]
    assert mark.unplaced == []
    reassign = {"op": "reassign", "user": "admin", "at": at(10), "lot_id": world.lot.id,
                "slot_id": world.slots[1].id, "before": "A1", "after": "A2",
                "from_slot_id": world.slots[0].id, "reason": "A1 out of service"}
    assert events(world, "reassign") == [
        {**reassign, "booking_id": bob.id, "code": bob.confirmation_code, "owner": "bob"},
        {**reassign, "booking_id": late.id, "code": late.confirmation_code, "owner": "carol"},
    ]
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"
    assert svc.get_booking(world.alice, other.id).slot_number == "A2"


def test_a_reservation_held_by_a_mark_is_freed_by_the_admin_who_clears_it(world):
    svc, clock = world.svc, world.clock
    fill(world, (1, 2), at(10), at(23))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    held = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    reason = "A1 out of service, no free slot to move to"
    assert [(b.id, b.slot_number, b.attention) for b in held.unplaced] == [(alice.id, "A1", reason)]
    assert held.moved == []
    clock.set(at(10, 30))
    cleared = svc.mark_slot(world.admin, world.slots[0].id, "available")
    assert (cleared.slot.status, cleared.moved, cleared.unplaced) == ("available", [], [])
    about = {"booking_id": alice.id, "code": alice.confirmation_code, "owner": "alice",
             "lot_id": world.lot.id, "slot_id": world.slots[0].id}
    assert events(world, "attention") == [
        {"at": at(10), "user": "admin", "op": "attention", **about, "reason": reason},
        {"at": at(10, 30), "user": "admin", "op": "attention", **about, "reason": ""},
    ]
    assert svc.get_booking(world.alice, alice.id).attention == ""


def test_a_car_overstaying_on_another_slot_blocks_nothing_on_the_marked_one(world):
    """Alice overstays on A2; Bob's reservation on A1 has begun. Clearing A1 moves nothing and A1 reads
    reserved (Bob's window holds now), not occupied by the car next door."""
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[1].id, at(10), at(10, 30))
    svc.check_in(world.alice, alice.id)
    bob = svc.create_booking(world.bob, world.slots[0].id, at(10, 40), at(11, 40))
    clock.set(at(10, 45))
    cleared = svc.mark_slot(world.admin, world.slots[0].id, "available")
    assert (cleared.slot.status, cleared.moved, cleared.unplaced) == ("reserved", [], [])
    assert events(world, "reassign") == []
    kept = svc.get_booking(world.bob, bob.id)
    assert (kept.slot_number, kept.attention) == ("A1", "")


def test_a_reservation_the_lots_housekeeping_moves_off_the_slot_is_named_in_the_marks_answer(world):
    """Alice's reservation is held on A1; A3 comes free before her grace period is over; hours later the admin
    marks A1 again: the housekeeping that starts the mark moves her (by ``system``) and the answer names her."""
    svc, clock = world.svc, world.clock
    alice = held_on_a1_until_a3_frees(world)
    clock.set(at(13, 15))
    again = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="Paint still wet")
    assert [(b.id, b.slot_number, b.moved_from, b.attention) for b in again.moved] == [(alice.id, "A3", "A1", "")]
    assert again.unplaced == []
    assert [(e["at"], e["user"], e["booking_id"], e["after"]) for e in events(world, "reassign")] == [
        (at(13, 15), "system", alice.id, "A3")
    ]


def test_a_mark_looks_past_a_reservation_it_does_not_block_to_the_ones_after(world):
    """A lot of 5-minute bookings held 30 minutes: Alice's booking on A1 is over but still in her grace period,
    Bob's car that came after her overstays, and Carol's reservation after Bob's has begun. Clearing A1 leaves
    Alice's (before the car) where it is and moves Carol's, which the car holds."""
    svc, clock = world.svc, world.clock
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(min_minutes=5, grace_minutes=30))
    a1 = world.slots[0].id
    alice = svc.create_booking(world.alice, a1, at(10), at(10, 5))
    bob = svc.create_booking(world.bob, a1, at(10, 5), at(10, 10))
    carol = svc.create_booking(make_user(svc, "carol"), a1, at(10, 10), at(10, 40))
    clock.set(at(10, 5))
    svc.check_in(world.bob, bob.id)
    clock.set(at(10, 20))
    cleared = svc.mark_slot(world.admin, a1, "available")
    assert [(b.id, b.slot_number, b.moved_from) for b in cleared.moved] == [(carol.id, "A2", "A1")]
    assert cleared.unplaced == []
    assert [(e["booking_id"], e["before"], e["after"], e["reason"]) for e in events(world, "reassign")] == [
        (carol.id, "A1", "A2", "previous car still in A1")
    ]
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"
