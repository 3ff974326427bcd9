"""Small things people tripped over: messages that outlive the person they were for, misleading kiosk notes,
plurals, the demo box."""

from __future__ import annotations

from textual.widgets import Input, Static

from parking_tui.domain.errors import AuthenticationError
from parking_tui.tui.screens.lots import LotBrowserScreen

SIZE = (80, 24)


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


class TestMessagesDoNotLinger:
    async def test_sign_out_message_is_gone_once_the_next_person_signs_in(self, app_factory, svc):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            token = svc.login("driver", "driver1234")
            app.signed_in(token, svc.profile(token))
            await pilot.pause()
            app.action_log_out()
            await pilot.pause()
            assert "You are signed out." in messages(app)
            admin = svc.login("admin", "admin1234")
            app.signed_in(admin, svc.profile(admin))
            await pilot.pause()
            assert isinstance(app.screen, LotBrowserScreen)
            assert "You are signed out." not in messages(app)

    async def test_a_late_not_signed_in_error_is_not_shown_to_the_next_person(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            app.report_error(AuthenticationError("You are not signed in."))
            await pilot.pause()
            assert not messages(app)


class TestKioskIdle:
    async def test_idle_with_nobody_signed_in_does_not_say_signed_out(self, app_factory):
        now = [1000.0]
        app = app_factory(kiosk=True)
        app.idle_clock = lambda: now[0]
        app.last_activity = now[0]
        async with app.run_test(size=SIZE) as pilot:
            app.screen.query_one("#login-username", Input).value = "half-typed"
            now[0] += app.idle_timeout + 1
            assert app.check_idle_timeout()
            await pilot.pause()
            assert app.screen.query_one("#login-username", Input).value == ""
            assert not any("Signed out" in m for m in messages(app))
            assert any("cleared" in m for m in messages(app))

    async def test_idle_with_a_session_says_signed_out(self, app_factory, driver_token):
        now = [1000.0]
        app = app_factory(driver_token, kiosk=True)
        app.idle_clock = lambda: now[0]
        app.last_activity = now[0]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            now[0] += app.idle_timeout + 1
            assert app.check_idle_timeout()
            await pilot.pause()
            assert app.token is None
            assert any("Signed out after a while" in m for m in messages(app))


class TestWords:
    def test_plural(self):
        from parking_tui.tui.words import plural

        assert plural(1, "reservation") == "1 reservation"
        assert plural(0, "reservation") == "0 reservations"
        assert plural(2, "lot") == "2 lots"

    async def test_demo_accounts_do_not_wrap_mid_phrase(self, app_factory):
        async with app_factory(demo=True).run_test(size=SIZE) as pilot:
            await pilot.pause()
            box = pilot.app.screen.query_one("#demo-accounts", Static)
            lines = [line.rstrip() for line in str(box.render()).splitlines()]
            assert any(line.endswith("the lot manager") for line in lines), lines


class TestPalette:
    async def test_the_apps_commands_come_first_and_only_sensible_generic_ones(self, app_factory, driver_token):
        import asyncio

        from textual.widgets import OptionList

        async with app_factory(driver_token).run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+p")
            await pilot.pause()
            await asyncio.sleep(0.3)
            await pilot.pause()
            hits = [str(o.prompt).split("\n")[0] for o in pilot.app.screen.query_one("CommandList", OptionList)._options]
            names = [h.strip() for h in hits]
            assert names, "the palette lists commands when opened"
            assert not any(n.startswith(("Maximize", "Minimize", "Keys")) for n in names), names
            first_generic = min(i for i, n in enumerate(names) if n.startswith(("Theme", "Screenshot", "Quit")))
            assert any(n.startswith("My bookings") for n in names[:first_generic]), names

    async def test_screenshot_is_saved_where_it_says(self, app_factory, driver_token, tmp_path):
        app = app_factory(driver_token)
        app.export_dir = tmp_path / "shots"
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.save_screenshot_here()
            await pilot.pause()
            saved = list((tmp_path / "shots").glob("*.svg"))
            assert len(saved) == 1
            assert any(str(saved[0]) in m for m in messages(app))


class TestOvernightEnd:
    async def test_an_end_before_the_start_says_tomorrow_next_to_the_field(self, app_factory, driver_token, lots, svc):
        from datetime import timedelta

        from parking_tui.tui.screens.booking import BookingScreen
        from tui.conftest import T0

        lot = lots["Central Station P1"]
        slot = svc.lot_slots(driver_token, lot.id)[0]
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.push_screen(BookingScreen(lot, slot, (T0 + timedelta(hours=1), T0 + timedelta(hours=2))))
            await pilot.pause()
            screen = pilot.app.screen
            end = screen.query_one("#field-end")
            shown = [n for n in end.query(".field-note").results(Static) if n.display and str(n.render()).strip()]
            assert shown == []  # no note yet (the note line is made when first needed)
            screen.query_one("#start", Input).value = "05:00"
            screen.query_one("#end", Input).value = "04:00"
            await pilot.pause()
            note = end.query_one(".field-note", Static)
            assert str(note.render()) == "ends tomorrow 04:00"
            assert note.display
            screen.query_one("#end", Input).value = "06:00"
            await pilot.pause()
            assert not note.has_class("-shown")


def _overnight_form(lots, svc, driver_token):
    from datetime import timedelta

    from parking_tui.tui.screens.booking import BookingScreen
    from tui.conftest import T0

    lot = lots["Central Station P1"]
    slot = svc.lot_slots(driver_token, lot.id)[0]

    async def run_before(pilot):
        await pilot.pause()
        pilot.app.push_screen(BookingScreen(lot, slot, (T0 + timedelta(hours=1), T0 + timedelta(hours=2))))
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#start", Input).value = "22:00"
        screen.query_one("#end", Input).value = "04:00"
        screen.query_one("#end", Input).focus()
        await pilot.pause()

    return run_before


class TestOvernightSnapshot:
    def test_overnight_80x24(self, snap_compare, app_factory, driver_token, lots, svc):
        """The booking form with 22:00 to 04:00: "ends tomorrow 04:00" in bold right of the End field."""
        run = _overnight_form(lots, svc, driver_token)
        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run)

    def test_overnight_120x40(self, snap_compare, app_factory, driver_token, lots, svc):
        """The same at 120x40."""
        run = _overnight_form(lots, svc, driver_token)
        assert snap_compare(app_factory(driver_token), terminal_size=(120, 40), run_before=run)


