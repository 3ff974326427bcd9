"""domain/lots.py through the service: lots and slots (their refusals, fields and audit events), marking,
clearing and retiring slots, and the slots free for a window.

Each test pins a behaviour a mutant of lots.py changed without any other test noticing (see the mutation-testing
section of docs/testing.md). The world's lot is in UTC; the clock starts at 10:00 and only the test moves it.
Expected values are written out by hand.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime


from parking_tui.domain import Conflict, LotPolicy, ValidationError

from .conftest import at, make_user, park, refused, stamp


def last(world, op: str) -> dict:
    return world.svc.audit_log(world.admin, op=op)[-1]


def head(world, when: datetime, op: str) -> dict:
    return {"at": stamp(when), "user": "admin", "terminal": world.svc.terminal, "op": op}


# ------------------------------------------------------------------------------------------------ lots


def test_a_lot_name_is_unique_ignoring_case(world):
    assert refused(Conflict, world.svc.create_lot, world.admin, "central", "Elsewhere 2", 5) == (
        "name", "A lot named 'central' already exists."
    )
    other = world.svc.create_lot(world.admin, "North", "Elsewhere 2", 5)
    assert refused(Conflict, world.svc.update_lot, world.admin, other.id, name="CENTRAL") == (
        "name", "A lot named 'CENTRAL' already exists."
    )


def test_a_location_may_be_120_characters_and_not_121(world):
    svc = world.svc
    assert svc.create_lot(world.admin, "Long", "x" * 120, 5).location == "x" * 120
    assert refused(ValidationError, svc.create_lot, world.admin, "Longer", "x" * 121, 5) == (
        "location", "Location must be at most 120 characters."
    )
    assert svc.update_lot(world.admin, world.lot.id, location="y" * 120).location == "y" * 120
    assert refused(ValidationError, svc.update_lot, world.admin, world.lot.id, location="y" * 121) == (
        "location", "Location must be at most 120 characters."
    )
    assert refused(ValidationError, svc.update_lot, world.admin, world.lot.id, name="") == (
        "name", "Name must not be empty."
    )


def test_a_policy_must_be_a_lot_policy(world):
    assert refused(ValidationError, world.svc.create_lot, world.admin, "P", "Q", 5, policy={"grace_minutes": 5}) == (
        "policy", "policy must be a LotPolicy."
    )


def test_an_update_records_what_changed_before_and_after(world):
    svc, lot = world.svc, world.lot
    world.clock.set(at(10, 5))
    new = LotPolicy(grace_minutes=30)
    changed = svc.update_lot(world.admin, lot.id, location="Side Street 2", policy=new)
    assert (changed.location, changed.policy, changed.time_zone) == ("Side Street 2", new, "UTC")
    assert svc.get_lot(world.alice, lot.id).policy == new
    assert last(world, "update_lot") == {
        **head(world, at(10, 5), "update_lot"),
        "lot_id": lot.id,
        "before": {"location": "Main Street 1", "policy": None},  # none was set: the defaults applied
        "after": {"location": "Side Street 2", "policy": asdict(new)},
    }


def test_slots_added_are_recorded_by_number(world):
    svc = world.svc
    lot = svc.create_lot(world.admin, "North", "Elsewhere 2", 5)
    world.clock.set(at(10, 5))
    added = svc.add_slots(world.admin, lot.id, ["n1", "N2"])
    assert [(s.slot_number, s.status, s.admin_status, s.lot_id) for s in added] == [
        ("N1", "available", "available", lot.id), ("N2", "available", "available", lot.id)
    ]
    assert last(world, "add_slots") == {
        **head(world, at(10, 5), "add_slots"), "lot_id": lot.id, "slots": {"N1": added[0].id, "N2": added[1].id}
    }
    assert [s.admin_status for s in svc.lot_slots(world.admin, lot.id)] == ["available", "available"]


def test_slot_numbers_must_be_a_list_of_distinct_numbers(world):
    svc, lot = world.svc, world.lot.id
    assert refused(ValidationError, svc.add_slots, world.admin, lot, "B1") == (
        "slot_number", "Give a list of slot numbers."
    )
    assert refused(ValidationError, svc.add_slots, world.admin, lot, []) == (
        "slot_number", "Give at least one slot number."
    )
    assert refused(Conflict, svc.add_slots, world.admin, lot, ["B1", "b1"]) == (
        "slot_number", "The same slot number is given twice."
    )


# ------------------------------------------------------------------------------------------------ marks


def test_a_mark_and_its_clearing_are_recorded_with_before_after_end_and_reason(world):
    svc, slot = world.svc, world.slots[0]
    world.clock.set(at(10, 5))
    marked = svc.set_slot_status(world.admin, slot.id, "out_of_service", until=at(11), reason="Repaint")
    assert (marked.mark_reason, marked.mark_until) == ("Repaint", at(11))
    assert last(world, "set_slot_status") == {
        **head(world, at(10, 5), "set_slot_status"), "slot_id": slot.id, "lot_id": world.lot.id,
        "slot_number": "A1", "before": "available", "after": "out_of_service", "until": stamp(at(11)),
        "reason": "Repaint",
    }
    world.clock.set(at(10, 10))
    cleared = svc.set_slot_status(world.admin, slot.id, "available", reason="done")
    assert (cleared.status, cleared.mark_reason, cleared.mark_until) == ("available", "", None)
    assert last(world, "set_slot_status") == {
        **head(world, at(10, 10), "set_slot_status"), "slot_id": slot.id, "lot_id": world.lot.id,
        "slot_number": "A1", "before": "out_of_service", "after": "available", "until": None, "reason": "done",
    }
    world.clock.set(at(10, 15))
    svc.retire_slot(world.admin, slot.id)
    assert last(world, "retire_slot") == {
        **head(world, at(10, 15), "retire_slot"), "slot_id": slot.id, "lot_id": world.lot.id,
        "slot_number": "A1", "before": "available", "after": "retired",
    }


def test_a_mark_is_refused_with_the_field_and_words_a_person_reads(world):
    svc, a1, a2 = world.svc, world.slots[0].id, world.slots[1].id
    assert refused(ValidationError, svc.mark_slot, world.admin, a1, "broken") == (
        "status", "Status must be available, occupied or out_of_service."
    )
    assert refused(ValidationError, svc.mark_slot, world.admin, a1, "reserved") == (
        "status", "'reserved' comes from bookings; it cannot be set by hand."
    )
    assert refused(ValidationError, svc.mark_slot, world.admin, a1, "out_of_service", until=at(10)) == (
        "until", "The mark must end in the future."
    )
    assert refused(ValidationError, svc.mark_slot, world.admin, a1, "out_of_service", until="soon")[0] == "until"
    assert refused(ValidationError, svc.mark_slot, world.admin, a1, "out_of_service", reason="r" * 81) == (
        "reason", "Reason must be at most 80 characters."
    )
    park(world, "carol", 1, at(10), at(11))
    assert refused(Conflict, svc.mark_slot, world.admin, a2, "occupied") == (
        "status", "Slot A2 is already occupied by a checked-in booking."
    )
    svc.retire_slot(world.admin, a1)
    assert refused(Conflict, svc.mark_slot, world.admin, a1, "available") == ("status", "Slot A1 is retired.")


def test_a_marks_end_without_a_zone_is_read_on_the_lots_clock(world):
    svc = world.svc
    berlin = svc.create_lot(world.admin, "Berlin", "Unter den Linden 1", 2, time_zone="Europe/Berlin")
    (b1,) = svc.add_slots(world.admin, berlin.id, ["B1"])
    marked = svc.set_slot_status(world.admin, b1.id, "out_of_service", until="2030-06-15T13:00")
    assert marked.mark_until == at(11)  # 13:00 in Berlin (summer time) is 11:00 UTC


def test_a_walk_in_mark_without_an_end_lasts_the_lots_walk_in_hours(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(walk_in_hours=2))
    assert svc.set_slot_status(world.admin, world.slots[0].id, "occupied").mark_until == at(12)


def test_a_mark_moves_every_reservation_it_blocks_past_a_parked_car(world):
    """On A1: Carol's car from 10:15, then Alice and Dan. The mark at 10:15 moves Alice and Dan to A2 (where
    Erin's reservation starts at 13:00), in order."""
    svc, clock = world.svc, world.clock
    dan = make_user(svc, "dan")
    d = svc.create_booking(dan, world.slots[0].id, at(12), at(12, 30))
    a = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    erin = make_user(svc, "erin")
    svc.create_booking(erin, world.slots[1].id, at(13), at(14))
    clock.set(at(10, 15))
    park(world, "carol", 0, at(10, 15), at(11))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [(b.id, b.slot_number, b.attention) for b in mark.moved] == [(a.id, "A2", ""), (d.id, "A2", "")]
    assert mark.unplaced == []
    assert [e["user"] for e in svc.audit_log(world.admin, op="reassign")] == ["admin", "admin"]
    assert mark.slot.status == "out_of_service"


