"""The service seam: no service call runs on the event loop's thread, and every failure reaches one handler.

The app's service is wrapped (``helpers.OffLoopService``): a method that reaches the store raises, and is
recorded, when it is called on the loop's thread. The main flows are driven as a person would, and at the end
the record must be empty while the calls the flows need were all made (in workers).
"""

from __future__ import annotations

from textual.widgets import Input, Static

from parking_tui.domain.errors import StorageError, ValidationError
from parking_tui.tui.app import make_app
from parking_tui.tui.screens.admin import AdminScreen
from parking_tui.tui.screens.booking import BookingScreen, ConfirmationScreen
from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.login import LoginScreen
from parking_tui.tui.screens.my_bookings import MyBookingsScreen
from parking_tui.tui.screens.notices import StorageErrorScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen
from parking_tui.tui.widgets.confirm import ConfirmModal

from .helpers import OffLoopService, settle

SIZE = (100, 30)


def violations_and_calls(app) -> tuple[list[str], set[str]]:
    guard = app.svc
    assert isinstance(guard, OffLoopService)
    return guard.violations, set(guard.calls)


async def test_a_driver_day_makes_no_service_call_on_the_loop_thread(app_factory, lots):
    """Sign in, the lot list, the map with cursor moves, a booking, My bookings with a cancel, the profile."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"driver", "enter", *"driver1234", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LotBrowserScreen)
        await pilot.press("r")  # letters filter the list; r is typed into the filter
        await pilot.press("escape")
        await pilot.press("ctrl+r")  # refresh
        await settle(pilot)
        app.action_open_lot(lots["Central Station P1"].id)
        await settle(pilot)
        assert isinstance(app.screen, SlotMapScreen)
        for key in ("right", "right", "down", "left", "up", "end", "home"):
            await pilot.press(key)
            await settle(pilot)
        details = str(app.screen.query_one("#slot-details", Static).render())
        assert "Reading the bookings" not in details
        await pilot.press("enter")  # A1 is free now
        await settle(pilot)
        assert isinstance(app.screen, BookingScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationScreen)
        await pilot.press("m")  # My bookings
        await settle(pilot)
        assert isinstance(app.screen, MyBookingsScreen)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#yes")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        app.action_open_profile()
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        app.action_log_out()
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        violations, calls = violations_and_calls(app)
    assert violations == []
    assert {
        "login", "profile", "lot_overview", "get_lot", "lot_slots", "slot_schedule", "create_booking",
        "get_booking", "my_bookings", "cancel_booking", "update_profile", "logout", "version",
    } <= calls


async def test_an_admin_day_makes_no_service_call_on_the_loop_thread(app_factory, admin_token, svc, lots):
    """Every admin tab, the desk checking a code in, a mark on the map."""
    lot = lots["Central Station P1"]
    slot = svc.available_slots(admin_token, lot.id)[0]
    booking = svc.create_booking(admin_token, slot.id, svc.now(), svc.now().replace(hour=svc.now().hour + 1))
    app = app_factory(admin_token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, AdminScreen)
        await pilot.press(*booking.confirmation_code, "enter")
        await settle(pilot)
        assert "Checked in" in str(app.screen.query_one("#desk-result", Static).render())
        for tab in ("admin-reservations", "admin-lots", "admin-summary", "admin-users", "admin-audit"):
            app.screen.action_tab(tab)
            await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        app.action_open_lot(lot.id)
        await settle(pilot)
        await pilot.press("end", "o")  # mark the last slot occupied (a walk-in)
        await settle(pilot)
        if isinstance(app.screen, ConfirmModal):
            await pilot.click("#yes")
            await settle(pilot)
        violations, calls = violations_and_calls(app)
    assert violations == []
    assert {
        "find_booking", "check_in", "list_lots", "list_reservations", "lot_summary", "occupancy_by_hour",
        "list_users", "audit_log", "preview_mark", "mark_slot",
    } <= calls


async def test_a_kiosk_session_makes_no_service_call_on_the_loop_thread(svc, clock):
    guard = OffLoopService(svc)
    app = make_app(guard, kiosk=True, idle_timeout=60, idle_clock=lambda: clock.now.timestamp())  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"driver", "enter", *"driver1234", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LotBrowserScreen)
        clock.advance(seconds=61)
        assert app.check_idle_timeout()
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
    assert guard.violations == []
    assert {"login", "profile", "lot_overview", "logout"} <= set(guard.calls)


async def test_every_failure_reaches_the_one_handler(app_factory, driver_token):
    """A storage failure opens its screen; a domain error with a place to go is shown there; a bug is one
    line, never a traceback; a call whose screen has gone is dropped."""
    app = app_factory(driver_token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        placed: list[str] = []

        def invalid() -> None:
            raise ValidationError("Not like that.", field="email")

        app.call(app.screen, invalid, inline=lambda error: placed.append(str(error)))
        await settle(pilot)
        assert placed == ["Not like that."]

        def bug() -> None:
            raise ZeroDivisionError("division by zero")

        app.call(app.screen, bug)
        await settle(pilot)
        assert any("ZeroDivisionError" in n.message for n in app._notifications)

        def broken() -> None:
            raise StorageError("The disk is full.")

        app.call(app.screen, broken, inline=lambda error: placed.append("inline got a storage error"))
        await settle(pilot)
        assert isinstance(app.screen, StorageErrorScreen)
        assert placed == ["Not like that."]
        await pilot.press("escape")
        await settle(pilot)

        app.action_open_my_bookings()
        await settle(pilot)
        late: list[object] = []
        screen = app.screen
        app.call(screen, lambda: __import__("time").sleep(0.2) or 1, then=late.append)
        await pilot.press("escape")
        await settle(pilot)
        assert late == []  # the screen it was for had gone


async def test_typing_stays_responsive_while_a_call_is_slow(app_factory, driver_token, svc, lots):
    """A slow store (a database far away) does not freeze the screen: keys are handled while it works."""
    import threading
    import time as time_module

    release = threading.Event()
    real = svc.lot_overview

    def slow(token):
        release.wait(5)
        return real(token)

    svc.lot_overview = slow  # type: ignore[method-assign]
    app = app_factory(driver_token)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time_module.monotonic() + 10
        while not isinstance(app.screen, LotBrowserScreen) and time_module.monotonic() < deadline:
            await pilot.pause()
        assert isinstance(app.screen, LotBrowserScreen)
        started = time_module.monotonic()
        await pilot.press(*"bahn")
        assert app.screen.query_one("#lot-filter", Input).value == "bahn"
        assert time_module.monotonic() - started < 4
        release.set()
        await settle(pilot)
