"""Snapshot tests of the shell, sign-in, lot browser, slot map and booking screens at 80x24 and 120x40.

Fixed clock (Fri 27 Nov 2026 09:00, Europe/Berlin), the demo data and seeded confirmation codes keep the SVGs
stable. Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the result.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


from .helpers import settle as _settle


async def _open_central(pilot) -> None:
    await _settle(pilot)
    lot = next(row[0] for row in pilot.app.screen.rows if row[0].name == "Central Station P1")
    pilot.app.action_open_lot(lot.id)
    await _settle(pilot)


@pytest.mark.parametrize("size", SIZES)
class TestSignInSnapshots:
    def test_sign_in_demo(self, snap_compare, app_factory, size):
        """The sign-in form with the username focused, and the demo accounts boxed underneath."""
        assert snap_compare(app_factory(demo=True), terminal_size=size)

    def test_register_with_errors(self, snap_compare, app_factory, size):
        """The Register tab: every bad field at once - the e-mail (tinted, its message under it) and the repeated
        password that was left empty."""

        async def run_before(pilot):
            await pilot.press("ctrl+r")
            screen = pilot.app.screen
            screen.query_one("#reg-username", Input).value = "driver"
            screen.query_one("#reg-email", Input).value = "nope"
            screen.query_one("#reg-password", Input).value = "long-enough"
            screen.query_one("#reg-username", Input).focus()
            await pilot.press("enter")
            await _settle(pilot)

        assert snap_compare(app_factory(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestLotBrowserSnapshots:
    def test_lots(self, snap_compare, app_factory, driver_token, size):
        """Three lots, each with location, 'N free of M' and an occupancy bar; the first is highlighted.
        The footer shows b Bookings and p Profile but no Admin (a driver)."""
        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=_settle)

    def test_filtered(self, snap_compare, app_factory, driver_token, size):
        """Typing 'cen' leaves only Central Station P1; the filter box shows 'cen'."""
        async def run_before(pilot):
            await _settle(pilot)
            await pilot.press("c", "e", "n")
            await _settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestSlotMapSnapshots:
    def test_map_driver(self, snap_compare, app_factory, driver_token, size):
        """Central Station P1: rows A-D, A2 occupied (red, ■), A5 reserved (amber, •), A8 out of service
        (struck through, ×), the rest free (green). Legend with counts; cursor on A1; details on the right."""

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=_open_central)

    def test_map_admin_on_reserved_slot(self, snap_compare, app_factory, admin_token, size):
        """An admin on A5: the details name bruno and his code; the footer has o / v / x to mark slots."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("right", "right", "right", "right")
            await _settle(pilot)

        assert snap_compare(app_factory(admin_token), terminal_size=size, run_before=run_before)

    def test_map_window(self, snap_compare, app_factory, driver_token, size):
        """'Free for today 10:30–12:30': A2 and A5 (and B2) are dimmed as taken, the others green."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("w")
            await pilot.pause()
            pilot.app.screen.query_one("#start", Input).value = "10:30"
            pilot.app.screen.query_one("#end", Input).value = "12:30"
            await pilot.press("enter")
            await _settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)

    def test_window_dialog(self, snap_compare, app_factory, driver_token, size):
        """The time-window dialog over the map: date 2026-11-27, 09:00 to 10:00, presets 1 h / 2 h / 4 h."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("w")
            await pilot.pause()

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestBookingSnapshots:
    def test_booking_form(self, snap_compare, app_factory, driver_token, size):
        """The form for slot A1: today 09:00–10:00 (1 h), Confirm and Cancel buttons."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("enter")
            await _settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)

    def test_booking_conflict(self, snap_compare, app_factory, driver_token, size):
        """10:00–12:00 clashes with the driver's own booking: the message sits under Start."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("enter")
            await pilot.pause()
            pilot.app.screen.query_one("#start", Input).value = "10:00"
            pilot.app.screen.query_one("#end", Input).value = "12:00"
            await pilot.press("ctrl+s")
            await _settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)

    def test_confirmation(self, snap_compare, app_factory, driver_token, size):
        """The confirmation: the code in big block letters, slot A1 in Central Station P1, today 09:00–10:00,
        and what to do on arrival (check-in opens 08:45, held until 09:15)."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("enter")
            await _settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestShellSnapshots:
    def test_help(self, snap_compare, app_factory, driver_token, size):
        """'?' on the map lists its keys: Book, When?, moving with arrows/hjkl, Bookings, Profile, Back, Quit."""

        async def run_before(pilot):
            await _open_central(pilot)
            await pilot.press("question_mark")
            await pilot.pause()

        assert snap_compare(app_factory(driver_token), terminal_size=size, run_before=run_before)


class TestTooSmallSnapshot:
    def test_too_small(self, snap_compare, app_factory):
        """At 70x20 a box says the terminal is 70×20 and at least 80×24 is needed; Enter continues anyway."""
        assert snap_compare(app_factory(), terminal_size=(70, 20))
