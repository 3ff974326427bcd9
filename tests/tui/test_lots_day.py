"""The lot's day in the TUI: edit and resize lots, retire slots, a mark that says what moves before it is set,
My bookings showing a moved slot or an attention line, changing the password, the lot's own clock.

Demo data at Friday 27 Nov 2026 09:00 (Europe/Berlin): the driver holds Riverside Garage A3 (10:15-11:15).
"""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Input, Select, Static

from parking_tui.tui.screens.admin_lots import LotsPane
from parking_tui.tui.screens.my_bookings import MyBookingsScreen
from parking_tui.tui.screens.profile import PasswordModal, ProfileScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen
from parking_tui.tui.widgets.confirm import ConfirmModal

from .conftest import PASSWORDS
from .test_admin import go_tab, open_admin, type_into

SIZE = (80, 24)
SIZES = [(80, 24), (120, 40)]

from .helpers import settle


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def drivers_booking(svc, token):
    return next(b for b in svc.my_bookings(token) if b.is_live)


async def open_map(pilot, lot_id: int, slot_number: str) -> SlotMapScreen:
    await settle(pilot)
    pilot.app.push_screen(SlotMapScreen(lot_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SlotMapScreen)
    slot = next(s for s in screen.grid.slots if s.slot_number == slot_number)
    screen.grid.select_slot_id(slot.id)
    await settle(pilot)
    return screen


async def choose_lot_to_edit(pilot, screen, lot_id: int) -> LotsPane:
    await go_tab(pilot, screen, "3")
    pane = screen.query_one(LotsPane)
    pane.query_one("#edit-lot", Select).value = lot_id
    await pilot.pause()
    await pilot.pause()
    return pane


class TestEditLots:
    async def test_a_lot_is_renamed_and_resized(self, app_factory, admin_token, svc, lots):
        riverside = lots["Riverside Garage"]
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            pane = await choose_lot_to_edit(pilot, screen, riverside.id)
            assert pane.query_one("#edit-capacity", Input).value == str(riverside.total_slots)
            assert pane.query_one("#edit-zone", Input).value == riverside.time_zone
            await type_into(pilot, pane, "#edit-capacity", "45")
            await type_into(pilot, pane, "#edit-name", "Riverside West")
            await pilot.press("enter")
            await pilot.pause()
            lot = svc.get_lot(admin_token, riverside.id)
            assert (lot.name, lot.total_slots) == ("Riverside West", 45)
            await type_into(pilot, pane, "#edit-capacity", "3")
            await pilot.press("enter")
            await pilot.pause()
            assert "retire slots before lowering" in text_of(pane, "#edit-capacity-error")
            assert svc.get_lot(admin_token, riverside.id).total_slots == 45

    async def test_retiring_a_slot_shows_what_moves_first(self, app_factory, admin_token, driver_token, svc, lots):
        riverside = lots["Riverside Garage"]
        booking = drivers_booking(svc, driver_token)
        assert booking.slot_number == "A3"
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            pane = await choose_lot_to_edit(pilot, screen, riverside.id)
            await type_into(pilot, pane, "#retire-number", "a3")
            await pilot.press("enter")
            await pilot.pause()
            dialog = pilot.app.screen
            assert isinstance(dialog, ConfirmModal)
            assert f"Moves {booking.confirmation_code}" in dialog.detail and "to A1, same code" in dialog.detail
            assert svc.get_booking(driver_token, booking.id).slot_number == "A3"  # nothing happened yet
            await pilot.press("y")
            await settle(pilot)
            moved = svc.get_booking(driver_token, booking.id)
            assert (moved.slot_number, moved.moved_from) == ("A1", "A3")
            a3 = next(s for s in svc.lot_slots(admin_token, riverside.id) if s.slot_number == "A3")
            assert a3.retired


class TestDeskByPlate:
    async def test_the_desk_checks_a_car_in_by_its_plate(self, app_factory, admin_token, driver_token, svc, lots, clock):
        a4 = next(s for s in svc.lot_slots(admin_token, lots["Riverside Garage"].id) if s.slot_number == "A4")
        booking = svc.create_booking(driver_token, a4.id, clock.now, clock.now + timedelta(hours=1), plate="B DR 1")
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await pilot.press(*"b-dr 1", "enter")
            await pilot.pause()
            assert "Checked in" in text_of(screen, "#desk-result") and "BDR1" in text_of(screen, "#desk-result")
        assert svc.get_booking(admin_token, booking.id).status == "checked_in"


class TestAccounts:
    async def test_an_admin_disables_an_account_from_users(self, app_factory, admin_token, driver_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "5")
            table = screen.query_one("#users-table", DataTable)
            table.focus()
            table.move_cursor(row=table.get_row_index("driver"))
            await pilot.pause()
            await pilot.press("d")
            await pilot.pause()
            dialog = pilot.app.screen
            assert isinstance(dialog, ConfirmModal) and dialog.question == "Disable driver?"
            await pilot.press("y")
            await settle(pilot)
            assert "disabled" in " ".join(str(c) for c in table.get_row("driver"))
        assert not next(u for u in svc.list_users(admin_token) if u.username == "driver").active
        try:
            svc.profile(driver_token)
        except Exception as error:
            assert "disabled" in str(error) or "sign in again" in str(error)
        else:
            raise AssertionError("the driver's session should have ended")


class TestMarkDialog:
    async def test_the_mark_dialog_names_the_moves_and_nothing_moves_before_yes(
        self, app_factory, admin_token, driver_token, svc, lots
    ):
        booking = drivers_booking(svc, driver_token)
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await open_map(pilot, lots["Riverside Garage"].id, "A3")
            await pilot.press("o")  # a walk-in parks in A3
            await settle(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, ConfirmModal)
            assert "Mark slot A3" in dialog.question
            assert f"Moves {booking.confirmation_code}" in dialog.detail
            await pilot.press("n")
            await settle(pilot)
            assert svc.get_booking(driver_token, booking.id).slot_number == "A3"
            await pilot.press("o")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert svc.get_booking(driver_token, booking.id).slot_number == "A1"
            assert any("1 booking(s) moved" in n.message for n in pilot.app._notifications)

    async def test_a_mark_that_moves_nothing_is_set_at_once(self, app_factory, admin_token, svc, lots):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_map(pilot, lots["Riverside Garage"].id, "A7")
            await pilot.press("o")
            await settle(pilot)
            assert pilot.app.screen is screen
            a7 = next(s for s in svc.lot_slots(admin_token, lots["Riverside Garage"].id) if s.slot_number == "A7")
            assert a7.admin_status == "occupied" and a7.mark_until is not None
            assert "Marked occupied (walk-in) until" in text_of(screen, "#slot-details")

    async def test_a_lot_in_another_zone_says_so(self, app_factory, admin_token, svc):
        lot = svc.create_lot(admin_token, "Harbour NYC", "Pier 17", 2, time_zone="America/New_York")
        svc.add_slots(admin_token, lot.id, ["H1", "H2"])
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_map(pilot, lot.id, "H1")
            assert "times in America/New_York" in text_of(screen, "#map-when")
            assert "03:00" in text_of(screen, "#map-when")  # 09:00 in Berlin is 03:00 in New York


class TestMyBookingsDay:
    async def test_a_moved_booking_says_where_it_went(self, app_factory, admin_token, driver_token, svc, lots):
        booking = drivers_booking(svc, driver_token)
        slot = next(s for s in svc.lot_slots(admin_token, lots["Riverside Garage"].id) if s.slot_number == "A3")
        svc.mark_slot(admin_token, slot.id, "out_of_service")
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, MyBookingsScreen)
            table = screen.query_one(DataTable)
            row = " ".join(str(c) for c in table.get_row(str(booking.id)))
            assert "A1 (was A3)" in row
            assert "moved from A3: same code, same time" in text_of(screen, "#booking-detail")

    async def test_a_blocked_booking_has_an_attention_line(self, app_factory, admin_token, driver_token, svc, clock):
        lot = svc.create_lot(admin_token, "Tiny Yard", "Back Lane", 1)
        (slot,) = svc.add_slots(admin_token, lot.id, ["T1"])
        start = clock.now + timedelta(hours=3)
        booking = svc.create_booking(driver_token, slot.id, start, start + timedelta(hours=1), plate="B PK 42")
        mark = svc.mark_slot(admin_token, slot.id, "out_of_service", reason="barrier broken")
        assert [b.id for b in mark.unplaced] == [booking.id]
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
            screen = pilot.app.screen
            screen.query_one(DataTable).move_cursor(row=screen.query_one(DataTable).get_row_index(str(booking.id)))
            await pilot.pause()
            detail = text_of(screen, "#booking-detail")
            assert "Attention: T1 out of service, no free slot to move to. See the attendant" in detail
            assert "BPK42" in detail
            assert "Show the code at the barrier" not in detail


