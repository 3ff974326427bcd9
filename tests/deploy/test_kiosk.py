"""Kiosk mode, driven through the pilot with a clock the test moves by hand.

What a person at the lot entrance should see: a big, high-contrast sign-in screen; after the idle time the
session ends and every field is empty again; Ctrl+Q and Ctrl+C do nothing; only an admin, from the Admin
screen, can close the kiosk; and nothing of the previous driver is left for the next one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Input, Static

from parking_tui.domain.errors import AuthenticationError
from parking_tui.tui.app import KIOSK_THEME, make_app
from parking_tui.tui.screens.booking import BookingScreen, ConfirmationScreen
from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.login import LoginScreen
from parking_tui.tui.screens.my_bookings import MyBookingsScreen
from parking_tui.tui.screens.notices import TooSmallScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen

SIZE = (80, 24)
IDLE = 60.0


@pytest.fixture
def kiosk_factory(svc, clock):
    """``kiosk_factory()``: the real app in kiosk mode; its idle time is measured on the test's clock."""

    def _make(**kwargs):
        kwargs.setdefault("idle_timeout", IDLE)
        return make_app(svc, kiosk=True, idle_clock=lambda: clock.now.timestamp(), **kwargs)

    return _make


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def sign_in(pilot, username: str, password: str) -> None:
    """Only what a driver types: the username, Enter, the password, Enter."""
    await pilot.press(*username, "enter", *password, "enter")
    await settle(pilot)


def login_values(app) -> dict[str, str]:
    return {field.id: field.value for field in app.screen_stack[0].query(Input)}


def screen_text(app) -> str:
    """Everything on the screen as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return svg.replace("&#160;", " ")


class TestLayout:
    async def test_kiosk_look_at_80x24(self, kiosk_factory):
        """A kiosk starts on the sign-in screen, in the high-contrast theme, with nothing saying it is too small."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen)
            assert app.has_class("kiosk")
            assert app.theme == KIOSK_THEME.name
            assert not any(isinstance(s, TooSmallScreen) for s in app.screen_stack)
            username = app.screen.query_one("#login-username", Input)
            assert username.has_focus
            assert username.region.height == 3  # big fields, not the compact one-line ones
            assert username.region.bottom <= SIZE[1]

    async def test_a_configured_theme_wins(self, kiosk_factory):
        app = kiosk_factory(theme="textual-light")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.theme == "textual-light"


class TestIdle:
    async def test_idle_time_signs_out_and_clears_everything(self, kiosk_factory, svc, clock):
        """A driver walks away on the map: after 60 s the session is revoked and the sign-in screen is empty."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            assert isinstance(app.screen, LotBrowserScreen)
            token = app.token
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, SlotMapScreen)

            clock.advance(seconds=IDLE - 1)
            assert app.check_idle_timeout() is False
            assert isinstance(app.screen, SlotMapScreen) and app.token == token

            clock.advance(seconds=2)
            assert app.check_idle_timeout() is True
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen)
            assert len(app.screen_stack) == 1
            assert app.token is None and app.profile is None
            assert set(login_values(app).values()) == {""}
            with pytest.raises(AuthenticationError):
                svc.profile(token)  # revoked in the data file, not only forgotten here

    async def test_half_typed_sign_in_is_cleared(self, kiosk_factory, clock):
        """Someone typed a username and a wrong password, then left: the next person finds empty fields."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "wrong-password")
            assert app.token is None
            assert login_values(app)["login-username"] == "driver"
            errors = list(app.screen.query(".field-error, .form-error").results(Static))
            assert any(str(e.render()) for e in errors)  # "wrong username or password" is on screen
            await pilot.press("ctrl+r")  # and wandered to the Register tab
            await pilot.press(*"half")
            clock.advance(seconds=IDLE + 1)
            assert app.check_idle_timeout() is True
            await pilot.pause()
            assert set(login_values(app).values()) == {""}
            assert not any(str(e.render()) for e in errors)
            assert app.screen.showing == "sign-in"
            assert app.screen.query_one("#login-username", Input).has_focus

    async def test_a_key_press_restarts_the_idle_time(self, kiosk_factory, clock):
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            clock.advance(seconds=IDLE - 10)
            await pilot.press("down")
            clock.advance(seconds=20)  # 70 s since sign-in, 20 s since the key press
            assert app.check_idle_timeout() is False
            assert app.token is not None
            clock.advance(seconds=IDLE)
            assert app.check_idle_timeout() is True

    async def test_the_timer_runs_by_itself(self, kiosk_factory, clock):
        """No test calls: the app's own one-second timer notices the idle time."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            clock.advance(seconds=IDLE + 1)
            for _ in range(40):
                await pilot.pause(0.1)
                if app.token is None:
                    break
            assert app.token is None and isinstance(app.screen, LoginScreen)

    async def test_not_a_kiosk_never_signs_out(self, svc, clock):
        app = make_app(svc, idle_timeout=IDLE, idle_clock=lambda: clock.now.timestamp())
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            clock.advance(hours=1)
            assert app.check_idle_timeout() is False
            assert app.token is not None


class TestNoWayOut:
    async def test_ctrl_q_and_ctrl_c_do_not_leave(self, kiosk_factory):
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(2):
                await pilot.press("ctrl+q")
                await pilot.press("ctrl+c")
                await pilot.pause()
                assert app.is_running and app.return_code is None
                await sign_in(pilot, "driver", "driver1234")
            assert isinstance(app.screen, LotBrowserScreen)
            assert "ctrl+q" not in app.screen.active_bindings or not app.screen.active_bindings["ctrl+q"].enabled
            app.exit(1)  # what the storage-error screen's Quit button does
            await pilot.pause()
            assert app.is_running and app.return_code is None
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert "Quit" not in titles and "Quit kiosk" not in titles and "Screenshot" not in titles

    async def test_an_admin_quits_from_the_admin_screen(self, kiosk_factory):
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "admin", "admin1234")
            await pilot.press("f10")  # not on the lot browser
            await pilot.pause()
            assert app.return_code is None
            assert "Quit kiosk" in {c.title for c in app.get_system_commands(app.screen)}
            await pilot.press("f4")
            await pilot.pause()
            assert type(app.screen).__name__ == "AdminScreen"
            shown = {b.binding.description for b in app.screen.active_bindings.values() if b.enabled and b.binding.show}
            assert "Quit kiosk" in shown
            await pilot.press("f10")
            await pilot.pause()
            assert app.return_code == 0

    async def test_a_driver_cannot_quit_the_kiosk(self, kiosk_factory):
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            app.action_quit_kiosk()
            await pilot.press("f10")
            await pilot.pause()
            assert app.is_running and app.return_code is None

    async def test_quit_kiosk_from_the_command_palette_quits(self, kiosk_factory):
        """An admin opens the command palette (Ctrl+P), types "quit kiosk" and presses Enter: the app ends with 0."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "admin", "admin1234")
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert type(app.screen).__name__ == "CommandPalette"
            await pilot.press(*"quit kiosk")
            for _ in range(20):  # the palette searches in a worker
                await pilot.pause(0.05)
            await pilot.press("enter")
            for _ in range(20):
                if app.return_code is not None:
                    break
                await pilot.pause(0.05)
            assert app.return_code == 0


