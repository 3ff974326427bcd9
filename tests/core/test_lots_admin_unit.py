"""domain/lots.py's lot and slot administration through the service: what creating a lot records, the refusals
of a capacity too small or a slot number already taken (their fields and words), what a slot added is, and the
slots free for a window on a lot with its own clock and rules.

Each test pins a behaviour a mutant of lots.py changed without any other test noticing (see the mutation-testing
section of docs/testing.md). The world's lot ("Central", capacity 10, slots A1-A3) is in UTC; the clock starts at
10:00 and only the test moves it. Expected values are written out by hand.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from parking_tui.domain import Conflict, LotPolicy, Slot

from .conftest import T0, make_user


def at(hh: int, mm: int = 0) -> datetime:
    """An instant on the world's day (the lot is in UTC)."""
    return T0.replace(hour=hh, minute=mm)


def refused(error, call, *args, **kwargs) -> tuple[str | None, str]:
    """The field and the words of the refusal ``call`` raises."""
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is error
    return caught.value.field, str(caught.value)


def events(world, op: str) -> list[dict]:
    """The audit events of ``op`` as a lot manager reads them, without the terminal they came from."""
    return [{k: v for k, v in e.items() if k != "terminal"} for e in world.svc.audit_log(world.admin, op=op)]


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


# ------------------------------------------------------------------------------------------------ lots


def test_creating_a_lot_records_who_when_its_id_name_capacity_and_zone(world):
    svc = world.svc
    world.clock.set(at(10, 5))
    north = svc.create_lot(world.admin, "North", "Elsewhere 2", 4, time_zone="Europe/Berlin")
    assert events(world, "create_lot") == [
        {"at": stamp(T0), "user": "admin", "op": "create_lot", "lot_id": world.lot.id, "name": "Central",
         "total_slots": 10, "time_zone": "UTC"},
        {"at": stamp(at(10, 5)), "user": "admin", "op": "create_lot", "lot_id": north.id, "name": "North",
         "total_slots": 4, "time_zone": "Europe/Berlin"},
    ]


def test_a_capacity_below_the_slots_in_use_is_refused_naming_both(world):
    svc = world.svc
    assert refused(Conflict, svc.update_lot, world.admin, world.lot.id, total_slots=2) == (
        "total_slots", "Central has 3 slots in use; retire slots before lowering its capacity to 2."
    )
    assert svc.get_lot(world.admin, world.lot.id).total_slots == 10


def test_an_update_records_a_rename_and_a_new_capacity_before_and_after(world):
    svc = world.svc
    world.clock.set(at(10, 7))
    changed = svc.update_lot(world.admin, world.lot.id, name="Central East", total_slots=3)
    assert (changed.name, changed.total_slots, changed.time_zone) == ("Central East", 3, "UTC")
    assert events(world, "update_lot") == [
        {"at": stamp(at(10, 7)), "user": "admin", "op": "update_lot", "lot_id": world.lot.id,
         "before": {"name": "Central", "total_slots": 10}, "after": {"name": "Central East", "total_slots": 3}}
    ]


def test_a_lot_is_stored_with_the_instant_it_was_created(world, db_path):
    world.clock.set(at(10, 5))
    north = world.svc.create_lot(world.admin, "North", "Elsewhere 2", 4)
    lots = json.loads(db_path.read_bytes())["lots"]
    assert (lots[str(world.lot.id)]["created_at"], lots[str(north.id)]["created_at"]) == (
        "2030-06-15T10:00:00.000000+00:00", "2030-06-15T10:05:00.000000+00:00"
    )


# ------------------------------------------------------------------------------------------------ slots


def test_a_slot_number_already_in_the_lot_is_refused_and_nothing_is_added(world):
    svc = world.svc
    assert refused(Conflict, svc.add_slots, world.admin, world.lot.id, ["B1", "a2"]) == (
        "slot_number", "Slot A2 already exists in Central."
    )
    assert [s.slot_number for s in svc.lot_slots(world.admin, world.lot.id)] == ["A1", "A2", "A3"]


def test_slots_beyond_the_capacity_are_refused_naming_capacity_slots_and_how_many_more(world):
    svc = world.svc
    svc.retire_slot(world.admin, world.slots[0].id)  # a retired slot is not in use
    assert refused(Conflict, svc.add_slots, world.admin, world.lot.id, [f"B{i}" for i in range(1, 10)]) == (
        "slot_number",
        "Central holds 10 slots and has 2; 9 more would exceed its capacity (raise it with Edit lot).",
    )
    assert len(svc.add_slots(world.admin, world.lot.id, [f"B{i}" for i in range(1, 9)])) == 8


def test_a_slot_added_is_available_with_no_mark(world):
    svc = world.svc
    (b1,) = svc.add_slots(world.admin, world.lot.id, ["B1"])
    assert b1 == Slot(b1.id, world.lot.id, "B1", "available", admin_status="available")
    assert b1.admin_status == "available"
    assert svc.lot_slots(world.admin, world.lot.id)[3] == b1
