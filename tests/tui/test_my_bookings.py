"""My bookings: a booking made anywhere shows here with its code; check in, check out, cancel, extend (80x24).

The clock stands at Friday 27 Nov 2026 09:00 (Europe/Berlin). The demo driver holds one reservation, slot A3 of
Riverside Garage, 10:15-11:15.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from textual.widgets import DataTable, Input, Static

from parking_tui.domain.errors import ValidationError
from parking_tui.domain.models import BookingStatus, SlotStatus
from parking_tui.tui.bookings_text import fmt_delta
from parking_tui.tui.screens.my_bookings import ExtendModal, MyBookingsScreen, parse_new_end
from parking_tui.tui.widgets.confirm import ConfirmModal

SIZE = (80, 24)
CHEN_PASSWORD = "chen-demo-pass"

from .helpers import settle


def slot_named(svc, token, lot, number):
    return next(s for s in svc.lot_slots(token, lot.id) if s.slot_number == number)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def row_texts(screen) -> list[str]:
    table = screen.query_one(DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def open_bookings(pilot) -> MyBookingsScreen:
    await pilot.pause()
    await pilot.press("f2")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, MyBookingsScreen)
    return screen


async def select(pilot, screen: MyBookingsScreen, booking_id: int) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(str(booking_id)))
    await pilot.pause()
    assert screen.selected is not None and screen.selected.id == booking_id


@pytest.fixture
def now_booking(svc, driver_token, lots, clock):
    """The driver's booking of Central Station P1 / B1 from now (09:00) to 10:00."""
    slot = slot_named(svc, driver_token, lots["Central Station P1"], "B1")
    return svc.create_booking(driver_token, slot.id, clock.now, clock.now + timedelta(hours=1))


class TestList:
    async def test_a_booking_made_elsewhere_appears_with_its_code(self, app_factory, driver_token, now_booking):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            rows = row_texts(screen)
            assert len(rows) == 2
            # Ordered: the soonest upcoming first.
            assert now_booking.confirmation_code in rows[0] and "B1" in rows[0]
            assert "starts in" in rows[1] and "A3" in rows[1]
            detail = text_of(screen, "#booking-detail")
            assert now_booking.confirmation_code in detail and "Central Station P1" in detail

    async def test_no_bookings_says_how_to_make_one(self, app_factory, svc):
        svc.register("newbie", "newbie@example.com", "newbie-pass")
        token = svc.login("newbie", "newbie-pass")
        async with app_factory(token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            assert screen.has_class("-empty")
            assert screen.query_one("#bookings-empty").display
            assert "no bookings yet" in text_of(screen, "#bookings-empty")

    async def test_footer_offers_only_what_fits_the_booking(self, app_factory, driver_token, now_booking, svc):
        svc.check_in(driver_token, now_booking.id)
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            shown = {k for k, b in screen.active_bindings.items() if b.binding.show and b.enabled}
            assert {"o", "e"} <= shown and "i" not in shown and "c" not in shown

    async def test_escape_goes_back(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_bookings(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, MyBookingsScreen)


class TestActions:
    async def test_check_in_marks_the_slot_occupied_then_check_out_frees_it(
        self, app_factory, driver_token, now_booking, svc
    ):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            await pilot.press("i")
            await pilot.pause()
            assert svc.get_booking(driver_token, now_booking.id).status is BookingStatus.CHECKED_IN
            slot = next(s for s in svc.lot_slots(driver_token, now_booking.lot_id) if s.id == now_booking.slot_id)
            assert slot.status is SlotStatus.OCCUPIED
            assert "checked in" in row_texts(screen)[0]

            await pilot.press("o")
            await pilot.pause()
            assert svc.get_booking(driver_token, now_booking.id).status is BookingStatus.COMPLETED
            slot = next(s for s in svc.lot_slots(driver_token, now_booking.lot_id) if s.id == now_booking.slot_id)
            assert slot.status is SlotStatus.AVAILABLE

    async def test_check_in_too_early_shows_the_reason(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            booking = screen.selected
            assert booking is not None and booking.slot_number == "A3"
            await pilot.press("i")
            await pilot.pause()
            assert any("Check-in opens" in n.message for n in pilot.app._notifications)
            assert svc.get_booking(driver_token, booking.id).status is BookingStatus.RESERVED

    async def test_cancel_asks_first(self, app_factory, driver_token, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            booking = screen.selected
            assert booking is not None
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            await pilot.press("n")
            await pilot.pause()
            assert pilot.app.screen is screen
            assert svc.get_booking(driver_token, booking.id).status is BookingStatus.RESERVED

            await pilot.press("c")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert pilot.app.screen is screen
            assert svc.get_booking(driver_token, booking.id).status is BookingStatus.CANCELLED
            assert "cancelled" in row_texts(screen)[0]

    async def test_extend_conflict_shows_the_services_message(
        self, app_factory, driver_token, now_booking, svc, lots
    ):
        chen = svc.login("chen", CHEN_PASSWORD)
        end = now_booking.end_time
        svc.create_booking(chen, now_booking.slot_id, end, end + timedelta(hours=1))
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            await pilot.press("e")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, ExtendModal)
            await pilot.press(*"+1h", "enter")
            await pilot.pause()
            assert pilot.app.screen is modal, "a refused extension keeps the dialog open"
            message = text_of(modal, "#extend-error")
            assert "booked by someone else" in message and "cannot be extended" in message
            assert svc.get_booking(driver_token, now_booking.id).end_time == end

            await pilot.press("escape")
            await pilot.pause()
            assert pilot.app.screen is screen

    async def test_extend_by_a_typed_time(self, app_factory, driver_token, now_booking, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            await pilot.press("e")
            await pilot.pause()
            await pilot.press(*"10:10", "enter")
            await pilot.pause()
            assert pilot.app.screen is screen
            new_end = svc.get_booking(driver_token, now_booking.id).end_time
            assert new_end == now_booking.end_time + timedelta(minutes=10)

    async def test_extend_with_a_preset_button(self, app_factory, driver_token, now_booking, svc):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            await pilot.press("e")
            await pilot.pause()
            # Keyboard: shift+tab from the time field reaches the last preset (+2 h) - that clashes with the
            # driver's own 10:15 booking; the first preset (+15 min) does not.
            await pilot.click("#extend-plus-15")
            await pilot.pause()
            assert pilot.app.screen is screen
            new_end = svc.get_booking(driver_token, now_booking.id).end_time
            assert new_end == now_booking.end_time + timedelta(minutes=15)

    async def test_a_bad_typed_time_is_explained(self, app_factory, driver_token, now_booking):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            screen = await open_bookings(pilot)
            await select(pilot, screen, now_booking.id)
            await pilot.press("e")
            await pilot.pause()
            await pilot.press(*"25:99", "enter")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, ExtendModal)
            assert "not a valid time" in text_of(modal, "#extend-error")
            assert modal.query_one(Input).value == "25:99"


class TestParsing:
    """Typed new ends are local times (the tests run in Europe/Berlin); the current end is 27 Nov 10:00."""

    @staticmethod
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute).astimezone()

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("+30", (27, 10, 30)),
            ("+30m", (27, 10, 30)),
            ("+2h", (27, 12, 0)),
            ("11:45", (27, 11, 45)),
            ("1145", (27, 11, 45)),
            ("09:30", (28, 9, 30)),
            ("2026-11-28 08:00", (28, 8, 0)),
        ],
    )
    def test_new_end(self, typed, expected):
        assert parse_new_end(typed, self.at(27, 10)) == self.at(*expected)

    @pytest.mark.parametrize("typed", ["", "soon", "24:00", "2026-13-01 10:00", "+"])
    def test_nonsense_is_refused(self, typed):
        with pytest.raises(ValidationError):
            parse_new_end(typed, self.at(27, 10))

    def test_durations(self):
        assert fmt_delta(timedelta(minutes=5)) == "5m"
        assert fmt_delta(timedelta(minutes=75)) == "1h 15m"
        assert fmt_delta(timedelta(hours=2)) == "2h"
        assert fmt_delta(timedelta(days=1, hours=3)) == "1d 3h"


