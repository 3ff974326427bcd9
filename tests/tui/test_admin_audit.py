"""Admin: the audit tab - browse and filter the audit log; user-controlled text is shown inert."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, Static

from parking_tui.tui.screens.admin import AdminScreen
from parking_tui.tui.screens.admin_audit import AuditPane, AuditRecordModal

from .helpers import settle

SIZE = (100, 30)


def rows(screen) -> list[list[str]]:
    table = screen.query_one("#audit-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_audit(pilot) -> AdminScreen:
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AdminScreen)
    screen.set_focus(None)
    await pilot.pause()
    await pilot.press("6")
    await settle(pilot)  # the tab has loaded its rows
    assert screen.active_tab == "admin-audit"
    return screen


class TestAuditTab:
    async def test_filter_by_code_shows_the_booking_from_creation_to_check_in(self, app_factory, admin_token, svc, lots, clock):
        driver = svc.login("driver", "driver1234")
        lot = lots["Central Station P1"]
        slot = next(s for s in svc.available_slots(driver, lot.id, clock.now, clock.now.replace(hour=9)) if s.slot_number == "A1")
        booking = svc.create_booking(driver, slot.id, clock.now, clock.now.replace(hour=9))
        svc.check_in(admin_token, booking.id)
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_audit(pilot)
            everything = rows(screen)
            assert len(everything) > 5  # the demo data's history, newest first
            code_field = screen.query_one("#audit-code", Input)
            code_field.focus()
            await pilot.press(*booking.confirmation_code.lower().replace("-", ""))
            await pilot.pause()
            shown = rows(screen)
            assert [r[2] for r in shown] == ["check_in", "create_booking"]
            assert [r[1] for r in shown] == ["admin", "driver"]
            assert all(booking.confirmation_code in r[3] for r in shown)
            assert "reserved → checked_in" in shown[0][4]
            assert "2 events" in str(screen.query_one("#audit-note", Static).render())
            screen.query_one("#audit-op", Select).value = "check_in"
            await pilot.pause()
            assert [r[2] for r in rows(screen)] == ["check_in"]

    async def test_a_half_typed_code_says_how_a_code_looks(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_audit(pilot)
            before = rows(screen)
            screen.query_one("#audit-code", Input).value = "K7Q"
            await pilot.pause()
            assert "looks like" in str(screen.query_one("#audit-note", Static).render())
            assert rows(screen) == before  # the table stays as it was

    async def test_user_controlled_text_is_inert(self, app_factory, admin_token, svc):
        svc.terminal = "kiosk\x1b]0;pwned\x07\x1b[2J"  # e.g. a hostile PARKING_TUI_TERMINAL
        svc.create_lot(admin_token, "[bold red]Evil[/] lot", "Main [link=x]St[/link]", 3)
        pane_text = None
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_audit(pilot)
            screen.query_one("#audit-op", Select).value = "create_lot"
            await pilot.pause()
            table = screen.query_one("#audit-table", DataTable)
            cells = table.get_row_at(0)
            assert all(not c.spans for c in cells)  # no style came from the data
            detail = screen.query_one("#audit-detail", Static).render()
            pane_text = " ".join(c.plain for c in cells) + " " + str(detail)
            assert isinstance(screen.query_one(AuditPane), AuditPane)
        assert "[bold red]Evil[/]" in pane_text
        assert "kiosk\\x1b]0;pwned\\x07\\x1b[2J" in pane_text and "\x1b" not in pane_text


class TestWholeRecord:
    async def test_enter_opens_the_whole_record_and_the_line_below_follows_the_cursor(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            pane = screen.query_one(AuditPane)
            table = screen.query_one("#audit-table", DataTable)
            table.focus()
            await pilot.pause()
            first = pane.selected_event
            assert first is not None
            detail = str(screen.query_one("#audit-detail", Static).render())
            assert first["op"] in detail and str(first.get("terminal", "")) in detail
            await pilot.press("down")
            await pilot.pause()
            assert str(screen.query_one("#audit-detail", Static).render()) != detail
            await pilot.press("enter")
            await pilot.pause()
            modal = pilot.app.screen
            assert isinstance(modal, AuditRecordModal)
            body = str(modal.query_one("#record-body", Static).render())
            for key, value in pane.selected_event.items():
                assert key in body
            await pilot.press("escape")
            await pilot.pause()
            assert pilot.app.screen is screen

    async def test_the_operation_filter_is_a_list(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=(80, 24)) as pilot:
            screen = await open_audit(pilot)
            select = screen.query_one("#audit-op", Select)
            offered = {str(value) for _label, value in select._options if value is not Select.NULL}
            seen = {row[2] for row in rows(screen)}
            assert seen <= offered
            assert {"check_in", "check_out", "cancel", "create_booking"} <= offered


# ---------------------------------------------------------------------------------------------- snapshots


async def audit_then(pilot, *keys: str) -> None:
    await open_audit(pilot)
    pilot.app.screen.query_one("#audit-table", DataTable).focus()
    await settle(pilot)
    if keys:
        await pilot.press(*keys)
        await settle(pilot)


class TestAuditSnapshot:
    def test_audit_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 6 at 80 columns: time, user, operation, code, change - nothing cut that matters, because the
        line under the table holds the highlighted event whole (terminal included, wrapped); the operation
        filter is a list ("any operation")."""
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=audit_then)

    def test_audit_120x40(self, snap_compare, app_factory, admin_token):
        """The same at 120x40."""
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=audit_then)

    def test_audit_record_80x24(self, snap_compare, app_factory, admin_token):
        """The dialog Enter opens: every field of the record on its own line, long values wrapped, not cut.
        (A fixed record: the log's own carry random transaction ids.)"""
        record = {
            "at": "2026-11-27T08:00:00+00:00", "user": "admin", "terminal": "entrance-1", "op": "set_slot_status",
            "slot_id": 54, "lot_id": 2, "slot_number": "A8", "before": "available", "after": "out_of_service",
            "tx": "0123456789abcdef", "note": "barrier arm broken; the contractor comes on Monday between 08:00 "
            "and 10:00, keep the slot closed until then and tell drivers at the desk",
        }

        async def run(pilot):
            await audit_then(pilot)
            pilot.app.push_screen(AuditRecordModal(record))
            await pilot.pause()

        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=run)
