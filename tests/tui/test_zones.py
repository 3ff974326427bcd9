"""Times on every row are on the clock of that row's lot, whatever map was opened last (no process-wide zone)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from textual.widgets import DataTable

from parking_tui.tui.screens.my_bookings import MyBookingsScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen

from .conftest import T0
from .helpers import settle

SIZE = (120, 40)
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def window_cell(screen, booking_id: int) -> str:
    table = screen.query_one(DataTable)
    return str(table.get_row(str(booking_id))[3])


async def test_each_row_shows_its_own_lots_time(app_factory, svc, admin_token, driver_token):
    harbour = svc.create_lot(admin_token, "Harbour NYC", "Pier 17", 2, time_zone="America/New_York")
    slot = svc.add_slot(admin_token, harbour.id, "N1")
    start = T0 + timedelta(days=1, hours=2)  # Sat 11:00 in Berlin, 05:00 in New York
    there = svc.create_booking(driver_token, slot.id, start, start + timedelta(hours=1), plate="NY 1")
    lots = {lot.id: lot for lot in svc.list_lots(driver_token)}
    here = next(b for b in svc.my_bookings(driver_token) if lots[b.lot_id].time_zone == "Europe/Berlin")
    app = app_factory(driver_token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(2):  # before and after a New York map was opened
            app.action_open_my_bookings()
            await settle(pilot)
            assert isinstance(app.screen, MyBookingsScreen)
            assert window_cell(app.screen, there.id) == "tomorrow 05:00–06:00"
            berlin_start = f"{here.start_time.astimezone(BERLIN):%H:%M}"
            assert berlin_start in window_cell(app.screen, here.id)
            if berlin_start != f"{here.start_time.astimezone(NEW_YORK):%H:%M}":
                assert f"{here.start_time.astimezone(NEW_YORK):%H:%M}–" not in window_cell(app.screen, here.id)
            await pilot.press("escape")
            await settle(pilot)
            app.action_open_lot(harbour.id)
            await settle(pilot)
            assert isinstance(app.screen, SlotMapScreen)
            assert "times in America/New_York" in str(app.screen.query_one("#map-when").render())
            await pilot.press("escape")
            await settle(pilot)
