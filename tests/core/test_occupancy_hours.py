"""The Summary chart's data: one call, hour by hour per lot, checked against counts worked out by hand.

The world: lot "Central" (UTC) with slots A1-A3; the clock starts at 2030-06-15 10:00 UTC.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from parking_tui.domain.errors import PermissionDenied, ValidationError

from .conftest import T0


def at(hour: int, minute: int = 0, day: int = 0):
    return T0.replace(hour=hour, minute=minute) + timedelta(days=day)


@pytest.fixture
def day(world):
    """Yesterday alice parked 10:00-11:00. Today: alice parks 10:05-11:30 on a 10:00-11:00 booking (an
    overstay), bob's 12:00-13:00 reservation is never claimed (a no-show), bob parks from 13:30 and is still
    there at 13:45 (now), and alice holds 15:00-17:00 without having arrived yet."""
    svc, c, slots = world.svc, world.clock, world.slots
    c.set(at(10, day=-1))
    y = svc.create_booking(world.alice, slots[0].id, at(10, day=-1), at(12, day=-1))
    svc.check_in(world.alice, y.id)
    c.set(at(11, day=-1))
    svc.check_out(world.alice, y.id)

    c.set(at(10))
    a = svc.create_booking(world.alice, slots[0].id, at(10), at(11))
    b = svc.create_booking(world.bob, slots[1].id, at(12), at(13))
    c.set(at(10, 5))
    svc.check_in(world.alice, a.id)
    c.set(at(11, 30))
    svc.check_out(world.alice, a.id)
    c.set(at(13, 30))
    b2 = svc.create_booking(world.bob, slots[1].id, at(13, 30), at(14, 30))
    svc.check_in(world.bob, b2.id)
    svc.create_booking(world.alice, slots[2].id, at(15), at(17))
    c.set(at(13, 45))
    assert svc.get_booking(world.admin, b.id).status.value == "expired"
    return world


def nonzero(row) -> dict[int, int]:
    return {i: n for i, n in enumerate(row) if n}


def test_today_hour_by_hour(day):
    [central] = day.svc.occupancy_by_hour(day.admin)
    assert central.lot.id == day.lot.id
    assert central.start == at(0)
    assert central.capacity == 3
    assert len(central.occupied) == 24
    assert nonzero(central.occupied) == {10: 1, 11: 1, 13: 1}
    assert nonzero(central.reserved) == {15: 1, 16: 1}
    assert nonzero(central.no_shows) == {12: 1}
    assert nonzero(central.overstays) == {11: 1}


def test_the_last_days_too(day):
    [central] = day.svc.occupancy_by_hour(day.admin, days=2)
    assert central.start == at(0, day=-1)
    assert len(central.occupied) == 48
    assert nonzero(central.occupied) == {10: 1, 24 + 10: 1, 24 + 11: 1, 24 + 13: 1}
    assert nonzero(central.no_shows) == {24 + 12: 1}


def test_admins_only_and_sane_days(day):
    with pytest.raises(PermissionDenied):
        day.svc.occupancy_by_hour(day.alice)
    with pytest.raises(ValidationError):
        day.svc.occupancy_by_hour(day.admin, days=0)