class TestPassword:
    async def test_change_password_from_the_profile(self, app_factory, driver_token, svc):
        other = svc.login("driver", PASSWORDS["driver"])
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ProfileScreen)
            await pilot.press("ctrl+o")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, PasswordModal)
            await pilot.press(*"wrong-pass", "enter", *"new-secret-9", "enter", *"new-secret-9", "enter")
            await pilot.pause()
            assert "current password is wrong" in text_of(modal, "#password-old-error")
            modal.query_one("#password-old", Input).value = PASSWORDS["driver"]
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ProfileScreen)
        assert svc.login("driver", "new-secret-9")
        assert svc.profile(driver_token).user == "driver"  # this session stays
        try:
            svc.profile(other)
        except Exception as error:  # the other session ended
            assert "sign in again" in str(error)
        else:
            raise AssertionError("the other session should have ended")


# ------------------------------------------------------------------------------------------- snapshots


def test_lots_edit_form_80x24(snap_compare, app_factory, admin_token, lots):
    """Admin, Lots tab scrolled to 'Edit a lot': Riverside Garage chosen, its name, location, capacity 40 and
    time zone Europe/Berlin filled in, '40 slots in use; capacity 40.' under them."""

    async def run_before(pilot):
        screen = await open_admin(pilot)
        pane = await choose_lot_to_edit(pilot, screen, lots["Riverside Garage"].id)
        pane.query_one("#edit-name", Input).focus()
        await settle(pilot)

    assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run_before)


