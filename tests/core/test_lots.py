"""Lots and slots: creation rules, capacity, slot status as the admin sets it, overview and summary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parking_tui.domain import (
    AuthenticationError,
    Conflict,
    LotPolicy,
    NotFound,
    PermissionDenied,
    ValidationError,
)

from .conftest import make_user


@pytest.fixture
def admin(svc):
    return make_user(svc, "admin", admin=True)


@pytest.fixture
def driver(svc):
    return make_user(svc, "driver")


def test_create_and_list_lots(svc, admin, driver):
    b = svc.create_lot(admin, "  Riverside  ", "12 Quay Street", 40)
    a = svc.create_lot(admin, "Airport", "Terminal 2", 1)
    assert (b.name, b.location, b.total_slots) == ("Riverside", "12 Quay Street", 40)
    assert a.id != b.id
    assert svc.list_lots(driver) == [a, b]  # sorted by name
    assert svc.get_lot(driver, b.id) == b
    assert b.policy == LotPolicy()


def test_create_lot_with_policy(svc, admin):
    lot = svc.create_lot(admin, "Short", "x", 5, policy=LotPolicy(grace_minutes=5))
    assert svc.get_lot(admin, lot.id).policy.grace_minutes == 5
    with pytest.raises(ValidationError):
        svc.create_lot(admin, "Other", "x", 5, policy={"grace_minutes": 5})  # type: ignore[arg-type]


@pytest.mark.parametrize("total", [1, 10_000])
def test_total_slots_bounds_accepted(svc, admin, total):
    assert svc.create_lot(admin, "Lot", "x", total).total_slots == total


@pytest.mark.parametrize("total", [0, -1, 10_001, 2.5, "10", True, None])
def test_total_slots_rejected(svc, admin, total):
    with pytest.raises(ValidationError) as exc:
        svc.create_lot(admin, "Lot", "x", total)
    assert exc.value.field == "total_slots"


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "bad\x07name"])
def test_lot_name_rejected(svc, admin, name):
    with pytest.raises(ValidationError) as exc:
        svc.create_lot(admin, name, "x", 5)
    assert exc.value.field == "name"


def test_lot_name_unique_case_insensitive(svc, admin):
    svc.create_lot(admin, "Central", "x", 5)
    with pytest.raises(Conflict):
        svc.create_lot(admin, "central", "y", 5)


def test_create_lot_needs_admin(svc, driver):
    with pytest.raises(PermissionDenied):
        svc.create_lot(driver, "Lot", "x", 5)
    with pytest.raises(AuthenticationError):
        svc.create_lot("bogus", "Lot", "x", 5)
    with pytest.raises(AuthenticationError):
        svc.list_lots("bogus")


def test_get_lot_not_found(svc, driver):
    with pytest.raises(NotFound):
        svc.get_lot(driver, 999)
    with pytest.raises(ValidationError):
        svc.get_lot(driver, "1")


# ------------------------------------------------------------------------------------------- slots


def test_add_slot_and_lot_slots(svc, admin, driver):
    lot = svc.create_lot(admin, "Lot", "x", 5)
    s = svc.add_slot(admin, lot.id, "a5")
    assert (s.lot_id, s.slot_number, s.status) == (lot.id, "A5", "available")
    svc.add_slots(admin, lot.id, ["A10", "A2", "P2-14"])
    assert [x.slot_number for x in svc.lot_slots(driver, lot.id)] == ["A2", "A5", "A10", "P2-14"]
    assert all(x.status == "available" for x in svc.lot_slots(driver, lot.id))


@pytest.mark.parametrize("number", ["", "A 5", "A_5", "-A5", "A5-", "A--5", "X" * 17, "Ä1"])
def test_slot_number_format_rejected(svc, admin, number):
    lot = svc.create_lot(admin, "Lot", "x", 5)
    with pytest.raises(ValidationError) as exc:
        svc.add_slot(admin, lot.id, number)
    assert exc.value.field == "slot_number"
    assert svc.lot_slots(admin, lot.id) == []


def test_slot_number_16_chars_ok(svc, admin):
    lot = svc.create_lot(admin, "Lot", "x", 5)
    assert svc.add_slot(admin, lot.id, "X" * 16).slot_number == "X" * 16


def test_duplicate_slot_number_conflict(svc, admin):
    lot = svc.create_lot(admin, "Lot", "x", 5)
    other = svc.create_lot(admin, "Other", "x", 5)
    svc.add_slot(admin, lot.id, "A1")
    with pytest.raises(Conflict):
        svc.add_slot(admin, lot.id, "a1")
    with pytest.raises(Conflict):
        svc.add_slots(admin, lot.id, ["B1", "B1"])
    assert svc.add_slot(admin, other.id, "A1").slot_number == "A1"  # unique per lot only


def test_capacity(svc, admin):
    lot = svc.create_lot(admin, "Lot", "x", 3)
    svc.add_slots(admin, lot.id, ["A1", "A2"])
    with pytest.raises(Conflict):
        svc.add_slots(admin, lot.id, ["A3", "A4"])  # all or nothing
    assert len(svc.lot_slots(admin, lot.id)) == 2
    svc.add_slot(admin, lot.id, "A3")
    with pytest.raises(Conflict) as exc:
        svc.add_slot(admin, lot.id, "A4")
    assert "capacity" in str(exc.value)
    assert len(svc.lot_slots(admin, lot.id)) == 3


def test_add_slots_errors(svc, admin, driver):
    lot = svc.create_lot(admin, "Lot", "x", 3)
    with pytest.raises(PermissionDenied):
        svc.add_slot(driver, lot.id, "A1")
    with pytest.raises(NotFound):
        svc.add_slot(admin, 999, "A1")
    with pytest.raises(ValidationError):
        svc.add_slots(admin, lot.id, "A1")
    with pytest.raises(ValidationError):
        svc.add_slots(admin, lot.id, [])
    with pytest.raises(NotFound):
        svc.lot_slots(driver, 999)
    assert svc.lot_slots(admin, lot.id) == []


# -------------------------------------------------------------------------------- set_slot_status


def test_set_slot_status_roundtrip(world):
    svc, admin, slot = world.svc, world.admin, world.slots[0]
    s = svc.set_slot_status(admin, slot.id, "out_of_service")
    assert s.status == "out_of_service" and s.admin_status == "out_of_service"
    assert svc.lot_slots(world.alice, world.lot.id)[0].status == "out_of_service"
    s = svc.set_slot_status(admin, slot.id, "occupied")
    assert s.status == "occupied"
    s = svc.set_slot_status(admin, slot.id, "available")
    assert s.status == "available" and s.admin_status == "available"


def test_set_slot_status_errors(world):
    svc, admin, slot = world.svc, world.admin, world.slots[0]
    with pytest.raises(PermissionDenied):
        svc.set_slot_status(world.alice, slot.id, "out_of_service")
    with pytest.raises(ValidationError):
        svc.set_slot_status(admin, slot.id, "reserved")
    with pytest.raises(ValidationError):
        svc.set_slot_status(admin, slot.id, "broken")
    with pytest.raises(NotFound):
        svc.set_slot_status(admin, 999, "available")
    assert svc.lot_slots(admin, world.lot.id)[0].status == "available"


def test_out_of_service_blocks_new_bookings_and_lists_existing(world):
    svc, admin, slot = world.svc, world.admin, world.slots[0]
    b = world.book(world.alice, 0, 60, 60)
    svc.set_slot_status(admin, slot.id, "out_of_service")
    with pytest.raises(Conflict) as exc:
        world.book(world.bob, 0, 180, 60)
    assert "out of service" in str(exc.value)
    # The existing booking was moved to a free slot of the lot, same window, same code.
    assert svc.list_reservations(admin, slot_id=slot.id) == []
    moved = svc.get_booking(world.alice, b.id)
    assert (moved.slot_number, moved.confirmation_code, moved.moved_from) == ("A2", b.confirmation_code, "A1")
    assert slot.id not in {s.id for s in svc.available_slots(world.bob, world.lot.id, *world.window(180, 60))}
    # A car parked in a slot that goes out of service may leave, but not stay longer.
    c = world.book(world.bob, 2, 0, 60)
    svc.check_in(world.bob, c.id)
    svc.set_slot_status(admin, world.slots[2].id, "out_of_service")
    with pytest.raises(Conflict) as exc:
        svc.extend_booking(world.bob, c.id, c.end_time + timedelta(minutes=30))
    assert "A3 is out of service" in str(exc.value)
    assert svc.check_out(world.bob, c.id).status == "completed"


def test_admin_occupied_blocks_bookings(world):
    svc, admin, slot = world.svc, world.admin, world.slots[1]
    svc.set_slot_status(admin, slot.id, "occupied")
    with pytest.raises(Conflict) as exc:
        world.book(world.alice, 1, 60, 60)
    assert "occupied" in str(exc.value)
    assert slot.id not in {s.id for s in svc.available_slots(world.alice, world.lot.id)}
    svc.set_slot_status(admin, slot.id, "available")
    assert world.book(world.alice, 1, 60, 60).status == "reserved"


def test_checked_in_slot_cannot_be_marked_occupied(world):
    svc, admin = world.svc, world.admin
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    with pytest.raises(Conflict):
        svc.set_slot_status(admin, world.slots[0].id, "occupied")
    assert svc.lot_slots(admin, world.lot.id)[0].admin_status == "available"


def test_out_of_service_keeps_checked_in_car_until_checkout(world):
    svc, admin, slot = world.svc, world.admin, world.slots[0]
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    s = svc.set_slot_status(admin, slot.id, "out_of_service")
    assert s.status == "out_of_service"
    assert svc.get_booking(world.alice, b.id).status == "checked_in"
    done = svc.check_out(world.alice, b.id)
    assert done.status == "completed"
    assert svc.lot_slots(admin, world.lot.id)[0].status == "out_of_service"


def test_available_clears_mark_but_checked_in_stays_occupied(world):
    svc, admin, slot = world.svc, world.admin, world.slots[0]
    b = world.book(world.alice, 0, 0, 60)
    svc.check_in(world.alice, b.id)
    svc.set_slot_status(admin, slot.id, "out_of_service")
    s = svc.set_slot_status(admin, slot.id, "available")
    assert s.admin_status == "available"
    assert s.status == "occupied"
    svc.check_out(world.alice, b.id)
    assert svc.lot_slots(admin, world.lot.id)[0].status == "available"


# ------------------------------------------------------------------------------ overview / summary


def test_lot_overview(world):
    svc = world.svc
    other = svc.create_lot(world.admin, "Annex", "Back street", 2)
    svc.add_slot(world.admin, other.id, "Z1")
    assert svc.lot_overview(world.alice) == [(other, 1, 1), (world.lot, 3, 3)]
    b = world.book(world.alice, 0, 0, 60)
    svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service")
    assert svc.lot_overview(world.bob)[1] == (world.lot, 1, 3)
    # A booking for later does not make the slot busy now.
    svc.check_in(world.alice, b.id)
    world.book(world.bob, 1, 120, 60)
    assert svc.lot_overview(world.bob)[1] == (world.lot, 1, 3)
    with pytest.raises(AuthenticationError):
        svc.lot_overview("bogus")


def test_lot_summary(world):
    svc, clock = world.svc, world.clock
    a = world.book(world.alice, 0, 0, 60)  # checked in, later overstays
    svc.check_in(world.alice, a.id)
    world.book(world.bob, 1, 0, 30)  # reserved now, becomes a no-show
    svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service")
    (s,) = svc.lot_summary(world.admin)
    assert (s.free_now, s.reserved_now, s.occupied_now, s.out_of_service) == (0, 1, 1, 1)
    assert s.bookings_today == 2
    clock.advance(minutes=90)
    svc.check_out(world.alice, a.id)
    (s,) = svc.lot_summary(world.admin, world.lot.id)
    assert (s.free_now, s.reserved_now, s.occupied_now, s.out_of_service) == (2, 0, 0, 1)
    assert (s.bookings_today, s.no_shows_today, s.overstays_today) == (2, 1, 1)
    assert s.lot == world.lot
    with pytest.raises(PermissionDenied):
        svc.lot_summary(world.alice)
    with pytest.raises(NotFound):
        svc.lot_summary(world.admin, 999)


def test_a_mark_set_again_without_an_end_keeps_no_end_of_the_mark_before(world):
    svc, clock = world.svc, world.clock
    slot = world.slots[0]
    svc.set_slot_status(world.admin, slot.id, "out_of_service", until=clock.now + timedelta(hours=1))
    svc.set_slot_status(world.admin, slot.id, "available")
    again = svc.set_slot_status(world.admin, slot.id, "out_of_service", reason="paint")
    assert (again.status, again.mark_until) == ("out_of_service", None)
    clock.advance(hours=2)  # past the first mark's end: this one has none, it lasts until cleared
    (now,) = [s for s in svc.lot_slots(world.admin, world.lot.id) if s.id == slot.id]
    assert (now.status, now.mark_until, now.mark_reason) == ("out_of_service", None, "paint")
