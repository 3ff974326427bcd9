"""The facade passes everything it is given: each keyword of ``ParkingService``'s methods reaches the use case
(a mark's end and reason, a lot's location and policy, the lot of the hours and of ``version``), and its
defaults are the contract's (a service made directly sits at the terminal ``local``; the audit log lists 500)."""

from __future__ import annotations

from parking_tui.domain import LotPolicy, ParkingService

from .conftest import PASSWORD, cheap_hasher
from .test_lots_day import at


def test_a_service_made_directly_sits_at_the_terminal_local_and_a_long_one_is_cut_at_120(world, clock):
    plain = ParkingService(world.svc.store, clock=clock, password_hasher=cheap_hasher())
    plain.login("alice", PASSWORD)
    named = ParkingService(world.svc.store, clock=clock, password_hasher=cheap_hasher(), terminal="k" * 200)
    named.login("bob", PASSWORD)
    logins = [(e["user"], e["terminal"]) for e in world.svc.audit_log(world.admin, op="login")][-2:]
    assert logins == [("alice", "local"), ("bob", "k" * 120)]


def test_an_admin_made_by_the_operator_has_an_empty_phone_number(svc):
    admin = svc.create_admin("boss", "boss@example.org", PASSWORD)
    assert admin.is_admin and admin.phone_number == ""
    assert svc.profile(svc.login("boss", PASSWORD)).phone_number == ""


def test_mark_slot_and_set_slot_status_pass_the_end_and_the_reason(world):
    svc = world.svc
    marked = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service", until=at(15), reason="resurfacing")
    assert (marked.slot.mark_until, marked.slot.mark_reason) == (at(15), "resurfacing")
    plain = svc.mark_slot(world.admin, world.slots[1].id, "out_of_service")
    assert (plain.slot.mark_until, plain.slot.mark_reason) == (None, "")
    status = svc.set_slot_status(world.admin, world.slots[2].id, "occupied", until=at(13), reason="van")
    assert (status.mark_until, status.mark_reason) == (at(13), "van")
    assert svc.set_slot_status(world.admin, world.slots[2].id, "occupied").mark_reason == ""


def test_preview_mark_passes_the_end_and_the_reason_and_writes_nothing(world):
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(16), at(17))
    before = svc.version()
    preview = svc.preview_mark(world.admin, world.slots[0].id, "out_of_service", until=at(15), reason="paint")
    assert (preview.slot.mark_until, preview.slot.mark_reason) == (at(15), "paint")
    assert preview.moved == []  # the mark ends before her window: nothing to move
    plain = svc.preview_mark(world.admin, world.slots[0].id, "out_of_service")
    assert (plain.slot.mark_until, plain.slot.mark_reason) == (None, "")
    assert [b.id for b in plain.moved] == [alice.id]
    assert svc.version() == before
    assert svc.get_booking(world.alice, alice.id).slot_number == "A1"


def test_update_lot_passes_the_location_and_the_policy(world):
    svc = world.svc
    policy = LotPolicy(grace_minutes=30, min_minutes=20, walk_in_hours=2, max_cars_per_driver=1)
    lot = svc.update_lot(world.admin, world.lot.id, location="Harbour Road 2", policy=policy)
    assert (lot.location, lot.policy) == ("Harbour Road 2", policy)


def test_the_hours_of_one_lot_and_the_version_of_one_lot(world):
    svc = world.svc
    north = svc.create_lot(world.admin, "North", "Hill Road 5", 5)
    (north_slot,) = svc.add_slots(world.admin, north.id, ["N1"])
    hours = svc.occupancy_by_hour(world.admin, 1, north.id)
    assert [h.lot.id for h in hours] == [north.id]
    booking = svc.create_booking(world.alice, north_slot.id, at(10), at(13))
    central, north_before, everything = svc.version(world.lot.id), svc.version(north.id), svc.version()
    svc.check_in(world.alice, booking.id)  # a change to the other lot alone
    assert svc.version(north.id) != north_before and svc.version() != everything
    assert svc.version(world.lot.id) == central


def test_the_audit_log_lists_the_newest_500_by_default(world, clock):
    svc = world.svc
    for _ in range(250):
        svc.set_slot_status(world.admin, world.slots[0].id, "occupied")
        clock.advance(seconds=1)
        svc.set_slot_status(world.admin, world.slots[0].id, "available")
    everything = svc.audit_log(world.admin, limit=10_000)
    assert len(everything) > 501
    assert svc.audit_log(world.admin) == everything[-500:]
    assert svc.audit_log(world.admin, limit=501) == everything[-501:]



def test_a_service_gives_new_lots_its_zone_or_utc(world, clock):
    made_here = ParkingService(
        world.svc.store, clock=clock, password_hasher=cheap_hasher(), time_zone="Pacific/Auckland"
    )
    assert made_here.time_zone == "Pacific/Auckland"
    assert made_here.create_lot(world.admin, "Harbour", "Quay 1", 4).time_zone == "Pacific/Auckland"
    plain = ParkingService(world.svc.store, clock=clock, password_hasher=cheap_hasher())
    assert plain.time_zone == "UTC"
    assert plain.create_lot(world.admin, "Hill", "Top Road 3", 4).time_zone == "UTC"