# ---------------------------------------------------------------------------------------------- snapshots


@pytest.fixture
def driver_history(svc, driver_token, lots, clock):
    """The driver's bookings in every state: parked now, upcoming, and yesterday's done, no-show and cancelled."""
    central = lots["Central Station P1"]
    b1 = slot_named(svc, driver_token, central, "B1")
    b3 = slot_named(svc, driver_token, central, "B3")
    t0 = clock.now
    clock.now = t0 - timedelta(days=1)  # Thursday 09:00
    done = svc.create_booking(driver_token, b3.id, clock.now, clock.now + timedelta(hours=2))
    svc.check_in(driver_token, done.id)
    clock.advance(hours=2, minutes=20)
    svc.check_out(driver_token, done.id)  # 20 minutes late: an overstay
    svc.create_booking(driver_token, b3.id, t0 - timedelta(hours=19), t0 - timedelta(hours=18))  # a no-show
    gone = svc.create_booking(driver_token, b1.id, t0 - timedelta(hours=16), t0 - timedelta(hours=15))
    svc.cancel_booking(driver_token, gone.id)
    clock.now = t0
    parked = svc.create_booking(driver_token, b1.id, t0, t0 + timedelta(hours=1))
    svc.check_in(driver_token, parked.id)
    return parked


class TestMyBookingsSnapshot:
    def test_list_80x24(self, snap_compare, app_factory, driver_token, driver_history):
        """Five bookings: B1 checked in (ends in 1h), A3 reserved (starts in 1h 15m), then yesterday's
        completed B3 (overstayed 20m), a no-show and a cancelled one. The detail panel at the bottom shows the
        highlighted B1 with its code and lot; the footer offers Check out and Extend, not Check in or Cancel."""

        async def run_before(pilot):
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)

    def test_list_120x40(self, snap_compare, app_factory, driver_token, driver_history):
        """The same five bookings with more room: nothing cut off, the detail panel under the table."""

        async def run_before(pilot):
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=(120, 40), run_before=run_before)

    def test_cancel_dialog(self, snap_compare, app_factory, driver_token):
        """A centred dialog asks "Cancel booking …?" with the slot and time, and the buttons Keep it (n) and
        Cancel booking (y); the footer shows y and n."""

        async def run_before(pilot):
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)

        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)

    def test_extend_conflict(self, snap_compare, app_factory, driver_token, now_booking, svc):
        """The extend dialog for B1 (ends 10:00) after typing +1h: a red message says the slot is booked by
        someone else from 10:00 and that is the latest it can be extended to."""
        chen = svc.login("chen", CHEN_PASSWORD)
        svc.create_booking(chen, now_booking.slot_id, now_booking.end_time, now_booking.end_time + timedelta(hours=1))

        async def run_before(pilot):
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)
            await pilot.press("e")
            await pilot.pause()
            await pilot.press(*"+1h", "enter")
            await pilot.pause()

        assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)
