"""DST and hostile time zones through the service: every rule is checked on UTC instants, anything unusable
is a ``ValidationError`` (never a traceback)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from parking_tui.domain import ValidationError

from .conftest import FrozenClock, build_world

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def autumn(db_path):
    return build_world(db_path, FrozenClock(datetime(2030, 10, 25, 12, 0, tzinfo=BERLIN)))


def test_a_window_that_ends_before_it_starts_in_utc_is_refused(autumn):
    # 27 Oct 2030, clocks go back at 03:00 CEST to 02:00 CET: 02:05 (second time) is after 02:50 (first time).
    start = datetime(2030, 10, 27, 2, 5, fold=1, tzinfo=BERLIN)
    end = datetime(2030, 10, 27, 2, 50, fold=0, tzinfo=BERLIN)
    with pytest.raises(ValidationError):
        autumn.svc.create_booking(autumn.alice, autumn.slots[0].id, start, end)
    assert autumn.svc.my_bookings(autumn.alice) == []


def test_a_25_hour_window_over_the_change_is_longer_than_24_hours(autumn):
    start = datetime(2030, 10, 26, 12, 0, tzinfo=BERLIN)
    end = datetime(2030, 10, 27, 12, 0, tzinfo=BERLIN)  # 24 h on the wall clock, 25 h in fact
    assert (end.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))) == timedelta(hours=25)
    with pytest.raises(ValidationError, match="at most 24 hours"):
        autumn.svc.create_booking(autumn.alice, autumn.slots[0].id, start, end)


class Hostile(tzinfo):
    def utcoffset(self, dt):
        raise RuntimeError("no")

    def dst(self, dt):
        raise RuntimeError("no")

    def tzname(self, dt):
        raise RuntimeError("no")


class Silly(tzinfo):
    def utcoffset(self, dt):
        return "soon"

    def dst(self, dt):
        return None


@pytest.mark.parametrize("zone", [Hostile(), Silly()])
def test_a_hostile_tzinfo_is_a_validation_error(world, zone):
    start = datetime(2030, 6, 15, 12, 0, tzinfo=zone)
    end = datetime(2030, 6, 15, 13, 0, tzinfo=zone)
    with pytest.raises(ValidationError):
        world.svc.create_booking(world.alice, world.slots[0].id, start, end)
    with pytest.raises(ValidationError):
        world.svc.available_slots(world.alice, world.lot.id, start, end)
