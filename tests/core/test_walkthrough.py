"""The REST walkthrough the product grew from, end to end through the contract."""

from __future__ import annotations

from datetime import timedelta

from parking_tui.domain import Booking, Lot, Profile, Slot, User


def test_rest_walkthrough(svc, clock, open_svc):
    # register -> login -> profile
    user = svc.register("jane", "jane@example.com", "jane-password", "+1 555 0100")
    assert isinstance(user, User) and user.username == "jane" and not user.is_admin
    token = svc.login("jane", "jane-password")
    profile = svc.profile(token)
    assert isinstance(profile, Profile)
    assert (profile.username, profile.email, profile.phone_number, profile.is_admin) == (
        "jane",
        "jane@example.com",
        "+1 555 0100",
        False,
    )

    # admin creates lot -> list lots -> add slot
    svc.create_admin("manager", "manager@example.com", "manager-password")
    admin = svc.login("manager", "manager-password")
    lot = svc.create_lot(admin, "Downtown Garage", "5th Avenue 100", 50)
    assert isinstance(lot, Lot) and (lot.name, lot.location, lot.total_slots) == ("Downtown Garage", "5th Avenue 100", 50)
    assert svc.list_lots(token) == [lot]
    slot = svc.add_slot(admin, lot.id, "A5")
    assert isinstance(slot, Slot) and (slot.lot_id, slot.slot_number, slot.status) == (lot.id, "A5", "available")

    # available slots -> book -> my bookings
    assert svc.available_slots(token, lot.id) == [slot]
    start = clock.now + timedelta(minutes=30)
    end = start + timedelta(hours=2)
    assert svc.available_slots(token, lot.id, start, end) == [slot]
    booking = svc.create_booking(token, slot.id, start, end)
    assert isinstance(booking, Booking)
    assert (booking.slot_id, booking.username, booking.start_time, booking.end_time, booking.status) == (
        slot.id,
        "jane",
        start,
        end,
        "reserved",
    )
    assert booking.confirmation_code
    assert svc.available_slots(token, lot.id, start, end) == []
    assert svc.my_bookings(token) == [booking]

    # check in -> check out (another process sees the same state)
    clock.advance(minutes=20)
    other = open_svc()
    checked_in = other.check_in(token, booking.id)
    assert checked_in.status == "checked_in"
    assert svc.lot_slots(token, lot.id)[0].status == "occupied"
    clock.advance(hours=2)
    done = svc.check_out(token, booking.id)
    assert done.status == "completed"
    assert done.checked_in_at < done.checked_out_at
    assert svc.lot_slots(token, lot.id)[0].status == "available"
    assert [(b.id, b.status) for b in open_svc().my_bookings(token)] == [(booking.id, "completed")]
    svc.logout(token)
