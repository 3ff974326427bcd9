"""Problem 9: time belongs to the lot, not to the process. Processes with different ``TZ`` share one data file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import ValidationError

from .conftest import FrozenClock, cheap_hasher, make_user

#: Runs in a child process: book a naive 10:10-11:10 in the lot, print what was stored.
CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timezone
    import argon2, parking_tui
    path, user, slot_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    clock = lambda: datetime(2030, 6, 15, 6, 0, tzinfo=timezone.utc)
    svc = parking_tui.open_service(path, clock=clock, password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    token = svc.login(user, "correct-horse")
    day = datetime(2030, 6, 15 + int(sys.argv[4]))
    b = svc.create_booking(token, slot_id, day.replace(hour=10, minute=10), day.replace(hour=11, minute=10))
    print(json.dumps([b.start_time.isoformat(), b.end_time.isoformat(), datetime.now().astimezone().tzname()]))
    """
)


def _run(path: Path, user: str, slot_id: int, day: int, tz: str) -> list[str]:
    env = dict(os.environ, TZ=tz)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), user, str(slot_id), str(day)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(out.stdout)


def test_9_processes_in_different_zones_read_naive_times_in_the_lots_zone(tmp_path):
    path = tmp_path / "parking.json"
    svc = parking_tui.open_service(
        path, clock=FrozenClock(datetime(2030, 6, 15, 6, 0, tzinfo=timezone.utc)), password_hasher=cheap_hasher()
    )
    admin = make_user(svc, "admin", admin=True)
    make_user(svc, "kiosk")
    make_user(svc, "server")
    lot = svc.create_lot(admin, "Berlin Mitte", "Unter den Linden", 5, time_zone="Europe/Berlin")
    slot = svc.add_slot(admin, lot.id, "B1")
    kiosk = _run(path, "kiosk", slot.id, 0, "Asia/Kolkata")
    server = _run(path, "server", slot.id, 1, "UTC")
    assert kiosk[2] == "IST" and server[2] == "UTC"  # the children really ran in different zones
    # 10:10 in Berlin (CEST, +02:00) is 08:10 UTC, whichever process read it.
    assert kiosk[:2] == ["2030-06-15T08:10:00+00:00", "2030-06-15T09:10:00+00:00"]
    assert server[:2] == ["2030-06-16T08:10:00+00:00", "2030-06-16T09:10:00+00:00"]


def test_9_a_new_lot_takes_the_configured_zone_else_the_machines(tmp_path):
    child = textwrap.dedent(
        """
        import sys, argon2, parking_tui
        svc = parking_tui.open_service(sys.argv[1], password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        svc.create_admin("admin", "admin@example.com", "correct-horse")
        token = svc.login("admin", "correct-horse")
        print(svc.create_lot(token, "L", "Somewhere", 1).time_zone)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path / "parking.json")],
        env=dict(os.environ, TZ="America/New_York"), capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.strip() == "America/New_York"
    svc = parking_tui.open_service(tmp_path / "other.json", password_hasher=cheap_hasher(), time_zone="Asia/Tokyo")
    admin = make_user(svc, "admin", admin=True)
    assert svc.create_lot(admin, "L", "Somewhere", 1).time_zone == "Asia/Tokyo"


@pytest.fixture
def berlin(tmp_path):
    """A lot in Berlin; the clock a few days before the change of the clocks being tested."""

    def make(now: datetime):
        svc = parking_tui.open_service(tmp_path / "parking.json", clock=FrozenClock(now), password_hasher=cheap_hasher())
        admin = make_user(svc, "admin", admin=True)
        alice = make_user(svc, "alice")
        lot = svc.create_lot(admin, "Berlin", "Mitte", 3, time_zone="Europe/Berlin")
        slot = svc.add_slot(admin, lot.id, "B1")
        return svc, alice, slot

    return make


def test_9_a_local_time_that_does_not_exist_is_refused(berlin):
    svc, alice, slot = berlin(datetime(2030, 3, 28, 12, 0, tzinfo=timezone.utc))
    with pytest.raises(ValidationError) as exc:  # 31 March 2030: 02:00 -> 03:00
        svc.create_booking(alice, slot.id, datetime(2030, 3, 31, 2, 30), datetime(2030, 3, 31, 4, 0))
    assert "does not exist" in str(exc.value)
    b = svc.create_booking(alice, slot.id, datetime(2030, 3, 31, 1, 30), datetime(2030, 3, 31, 3, 30))
    assert b.end_time - b.start_time == timedelta(hours=1)  # one real hour, though the clock moved two


def test_9_an_ambiguous_time_is_the_first_unless_fold_and_rules_use_utc(berlin):
    svc, alice, slot = berlin(datetime(2030, 10, 24, 12, 0, tzinfo=timezone.utc))
    # 27 October 2030: 03:00 CEST -> 02:00 CET, so 02:00-03:00 happens twice.
    first = svc.create_booking(alice, slot.id, datetime(2030, 10, 27, 2, 10), datetime(2030, 10, 27, 2, 40))
    assert first.start_time == datetime(2030, 10, 27, 0, 10, tzinfo=timezone.utc)  # the first 02:10 (CEST)
    svc.cancel_booking(alice, first.id)
    second = svc.create_booking(
        alice, slot.id, datetime(2030, 10, 27, 2, 10, fold=1), datetime(2030, 10, 27, 2, 40, fold=1)
    )
    assert second.start_time == datetime(2030, 10, 27, 1, 10, tzinfo=timezone.utc)  # the second 02:10 (CET)
    svc.cancel_booking(alice, second.id)
    with pytest.raises(ValidationError) as exc:  # ends "after" on the wall clock, before in real time
        svc.create_booking(alice, slot.id, datetime(2030, 10, 27, 2, 40, fold=1), datetime(2030, 10, 27, 2, 50))
    assert "End time must be after the start time" in str(exc.value)


def test_9_messages_show_the_lots_clock(berlin):
    svc, alice, slot = berlin(datetime(2030, 6, 15, 6, 0, tzinfo=timezone.utc))
    svc.create_booking(alice, slot.id, datetime(2030, 6, 15, 10, 0), datetime(2030, 6, 15, 11, 0))
    bob = make_user(svc, "bob")
    with pytest.raises(Exception) as exc:
        svc.create_booking(bob, slot.id, datetime(2030, 6, 15, 10, 30), datetime(2030, 6, 15, 11, 30))
    assert "from 15 Jun 10:00 to 15 Jun 11:00" in str(exc.value)  # Berlin's clock, not UTC's 08:00
