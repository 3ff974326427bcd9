"""Data written by parking-tui 0.1.0 (schema 1, ``tests/fixtures/schema1``) opens, after a snapshot, upgraded."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import StorageError

from .conftest import PASSWORD, FrozenClock, cheap_hasher

FIXTURE = Path(__file__).parent.parent / "fixtures" / "schema1"
#: The fixture was written at 10:50 UTC that day.
WRITTEN = datetime(2030, 6, 15, 10, 50, tzinfo=timezone.utc)


@pytest.fixture
def old_data(tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(FIXTURE, folder)
    return folder / "parking.json"


def _schema(path: Path) -> int:
    return json.loads(path.read_text())["meta"]["1"]["schema"]


def test_the_fixture_is_schema_1(old_data):
    assert _schema(old_data) == 1
    assert "time_zone" not in json.loads(old_data.read_text())["lots"]["1"]


def test_schema_1_opens_upgraded_after_a_snapshot(old_data):
    before = {p.name: p.read_bytes() for p in old_data.parent.glob("parking*.json")}
    svc = parking_tui.open_service(
        old_data, clock=FrozenClock(WRITTEN + timedelta(minutes=5)), password_hasher=cheap_hasher(),
        time_zone="Europe/London",
    )
    assert _schema(old_data) == 2
    snapshots = list((old_data.parent / "parking.backups").iterdir())
    assert len(snapshots) == 1
    assert {p.name: p.read_bytes() for p in snapshots[0].glob("parking*.json")} == before  # the files as found

    admin = svc.login("admin", PASSWORD)
    alice = svc.login("alice", PASSWORD)  # registered as "Alice": sign-in ignores case now
    assert svc.profile(alice).user == "Alice"
    lot = svc.list_lots(admin)[0]
    assert (lot.name, lot.total_slots, lot.time_zone) == ("Central", 3, "Europe/London")
    mine = svc.my_bookings(alice)
    assert [(b.slot_number, b.status, b.plate) for b in mine] == [("A1", "reserved", ""), ("A1", "completed", "")]
    parked = svc.list_reservations(admin, status="checked_in")
    assert [(b.username, b.slot_number) for b in parked] == [("bob", "A2")]
    slots = {s.slot_number: s for s in svc.lot_slots(admin, lot.id)}
    assert slots["A3"].status == "out_of_service" and slots["A1"].status == "available"
    # The upgraded data takes new bookings, with plates.
    svc.update_lot(admin, lot.id, total_slots=4)
    svc.add_slot(admin, lot.id, "A4")
    b = svc.create_booking(svc.login("bob", PASSWORD), slots["A1"].id, WRITTEN + timedelta(hours=5),
                           WRITTEN + timedelta(hours=6), plate="bob 1")
    assert b.plate == "BOB1"
    # A second open is no upgrade: no second snapshot.
    parking_tui.open_service(old_data, password_hasher=cheap_hasher())
    assert len(list((old_data.parent / "parking.backups").iterdir())) == 1


def test_an_old_walk_in_mark_gets_an_end(old_data):
    lot_file = old_data.parent / "parking.lot-1.json"
    data = json.loads(lot_file.read_text())
    data["slots"]["3"].update(admin_status="occupied")  # as 0.1.0 wrote a walk-in: no end
    lot_file.write_text(json.dumps(data))
    svc = parking_tui.open_service(old_data, clock=FrozenClock(WRITTEN + timedelta(hours=5)), password_hasher=cheap_hasher())
    admin = svc.login("admin", PASSWORD)
    a3 = next(s for s in svc.lot_slots(admin, 1) if s.slot_number == "A3")
    assert a3.status == "available"  # the walk-in ended 4 hours after it was set


def test_a_newer_schema_is_refused_untouched(old_data):
    data = json.loads(old_data.read_text())
    data["meta"]["1"]["schema"] = 99
    old_data.write_text(json.dumps(data))
    raw = old_data.read_bytes()
    with pytest.raises(StorageError) as exc:
        parking_tui.open_service(old_data, password_hasher=cheap_hasher())
    assert "newer parking-tui" in str(exc.value)
    assert old_data.read_bytes() == raw
