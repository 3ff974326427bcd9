"""Invariant 1 at sub-minute precision: windows are half-open ``[start, end)`` to the microsecond.

Every other test draws times in whole minutes; a rule that rounded to the second or the minute would pass them
all. Here two windows of one slot overlap by 1 µs, 1 s and 59 s (refused, from either side), and windows that
touch exactly are allowed, for two drivers on one slot and for one driver on two slots (one at a time).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from parking_tui.domain import Conflict

US = timedelta(microseconds=1)
OVERLAPS = [pytest.param(US, id="1us"), pytest.param(timedelta(seconds=1), id="1s"), pytest.param(timedelta(seconds=59), id="59s")]


def _first(world):
    """Alice's booking of A1 with an odd start (seconds and microseconds), one hour long."""
    start = world.clock.now + timedelta(hours=1, seconds=17, microseconds=123_457)
    end = start + timedelta(hours=1)
    return world.svc.create_booking(world.alice, world.slots[0].id, start, end)


@pytest.mark.parametrize("by", OVERLAPS)
def test_another_driver_overlapping_the_end_is_refused(world, by):
    a = _first(world)
    with pytest.raises(Conflict):
        world.svc.create_booking(world.bob, world.slots[0].id, a.end_time - by, a.end_time + timedelta(hours=1))
    assert [b.id for b in world.svc.list_reservations(world.admin)] == [a.id]


@pytest.mark.parametrize("by", OVERLAPS)
def test_another_driver_overlapping_the_start_is_refused(world, by):
    a = _first(world)
    with pytest.raises(Conflict):
        world.svc.create_booking(world.bob, world.slots[0].id, a.start_time - timedelta(minutes=30), a.start_time + by)
    assert [b.id for b in world.svc.list_reservations(world.admin)] == [a.id]


@pytest.mark.parametrize("by", OVERLAPS)
def test_a_window_inside_by_a_hair_is_refused(world, by):
    a = _first(world)
    with pytest.raises(Conflict):
        world.svc.create_booking(world.bob, world.slots[0].id, a.start_time + by, a.end_time - by)


def test_windows_that_touch_exactly_are_both_kept(world):
    a = _first(world)
    after = world.svc.create_booking(world.bob, world.slots[0].id, a.end_time, a.end_time + timedelta(minutes=45))
    # Bob holds one booking at a time, so the window that ends where Alice's starts goes to Carol.
    world.svc.register("carol", "carol@example.com", "correct-horse")
    token = world.svc.login("carol", "correct-horse")
    before = world.svc.create_booking(token, world.slots[0].id, a.start_time - timedelta(minutes=45), a.start_time)
    stored = {b.id: b for b in world.svc.list_reservations(world.admin)}
    assert set(stored) == {a.id, after.id, before.id}
    # Times come back exactly as given, microseconds included.
    assert stored[after.id].start_time == a.end_time
    assert stored[before.id].end_time == a.start_time
    assert a.start_time.microsecond == 123_457 and a.start_time.second == 17


@pytest.mark.parametrize("by", OVERLAPS)
def test_one_driver_two_slots_overlapping_by_a_hair_is_refused(world, by):
    a = _first(world)
    with pytest.raises(Conflict):
        world.svc.create_booking(world.alice, world.slots[1].id, a.end_time - by, a.end_time + timedelta(minutes=30))
    with pytest.raises(Conflict):
        world.svc.create_booking(world.alice, world.slots[1].id, a.start_time - timedelta(minutes=30), a.start_time + by)


def test_one_driver_back_to_back_on_two_slots_is_allowed(world):
    a = _first(world)
    b = world.svc.create_booking(world.alice, world.slots[1].id, a.end_time, a.end_time + timedelta(minutes=30))
    c = world.svc.create_booking(world.alice, world.slots[2].id, a.start_time - timedelta(minutes=30), a.start_time)
    assert {x.id for x in world.svc.my_bookings(world.alice)} == {a.id, b.id, c.id}


@pytest.mark.parametrize("by", OVERLAPS)
def test_available_slots_agrees_to_the_microsecond(world, by):
    a = _first(world)
    free = {s.id for s in world.svc.available_slots(world.bob, world.lot.id, a.end_time - by, a.end_time + timedelta(hours=1))}
    assert world.slots[0].id not in free and world.slots[1].id in free
    touching = {
        s.id for s in world.svc.available_slots(world.bob, world.lot.id, a.end_time, a.end_time + timedelta(hours=1))
    }
    assert world.slots[0].id in touching


@pytest.mark.parametrize("by", OVERLAPS)
def test_extend_into_the_next_booking_by_a_hair_is_refused(world, by):
    a = _first(world)
    gap = a.end_time + timedelta(minutes=10)
    nxt = world.svc.create_booking(world.bob, world.slots[0].id, gap, gap + timedelta(hours=1))
    with pytest.raises(Conflict):
        world.svc.extend_booking(world.alice, a.id, nxt.start_time + by)
    assert world.svc.extend_booking(world.alice, a.id, nxt.start_time).end_time == nxt.start_time
