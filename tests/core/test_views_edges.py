"""The admin's read models (domain/views.py) at their edges: a lot far from UTC with its own policy, a day of
bookings that start and end on the lot's midnight, a stay that ends exactly now, ``since`` given without an
offset, and an event of a write cut short in the audit log.

Every expected figure is worked out by hand from the times below (written in UTC, with the lot's local time
beside them), never read back from the service.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from parking_tui.domain import LotPolicy, ValidationError

from .conftest import PASSWORD, make_user, populate

H = timedelta(hours=1)
M = timedelta(minutes=1)
AUCKLAND = "Pacific/Auckland"  # UTC+12 in June (winter: no daylight saving)
LOS_ANGELES = "America/Los_Angeles"  # UTC-7 in June (daylight saving)
#: Midnight starting 15 June 2030 in Auckland, in UTC: 14 June 12:00.
D = datetime(2030, 6, 14, 12, 0, tzinfo=timezone.utc)


def test_the_day_used_here_is_aucklands():
    local = D.astimezone(ZoneInfo(AUCKLAND))
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2030, 6, 15, 0, 0)


class Day:
    """A lot in Auckland with a grace period of 60 minutes (the default is 15) and six slots, and one day of
    its bookings, built by moving the clock from 22:00 the evening before to 22:00 (``D + 22 h``):

    ====  ====  ========================  =====================================================
    name  slot  window (from D)           what happened
    ====  ====  ========================  =====================================================
    Y     A1    -1 h .. +1 h              checked in at -1 h, out at +0:30: began yesterday
    S     A2    0 .. +1 h                 cancelled: begins exactly at the day's start
    T     A3    +24 h .. +25 h            cancelled: begins exactly at the day's end (tomorrow)
    L     A4    +24 h .. +25 h            reserved: begins exactly at the day's end (tomorrow)
    C     A6    +21 h .. +22 h            checked in at +21 h: its end is exactly now
    G     A1    +21:30 .. +22:30          reserved, not claimed: 30 minutes late, within the lot's 60
    R     A5    +22:30 .. +23:30          reserved, later tonight
    ====  ====  ========================  =====================================================
    """

    def __init__(self, open_svc, clock) -> None:
        clock.set(D - 2 * H)  # 22:00 on 14 June in Auckland
        self.clock = clock
        self.svc = svc = open_svc(session_ttl=timedelta(days=7))
        world = populate(svc, clock, time_zone=AUCKLAND)
        self.admin, alice, bob = world.admin, world.alice, world.bob
        self.lot = svc.update_lot(self.admin, world.lot.id, policy=LotPolicy(grace_minutes=60))
        slots = world.slots + svc.add_slots(self.admin, self.lot.id, ["A4", "A5", "A6"])
        self.slot = {s.slot_number: s.id for s in slots}
        self.other_lot = svc.create_lot(self.admin, "Harbour", "Quay Street 1", 4, time_zone=LOS_ANGELES)
        other_slot = svc.add_slot(self.admin, self.other_lot.id, "B1")

        def book(token, number, start, end):
            return svc.create_booking(token, self.slot[number], D + start, D + end)

        self.Y = book(alice, "A1", -H, H)
        self.S = svc.cancel_booking(bob, book(bob, "A2", 0 * H, H).id)
        self.T = svc.cancel_booking(alice, book(alice, "A3", 24 * H, 25 * H).id)
        self.L = book(alice, "A4", 24 * H, 25 * H)
        self.C = book(bob, "A6", 21 * H, 22 * H)
        self.G = book(alice, "A1", 21 * H + 30 * M, 22 * H + 30 * M)
        self.R = book(bob, "A5", 22 * H + 30 * M, 23 * H + 30 * M)
        # Another lot's booking of today, finished: never counted for this lot.
        self.other = svc.create_booking(bob, other_slot.id, D + 30 * M, D + H)
        clock.set(D - H)
        svc.check_in(alice, self.Y.id)
        clock.set(D + 30 * M)
        svc.check_out(alice, self.Y.id)
        svc.check_in(bob, self.other.id)
        svc.check_out(bob, self.other.id)
        clock.set(D + 21 * H)
        svc.check_in(bob, self.C.id)
        clock.set(D + 22 * H)  # now: 22:00 on 15 June in Auckland, 10:00 UTC


@pytest.fixture
def day(open_svc, clock) -> Day:
    return Day(open_svc, clock)


def test_the_summary_counts_the_lots_own_day_with_its_own_policy(day):
    [summary] = day.svc.lot_summary(day.admin, day.lot.id)
    # Slots now: A1 reserved (G, 30 minutes late but within the lot's 60), A6 occupied (C), the rest free.
    assert (summary.free_now, summary.reserved_now, summary.occupied_now, summary.out_of_service) == (4, 1, 1, 0)
    # Today's bookings: S (begins at the day's start), C, G and R; not Y (yesterday's), T and L (tomorrow's).
    assert summary.bookings_today == 4
    assert (summary.no_shows_today, summary.overstays_today) == (0, 0)
    assert summary.overstaying_now == 0  # C ends exactly now: not over yet
    assert (summary.lot.id, summary.lot.time_zone) == (day.lot.id, AUCKLAND)


def test_the_summary_of_every_lot_gives_each_its_own_day(day):
    summaries = day.svc.lot_summary(day.admin)
    assert [s.lot.name for s in summaries] == ["Central", "Harbour"]
    central, harbour = summaries
    assert (central.bookings_today, central.reserved_now, central.overstaying_now) == (4, 1, 0)
    # Harbour's day is 15 June in Los Angeles (07:00 UTC on the 15th to 07:00 on the 16th): its one booking began
    # at 12:30 UTC on the 14th, the day before.
    assert (harbour.bookings_today, harbour.free_now) == (0, 1)


def test_a_stay_past_its_end_is_overstaying_a_microsecond_later(day):
    day.clock.advance(microseconds=1)
    [summary] = day.svc.lot_summary(day.admin, day.lot.id)
    assert (summary.overstaying_now, summary.overstays_today, summary.occupied_now) == (1, 1, 1)


def test_a_summary_without_lots_is_empty(open_svc):
    svc = open_svc()
    admin = make_user(svc, "admin", admin=True)
    assert svc.lot_summary(admin) == []
    assert svc.occupancy_by_hour(admin) == []
    assert svc.lot_overview(admin) == []


def test_the_overview_frees_slots_by_the_lots_own_grace(day):
    overview = day.svc.lot_overview(day.admin)
    assert [(lot.name, free, total) for lot, free, total in overview] == [("Central", 4, 6), ("Harbour", 1, 1)]
    day.clock.set(D + 22 * H + 30 * M + M)  # G is now 61 minutes late: a no-show, A1 free (R holds A5 now)
    overview = day.svc.lot_overview(day.admin)
    assert [(lot.name, free, total) for lot, free, total in overview] == [("Central", 4, 6), ("Harbour", 1, 1)]


def _by_hour(counts: dict[int, int]) -> tuple[int, ...]:
    """The 24 hours of one day, zero where ``counts`` names none."""
    return tuple(counts.get(i, 0) for i in range(24))


def test_the_hours_of_one_lot_start_at_its_midnight_with_its_grace(day):
    day.clock.advance(seconds=17, microseconds=250_000)  # 22:00:17.25: C has overstayed 17.25 s
    [hours] = day.svc.occupancy_by_hour(day.admin, lot_id=day.lot.id)
    assert hours.lot.id == day.lot.id
    assert hours.start == D  # Auckland's midnight, to the microsecond
    assert hours.capacity == 6
    # Y parked 23:00 (yesterday) to 00:30: hour 0; C parked since 21:00 and still there: hours 21 and 22.
    assert hours.occupied == _by_hour({0: 1, 21: 1, 22: 1})
    # G (21:30-22:30) is within the lot's 60 minutes of grace: still held; R (22:30-23:30) later.
    assert hours.reserved == _by_hour({21: 1, 22: 2, 23: 1})
    assert hours.no_shows == _by_hour({})
    assert hours.overstays == _by_hour({22: 1})  # C's end, 22:00, fell in hour 22 and it went on past it


def test_the_hours_count_a_reservation_a_no_show_only_after_the_lots_grace(day):
    day.clock.set(D + 22 * H + 30 * M + M)  # G 61 minutes late: a no-show in hour 21, when it began
    [hours] = day.svc.occupancy_by_hour(day.admin, lot_id=day.lot.id)
    assert hours.no_shows == _by_hour({21: 1})
    assert hours.reserved == _by_hour({22: 1, 23: 1})  # R only


# ------------------------------------------------------------------------------------ since, on whose clock


@pytest.fixture
def far_zones(open_svc, clock, monkeypatch):
    """A service whose default zone is Los Angeles (UTC-7 in June), a lot in Auckland (UTC+12), and a process
    in Kolkata (UTC+5:30): three readings of one naive time. Two bookings at T0 = 10:00 UTC."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    svc = open_svc(time_zone=LOS_ANGELES)
    world = populate(svc, clock, time_zone=AUCKLAND)
    first = world.book(world.alice, 0, start_min=60)  # 11:00-12:00 UTC
    second = world.book(world.bob, 1, start_min=180)  # 13:00-14:00 UTC
    yield world, first, second
    monkeypatch.undo()
    time.tzset()


