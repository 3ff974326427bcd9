"""Profile: who is signed in and their role; e-mail and phone are editable with inline errors; log out."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Static

from parking_tui.domain.errors import AuthenticationError
from parking_tui.tui.screens.login import LoginScreen
from parking_tui.tui.screens.profile import ProfileScreen
from parking_tui.tui.widgets.confirm import ConfirmModal

from .helpers import settle

SIZE = (80, 24)


async def open_profile(pilot) -> ProfileScreen:
    await pilot.pause()
    await pilot.press("f3")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ProfileScreen)
    return screen


async def replace_text(pilot, screen, selector: str, text: str) -> None:
    field = screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.pause()
    await pilot.press(*text)


def shown(screen, selector: str) -> str:
    widget = screen.query_one(selector)
    return str(widget.render()) if isinstance(widget, (Static, Label)) else ""


class TestProfile:
    async def test_shows_the_account(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_profile(pilot)
            assert shown(screen, "#profile-username") == "driver"
            assert shown(screen, "#profile-role") == "driver"
            assert screen.query_one("#profile-email", Input).value == "driver@example.com"
            assert screen.query_one("#profile-phone", Input).value == "+44 20 7946 0000"

    async def test_admin_role_is_shown(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_profile(pilot)
            assert "admin" in shown(screen, "#profile-role")

    async def test_bad_values_show_errors_under_both_fields_and_save_nothing(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_profile(pilot)
            await replace_text(pilot, screen, "#profile-email", "not-an-email")
            await replace_text(pilot, screen, "#profile-phone", "call me")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "valid e-mail" in shown(screen, "#profile-email-error")
            assert "Phone number" in shown(screen, "#profile-phone-error")
            assert svc.profile(driver_token).email == "driver@example.com"
            # Typing again clears the field's error.
            await replace_text(pilot, screen, "#profile-email", "x")
            assert shown(screen, "#profile-email-error") == ""

    async def test_enter_saves(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_profile(pilot)
            await replace_text(pilot, screen, "#profile-email", "new@example.org")
            await replace_text(pilot, screen, "#profile-phone", "+49 30 1234567")
            await pilot.press("enter")
            await pilot.pause()
            profile = svc.profile(driver_token)
            assert (profile.email, profile.phone_number) == ("new@example.org", "+49 30 1234567")
            assert pilot.app.profile == profile
            assert not screen.has_unsaved_input()
            assert any("saved" in n.message for n in pilot.app._notifications)

    async def test_escape_with_unsaved_changes_asks(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_profile(pilot)
            await replace_text(pilot, screen, "#profile-phone", "+1 555 0100")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            await pilot.press("n")
            await pilot.pause()
            assert pilot.app.screen is screen
            assert screen.query_one("#profile-phone", Input).value == "+1 555 0100"
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, ProfileScreen)
            assert svc.profile(driver_token).phone_number == "+44 20 7946 0000"

    async def test_escape_without_changes_goes_straight_back(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_profile(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, (ProfileScreen, ConfirmModal))

    async def test_log_out_ends_the_session(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_profile(pilot)
            await pilot.press("ctrl+l")
            await pilot.pause()
            await pilot.pause()
            app = pilot.app
            assert isinstance(app.screen, LoginScreen)
            assert app.token is None and app.profile is None
            with pytest.raises(AuthenticationError):
                svc.profile(driver_token)

    async def test_after_log_out_typing_goes_to_the_username(self, app_factory):
        """ctrl+l on the profile, then typing: the keys land in the username field, ready for the next person."""
        async with app_factory().run_test(size=SIZE) as pilot:
            await pilot.press(*"driver", "enter", *"driver1234", "enter")  # signed in from the password field
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await open_profile(pilot)
            await pilot.press("ctrl+l")
            await pilot.pause()
            await pilot.pause()
            assert isinstance(pilot.app.screen, LoginScreen) and pilot.app.token is None
            await pilot.press(*"alice")
            assert pilot.app.screen.query_one("#login-username", Input).value == "alice"

    async def test_log_out_from_the_register_tab_returns_to_sign_in(self, app_factory, driver_token, svc):
        """Signed in after registering (the Register tab was last shown): sign-out shows Sign in, username focused."""
        async with app_factory().run_test(size=SIZE) as pilot:
            app = pilot.app
            await pilot.press("ctrl+r")
            await pilot.pause()
            app.signed_in(driver_token, svc.profile(driver_token))
            await pilot.pause()
            app.action_log_out()
            await settle(pilot)
            assert isinstance(app.screen, LoginScreen)
            await pilot.press(*"bruno")
            assert app.screen.query_one("#login-username", Input).value == "bruno"
            assert app.screen.query_one("#reg-username", Input).value == ""


# ---------------------------------------------------------------------------------------------- snapshots


class TestProfileSnapshot:
    def test_profile_80x24(self, snap_compare, app_factory, driver_token):
        """Username driver, role driver, the e-mail field (focused) and the phone field filled in, the buttons
        Save (ctrl+s) and Log out (ctrl+l), and a footer with esc, ^s and ^l."""

        async def run_before(pilot):
            await pilot.pause()
            await pilot.press("f3")
            await pilot.pause()

        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)

    def test_profile_admin_120x40(self, snap_compare, app_factory, admin_token):
        """The admin's profile at 120x40: role "admin (lot manager)" highlighted, an empty phone field."""

        async def run_before(pilot):
            await pilot.pause()
            await pilot.press("f3")
            await pilot.pause()

        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=run_before)

    def test_inline_errors(self, snap_compare, app_factory, driver_token):
        """After a bad e-mail and phone and ctrl+s: a red line under each field says what is wrong."""

        async def run_before(pilot):
            await pilot.pause()
            await pilot.press("f3")
            await pilot.pause()
            screen = pilot.app.screen
            await replace_text(pilot, screen, "#profile-email", "not-an-email")
            await replace_text(pilot, screen, "#profile-phone", "call me")
            await pilot.press("ctrl+s")
            await pilot.pause()

        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)