class TestFootersFit:
    """Every footer fits 80 columns: each key is whole and left of the palette key, Help and Back included."""

    @staticmethod
    def assert_fits(app) -> list[str]:
        from textual.widgets._footer import FooterKey

        keys = list(app.screen.query(FooterKey))
        palette = [k for k in keys if k.description == "palette"]
        limit = palette[0].region.x if palette else 80
        shown = []
        for key in keys:
            if key in palette:
                continue
            assert key.region.width > 0 and key.region.right <= limit, (key.key_display, key.description, key.region)
            shown.append(key.description)
        return shown

    async def test_map_of_an_admin(self, app_factory, admin_token, lots):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.action_open_lot(lots["Central Station P1"].id)
            await pilot.pause()
            await pilot.pause()
            shown = self.assert_fits(pilot.app)
            assert {"Help", "Back", "Out of svc"} <= set(shown)

    async def test_my_bookings_and_every_admin_tab(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
            assert {"Help", "Back"} <= set(self.assert_fits(pilot.app))
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("f4")
            await pilot.pause()
            for tab in "123456":
                pilot.app.screen.set_focus(None)
                await pilot.press(tab)
                await pilot.pause()
                assert "Back" in self.assert_fits(pilot.app), tab


class TestSlashSearches:
    async def test_slash_in_users_and_audit(self, app_factory, admin_token):
        from textual.widgets import DataTable

        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f4")
            await pilot.pause()
            screen = pilot.app.screen
            screen.set_focus(None)
            await pilot.press("5")
            await pilot.pause()
            await pilot.press("slash")
            await pilot.pause()
            assert screen.query_one("#users-search", Input).has_focus
            await pilot.press(*"chen")
            await pilot.pause()
            table = screen.query_one("#users-table", DataTable)
            assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["chen"]
            screen.set_focus(None)
            await pilot.press("6")
            await pilot.pause()
            await pilot.press("slash")
            await pilot.pause()
            assert screen.query_one("#audit-user", Input).has_focus