class TestDriverFlow:
    async def test_arrows_and_enter_book_a_slot_and_the_code_stays(self, kiosk_factory, svc, clock):
        """Sign in, Enter on a lot, Enter on a free slot, Enter on the form: the code stays until the idle time."""
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            await pilot.press("down", "enter")  # the second lot
            await pilot.pause()
            assert isinstance(app.screen, SlotMapScreen)
            grid = app.screen.grid
            while grid.selected_slot is not None and grid.selected_slot.status != "available":
                await pilot.press("right")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, BookingScreen)
            # Arrows move between the fields and buttons (no Tab needed)
            await pilot.press("down")
            assert app.focused.id == "end"
            await pilot.press("up")
            assert app.focused.id == "start"
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmationScreen)
            code = app.screen.booking.confirmation_code
            assert code in screen_text(app)

            clock.advance(seconds=IDLE - 1)
            assert app.check_idle_timeout() is False
            await pilot.pause()
            assert isinstance(app.screen, ConfirmationScreen) and code in screen_text(app)
            clock.advance(seconds=2)
            assert app.check_idle_timeout() is True
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen) and code not in screen_text(app)
            admin = svc.login("admin", "admin1234")
            assert any(b.confirmation_code == code and b.username == "driver" for b in svc.list_reservations(admin))

    async def test_done_ends_the_session(self, kiosk_factory, svc, lots, driver_token):
        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "driver", "driver1234")
            lot = lots["Riverside Garage"]
            slot = svc.available_slots(driver_token, lot.id)[0]
            now = svc.now()
            booking = svc.create_booking(driver_token, slot.id, now + timedelta(hours=5), now + timedelta(hours=6))
            app.push_screen(ConfirmationScreen(booking, lot))
            await pilot.pause()
            await pilot.press("enter")  # Done
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen) and app.token is None


class TestPrivacy:
    async def test_the_next_driver_sees_nothing_of_the_last(self, kiosk_factory, svc, lots, clock):
        """Ann books, walks away; the next driver signs in and looks at that very slot and at their bookings."""
        svc.register("ann", "ann@example.com", "ann-password")
        ann = svc.login("ann", "ann-password")
        lot = lots["Central Station P1"]
        slot = svc.available_slots(ann, lot.id)[0]
        now = svc.now()
        booking = svc.create_booking(ann, slot.id, now, now + timedelta(hours=2))

        app = kiosk_factory()
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, "ann", "ann-password")
            app.action_open_my_bookings()
            await pilot.pause()
            assert booking.confirmation_code in screen_text(app)  # the owner sees it (the check below can fail)
            clock.advance(seconds=IDLE + 1)
            app.check_idle_timeout()
            await pilot.pause()
            assert booking.confirmation_code not in screen_text(app)

            await sign_in(pilot, "driver", "driver1234")
            assert app.profile.username == "driver"
            app.action_open_lot(lot.id)
            await pilot.pause()
            await pilot.pause()
            assert app.screen.grid.select_slot_id(slot.id)
            await pilot.pause()
            details = str(app.screen.query_one("#slot-details", Static).render())
            assert f"Slot {slot.slot_number}" in details and "reserved" in details.lower()
            seen = screen_text(app)
            assert booking.confirmation_code not in seen and "ann" not in seen
            app.action_open_my_bookings()
            await pilot.pause()
            assert isinstance(app.screen, MyBookingsScreen)
            assert booking.confirmation_code not in screen_text(app)