def test_a_mark_leaves_alone_a_reservation_after_its_end_even_beside_a_parked_car(world):
    svc = world.svc
    park(world, "carol", 1, at(10), at(12))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", until=at(10, 30))
    assert (mark.moved, mark.unplaced) == ([], [])
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"
    cleared = svc.mark_slot(world.admin, world.slots[0].id, "available")
    assert cleared.slot.status == "available"  # the car is in A2, not here


def test_a_mark_sweeps_only_its_own_lots_no_shows(world):
    svc = world.svc
    other = svc.create_lot(world.admin, "North", "Elsewhere 2", 5)
    (n1,) = svc.add_slots(world.admin, other.id, ["N1"])
    gone = svc.create_booking(world.bob, n1.id, at(10), at(11))
    world.clock.set(at(10, 20))
    svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert [e["op"] for e in svc.audit_log(world.admin, code=gone.confirmation_code)] == ["create_booking"]


# --------------------------------------------------------------------------------------- how slots read


def test_a_lots_own_grace_period_decides_how_its_slots_read(world):
    svc = world.svc
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(grace_minutes=60))
    svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    world.clock.set(at(10, 30))
    assert [s.status for s in svc.lot_slots(world.bob, world.lot.id)] == ["reserved", "available", "available"]


def test_available_slots_needs_both_ends_of_a_window(world):
    svc = world.svc
    assert refused(ValidationError, svc.available_slots, world.alice, world.lot.id, at(11)) == (
        "end_time", "Give both a start and an end time, or neither."
    )
    assert refused(ValidationError, svc.available_slots, world.alice, world.lot.id, "x", at(12))[0] == "start_time"
    assert refused(ValidationError, svc.available_slots, world.alice, world.lot.id, at(11), "x")[0] == "end_time"