def test_a_naive_since_is_read_on_the_clock_of_what_is_listed(far_zones):
    world, first, second = far_zones
    svc, admin = world.svc, world.admin
    assert os.environ["TZ"] == "Asia/Kolkata"
    # No lot named: the service's zone. 06:00 in Los Angeles is 13:00 UTC: only the second ends at or after it
    # (in UTC, Auckland or Kolkata 06:00 would be before both ends).
    assert [b.id for b in svc.list_reservations(admin, since=datetime(2030, 6, 15, 6, 0))] == [second.id]
    # A lot or one of its slots: the lot's zone. 01:00 on 16 June in Auckland is 13:00 UTC on the 15th (in Los
    # Angeles or Kolkata it would be after both ends).
    since = datetime(2030, 6, 16, 1, 0)
    assert [b.id for b in svc.list_reservations(admin, world.lot.id, since=since)] == [second.id]
    for slot, expected in ((world.slots[1], [second.id]), (world.slots[0], [])):
        assert [b.id for b in svc.list_reservations(admin, slot_id=slot.id, since=since)] == expected
    # An offset given is taken as is.
    aware = datetime(2030, 6, 15, 11, 59, tzinfo=timezone.utc)
    assert [b.id for b in svc.list_reservations(admin, since=aware)] == [first.id, second.id]