def test_lots_edit_form_120x40(snap_compare, app_factory, admin_token, lots):
    """The same at 120x40: every form of the Lots tab down to 'Retire a slot' is visible."""

    async def run_before(pilot):
        screen = await open_admin(pilot)
        pane = await choose_lot_to_edit(pilot, screen, lots["Riverside Garage"].id)
        pane.query_one("#edit-name", Input).focus()
        await settle(pilot)

    assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=run_before)


def test_mark_dialog_80x24(snap_compare, app_factory, admin_token, lots):
    """The mark dialog over the Riverside map: 'Mark slot A3 of Riverside Garage occupied ...?' and 'Moves
    <code> (today 10:15–11:15) to A1, same code.'"""

    async def run_before(pilot):
        await open_map(pilot, lots["Riverside Garage"].id, "A3")
        await pilot.press("o")
        await settle(pilot)

    assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run_before)


def test_mark_dialog_120x40(snap_compare, app_factory, admin_token, lots):
    """The same dialog at 120x40."""

    async def run_before(pilot):
        await open_map(pilot, lots["Riverside Garage"].id, "A3")
        await pilot.press("o")
        await settle(pilot)

    assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=run_before)


def _attention_app(app_factory, svc, admin_token, driver_token, clock):
    lot = svc.create_lot(admin_token, "Tiny Yard", "Back Lane", 1)
    (slot,) = svc.add_slots(admin_token, lot.id, ["T1"])
    start = clock.now + timedelta(hours=3)
    svc.create_booking(driver_token, slot.id, start, start + timedelta(hours=1), plate="B PK 42")
    svc.mark_slot(admin_token, slot.id, "out_of_service")
    return app_factory(driver_token)


async def _bookings_on_tiny(pilot):
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)  # My bookings has loaded its rows before the cursor moves
    await pilot.press("down")
    await settle(pilot)


def test_my_bookings_attention_80x24(snap_compare, app_factory, svc, admin_token, driver_token, clock):
    """My bookings with the cursor on the Tiny Yard booking: the line under the table reads 'Attention: T1 out
    of service, no free slot to move to. See the attendant; ...' and its timing column 'see the attendant'."""
    app = _attention_app(app_factory, svc, admin_token, driver_token, clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_bookings_on_tiny)


def test_my_bookings_attention_120x40(snap_compare, app_factory, svc, admin_token, driver_token, clock):
    """The same at 120x40."""
    app = _attention_app(app_factory, svc, admin_token, driver_token, clock)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_bookings_on_tiny)


def test_password_dialog_80x24(snap_compare, app_factory, driver_token):
    """Profile with the password dialog open: Current / New / New again, a note that other sessions end."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)

    assert snap_compare(app_factory(driver_token), terminal_size=(80, 24), run_before=run_before)
