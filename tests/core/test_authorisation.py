"""Authorisation lives in the service: every call needs a live session, admin calls need an admin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parking_tui.domain import AuthenticationError, PermissionDenied


def _calls(w):
    """Every token-taking operation, with valid arguments apart from the token."""
    slot = w.slots[0].id
    start, end = w.window()
    return {
        "profile": lambda t: w.svc.profile(t),
        "update_profile": lambda t: w.svc.update_profile(t, email="new@example.com"),
        "logout": lambda t: w.svc.logout(t),
        "list_lots": lambda t: w.svc.list_lots(t),
        "get_lot": lambda t: w.svc.get_lot(t, w.lot.id),
        "lot_slots": lambda t: w.svc.lot_slots(t, w.lot.id),
        "available_slots": lambda t: w.svc.available_slots(t, w.lot.id, start, end),
        "slot_schedule": lambda t: w.svc.slot_schedule(t, slot),
        "lot_overview": lambda t: w.svc.lot_overview(t),
        "create_booking": lambda t: w.svc.create_booking(t, slot, start + timedelta(hours=5), end + timedelta(hours=5)),
        "my_bookings": lambda t: w.svc.my_bookings(t),
        "get_booking": lambda t: w.svc.get_booking(t, w.booking.id),
        "find_booking": lambda t: w.svc.find_booking(t, w.booking.confirmation_code),
        "check_in": lambda t: w.svc.check_in(t, w.booking.id),
        "check_out": lambda t: w.svc.check_out(t, w.booking.id),
        "cancel_booking": lambda t: w.svc.cancel_booking(t, w.booking.id),
        "extend_booking": lambda t: w.svc.extend_booking(t, w.booking.id, w.booking.end_time + timedelta(minutes=30)),
        # admin only
        "create_lot": lambda t: w.svc.create_lot(t, "Second", "x", 3),
        "add_slot": lambda t: w.svc.add_slot(t, w.lot.id, "B1"),
        "add_slots": lambda t: w.svc.add_slots(t, w.lot.id, ["B2", "B3"]),
        "set_slot_status": lambda t: w.svc.set_slot_status(t, slot, "out_of_service"),
        "list_reservations": lambda t: w.svc.list_reservations(t),
        "lot_summary": lambda t: w.svc.lot_summary(t),
        "set_admin": lambda t: w.svc.set_admin(t, "bob", True),
        "list_users": lambda t: w.svc.list_users(t),
    }


ADMIN_ONLY = {
    "create_lot",
    "add_slot",
    "add_slots",
    "set_slot_status",
    "list_reservations",
    "lot_summary",
    "set_admin",
    "list_users",
}
@pytest.fixture
def w(world):
    world.booking = world.book(world.alice, 0, 0, 60)
    return world


NAMES = [
    "profile", "update_profile", "logout", "list_lots", "get_lot", "lot_slots", "available_slots", "slot_schedule",
    "lot_overview", "create_booking", "my_bookings", "get_booking", "find_booking", "check_in", "check_out",
    "cancel_booking", "extend_booking", *sorted(ADMIN_ONLY),
]


def test_names_cover_every_call(w):
    assert sorted(NAMES) == sorted(_calls(w))


@pytest.mark.parametrize("name", NAMES)
def test_without_session_authentication_error(w, name):
    before = w.svc.list_reservations(w.admin)
    for token in ("", "not-a-token", None, 7):
        with pytest.raises(AuthenticationError):
            _calls(w)[name](token)
    assert w.svc.list_reservations(w.admin) == before


@pytest.mark.parametrize("name", NAMES)
def test_logged_out_or_expired_session_refused(w, name):
    w.svc.logout(w.alice)
    with pytest.raises(AuthenticationError):
        _calls(w)[name](w.alice)
    w.clock.advance(hours=12)
    with pytest.raises(AuthenticationError):
        _calls(w)[name](w.bob)


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_driver_calling_admin_operation_permission_denied(w, name):
    with pytest.raises(PermissionDenied):
        _calls(w)[name](w.alice)


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_admin_may(w, name):
    _calls(w)[name](w.admin)  # raises nothing
    assert w.svc.profile(w.admin).is_admin


@pytest.mark.parametrize("name", sorted(set(NAMES) - ADMIN_ONLY))
def test_driver_may(w, name):
    if name == "check_out":
        w.svc.check_in(w.alice, w.booking.id)
    _calls(w)[name](w.alice)  # the owner: raises nothing
    if name in ("check_in", "check_out", "cancel_booking", "extend_booking"):
        assert w.svc.get_booking(w.alice, w.booking.id) != w.booking  # and the change happened