@pytest.mark.parametrize("since", ["tomorrow", 42])
def test_a_since_that_is_not_a_time_is_refused_on_since(far_zones, since):
    world = far_zones[0]
    with pytest.raises(ValidationError) as caught:
        world.svc.list_reservations(world.admin, since=since)
    assert caught.value.field == "since"
    assert str(caught.value).startswith("Since must be a date and time")


# ------------------------------------------------------------------------------- a write cut short, in the log


class Died(BaseException):
    """The process stops here (not an error the store could handle)."""


def test_the_audit_log_shows_the_events_of_a_write_cut_short_as_not_committed(world, db_path, open_svc, monkeypatch):
    real = os.replace

    def die_at_the_roots_rename(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "parking.json":
            raise Died("replace")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", die_at_the_roots_rename)
    with pytest.raises(Died):
        world.svc.update_lot(world.admin, world.lot.id, name="Renamed")  # writes the root alone
    monkeypatch.undo()
    fresh = open_svc()  # the next process
    admin = fresh.login("admin", PASSWORD)
    fresh.create_booking(admin, world.slots[0].id, *world.window())  # the next write settles the note
    [cut] = fresh.audit_log(admin, op="update_lot")
    assert cut["committed"] is False
    assert (cut["user"], cut["op"]) == ("admin", "update_lot")
    [made] = fresh.audit_log(admin, op="create_booking")
    assert "committed" not in made
