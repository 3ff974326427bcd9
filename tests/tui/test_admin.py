"""Admin: check-in desk by code, reservations with filters, lots and slots, occupancy, CSV export, roles.

Demo data at Friday 27 Nov 2026 09:00 (Europe/Berlin): alice is parked in Central A2 (09:00-11:00), bruno holds
Central A5 (09:00-12:00), chen Central B2 later today, the driver Riverside A3 (10:15-11:15).
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from datetime import timedelta

from textual.command import CommandPalette
from textual.widgets import DataTable, Input, OptionList, Select, Static, TabbedContent

from parking_tui.domain.models import BookingStatus
from parking_tui.tui.screens.admin import AdminScreen, matches_search, parse_day
from parking_tui.tui.screens.admin_export import ExportModal
from parking_tui.tui.screens.admin_lots import generate_slot_numbers
from parking_tui.tui.widgets.confirm import ConfirmModal

SIZE = (80, 24)

from .helpers import settle


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen, selector: str) -> list[str]:
    table = screen.query_one(selector, DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def open_admin(pilot) -> AdminScreen:
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AdminScreen)
    return screen


async def go_tab(pilot, screen: AdminScreen, number: str) -> None:
    # Digits switch tabs when the focus is not in a text field: leave the field first (Tab to the table).
    screen.set_focus(None)
    await pilot.pause()
    await pilot.press(number)
    await settle(pilot)


async def type_into(pilot, screen, selector: str, text: str) -> None:
    field = screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.pause()
    await pilot.press(*text)


def booking_of(svc, admin_token, username: str):
    return next(b for b in svc.list_reservations(admin_token, include_finished=False) if b.username == username)


class TestAccess:
    async def test_no_admin_key_in_the_footer_on_the_admin_screen(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            app = pilot.app
            await pilot.pause()
            shown = {k for k, b in app.screen.active_bindings.items() if b.binding.show and b.enabled}
            assert "f4" in shown  # on the lot browser: F4 opens the admin screen (letters filter there)
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")  # the focus on a table, not in a text field
            shown = {k for k, b in screen.active_bindings.items() if b.binding.show}
            assert "a" not in shown and {"escape", "question_mark"} <= shown  # Back and Help; b, p, a are in help
            await pilot.press("escape")
            await pilot.pause()
            assert "f4" in {k for k, b in app.screen.active_bindings.items() if b.binding.show}

    async def test_a_driver_cannot_reach_the_admin_screen(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            app = pilot.app
            await pilot.pause()
            await pilot.press("f4")  # the lot list's key for Admin: not there for a driver
            await pilot.pause()
            assert not isinstance(app.screen, AdminScreen)
            await pilot.press("f2")  # from another screen too, not only the home screen
            await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            assert not isinstance(app.screen, AdminScreen)
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"admin")
            await asyncio.sleep(0.3)
            await pilot.pause()
            hits = [str(o.prompt) for o in app.screen.query_one("CommandList", OptionList)._options]
            assert not any("Admin" in h or "reservations" in h.lower() for h in hits)

    async def test_the_screen_refuses_a_driver_even_if_pushed(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await pilot.pause()
            pilot.app.push_screen(AdminScreen())
            await pilot.pause()
            await pilot.pause()
            assert not isinstance(pilot.app.screen, AdminScreen)
            assert any("Only a lot manager" in n.message for n in pilot.app._notifications)

    async def test_escape_goes_back(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            await open_admin(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, AdminScreen)


class TestDesk:
    async def test_code_then_enter_checks_in_and_again_checks_out(self, app_factory, admin_token, svc):
        bruno = booking_of(svc, admin_token, "bruno")
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            assert screen.query_one("#desk-code", Input).has_focus, "the attendant types at once"
            # Lower case, no dash: as read aloud at the barrier.
            await pilot.press(*bruno.confirmation_code.lower().replace("-", ""), "enter")
            await pilot.pause()
            assert svc.get_booking(admin_token, bruno.id).status is BookingStatus.CHECKED_IN
            assert "Checked in" in text_of(screen, "#desk-result") and "bruno" in text_of(screen, "#desk-result")
            assert screen.query_one("#desk-code", Input).value == "", "ready for the next car"

            # The same code again: "already checked in", and the check-out is a separate choice.
            await pilot.press(*bruno.confirmation_code, "enter")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            assert "already checked in" in pilot.app.screen.question
            assert "Already checked in" in text_of(screen, "#desk-result")
            await pilot.press("n")
            await pilot.pause()
            assert svc.get_booking(admin_token, bruno.id).status is BookingStatus.CHECKED_IN
            await pilot.press(*bruno.confirmation_code, "enter")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert svc.get_booking(admin_token, bruno.id).status is BookingStatus.COMPLETED
            assert "Checked out" in text_of(screen, "#desk-result")
            log = rows(screen, "#desk-log")
            assert len(log) == 2 and "in" in log[0] and "out" in log[1]

    async def test_unknown_or_malformed_code_is_explained(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await pilot.press(*"ZZZZ-ZZZZ", "enter")
            await pilot.pause()
            assert "No booking with code ZZZZ-ZZZZ" in text_of(screen, "#desk-result")
            assert screen.query_one("#desk-result").has_class("-error")
            await type_into(pilot, screen, "#desk-code", "abc")
            await pilot.press("enter")
            await pilot.pause()
            assert "looks like" in text_of(screen, "#desk-result")

    async def test_a_finished_booking_has_nothing_to_do(self, app_factory, admin_token, svc):
        bruno = booking_of(svc, admin_token, "bruno")
        svc.cancel_booking(admin_token, bruno.id)
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await pilot.press(*bruno.confirmation_code, "enter")
            await pilot.pause()
            assert "cancelled; nothing to do" in text_of(screen, "#desk-result")


class TestReservations:
    async def test_every_reservation_with_search_and_filters(self, app_factory, admin_token, svc, lots):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            assert screen.query_one(TabbedContent).active == "admin-reservations"
            assert len(rows(screen, "#res-table")) == 4

            await type_into(pilot, screen, "#res-search", "chen")
            await pilot.pause()
            shown = rows(screen, "#res-table")
            assert len(shown) == 1 and "chen" in shown[0]
            code = booking_of(svc, admin_token, "bruno").confirmation_code
            await type_into(pilot, screen, "#res-search", code.lower().replace("-", ""))
            await pilot.pause()
            assert len(rows(screen, "#res-table")) == 1 and "bruno" in rows(screen, "#res-table")[0]
            await type_into(pilot, screen, "#res-search", "")

            screen.query_one("#res-lot", Select).value = lots["Riverside Garage"].id
            await pilot.pause()
            assert [r.split()[1] for r in rows(screen, "#res-table")] == ["driver"]
            screen.query_one("#res-lot", Select).clear()
            screen.query_one("#res-status", Select).value = "checked_in"
            await pilot.pause()
            assert [r.split()[1] for r in rows(screen, "#res-table")] == ["alice"]
            screen.query_one("#res-status", Select).clear()
            await pilot.pause()

            await type_into(pilot, screen, "#res-date", "tomorrow")
            await pilot.pause()
            assert rows(screen, "#res-table") == []
            await type_into(pilot, screen, "#res-date", "2026-11-27")
            await pilot.pause()
            assert len(rows(screen, "#res-table")) == 4
            await type_into(pilot, screen, "#res-date", "27th")
            await pilot.pause()
            assert "Type a date like" in text_of(screen, "#res-filter-error")

    async def test_cancel_from_the_list_asks_first(self, app_factory, admin_token, svc):
        chen = booking_of(svc, admin_token, "chen")
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            table = screen.query_one("#res-table", DataTable)
            table.move_cursor(row=table.get_row_index(str(chen.id)))
            table.focus()
            await pilot.pause()
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            await pilot.press("y")
            await pilot.pause()
            assert svc.get_booking(admin_token, chen.id).status is BookingStatus.CANCELLED
            assert "cancelled" in rows(screen, "#res-table")[table.get_row_index(str(chen.id))]

    async def test_check_out_asks_first_naming_the_booking(self, app_factory, admin_token, svc):
        alice = booking_of(svc, admin_token, "alice")  # the one checked in
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            table = screen.query_one("#res-table", DataTable)
            table.move_cursor(row=table.get_row_index(str(alice.id)))
            table.focus()
            await pilot.pause()
            await pilot.press("o")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            assert alice.confirmation_code in pilot.app.screen.question and "alice" in pilot.app.screen.question
            await pilot.press("n")
            await pilot.pause()
            assert svc.get_booking(admin_token, alice.id).status is BookingStatus.CHECKED_IN
            await pilot.press("o")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert svc.get_booking(admin_token, alice.id).status is BookingStatus.COMPLETED

    async def test_letters_in_a_filter_never_act_on_a_booking(self, app_factory, admin_token, svc):
        alice = booking_of(svc, admin_token, "alice")
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            table = screen.query_one("#res-table", DataTable)
            table.move_cursor(row=table.get_row_index(str(alice.id)))
            for selector in ("#res-lot", "#res-status", "#res-search"):
                screen.query_one(selector).focus()
                await pilot.pause()
                await pilot.press("o", "c", "i")
                await pilot.pause()
                assert not isinstance(pilot.app.screen, ConfirmModal), selector
                assert isinstance(pilot.app.screen, AdminScreen), selector
            assert svc.get_booking(admin_token, alice.id).status is BookingStatus.CHECKED_IN


class TestLots:
    async def test_create_a_lot_with_generated_rows_of_slots(self, app_factory, admin_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "3")
            assert screen.query_one("#lot-name", Input).has_focus
            await pilot.press(*"North Yard", "tab")
            await pilot.press(*"Hill Road 5", "tab", "tab")
            await pilot.press(*"A-C", "tab", *"10")
            await pilot.pause()
            assert "30 slots: A1–A10, B1–B10, C1–C10" in text_of(screen, "#lot-preview")
            await pilot.press("enter")
            await pilot.pause()
            lot = next(lot for lot in svc.list_lots(admin_token) if lot.name == "North Yard")
            assert lot.location == "Hill Road 5" and lot.total_slots == 30
            numbers = [s.slot_number for s in svc.lot_slots(admin_token, lot.id)]
            assert numbers == [f"{r}{i}" for r in "ABC" for i in range(1, 11)]
            assert screen.query_one("#lot-name", Input).value == ""

    async def test_errors_show_under_the_field(self, app_factory, admin_token, svc, lots):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "3")
            await type_into(pilot, screen, "#lot-name", "riverside garage")
            await type_into(pilot, screen, "#lot-location", "Elsewhere")
            await type_into(pilot, screen, "#lot-capacity", "5")
            await pilot.press("enter")
            await pilot.pause()
            assert "already exists" in text_of(screen, "#lot-name-error")
            await type_into(pilot, screen, "#lot-name", "Tiny")
            await type_into(pilot, screen, "#lot-rows", "A-B")
            await type_into(pilot, screen, "#lot-per_row", "3")
            await pilot.press("enter")
            await pilot.pause()
            assert "6 slots would be generated but the capacity is 5" in text_of(screen, "#lot-capacity-error")
            assert len(svc.list_lots(admin_token)) == len(lots)

    async def test_add_a_slot_to_a_lot(self, app_factory, admin_token, svc):
        lot = svc.create_lot(admin_token, "Side Street", "Side Street 1", 3)
        svc.add_slots(admin_token, lot.id, ["S1", "S2"])
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "3")
            await type_into(pilot, screen, "#slot-number", "s3")
            await pilot.press("enter")
            await pilot.pause()
            assert "Choose the lot first" in text_of(screen, "#slot-lot-error")
            screen.query_one("#slot-lot", Select).value = lot.id
            await type_into(pilot, screen, "#slot-number", "S3")
            await pilot.press("enter")
            await pilot.pause()
            assert [s.slot_number for s in svc.lot_slots(admin_token, lot.id)] == ["S1", "S2", "S3"]
            await type_into(pilot, screen, "#slot-number", "S4")
            await pilot.press("enter")
            await pilot.pause()
            assert "exceed its capacity" in text_of(screen, "#slot-number-error")

    def test_row_generator(self):
        assert generate_slot_numbers("A-B", "2") == ["A1", "A2", "B1", "B2"]
        assert generate_slot_numbers("a, c", "1") == ["A1", "C1"]
        assert generate_slot_numbers("", "") == []


class TestSummaryAndExport:
    async def test_occupancy_per_lot(self, app_factory, admin_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "4")
            table = screen.query_one("#summary-table", DataTable)
            by_lot = {str(table.get_row_at(i)[0]): table.get_row_at(i)[1:] for i in range(table.row_count)}
            # free, reserved, occupied, out of service, today, no-shows, overstays, overstaying now
            assert list(by_lot["Central Station P1"]) == [45, 1, 1, 1, 3, 0, 0, 0]
            assert list(by_lot["Riverside Garage"]) == [39, 0, 1, 0, 1, 0, 0, 0]

    async def test_export_writes_every_reservation(self, app_factory, admin_token, svc, tmp_path):
        target = tmp_path / "out.csv"
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            await pilot.press("x")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, ExportModal)
            await type_into(pilot, modal, "#export-input", str(target))
            await pilot.press("enter")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert pilot.app.screen is screen
            assert any(f"Wrote 4 reservations to {target}" in n.message for n in pilot.app._notifications)
        with open(target, newline="", encoding="utf-8") as fh:
            written = list(csv.DictReader(fh))
        expected = svc.list_reservations(admin_token)
        assert sorted(r["confirmation_code"] for r in written) == sorted(b.confirmation_code for b in expected)
        assert {r["username"] for r in written} == {"alice", "bruno", "chen", "driver"}
        assert written[0]["status"] in {s.value for s in BookingStatus}
        names = {lot.id: lot.name for lot in svc.list_lots(admin_token)}
        assert all(r["lot_name"] == names[int(r["lot_id"])] for r in written)

    async def test_export_from_summary_writes_the_summary(self, app_factory, admin_token, svc, tmp_path):
        app = app_factory(admin_token)
        app.export_dir = tmp_path / "exports"
        app.export_dir.mkdir()
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "4")
            await pilot.press("x")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, ExportModal)
            proposed = modal.query_one("#export-input", Input).value
            assert proposed == str(tmp_path / "exports" / "summary-20261127-0900.csv"), "a full path, in export_dir"
            await pilot.press("enter")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert any(f"Wrote 3 lots to {proposed}" in n.message for n in pilot.app._notifications)
        with open(proposed, newline="", encoding="utf-8") as fh:
            written = {r["lot_name"]: r for r in csv.DictReader(fh)}
        assert set(written) == {"Airport Short-Stay", "Central Station P1", "Riverside Garage"}
        central = written["Central Station P1"]
        assert (central["free_now"], central["reserved_now"], central["occupied_now"], central["out_of_service"]) == (
            "45", "1", "1", "1"
        )

    async def test_export_of_the_filtered_list(self, app_factory, admin_token, tmp_path):
        target = tmp_path / "chen.csv"
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "2")
            await type_into(pilot, screen, "#res-search", "chen")
            screen.query_one("#res-table", DataTable).focus()
            await pilot.pause()
            await pilot.press("x")
            await pilot.pause()
            await type_into(pilot, pilot.app.screen, "#export-input", str(target))
            await pilot.press("enter")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
        with open(target, newline="", encoding="utf-8") as fh:
            assert [r["username"] for r in csv.DictReader(fh)] == ["chen"]

    async def test_a_bad_path_is_a_message_not_a_traceback(self, app_factory, admin_token, tmp_path):
        folder = tmp_path / "exports"
        folder.mkdir()
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "4")
            await pilot.press("x")
            await pilot.pause()
            modal = pilot.app.screen
            await type_into(pilot, modal, "#export-input", str(folder / "no-such-dir" / "out.csv"))
            await pilot.press("enter")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert pilot.app.screen is modal
            assert "does not exist" in text_of(modal, "#export-error")
            await type_into(pilot, modal, "#export-input", str(folder))
            await pilot.press("enter")
            await pilot.pause()
            assert "is a folder" in text_of(modal, "#export-error")
            assert not list(folder.iterdir())

    async def test_an_existing_file_is_replaced_only_when_confirmed(self, app_factory, admin_token, tmp_path):
        target = tmp_path / "keep.csv"
        target.write_text("precious\n")
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "4")
            await pilot.press("x")
            await pilot.pause()
            await type_into(pilot, pilot.app.screen, "#export-input", str(target))
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            await pilot.press("n")
            await pilot.pause()
            assert target.read_text() == "precious\n"
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("y")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert target.read_text().startswith("lot_id,lot_name,")


class TestUsers:
    async def test_grant_and_withdraw_admin(self, app_factory, admin_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "5")
            table = screen.query_one("#users-table", DataTable)
            table.move_cursor(row=table.get_row_index("chen"))
            await pilot.pause()
            await pilot.press("g")
            await pilot.pause()
            assert isinstance(pilot.app.screen, ConfirmModal)
            await pilot.press("y")
            await pilot.pause()
            assert {u.username: u.is_admin for u in svc.list_users(admin_token)}["chen"] is True
            assert "admin" in rows(screen, "#users-table")[table.get_row_index("chen")]
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert {u.username: u.is_admin for u in svc.list_users(admin_token)}["chen"] is False

    async def test_own_role_cannot_be_withdrawn(self, app_factory, admin_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "5")
            table = screen.query_one("#users-table", DataTable)
            table.move_cursor(row=table.get_row_index("admin"))
            await pilot.press("g")
            await pilot.pause()
            # Refused before anything is asked.
            assert not isinstance(pilot.app.screen, ConfirmModal)
            assert any("cannot remove your own admin role" in n.message for n in pilot.app._notifications)
            assert {u.username: u.is_admin for u in svc.list_users(admin_token)}["admin"] is True


class TestSummaryChart:
    async def test_the_chart_follows_the_lot_and_d_switches_to_the_week(self, app_factory, admin_token, svc):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            await go_tab(pilot, screen, "4")
            table = screen.query_one("#summary-table", DataTable)
            table.focus()
            chart = screen.query_one("#summary-chart")
            for row in range(table.row_count):
                table.move_cursor(row=row)
                await pilot.pause()
                name = str(table.get_row_at(row)[0])
                assert str(chart.render()).startswith(name)
            expected = {h.lot.name: h for h in svc.occupancy_by_hour(admin_token, days=7)}
            table.move_cursor(row=1)
            await pilot.pause()
            central = expected["Central Station P1"]
            peak = max(o + r for o, r in zip(central.occupied[-24:], central.reserved[-24:]))
            assert f"peak {peak}/{central.capacity}" in str(chart.render())
            await pilot.press("w")
            await pilot.pause()
            week = str(chart.render())
            assert "last 7 days" in week and "Fri 27 Nov" in week


class TestHelpers:
    def test_parse_day(self):
        from datetime import date

        today = date(2026, 11, 27)
        assert parse_day("", today) is None
        assert parse_day("today", today) == today
        assert parse_day("Tomorrow", today) == today + timedelta(days=1)
        assert parse_day("2026-12-01", today) == date(2026, 12, 1)

    def test_search_matches_code_with_or_without_dash_and_username(self, svc, admin_token):
        b = booking_of(svc, admin_token, "bruno")
        assert matches_search(b, b.confirmation_code.replace("-", "").lower())
        assert matches_search(b, "BRU")
        assert not matches_search(b, "chen")


# ---------------------------------------------------------------------------------------------- snapshots


def admin_run(*steps):
    """A ``run_before`` that opens the admin screen, then runs each step (a tab digit or a coroutine fn)."""

    async def run_before(pilot):
        screen = await open_admin(pilot)
        for step in steps:
            if isinstance(step, str):
                await go_tab(pilot, screen, step)
            else:
                await step(pilot, screen)
        await settle(pilot)

    return run_before


async def check_in_bruno(pilot, screen):
    svc = pilot.app.svc._svc  # the service itself: this is the test, not the app, reading
    bruno = booking_of(svc, pilot.app.token, "bruno")
    await pilot.press(*bruno.confirmation_code, "enter")
    await pilot.pause()


class TestDeskSnapshot:
    def test_desk_after_a_check_in_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 1 "Check in/out": the code field empty and focused, a green-bordered box "Checked in: <code> ·
        bruno · slot A5 Central Station P1" with the time, and one row in the log below."""
        run = admin_run(check_in_bruno)
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run)

    def test_desk_120x40(self, snap_compare, app_factory, admin_token):
        """The desk at 120x40 with the prompt to type a code."""
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=admin_run())


