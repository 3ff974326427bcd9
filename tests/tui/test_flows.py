"""Pilot tests of the shell, sign-in, lot browser, slot map and booking flows (80x24, fixed clock)."""

from __future__ import annotations

import asyncio
import time

from textual.command import CommandPalette
from textual.widgets import Footer, Input, OptionList, Static

from parking_tui.domain.models import SlotStatus
from parking_tui.tui.screens.booking import BookingScreen, ConfirmationScreen
from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.login import LoginScreen
from parking_tui.tui.screens.notices import QuitScreen, StorageErrorScreen, TooSmallScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen, WindowScreen
from parking_tui.tui.widgets.confirm import ConfirmModal
from parking_tui.tui.widgets.slot_grid import BUSY_IN_WINDOW, FREE_IN_WINDOW, SlotGrid

from .helpers import settle

SIZE = (80, 24)




async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def footer_keys(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


async def open_central(pilot, lots) -> SlotMapScreen:
    pilot.app.action_open_lot(lots["Central Station P1"].id)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(pilot.app.screen, SlotMapScreen)
    return pilot.app.screen


class TestSignIn:
    async def test_register_then_sign_in(self, app_factory, svc):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+r")
            await type_into(pilot, "#reg-username", "newbie")
            await type_into(pilot, "#reg-email", "newbie@example.com")
            await type_into(pilot, "#reg-password", "secret-pass")
            await type_into(pilot, "#reg-password2", "secret-pass")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, LotBrowserScreen)
            assert app.profile is not None and app.profile.username == "newbie" and not app.profile.is_admin
            # Sign out, then sign in again with the new account.
            app.action_log_out()
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen) and app.token is None
            await type_into(pilot, "#login-username", "newbie")
            await pilot.press("enter")  # moves to the password
            await pilot.press(*"secret-pass", "enter")
            await settle(pilot)
            assert isinstance(app.screen, LotBrowserScreen)
            assert svc.profile(app.token).username == "newbie"

    async def test_register_errors_show_under_the_field(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+r")
            await type_into(pilot, "#reg-username", "driver")  # taken by the demo data
            await type_into(pilot, "#reg-email", "not-an-email")
            await type_into(pilot, "#reg-password", "longenough")
            await type_into(pilot, "#reg-password2", "longenough")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, LoginScreen)
            assert "valid e-mail" in app.screen.query_one("#field-reg-email").error

    async def test_an_empty_registration_reports_every_bad_field(self, app_factory, svc):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+r")
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            screen = app.screen
            assert "Username must be" in screen.query_one("#field-reg-username").error
            assert "valid e-mail" in screen.query_one("#field-reg-email").error
            assert "at least 8" in screen.query_one("#field-reg-password").error
            assert screen.query_one("#reg-username", Input).has_focus, "the first bad field has the focus"

    async def test_the_password_is_typed_twice(self, app_factory, svc):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+r")
            await type_into(pilot, "#reg-username", "newbie")
            await type_into(pilot, "#reg-email", "newbie@example.com")
            await type_into(pilot, "#reg-password", "secret-pass")
            await type_into(pilot, "#reg-password2", "secret-pas")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, LoginScreen)
            assert "differ" in app.screen.query_one("#field-reg-password2").error
            assert "newbie" not in {u.username for u in svc.list_users(svc.login("admin", "admin1234"))}

    async def test_the_register_tab_is_built_when_first_shown(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            assert not app.screen.query("#reg-username")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.screen.query_one("#reg-username", Input).has_focus

    async def test_wrong_password_then_lockout_message(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            for attempt in range(5):
                await type_into(pilot, "#login-username", "driver" if attempt == 0 else "")
                await type_into(pilot, "#login-password", "wrong-password")
                await pilot.press("enter")
                await settle(pilot)
            error = text_of(app.screen, "#login-error")
            assert "locked for 5 minutes" in error
            # Even the right password is refused now, with the minutes left.
            await type_into(pilot, "#login-password", "driver1234")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, LoginScreen)
            assert "Try again in 5 minutes" in text_of(app.screen, "#login-error")

    async def test_demo_accounts_shown_only_in_demo_mode(self, app_factory):
        async with app_factory(demo=True).run_test(size=SIZE) as pilot:
            assert "driver1234" in text_of(pilot.app.screen, "#demo-accounts")
        async with app_factory().run_test(size=SIZE) as pilot:
            assert not pilot.app.screen.query("#demo-accounts")


class TestLotBrowser:
    async def test_lists_every_lot_with_free_counts(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, LotBrowserScreen)
            assert [row[0].name for row in screen.rows] == ["Airport Short-Stay", "Central Station P1", "Riverside Garage"]
            free = {row[0].name: (row[1], row[2]) for row in screen.rows}
            assert free["Central Station P1"] == (45, 48)
            assert screen.query_one(OptionList).option_count == 3

    async def test_typing_filters_and_enter_opens_the_map(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press(*"river")
            await pilot.pause()
            options = pilot.app.screen.query_one(OptionList)
            assert options.option_count == 1
            assert pilot.app.screen.query_one("#lot-filter", Input).value == "river"
            await pilot.press("enter")
            await pilot.pause()
            await pilot.pause()
            assert isinstance(pilot.app.screen, SlotMapScreen)
            assert pilot.app.screen.lot_id == lots["Riverside Garage"].id

    async def test_filter_without_match_says_so(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press(*"zzz")
            await pilot.pause()
            assert pilot.app.screen.query_one(OptionList).option_count == 0
            assert "No lot matches 'zzz'" in text_of(pilot.app.screen, "#lots-empty")


class TestSlotMap:
    async def test_cursor_moves_with_arrows_and_hjkl(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            assert screen.selected_slot.slot_number == "A1"
            await pilot.press("right", "l")
            assert screen.selected_slot.slot_number == "A3"
            await pilot.press("j")  # next line of the same row group: A1-A6 / A7-A12 at this width
            below = screen.selected_slot.slot_number
            assert below != "A3"
            await pilot.press("k")
            assert screen.selected_slot.slot_number == "A3"
            await pilot.press("h", "left", "left")
            assert screen.selected_slot.slot_number == "A1"
            await pilot.press("end")
            assert screen.selected_slot.slot_number == "D12"
            assert "Slot D12" in text_of(screen, "#slot-details")

    async def test_statuses_and_legend(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            kinds = dict(zip((s.slot_number for s in screen.grid.slots), screen.grid.kinds))
            assert kinds["A2"] == SlotStatus.OCCUPIED  # alice is checked in
            assert kinds["A5"] == SlotStatus.RESERVED  # bruno's booking holds now
            assert kinds["A8"] == SlotStatus.OUT_OF_SERVICE
            assert kinds["A1"] == SlotStatus.AVAILABLE
            legend = text_of(screen, "#map-legend")
            assert "Free 45" in legend and "Reserved 1" in legend and "Out of service 1" in legend

    async def test_driver_sees_no_other_users_name(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            screen.grid.select_slot_id(next(s.id for s in screen.grid.slots if s.slot_number == "A5"))
            await pilot.pause()
            details = text_of(screen, "#slot-details")
            assert "09:00–12:00" in details
            assert "bruno" not in details

    async def test_admin_sees_who_booked(self, app_factory, admin_token, lots):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            screen.grid.select_slot_id(next(s.id for s in screen.grid.slots if s.slot_number == "A5"))
            await pilot.pause()
            assert "bruno" in text_of(screen, "#slot-details")

    async def test_time_window_marks_the_free_slots(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            await pilot.press("w")
            await pilot.pause()
            assert isinstance(pilot.app.screen, WindowScreen)
            await type_into(pilot, "#start", "")
            pilot.app.screen.query_one("#start", Input).value = "10:30"
            pilot.app.screen.query_one("#end", Input).value = "12:30"
            await pilot.press("enter")
            await pilot.pause()
            assert pilot.app.screen is screen and screen.window is not None
            kinds = dict(zip((s.slot_number for s in screen.grid.slots), screen.grid.kinds))
            assert kinds["A1"] == FREE_IN_WINDOW
            assert kinds["A5"] == BUSY_IN_WINDOW  # bruno: 09:00-12:00
            assert kinds["A2"] == BUSY_IN_WINDOW  # alice, checked in until 11:00
            assert kinds["B2"] == BUSY_IN_WINDOW  # chen: 12:15-14:15
            assert kinds["A8"] == SlotStatus.OUT_OF_SERVICE
            assert "Free for" in text_of(screen, "#map-when")
            await pilot.press("n")
            await pilot.pause()
            assert screen.window is None
            assert "Now" in text_of(screen, "#map-when")

    async def test_enter_on_a_taken_slot_explains(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            await pilot.press("right", "enter")  # A2 is occupied
            await pilot.pause()
            assert pilot.app.screen is screen
            assert any("occupied now" in n.message for n in pilot.app._notifications)

    async def test_live_refresh_from_another_process(self, app_factory, driver_token, lots, open_svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            other = open_svc()
            token = other.login("admin", "admin1234")
            a3 = next(s for s in screen.grid.slots if s.slot_number == "A3")
            now = other.now()
            other.create_booking(token, a3.id, now, now.replace(hour=now.hour + 1))
            booked = time.monotonic()
            while time.monotonic() - booked < 5:  # no key pressed
                await pilot.pause(0.05)
                kinds = dict(zip((s.slot_number for s in screen.grid.slots), screen.grid.kinds))
                if kinds["A3"] == SlotStatus.RESERVED:
                    break
            took = time.monotonic() - booked
            assert kinds["A3"] == SlotStatus.RESERVED
            # Documented: within 1 s; the bound is a little above it for a loaded machine.
            print(f"live refresh of the map: {took:.2f} s")
            assert took <= 1.5, f"the map took {took:.2f} s to show a booking made elsewhere"
            assert "Reserved 2" in text_of(screen, "#map-legend")

    async def test_admin_marks_slots_from_the_map(self, app_factory, admin_token, lots, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            assert {"o", "v", "x"} <= footer_keys(pilot.app)
            await pilot.press("x")
            await pilot.pause()
            # Out of service is asked first, naming the slot and the lot; "n" keeps it in use.
            assert isinstance(pilot.app.screen, ConfirmModal)
            assert "slot A1 of Central Station P1" in pilot.app.screen.question
            await pilot.press("n")
            await pilot.pause()
            assert screen.grid.slots[0].status is SlotStatus.AVAILABLE
            await pilot.press("x")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            a1 = screen.grid.slots[0]
            assert a1.status is SlotStatus.OUT_OF_SERVICE
            assert svc.lot_slots(admin_token, a1.lot_id)[0].status is SlotStatus.OUT_OF_SERVICE
            await pilot.press("v")
            await pilot.pause()
            assert screen.grid.slots[0].status is SlotStatus.AVAILABLE

    async def test_driver_has_no_mark_keys(self, app_factory, driver_token, lots, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_central(pilot, lots)
            assert not {"o", "v", "x"} & footer_keys(pilot.app)
            await pilot.press("x")
            await pilot.pause()
            assert screen.grid.slots[0].status is SlotStatus.AVAILABLE


class TestBooking:
    async def test_book_shows_code_and_the_booking_exists(self, app_factory, driver_token, lots, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("enter")  # A1 is free
            await pilot.pause()
            assert isinstance(pilot.app.screen, BookingScreen)
            assert pilot.app.screen.query_one("#start", Input).value == "09:00"
            assert pilot.app.screen.query_one("#end", Input).value == "10:00"
            await pilot.press("enter")
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, ConfirmationScreen)
            code = screen.booking.confirmation_code
            assert code in text_of(screen, "#confirm-code-plain")
            mine = svc.my_bookings(driver_token)
            assert [(b.confirmation_code, b.slot_number) for b in mine if b.confirmation_code == code] == [(code, "A1")]
            await pilot.press("enter")  # Done: back to the map, which shows A1 reserved
            await pilot.pause()
            assert isinstance(pilot.app.screen, SlotMapScreen)
            assert pilot.app.screen.grid.slots[0].status is SlotStatus.RESERVED

    async def test_presets_and_inline_errors(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("enter")
            await pilot.pause()
            screen = pilot.app.screen
            await pilot.click("#preset-4")
            assert screen.query_one("#end", Input).value == "13:00"
            screen.query_one("#start", Input).value = "25:00"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "24-hour clock" in screen.query_one("#field-start").error
            # A window in the past: the service's message appears under the start field.
            screen.query_one("#start", Input).value = "06:00"
            screen.query_one("#end", Input).value = "07:00"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(pilot.app.screen, BookingScreen)
            assert "in the past" in screen.query_one("#field-start").error

    async def test_conflict_with_own_booking_is_shown(self, app_factory, driver_token, lots, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("enter")
            await pilot.pause()
            screen = pilot.app.screen
            screen.query_one("#start", Input).value = "10:00"
            screen.query_one("#end", Input).value = "12:00"  # driver holds Riverside A3 10:15-11:15
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(pilot.app.screen, BookingScreen)
            assert "one booking at a time" in screen.query_one("#field-start").error


class TestShell:
    async def test_driver_has_no_admin_entry(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            app = pilot.app
            assert "f4" not in footer_keys(app) and "f2" in footer_keys(app)
            footer_text = " ".join(str(w.render()) for w in app.screen.query(Footer).first().query("*"))
            assert "Admin" not in footer_text
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, LotBrowserScreen) and app.screen.query_one("#lot-filter", Input).value in ("", "a")
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"admin")
            await asyncio.sleep(0.3)
            await pilot.pause()
            hits = [str(o.prompt) for o in app.screen.query_one("CommandList", OptionList)._options]
            assert not any("Admin" in h for h in hits)

    async def test_admin_has_the_admin_entry(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "f4" in footer_keys(pilot.app)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"admin")
            await asyncio.sleep(0.3)
            await pilot.pause()
            hits = [str(o.prompt) for o in pilot.app.screen.query_one("CommandList", OptionList)._options]
            assert any("Admin" in h for h in hits)

    async def test_help_lists_the_keys_that_work(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("question_mark")
            await pilot.pause()
            table = text_of(pilot.app.screen, "#help-table")
            assert "Book the selected slot" in table and "move between slots" in table
            assert "Admin" not in table and "out of service" not in table
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, SlotMapScreen)

    async def test_escape_goes_back_but_not_past_home(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, LotBrowserScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, LotBrowserScreen)

    async def test_quit_asks_when_a_form_has_input(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_central(pilot, lots)
            await pilot.press("enter")
            await pilot.pause()
            pilot.app.screen.query_one("#end", Input).value = "11:30"
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(pilot.app.screen, QuitScreen)
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(pilot.app.screen, BookingScreen)
            await pilot.press("ctrl+q")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
        assert pilot.app.return_code == 0

    async def test_too_small_terminal_notice(self, app_factory):
        app = app_factory()
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, TooSmallScreen)
            assert "60×20" in text_of(app.screen, "#too-small-message")
            await pilot.resize_terminal(100, 30)
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, LoginScreen)

    async def test_storage_failure_shows_a_screen(self, app_factory, driver_token, monkeypatch, svc):
        from parking_tui.domain.errors import StorageError

        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()

            def broken(*args, **kwargs):
                raise StorageError("The disk is full.")

            pilot.app.call(pilot.app.screen, broken)
            await settle(pilot)
            assert isinstance(pilot.app.screen, StorageErrorScreen)
            assert "Nothing was written" in text_of(pilot.app.screen, "#storage-error-advice")
            assert "The disk is full." in text_of(pilot.app.screen, "#storage-error-message")

    async def test_domain_error_becomes_a_notification(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.call(pilot.app.screen, lambda: svc.set_slot_status(driver_token, 1, "occupied"))
            await settle(pilot)
            assert any("lot manager" in n.message for n in pilot.app._notifications)
