"""The lot's housekeeping, as a lot manager reads it back: a no-show finished as ``expired``, a reservation still
blocked at its end cancelled with the reason, and a held reservation moved once a slot came free. Each is done by
the housekeeping that a later write to the lot starts (``release_expired``), and each leaves exactly one audit
event by ``system`` that says who, what, when and why."""

from __future__ import annotations

from datetime import datetime

import pytest

from parking_tui.domain import LotPolicy

from .conftest import at, held_on_a1_until_a3_frees, make_user, overstay
from .test_lots_day import fill


def events(world, op):
    """The audit events of ``op``, as a lot manager reads them, without the terminal they came from (``at`` read
    back as an instant)."""
    return [
        {k: datetime.fromisoformat(v) if k == "at" else v for k, v in e.items() if k != "terminal"}
        for e in world.svc.audit_log(world.admin, op=op)
    ]


def about(world, booking, slot_index, owner):
    """The ids an audit event about ``booking`` carries."""
    return {
        "booking_id": booking.id,
        "code": booking.confirmation_code,
        "owner": owner,
        "lot_id": world.lot.id,
        "slot_id": world.slots[slot_index].id,
    }


def a_write_to_the_lot(world, slot_index=1):
    """Someone books late in the day on the lot: the write starts the lot's housekeeping."""
    carol = make_user(world.svc, "carol")
    world.svc.create_booking(carol, world.slots[slot_index].id, at(20), at(21))


def test_a_no_show_is_expired_by_system_with_one_event(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    clock.set(at(11, 16))  # the default 15 minutes of grace have passed
    a_write_to_the_lot(world)
    assert events(world, "expire") == [
        {"at": at(11, 16), "user": "system", "op": "expire", **about(world, alice, 0, "alice"),
         "before": "reserved", "after": "expired"}
    ]
    assert svc.get_booking(world.alice, alice.id).status == "expired"


@pytest.mark.parametrize("minute", [0, 1], ids=["at-its-end", "a-minute-after"])
def test_a_reservation_held_by_a_mark_to_its_end_is_cancelled_with_its_attention_as_the_reason(world, minute):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    fill(world, (1, 2), at(10), at(23))
    svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    clock.set(at(12, minute))
    a_write_to_the_lot_elsewhere = svc.create_booking(world.bob, world.slots[1].id, at(23), at(23, 30))
    assert a_write_to_the_lot_elsewhere.status == "reserved"
    reason = "A1 out of service, no free slot to move to"
    assert events(world, "cancel") == [
        {"at": at(12, minute), "user": "system", "op": "cancel", **about(world, alice, 0, "alice"),
         "before": "reserved", "after": "cancelled", "reason": reason}
    ]
    done = svc.get_booking(world.alice, alice.id)
    assert (done.status, done.attention, done.cancelled_at) == ("cancelled", reason, at(12, minute))


def test_an_overstay_through_a_whole_reservation_nobody_looked_at_is_cancelled_naming_the_car(world):
    """Nothing was written while the car stayed (no write to the lot between the grace period and the end), so
    the reservation carries no attention yet: the reason comes from what blocks it."""
    svc, clock = world.svc, world.clock
    _alice, bob = overstay(world)
    fill(world, (1, 2), at(10), at(23))
    clock.set(at(12, 1))
    carol = make_user(svc, "carol")
    svc.create_booking(carol, world.slots[1].id, at(23), at(23, 30))
    reason = "previous car still in A1, no free slot to move to"
    assert [(e["op"], e["user"], e.get("reason")) for e in svc.audit_log(world.admin, code=bob.confirmation_code)] == [
        ("create_booking", "bob", None),
        ("cancel", "system", reason),
    ]
    done = svc.get_booking(world.bob, bob.id)
    assert (done.status, done.attention) == ("cancelled", reason)


def test_a_held_reservation_moved_by_housekeeping_says_system_moved_it_and_why(world):
    svc, clock = world.svc, world.clock
    alice = held_on_a1_until_a3_frees(world)  # A3 comes free while she is held
    clock.set(at(13, 15))
    a_write_to_the_lot(world, 2)
    assert events(world, "reassign") == [
        {"at": at(13, 15), "user": "system", "op": "reassign", **about(world, alice, 2, "alice"),
         "before": "A1", "after": "A3", "from_slot_id": world.slots[0].id, "reason": "A1 out of service"}
    ]
    moved = svc.get_booking(world.alice, alice.id)
    assert (moved.slot_number, moved.moved_from, moved.attention) == ("A3", "A1", "")


def test_a_mark_after_a_reservations_window_neither_moves_nor_cancels_it(world):
    """On a lot whose grace period outlasts a short booking, a reservation can still be on record after its end.
    A mark set then did not hold it while it was due: it is left where it is and finishes as a no-show."""
    svc, clock = world.svc, world.clock
    svc.update_lot(world.admin, world.lot.id, policy=LotPolicy(grace_minutes=30, min_minutes=5))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(10, 5))
    clock.set(at(10, 20))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert (mark.moved, mark.unplaced) == ([], [])
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"
    clock.set(at(10, 31))
    a_write_to_the_lot(world)
    assert [e["op"] for e in svc.audit_log(world.admin, code=alice.confirmation_code)] == ["create_booking", "expire"]
    assert svc.get_booking(world.alice, alice.id).status == "expired"