class TestReservationsSnapshot:
    def test_reservations_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 2: the filters (All lots, Any status, date, code or user) on one line, then four reservations
        (alice checked in, bruno and driver reserved, chen later), and "4 reservations" under the table."""
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=admin_run("2"))

    def test_reservations_120x40(self, snap_compare, app_factory, admin_token):
        """The same list at 120x40, every column in full."""
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=admin_run("2"))


async def fill_lot_form(pilot, screen):
    await type_into(pilot, screen, "#lot-name", "North Yard")
    await type_into(pilot, screen, "#lot-location", "Hill Road 5")
    await type_into(pilot, screen, "#lot-rows", "A-C")
    await type_into(pilot, screen, "#lot-per_row", "10")


class TestLotsSnapshot:
    def test_new_lot_form_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 3: the New lot form filled in (North Yard, Hill Road 5, rows A-C, 10 per row) with the preview
        "30 slots: A1–A10, B1–B10, C1–C10", the Create lot button, and the Add a slot form below; all fits."""
        run = admin_run("3", fill_lot_form)
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run)

    def test_new_lot_form_120x40(self, snap_compare, app_factory, admin_token):
        """The empty lot forms at 120x40 with their placeholders."""
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=admin_run("3"))


async def on_central(pilot, screen):
    table = screen.query_one("#summary-table", DataTable)
    table.focus()
    table.move_cursor(row=1)
    await pilot.pause()


