"""Whatever a person types into any field of any form, the app keeps running and shows at most an inline
error (a kiosk must never exit on input). Hypothesis draws the text; each example runs the real app.

The export form is left out on purpose: its one field is a file path, and random paths would write files
anywhere on the machine.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.widgets import Input

from parking_tui.tui.screens.booking import BookingScreen
from parking_tui.tui.screens.my_bookings import ExtendModal
from parking_tui.tui.screens.notices import StorageErrorScreen
from parking_tui.tui.screens.slot_map import WindowScreen

from .conftest import PASSWORDS, T0

pytestmark = pytest.mark.slow
SIZE = (100, 30)

NASTY = [
    "9999-12-31", "0001-01-01", "0", "00:00", "24:00", "23:59", "99:99", "+999", "-1", "1e309", "nan",
    "tomorrow", "31.12.", "29.02.2027", "\x1b[31mred", "[b]bold[/b]", "%s%n", "\u202eevil", "👍", " ", "",
    "+45m", "2030-06-15 14:30", "A1", "-0", "1" * 40, "\x00",
]
TEXT = st.one_of(st.sampled_from(NASTY), st.text(max_size=24))
FILLS = st.lists(TEXT, min_size=8, max_size=8)
SETTINGS = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)


async def _hammer(pilot, texts: list[str]) -> None:
    """Type ``texts`` into every input of the screen in turn, then submit in every way the screen offers."""
    screen = pilot.app.screen
    inputs = [i for i in screen.query(Input) if i.display]
    assert inputs, f"{type(screen).__name__} has no input to type into"
    for n, field in enumerate(inputs):
        text = texts[n % len(texts)]
        if field.max_length:
            text = text[: field.max_length]
        field.value = text
    await pilot.pause()
    await pilot.press("ctrl+s")
    await pilot.pause()
    for field in inputs:
        if field.is_attached and field.screen is pilot.app.screen:
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert pilot.app.is_running
    assert not isinstance(pilot.app.screen, StorageErrorScreen)


def _run(app, open_screen, texts: list[str]) -> None:
    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await open_screen(pilot)
            await pilot.pause()
            await _hammer(pilot, texts)
        assert app.return_code in (None, 0)

    asyncio.run(scenario())


@SETTINGS
@given(texts=FILLS)
def test_sign_in_and_register(app_factory, texts):
    async def open_screen(pilot):
        pass

    _run(app_factory(), open_screen, texts)


@SETTINGS
@given(texts=FILLS)
@example(texts=["9999-12-31", "09:00", "0", "", "", "", "", ""])  # the end of the calendar, overnight
@example(texts=["0001-01-01", "00:00", "00:00", "", "", "", "", ""])
def test_kiosk_booking_form(app_factory, svc, lots, texts):
    token = svc.login("driver", PASSWORDS["driver"])
    lot = lots["Central Station P1"]
    slot = svc.lot_slots(token, lot.id)[0]

    async def open_screen(pilot):
        pilot.app.push_screen(BookingScreen(lot, slot, (T0 + timedelta(hours=1), T0 + timedelta(hours=2))))
        await pilot.pause()

    _run(app_factory(token, kiosk=True), open_screen, texts)


@SETTINGS
@given(texts=FILLS)
def test_window_filter_on_the_map(app_factory, svc, texts):
    token = svc.login("driver", PASSWORDS["driver"])

    async def open_screen(pilot):
        pilot.app.push_screen(WindowScreen(T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0))
        await pilot.pause()

    _run(app_factory(token), open_screen, texts)


@SETTINGS
@given(texts=FILLS)
def test_extend_a_booking(app_factory, svc, texts):
    token = svc.login("driver", PASSWORDS["driver"])
    mine = [b for b in svc.my_bookings(token) if b.status.value in ("reserved", "checked_in")]
    if not mine:
        pytest.skip("the demo data has no live booking for the driver")

    async def open_screen(pilot):
        pilot.app.push_screen(ExtendModal(mine[0]))
        await pilot.pause()

    _run(app_factory(token), open_screen, texts)


@SETTINGS
@given(texts=FILLS)
def test_lot_browser_filter(app_factory, svc, texts):
    token = svc.login("driver", PASSWORDS["driver"])

    async def open_screen(pilot):
        pass

    _run(app_factory(token), open_screen, texts)


@pytest.mark.parametrize("action", ["open_profile", "open_admin"])
@SETTINGS
@given(texts=FILLS)
def test_screens_with_forms(app_factory, svc, action, texts):
    token = svc.login("admin", PASSWORDS["admin"])

    async def open_screen(pilot):
        await pilot.app.run_action(action)
        await pilot.pause()
        await pilot.pause()

    _run(app_factory(token), open_screen, texts)
