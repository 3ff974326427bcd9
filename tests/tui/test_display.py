"""What is drawn: dialogs over a dimmed screen, NO_COLOR, and user text shown literally (never as markup)."""

from __future__ import annotations

import html
import re

from textual.widgets import Static

from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen
from parking_tui.tui.widgets.confirm import ConfirmModal
from parking_tui.tui.widgets.slot_grid import SlotGrid

SIZE = (80, 24)
EVIL_NAME = "[b]Evil[/b] [@click=app.quit]x"
EVIL_PLACE = "[red]Dock[/red] [link=https://example.com]road[/link]"


def screen_text(app) -> str:
    """The text of the whole terminal as painted (screens underneath a dialog included)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def grid_text(grid: SlotGrid) -> str:
    return "\n".join("".join(seg.text for seg in grid.render_line(y)) for y in range(grid.size.height))


async def open_lot(pilot, lot_id: int) -> SlotMapScreen:
    pilot.app.action_open_lot(lot_id)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(pilot.app.screen, SlotMapScreen)
    return pilot.app.screen


class TestDialogs:
    async def test_a_dialog_shows_the_screen_underneath_dimmed(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "Airport Short-Stay" in screen_text(pilot.app)
            pilot.app.push_screen(ConfirmModal("Really?", "Nothing happens."))
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            assert pilot.app.screen.styles.background.a < 1  # translucent, not opaque
            painted = screen_text(pilot.app)
            assert "Really?" in painted
            assert "Airport Short-Stay" in painted  # the lot browser still shows around the dialog


class TestNoColor:
    async def test_statuses_differ_without_colour(self, app_factory, driver_token, lots, monkeypatch):
        """NO_COLOR=1: the app runs and each slot's status shows as a mark beside its number."""
        monkeypatch.setenv("NO_COLOR", "1")
        app = app_factory(driver_token)
        assert app.no_color
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_lot(pilot, lots["Central Station P1"].id)
            painted = grid_text(screen.grid)
            assert re.search(r"\bA1  ", painted)  # free: no mark (labels are padded to 3: A1, D12)
            assert re.search(r"\bA2 *■", painted)  # occupied (alice is checked in)
            assert re.search(r"\bA5 *•", painted)  # reserved (bruno)
            assert re.search(r"\bA8 *×", painted)  # out of service
            legend = str(screen.query_one("#map-legend", Static).render())
            assert "■  Occupied 1" in legend and "•  Reserved 1" in legend and "×  Out of service 1" in legend
            assert app.is_running


class TestUserTextIsInert:
    async def test_markup_in_a_lot_name_is_shown_literally(self, app_factory, admin_token, svc):
        lot = svc.create_lot(admin_token, EVIL_NAME, EVIL_PLACE, 4)
        svc.add_slots(admin_token, lot.id, ["A1", "A2"])
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            app = pilot.app
            await pilot.pause()
            assert isinstance(app.screen, LotBrowserScreen)
            painted = screen_text(app)
            assert EVIL_NAME in painted and EVIL_PLACE[:30] in painted
            screen = await open_lot(pilot, lot.id)
            painted = screen_text(app)
            assert f"Slot map — {EVIL_NAME}" in painted  # the header
            assert str(screen.query_one("#map-title", Static).render()).startswith(f"{EVIL_NAME}  {EVIL_PLACE}")
            # Where the parsed markup would have put a clickable "x" that quits the app:
            await pilot.click("#map-title", offset=(5, 0))
            await pilot.pause()
            assert app.is_running and app.return_code is None
            # A dialog quoting the name shows it as typed, too.
            app.push_screen(ConfirmModal(f"Cancel the booking in {EVIL_NAME}?", f"Lot {EVIL_PLACE}."))
            await pilot.pause()
            assert str(app.screen.query_one("#confirm-question").render()) == f"Cancel the booking in {EVIL_NAME}?"
            assert str(app.screen.query_one("#confirm-detail").render()) == f"Lot {EVIL_PLACE}."
            await pilot.press("n")
            await pilot.pause()
            assert app.is_running

    async def test_markup_typed_in_the_filter_is_shown_literally(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press(*"[b]zz[/b]")
            await pilot.pause()
            assert "No lot matches '[b]zz[/b]'" in str(pilot.app.screen.query_one("#lots-empty", Static).render())