def test_available_slots_reads_a_window_on_the_lots_clock_and_by_its_policy(world):
    svc = world.svc
    berlin = svc.create_lot(
        world.admin, "Berlin", "Unter den Linden 1", 2, time_zone="Europe/Berlin", policy=LotPolicy(min_minutes=60)
    )
    (b1,) = svc.add_slots(world.admin, berlin.id, ["B1"])
    svc.create_booking(world.alice, b1.id, at(11), at(12))  # 13:00-14:00 in Berlin
    assert svc.available_slots(world.bob, berlin.id, "2030-06-15T14:00", "2030-06-15T15:00") == [
        svc.lot_slots(world.bob, berlin.id)[0]
    ]
    assert svc.available_slots(world.bob, berlin.id, "2030-06-15T12:00", "2030-06-15T13:00") != []
    assert svc.available_slots(world.bob, berlin.id, "2030-06-15T13:00", "2030-06-15T14:00") == []
    assert refused(ValidationError, svc.available_slots, world.bob, berlin.id, at(13), at(13, 30))[0] == "end_time"


def test_available_slots_skips_retired_and_marked_slots_and_held_time(world):
    svc, clock = world.svc, world.clock
    svc.retire_slot(world.admin, world.slots[0].id)
    assert [s.slot_number for s in svc.available_slots(world.bob, world.lot.id)] == ["A2", "A3"]
    svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service", until=at(11))
    assert [s.slot_number for s in svc.available_slots(world.bob, world.lot.id, at(10, 30), at(11, 30))] == ["A2"]
    # A2: Carol's car overstays, so Dan's reservation after it is held past its grace: not free for Alice.
    park(world, "carol", 1, at(10), at(10, 30))
    dan = make_user(svc, "dan")
    svc.create_booking(dan, world.slots[1].id, at(10, 30), at(12))
    clock.set(at(10, 50))
    assert [s.slot_number for s in svc.available_slots(world.alice, world.lot.id, at(11, 30), at(12, 30))] == ["A3"]


def test_capacity_refusals_say_what_is_in_use(world):
    svc, lot = world.svc, world.lot.id
    assert refused(Conflict, svc.update_lot, world.admin, lot, total_slots=2) == (
        "total_slots", "Central has 3 slots in use; retire slots before lowering its capacity to 2."
    )
    assert refused(Conflict, svc.add_slots, world.admin, lot, ["A1"]) == (
        "slot_number", "Slot A1 already exists in Central."
    )
    svc.update_lot(world.admin, lot, total_slots=4)
    assert refused(Conflict, svc.add_slots, world.admin, lot, ["B1", "B2"]) == (
        "slot_number", "Central holds 4 slots and has 3; 2 more would exceed its capacity (raise it with Edit lot)."
    )