async def press_w(pilot, screen):
    await pilot.press("w")
    await pilot.pause()


class TestSummarySnapshot:
    def test_summary_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 4: one row per lot - Airport Short-Stay 32 free; Central Station P1 45 free, 1 reserved,
        1 occupied, 1 out of service, 3 today; Riverside Garage 39 free, 1 occupied, 1 today - and under it
        Central Station P1's day by the hour: alice parked from 09:00 (█), bruno's reservation held (▒),
        the axis marked at now (09:00), the legend in words."""
        run = admin_run("4", on_central)
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run)

    def test_summary_120x40(self, snap_compare, app_factory, admin_token):
        """The summary at 120x40, chart of Central Station P1."""
        run = admin_run("4", on_central)
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=run)

    def test_summary_week_80x24(self, snap_compare, app_factory, admin_token):
        """w: the last 7 days of Central Station P1, one row per day, hours shaded by the share of slots in
        use, with each day's no-shows and overstays counted at the right."""
        run = admin_run("4", on_central, press_w)
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run)

    def test_export_dialog(self, snap_compare, app_factory, admin_token):
        """x on the summary: a dialog "Export 3 lots (occupancy per lot) as CSV" with a full path proposed in the
        export folder (/srv/parking/exports/summary-20261127-0900.csv) and the hint that Enter writes it."""

        async def press_x(pilot, screen):
            await pilot.press("x")
            await pilot.pause()

        app = app_factory(admin_token)
        app.export_dir = Path("/srv/parking/exports")
        run = admin_run("4", press_x)
        assert snap_compare(app, terminal_size=(80, 24), run_before=run)


class TestUsersSnapshot:
    def test_users_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 5: the five users with e-mail, phone, role (admin in bold) and account (all active), and the hint
        that g or Enter grants or withdraws the admin role and d disables or enables the account."""
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=admin_run("5"))
