"""Edges of the booking rules that mutation testing showed no test pinned down (docs/testing.md).

* A car checked in early holds its slot from the moment it arrived, not only from the booking's start.
* A reservation ends at its end time exactly: at that instant the slot is free (half-open windows).
* Times are stored in UTC whatever the machine's zone, so stored stamps sort as text.
* The refusals of the booking state machine say what the booking's state is, in plain words.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from parking_tui.domain import Conflict


def test_an_early_check_in_holds_the_slot_from_arrival(world):
    start = world.clock.now + timedelta(minutes=60)
    early = world.svc.create_booking(world.bob, world.slots[0].id, start, start + timedelta(hours=1))
    world.clock.advance(minutes=50)  # ten minutes early, inside the early check-in window
    world.svc.check_in(world.bob, early.id)
    arrived = world.clock.now
    # The 15 minutes before bob's start overlap the time his car is already there.
    with pytest.raises(Conflict):
        world.svc.create_booking(world.alice, world.slots[0].id, arrived - timedelta(minutes=5), start)
    assert [b.id for b in world.svc.list_reservations(world.admin) if b.is_live] == [early.id]


def test_a_reservation_frees_its_slot_at_its_end_exactly(world):
    start = world.clock.now + timedelta(minutes=30)
    end = start + timedelta(minutes=15)  # the shortest booking: still within its grace period at its end
    world.svc.create_booking(world.alice, world.slots[1].id, start, end)
    world.clock.set(end - timedelta(microseconds=1))
    status = {s.id: s.status for s in world.svc.lot_slots(world.alice, world.lot.id)}
    assert status[world.slots[1].id] == "reserved"
    world.clock.set(end)
    status = {s.id: s.status for s in world.svc.lot_slots(world.alice, world.lot.id)}
    assert status[world.slots[1].id] == "available"


def test_stored_times_are_utc_whatever_the_machine_zone(world, db_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        start = world.clock.now + timedelta(hours=1, seconds=3, microseconds=5)
        b = world.svc.create_booking(world.alice, world.slots[2].id, start, start + timedelta(hours=1))
    finally:
        monkeypatch.undo()
        time.tzset()
    stored = json.loads((db_path.parent / f"parking.lot-{world.lot.id}.json").read_bytes())["bookings"][str(b.id)]
    assert stored["start_time"] == start.astimezone(start.tzinfo).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
    assert stored["end_time"].endswith("+00:00")


def _refusal(call) -> str:
    with pytest.raises(Conflict) as caught:
        call()
    return str(caught.value)


def test_the_state_machine_says_why_in_plain_words(world):
    b = world.book(world.alice, 0, start_min=5)
    assert _refusal(lambda: world.svc.check_out(world.alice, b.id)) == (
        "This booking is not checked in yet; cancel it instead."
    )
    world.svc.check_in(world.alice, b.id)
    assert _refusal(lambda: world.svc.cancel_booking(world.alice, b.id)) == (
        "This booking is checked in; check out instead of cancelling."
    )
    world.svc.check_out(world.alice, b.id)
    assert _refusal(lambda: world.svc.check_out(world.alice, b.id)) == (
        "This booking is completed; it cannot be checked out."
    )
    assert _refusal(lambda: world.svc.cancel_booking(world.alice, b.id)) == (
        "This booking is completed; it cannot be cancelled."
    )
    assert _refusal(lambda: world.svc.extend_booking(world.alice, b.id, b.end_time + timedelta(hours=1))) == (
        "This booking is completed; it cannot be extended."
    )


def test_a_walk_in_mark_ends_at_its_until_exactly(world):
    until = world.clock.now + timedelta(hours=1)
    world.svc.set_slot_status(world.admin, world.slots[0].id, "occupied", until=until)
    world.clock.set(until - timedelta(microseconds=1))
    assert {s.id: s.status for s in world.svc.lot_slots(world.alice, world.lot.id)}[world.slots[0].id] == "occupied"
    world.clock.set(until)
    assert {s.id: s.status for s in world.svc.lot_slots(world.alice, world.lot.id)}[world.slots[0].id] == "available"


def test_a_refused_write_leaves_nothing_behind_in_this_process(world):
    """add_slots with one good and one duplicate number is refused whole; the same service (its cache) and a
    fresh one both see no trace of the good one."""
    with pytest.raises(Conflict):
        world.svc.add_slots(world.admin, world.lot.id, ["Z9", "A1"])
    numbers = {s.slot_number for s in world.svc.lot_slots(world.admin, world.lot.id)}
    assert numbers == {"A1", "A2", "A3"}
