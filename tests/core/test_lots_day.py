"""A real lot's day: the thirteen problems of a lot's first day, each reproduced with a frozen clock.

Times in the comments are on the lot's clock (the world's lot is in UTC; the clock starts at 10:00).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from parking_tui.domain import AuthenticationError, Conflict, LotPolicy, ValidationError

from .conftest import PASSWORD, at, held_on_a1_until_a3_frees, make_user, overstay

M = timedelta(minutes=1)
H = timedelta(hours=1)


def fill(world, indexes, start, end):
    """Other drivers check in to the given slots for ``[start, end)``: no slot there is free to move to."""
    for i in indexes:
        token = make_user(world.svc, f"filler{i}")
        b = world.svc.create_booking(token, world.slots[i].id, start, end)
        world.svc.check_in(token, b.id)


# 1 ------------------------------------------------------------------------------------- early arrivals


def test_1_an_early_arrival_never_takes_a_slot_still_reserved(world):
    svc, clock = world.svc, world.clock
    fill(world, (1, 2), at(10), at(13))
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    clock.set(at(10, 50))
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.bob, bob.id)
    assert "still booked by another driver until 11:00" in str(exc.value)
    clock.set(at(10, 51))
    assert svc.check_in(world.alice, alice.id).status == "checked_in"


def test_1_an_early_arrival_goes_to_a_free_slot_when_there_is_one(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 40), at(11))
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    clock.set(at(10, 50))
    early = svc.check_in(world.bob, bob.id)
    assert (early.slot_number, early.moved_from, early.confirmation_code) == ("A2", "A1", bob.confirmation_code)
    assert svc.check_in(world.alice, alice.id).slot_number == "A1"
    assert [e["op"] for e in svc.audit_log(world.admin, code=bob.confirmation_code)][-2:] == ["reassign", "check_in"]


# 2, 3 ------------------------------------------------------------------------------------- overstays


def test_2_an_overstay_moves_the_next_driver_to_a_free_slot(world):
    svc, clock = world.svc, world.clock
    _alice, bob = overstay(world)
    clock.set(at(11, 10))
    done = svc.check_in(world.bob, bob.id)
    assert (done.status, done.slot_number, done.moved_from) == ("checked_in", "A2", "A1")
    assert done.confirmation_code == bob.confirmation_code


def test_2_an_overstay_never_makes_the_next_driver_a_no_show(world):
    svc, clock = world.svc, world.clock
    alice, bob = overstay(world)
    fill(world, (1, 2), at(10), at(13))
    clock.set(at(11, 10))
    with pytest.raises(Conflict):
        svc.check_in(world.bob, bob.id)
    clock.set(at(11, 16))
    held = svc.get_booking(world.bob, bob.id)
    assert held.status == "reserved"
    assert held.attention == "previous car still in A1, no free slot to move to"
    assert svc.lot_summary(world.admin, world.lot.id)[0].no_shows_today == 0
    clock.set(at(11, 40))
    svc.check_out(world.alice, alice.id)
    clock.set(at(11, 50))  # the grace period counts from when the slot became free
    assert svc.check_in(world.bob, bob.id).slot_number == "A1"


def test_2_a_blocked_reservation_is_never_expired_even_when_nobody_looks(world):
    svc, clock = world.svc, world.clock
    _alice, bob = overstay(world)
    fill(world, (1, 2), at(10), at(13))
    clock.set(at(11, 30))
    assert svc.get_booking(world.bob, bob.id).attention == "previous car still in A1"  # seen live, nothing written
    carol = make_user(svc, "carol")
    svc.create_booking(carol, world.slots[0].id, at(14), at(15))  # a write to the lot runs the expiry sweep
    assert svc.get_booking(world.bob, bob.id).status == "reserved"
    assert [e["op"] for e in svc.audit_log(world.admin, code=bob.confirmation_code)] == ["create_booking", "attention"]


def test_3_an_overstay_is_live(world):
    svc, clock = world.svc, world.clock
    alice, _bob = overstay(world)
    clock.set(at(11, 20))
    now = svc.get_booking(world.alice, alice.id)
    assert now.status == "checked_in"
    assert now.is_overstay and now.overstay == 20 * M
    assert svc.lot_summary(world.admin, world.lot.id)[0].overstaying_now == 1
    clock.set(at(11, 50))
    assert svc.get_booking(world.alice, alice.id).overstay == 50 * M  # growing while the car stays
    assert svc.check_out(world.alice, alice.id).overstay == 50 * M
    assert svc.lot_summary(world.admin, world.lot.id)[0].overstaying_now == 0


# 4, 5, 6 ----------------------------------------------------------------------------------- marks


def test_4_a_mark_moves_reservations_and_says_so(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    preview = svc.preview_mark(world.admin, world.slots[0].id, "occupied")
    assert [b.id for b in preview.moved] == [alice.id]
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"  # a preview changes nothing
    mark = svc.mark_slot(world.admin, world.slots[0].id, "occupied")
    assert mark.slot.admin_status == "occupied"
    assert [(b.id, b.slot_number, b.confirmation_code) for b in mark.moved] == [(alice.id, "A2", alice.confirmation_code)]
    assert mark.unplaced == []
    world.clock.set(at(11, 5))
    assert svc.check_in(world.alice, alice.id).slot_number == "A2"


def test_4_out_of_service_with_no_free_slot_flags_the_booking_and_holds_it(world):
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    fill(world, (1, 2), at(10), at(13))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", reason="oil spill")
    assert mark.moved == [] and [b.id for b in mark.unplaced] == [alice.id]
    assert mark.unplaced[0].attention == "A1 out of service, no free slot to move to"
    clock.set(at(11, 16))
    held = svc.get_booking(world.alice, alice.id)
    assert (held.status, held.attention) == ("reserved", "A1 out of service, no free slot to move to")
    with pytest.raises(Conflict):
        svc.check_in(world.alice, alice.id)
    clock.set(at(11, 30))
    svc.set_slot_status(world.admin, world.slots[0].id, "available")
    clock.set(at(11, 40))  # grace counts from the clearing
    back = svc.check_in(world.alice, alice.id)
    assert (back.status, back.attention) == ("checked_in", "")


def test_4_a_mark_reports_a_reservation_its_own_call_moved_off_the_slot(world):
    """A reservation held on an out-of-service slot (no free slot then) past its grace period is moved by the
    housekeeping that starts the next mark of that slot: the mark's answer names it, so the manager who marked
    the slot hears that it moved (a hypothesis state-machine run found it missing)."""
    svc, clock = world.svc, world.clock
    alice = held_on_a1_until_a3_frees(world)  # A3 comes free while she is held
    clock.set(at(13, 15))
    mark = svc.mark_slot(world.admin, world.slots[0].id, "occupied")
    assert [(b.id, b.slot_number, b.moved_from) for b in mark.moved] == [(alice.id, "A3", "A1")]
    assert mark.unplaced == []
    assert svc.get_booking(world.alice, alice.id).slot_number == "A3"


def test_5_a_walk_in_mark_ends_by_itself(world):
    svc, clock = world.svc, world.clock
    slot = world.slots[0].id
    marked = svc.set_slot_status(world.admin, slot, "occupied")
    assert marked.mark_until == at(10) + 4 * H  # the lot's walk_in_hours
    next_week = (at(10) + timedelta(days=7), at(11) + timedelta(days=7))
    assert slot in {s.id for s in svc.available_slots(world.bob, world.lot.id, *next_week)}
    assert svc.create_booking(world.bob, slot, *next_week).status == "reserved"
    clock.set(at(14, 1))
    assert next(s for s in svc.lot_slots(world.bob, world.lot.id) if s.id == slot).status == "available"
    until = svc.set_slot_status(world.admin, slot, "occupied", until=datetime(2030, 6, 15, 15, 0))
    assert until.mark_until == at(15)


def test_6_extend_obeys_marks(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    fill(world, (1, 2), at(10), at(14))
    svc.set_slot_status(world.admin, world.slots[0].id, "occupied", until=at(13))
    with pytest.raises(Conflict) as exc:
        svc.extend_booking(world.alice, alice.id, at(12, 30))
    assert "A1 is occupied until" in str(exc.value)


# 7, 8 ------------------------------------------------------------------------------------ check-in, lengths


def test_7_no_check_in_after_the_end(world):
    svc, clock = world.svc, world.clock
    lot = svc.create_lot(world.admin, "Late", "Back Lane", 2, time_zone="UTC", policy=LotPolicy(grace_minutes=60))
    slot = svc.add_slot(world.admin, lot.id, "L1")
    b = svc.create_booking(world.alice, slot.id, at(11), at(11, 15))
    clock.set(at(11, 17))
    with pytest.raises(Conflict) as exc:
        svc.check_in(world.alice, b.id)
    assert "ended at 11:15" in str(exc.value)


def test_8_minimum_length_and_available_slots_refuse_what_create_refuses(world):
    svc, now = world.svc, world.clock.now
    slot = world.slots[0].id
    with pytest.raises(ValidationError) as exc:
        svc.create_booking(world.alice, slot, now + H, now + H + timedelta(microseconds=1))
    assert "at least 15 minutes" in str(exc.value)
    for window in [(now - 2 * H, now - H), (now + timedelta(days=40), now + timedelta(days=40, hours=1)),
                   (now + H, now + H + 5 * M)]:
        with pytest.raises(ValidationError) as by_create:
            svc.create_booking(world.alice, slot, *window)
        with pytest.raises(ValidationError) as by_list:
            svc.available_slots(world.alice, world.lot.id, *window)
        assert str(by_list.value) == str(by_create.value)


# 10 ----------------------------------------------------------------------------------------- the seed


def test_10_the_seeds_iso_strings_and_profile_user(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, "2030-06-15T11:10:00", "2030-06-15T12:10:00")
    assert (b.start_time, b.end_time) == (at(11, 10), at(12, 10))
    assert b.start_time.tzinfo is not None and b.start_time.utcoffset() == timedelta(0)
    with_offset = svc.create_booking(world.bob, world.slots[1].id, "2030-06-15T13:10:00+02:00", "2030-06-15T14:10:00+02:00")
    assert with_offset.start_time == at(11, 10)
    assert svc.profile(world.alice).user == "alice"
    with pytest.raises(ValidationError):
        svc.create_booking(world.alice, world.slots[2].id, "tomorrow at ten", "2030-06-15T12:10:00")


# 11 ---------------------------------------------------------------------------------------- lots, accounts


def test_11_lots_can_be_resized_renamed_and_slots_retired(world):
    svc, admin, lot = world.svc, world.admin, world.lot
    small = svc.create_lot(admin, "Small", "Side Street", 2, time_zone="UTC")
    svc.add_slots(admin, small.id, ["S1", "S2"])
    with pytest.raises(Conflict):
        svc.add_slot(admin, small.id, "S3")
    grown = svc.update_lot(admin, small.id, name="Small East", total_slots=3, time_zone="Europe/Berlin")
    assert (grown.name, grown.total_slots, grown.time_zone) == ("Small East", 3, "Europe/Berlin")
    s3 = svc.add_slot(admin, small.id, "S3")
    with pytest.raises(Conflict):
        svc.update_lot(admin, small.id, total_slots=2)
    retired = svc.retire_slot(admin, s3.id)
    assert retired.retired and retired.status == "out_of_service"
    assert svc.update_lot(admin, small.id, total_slots=2).total_slots == 2
    assert s3.id not in {s.id for s in svc.available_slots(world.alice, small.id)}
    with pytest.raises(ValidationError):
        svc.update_lot(admin, lot.id, time_zone="Mars/Olympus")
    with pytest.raises(Conflict):
        svc.update_lot(admin, small.id, name="central")


def test_11_retiring_a_slot_moves_its_reservations(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12))
    mark = svc.retire_slot_mark(world.admin, world.slots[0].id)
    assert [m.slot_number for m in mark.moved] == ["A2"]
    with pytest.raises(Conflict):
        svc.create_booking(world.bob, world.slots[0].id, at(13), at(14))
    assert svc.get_booking(world.alice, b.id).moved_from == "A1"


def test_11_accounts_ignore_case_and_refuse_blank_passwords(svc):
    svc.register("Alice", "alice@example.com", PASSWORD)
    assert svc.profile(svc.login("alice", PASSWORD)).user == "Alice"
    with pytest.raises(Conflict):
        svc.register("alicia", "ALICE@example.com", PASSWORD)
    with pytest.raises(ValidationError):
        svc.register("bob", "bob@example.com", " " * 8)
    svc.register("carol", "carol@example.com", PASSWORD)
    carol = svc.login("carol", PASSWORD)
    with pytest.raises(Conflict):
        svc.update_profile(carol, email="Alice@Example.com")


def test_11_change_password_ends_the_other_sessions(svc):
    svc.register("alice", "alice@example.com", PASSWORD)
    here, there = svc.login("alice", PASSWORD), svc.login("alice", PASSWORD)
    with pytest.raises(ValidationError):
        svc.change_password(here, "wrong-password", "new-password-1")
    svc.change_password(here, PASSWORD, "new-password-1")
    assert svc.profile(here).user == "alice"
    with pytest.raises(AuthenticationError):
        svc.profile(there)
    with pytest.raises(AuthenticationError):
        svc.login("alice", PASSWORD)
    assert svc.login("alice", "new-password-1")


def test_11_an_admin_disables_an_account(svc):
    svc.create_admin("admin", "admin@example.com", PASSWORD)
    admin = svc.login("admin", PASSWORD)
    svc.register("alice", "alice@example.com", PASSWORD)
    alice = svc.login("alice", PASSWORD)
    assert svc.set_user_active(admin, "ALICE", False).active is False
    with pytest.raises(AuthenticationError):
        svc.profile(alice)
    with pytest.raises(AuthenticationError) as exc:
        svc.login("alice", PASSWORD)
    assert "disabled" in str(exc.value)
    with pytest.raises(Conflict):
        svc.set_user_active(admin, "admin", False)
    svc.set_user_active(admin, "alice", True)
    assert svc.login("alice", PASSWORD)


# 12 ---------------------------------------------------------------------------------------- privacy


def test_12_another_drivers_bookings_are_busy_windows_only(world):
    svc = world.svc
    b = svc.create_booking(world.bob, world.slots[0].id, at(10), at(11), plate="BOB 1")
    svc.check_in(world.bob, b.id)
    seen = svc.slot_schedule(world.alice, world.slots[0].id)
    assert len(seen) == 1
    other = seen[0]
    assert (other.id, other.username, other.confirmation_code, other.plate) == (0, "", "", "")
    assert other.created_at is None and other.checked_in_at is None
    assert (other.start_time, other.end_time) == (at(10), at(11))
    assert svc.slot_schedule(world.admin, world.slots[0].id)[0].plate == "BOB1"


# 13 ---------------------------------------------------------------------------------------- plates


def test_13_plates_let_a_driver_book_for_two_cars(world):
    svc = world.svc
    first = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="ab12 cde")
    assert first.plate == "AB12CDE"
    second = svc.create_booking(world.alice, world.slots[1].id, at(11), at(12), plate="XY-98-ZW")
    assert second.plate == "XY98ZW"
    with pytest.raises(Conflict) as exc:
        svc.create_booking(world.alice, world.slots[2].id, at(11), at(12), plate="AB12CDE")
    assert "AB12CDE already has booking" in str(exc.value)
    with pytest.raises(Conflict) as exc:
        svc.create_booking(world.alice, world.slots[2].id, at(11), at(12), plate="THIRD1")
    assert "2 cars per driver" in str(exc.value)
    with pytest.raises(Conflict):
        svc.create_booking(world.bob, world.slots[2].id, at(11), at(12))
        svc.create_booking(world.bob, world.slots[2].id, at(11, 30), at(12, 30))
    with pytest.raises(ValidationError):
        svc.create_booking(world.bob, world.slots[2].id, at(13), at(14), plate="!!")
    assert [b.plate for b in svc.list_reservations(world.admin) if b.username == "alice"] == ["AB12CDE", "XY98ZW"]


def test_13_admins_find_bookings_by_plate(world):
    svc = world.svc
    b = svc.create_booking(world.alice, world.slots[0].id, at(11), at(12), plate="AB12 CDE")
    svc.create_booking(world.bob, world.slots[1].id, at(11), at(12), plate="ZZ99")
    assert [x.id for x in svc.list_reservations(world.admin, q="ab12-cde")] == [b.id]
    assert [x.id for x in svc.list_reservations(world.admin, q=b.confirmation_code.lower())] == [b.id]
    assert svc.list_reservations(world.admin, q="nothing") == []
