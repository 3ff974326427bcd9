"""Every screen that shows bookings or slots follows changes made elsewhere within a second, says when it last
read them ("updated hh:mm:ss") and refreshes on a key; a confirmation screen never outlives its booking.

Changes "elsewhere" are made through a second service on the same data file, as another terminal would.
"""

from __future__ import annotations

import time
from datetime import timedelta

from textual.widgets import DataTable, Static

from parking_tui.domain.models import BookingStatus
from parking_tui.tui.screens.admin import AdminScreen
from parking_tui.tui.screens.booking import ConfirmationScreen
from parking_tui.tui.screens.my_bookings import MyBookingsScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen

SIZE = (80, 24)
#: A change shows within this long (the poll runs every 0.5 s; the rest is slack for a loaded machine).
FOLLOW_SECONDS = 1.0


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen, selector: str) -> list[str]:
    table = screen.query_one(selector, DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def seconds_until(pilot, condition, limit: float = 5.0) -> float:
    """How long until ``condition()`` holds (``inf`` if not within ``limit``)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if condition():
            return time.monotonic() - start
        await pilot.pause(0.05)
    return float("inf")


def slot_named(svc, token, lot, number):
    return next(s for s in svc.lot_slots(token, lot.id) if s.slot_number == number)


class TestMyBookingsFollowsOtherTerminals:
    async def test_a_cancel_made_elsewhere_shows_within_a_second(self, app_factory, driver_token, open_svc):
        other = open_svc()
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, MyBookingsScreen)
            assert "reserved" in rows(screen, "#bookings-table")[0]
            assert "updated 09:00:00" in text_of(screen, "#bookings-updated")
            booking = next(iter(screen.bookings.values()))
            other.cancel_booking(driver_token, booking.id)
            took = await seconds_until(pilot, lambda: "cancelled" in " ".join(rows(screen, "#bookings-table")))
            assert took <= FOLLOW_SECONDS + 0.5, f"took {took:.2f} s"

    async def test_r_reloads_at_once(self, app_factory, driver_token, svc, open_svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
            screen = pilot.app.screen
            screen.poller.stop()  # only the key can bring the change now
            booking = next(iter(screen.bookings.values()))
            open_svc().cancel_booking(driver_token, booking.id)
            await pilot.press("r")
            await pilot.pause()
            assert "cancelled" in " ".join(rows(screen, "#bookings-table"))


class TestAdminFollowsOtherTerminals:
    async def test_a_new_booking_shows_in_reservations_within_a_second(
        self, app_factory, admin_token, driver_token, open_svc, lots, clock
    ):
        other = open_svc()
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f4")
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, AdminScreen)
            screen.set_focus(None)
            await pilot.press("2")
            await pilot.pause()
            before = len(rows(screen, "#res-table"))
            assert "updated 09:00:00" in text_of(screen, "#admin-updated")
            slot = slot_named(other, driver_token, lots["Central Station P1"], "B1")
            made = other.create_booking(driver_token, slot.id, clock.now, clock.now + timedelta(hours=1))
            took = await seconds_until(pilot, lambda: len(rows(screen, "#res-table")) == before + 1)
            assert took <= FOLLOW_SECONDS + 0.5, f"took {took:.2f} s"
            assert made.confirmation_code in " ".join(rows(screen, "#res-table"))

    async def test_the_line_under_reservations_follows_the_cursor(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f4")
            await pilot.pause()
            screen = pilot.app.screen
            screen.set_focus(None)
            await pilot.press("2")
            await pilot.pause()
            table = screen.query_one("#res-table", DataTable)
            table.focus()
            seen = []
            for _ in range(table.row_count):
                b = screen.selected_reservation
                assert b is not None
                line = text_of(screen, "#res-count")
                assert b.confirmation_code in line, line
                seen.append(b.confirmation_code)
                await pilot.press("down")
                await pilot.pause()
            assert len(set(seen)) == table.row_count


class TestMapSaysWhenItRead:
    async def test_updated_time_and_r(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.action_open_lot(lots["Central Station P1"].id)
            await pilot.pause()
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, SlotMapScreen)
            assert "updated 09:00:00" in text_of(screen, "#map-when")
            assert "r" in screen.active_bindings


class TestNoStaleConfirmation:
    async def test_back_from_a_cancel_does_not_show_booked(self, app_factory, driver_token, svc, lots, clock):
        lot = lots["Central Station P1"]
        slot = slot_named(svc, driver_token, lot, "B1")
        booking = svc.create_booking(driver_token, slot.id, clock.now + timedelta(hours=3), clock.now + timedelta(hours=4))
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.action_open_lot(lot.id)
            await pilot.pause()
            pilot.app.push_screen(ConfirmationScreen(booking, lot))
            await pilot.pause()
            await pilot.press("b")  # My bookings, on top of the confirmation
            await pilot.pause()
            assert isinstance(pilot.app.screen, MyBookingsScreen)
            svc.cancel_booking(driver_token, booking.id)
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            assert not isinstance(pilot.app.screen, ConfirmationScreen)
            assert isinstance(pilot.app.screen, SlotMapScreen)

    async def test_a_check_out_elsewhere_closes_it(self, app_factory, driver_token, svc, lots, clock, open_svc):
        lot = lots["Central Station P1"]
        slot = slot_named(svc, driver_token, lot, "B1")
        booking = svc.create_booking(driver_token, slot.id, clock.now, clock.now + timedelta(hours=1))
        svc.check_in(driver_token, booking.id)
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.action_open_lot(lot.id)
            await pilot.pause()
            pilot.app.push_screen(ConfirmationScreen(booking, lot))
            await pilot.pause()
            open_svc().check_out(driver_token, booking.id)
            took = await seconds_until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmationScreen))
            assert took <= FOLLOW_SECONDS + 0.5
            assert svc.get_booking(driver_token, booking.id).status is BookingStatus.COMPLETED
