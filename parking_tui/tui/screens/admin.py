"""Admin: check drivers in and out by code, all reservations, lots and slots, occupancy, CSV export, users.

Only for admins; the service checks the role again on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from ...domain import rules
from ...domain.errors import ParkingError, ValidationError
from ...domain.models import Booking, BookingStatus, Lot, LotHours, LotSummary, User
from ..shell import ParkingScreen, Place
from ..widgets.confirm import ConfirmModal
from ..widgets.day_chart import DayChart
from ..widgets.tables import cursor_row_key
from .admin_export import SUMMARY_FIELDS, ExportModal, default_export_path, reservation_rows, summary_rows
from .admin_audit import AuditPane
from .admin_lots import LotsPane
from ..commands import Command
from ..timefmt import span
from ..widgets.live import Poller, follow_store, updated_label
from ..words import plural
from ..bookings_text import STATUS_LABELS, local, status_text, timing, zone_of

if TYPE_CHECKING:
    from pathlib import Path

TABS = (
    ("admin-desk", "1 Check in/out"),
    ("admin-reservations", "2 Reservations"),
    ("admin-lots", "3 Lots"),
    ("admin-summary", "4 Summary"),
    ("admin-users", "5 Users"),
    ("admin-audit", "6 Audit"),
)


def parse_day(text: str, today: date) -> date | None:
    """``2030-06-15``, ``today``, ``tomorrow``, ``yesterday`` or blank (no date filter)."""
    raw = text.strip().lower()
    if not raw:
        return None
    named = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if raw in named:
        return today + timedelta(days=named[raw])
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("Type a date like 2030-06-15, or today / tomorrow.", field="date") from None
    if not 1900 <= day.year <= 9998:  # the day after, in any zone, must still be a date
        raise ValidationError("Type a date between the years 1900 and 9998.", field="date")
    return day


def matches_search(b: Booking, query: str) -> bool:
    """Case-insensitive match on confirmation code (with or without the dash), username or plate (spaces and
    '-' ignored: ``ab12 cde`` finds ``AB12CDE``)."""
    q = query.strip().casefold()
    if not q:
        return True
    code = b.confirmation_code.casefold()
    bare = q.replace("-", "").replace(" ", "")
    return (
        q in code
        or q.replace("-", "") in code.replace("-", "")
        or q in b.username.casefold()
        or bool(bare and bare in b.plate.casefold())
    )


class AdminScreen(ParkingScreen[None]):
    """The lot manager's desk. Tabs 1-6; the check-in/out desk first because it is used most."""

    PLACE = Place.ADMIN

    TITLE = "Admin"
    HELP_TEXT = (
        "1 Check in/out: type a driver's confirmation code and press Enter - a reservation is checked in, a "
        "parked car checked out. 2 Reservations: filter by lot, status, date (today, 2030-06-15) and search by "
        "code or username. 3 Lots: create a lot with its slots generated in rows (A-C x 10 gives A1-C10), add a "
        "slot. 4 Summary: occupancy per lot now and today. 5 Users: grant or withdraw the admin role. "
        "6 Audit: who did what, "
        "when and from which terminal; filter by user, operation or booking code. "
        "Mark slots occupied / available / out of service from a lot's map."
    )
    HELP_KEYS = [
        ("1-6", "switch tab (when not typing in a field)"),
        ("Tab", "next field or table; on the tab bar, ← → switch tabs"),
        ("Enter", "in a code field: check in or out; in a form: submit"),
    ]

    DEFAULT_CSS = """
    AdminScreen TabbedContent {
        height: 1fr;
    }
    AdminScreen TabPane {
        padding: 0;
    }
    AdminScreen .pane-note {
        color: $text-muted;
        padding: 0 1;
        height: auto;
    }
    /* check in / out desk */
    AdminScreen #desk-form {
        height: auto;
        padding: 1 1 0 1;
    }
    AdminScreen #desk-form Label {
        padding: 1 1 0 0;
    }
    AdminScreen #desk-code {
        width: 24;
    }
    AdminScreen #desk-result {
        height: auto;
        min-height: 3;
        margin: 0 1;
        padding: 0 1;
        border: round $panel;
    }
    AdminScreen #desk-result.-ok {
        border: round $success;
    }
    AdminScreen #desk-result.-error {
        border: round $error;
        color: $error;
    }
    AdminScreen #desk-result.-warning {
        border: round $warning;
    }
    AdminScreen #desk-log {
        height: 1fr;
        margin: 0 1;
    }
    /* reservations */
    AdminScreen #res-filters {
        height: 1;
        margin: 1 1 0 1;
    }
    AdminScreen #res-filters Select {
        width: 1fr;
        margin-right: 1;
    }
    AdminScreen #res-filters Input {
        width: 1fr;
        margin-right: 1;
    }
    AdminScreen #users-search {
        margin: 1 1 0 1;
    }
    AdminScreen #res-filter-error {
        color: $error;
        padding: 0 1;
        height: auto;
        display: none;
    }
    AdminScreen #res-filter-error.-shown {
        display: block;
    }
    AdminScreen #res-table, AdminScreen #users-table {
        height: 1fr;
        margin: 1 1 0 1;
    }
    AdminScreen #summary-table {
        height: auto;
        max-height: 8;
        margin: 1 1 1 1;
    }
    AdminScreen #summary-chart {
        height: 1fr;
    }
    AdminScreen #res-count, AdminScreen #summary-note, AdminScreen #users-note {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="admin.back"),
        Binding("1", "tab('admin-desk')", "Desk", show=False, id="admin.tab1"),
        Binding("2", "tab('admin-reservations')", "Reservations", show=False, id="admin.tab2"),
        Binding("3", "tab('admin-lots')", "Lots", show=False, id="admin.tab3"),
        Binding("4", "tab('admin-summary')", "Summary", show=False, id="admin.tab4"),
        Binding("5", "tab('admin-users')", "Users", show=False, id="admin.tab5"),
        Binding("6", "tab('admin-audit')", "Audit", show=False, id="admin.tab6"),
        Binding("i", "check_in", "Check in", id="admin.check_in"),
        Binding("o", "check_out", "Check out", id="admin.check_out"),
        Binding("c", "cancel_booking", "Cancel", id="admin.cancel"),
        Binding("g", "toggle_admin", "Admin role", id="admin.toggle_admin", tooltip="Grant or withdraw the admin role"),
        Binding("d", "toggle_active", "Disable/enable", id="admin.toggle_active"),
        Binding("x", "export", "Export CSV", id="admin.export"),
        Binding(
            "w",
            "chart_view",
            "Day/week",
            id="admin.chart_view",
            tooltip="Summary: today hour by hour, or the last 7 days",
        ),
        Binding("r", "reload", "Refresh", show=False, id="admin.refresh"),
        Binding("slash", "search", "Search", key_display="/", show=False, id="admin.search", tooltip="Search this tab"),
    ]

    def __init__(self, name: str | None = None, id: str | None = "admin", classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.lots: dict[int, Lot] = {}
        self.reservations: dict[int, Booking] = {}
        self.shown: list[Booking] = []
        self.users: dict[str, User] = {}
        self.desk_count = 0
        self.poller: Poller[bool] | None = None
        self.hours: dict[int, LotHours] = {}

    # ------------------------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        with TabbedContent(initial="admin-desk", id="admin-tabs"):
            with TabPane(TABS[0][1], id=TABS[0][0]):
                with Horizontal(id="desk-form"):
                    yield Label("Code or plate")
                    yield Input(placeholder="K7QX-2M9P", id="desk-code", max_length=16)
                yield Static(
                    "Type the driver's code (or the car's plate) and press Enter: a reservation is checked in, a "
                    "parked car checked out.",
                    id="desk-result",
                )
                yield DataTable(id="desk-log", cursor_type="row", zebra_stripes=True)
            with TabPane(TABS[1][1], id=TABS[1][0]):
                with Horizontal(id="res-filters"):
                    yield Select([], prompt="All lots", id="res-lot", compact=True)
                    yield Select(
                        [(STATUS_LABELS[s], s.value) for s in BookingStatus],
                        prompt="Any status",
                        id="res-status",
                        compact=True,
                    )
                    yield Input(placeholder="any date", id="res-date", compact=True)
                    yield Input(placeholder="code, user, plate", id="res-search", compact=True)
                yield Static("", id="res-filter-error")
                yield DataTable(id="res-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="res-count")
            with TabPane(TABS[2][1], id=TABS[2][0]):
                yield LotsPane(id="lots-pane")
            with TabPane(TABS[3][1], id=TABS[3][0]):
                yield DataTable(id="summary-table", cursor_type="row", zebra_stripes=True)
                yield DayChart(id="summary-chart")
                yield Static("", id="summary-note")
            with TabPane(TABS[4][1], id=TABS[4][0]):
                yield Input(placeholder="/ search: username, e-mail or phone", id="users-search", compact=True)
                yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
                yield Static("g or Enter: grant or withdraw admin · d: disable or enable the account", id="users-note")
            with TabPane(TABS[5][1], id=TABS[5][0]):
                yield AuditPane(id="audit-pane")
        yield Static("", id="admin-updated", classes="updated-line")
        yield Footer()

    def on_mount(self) -> None:
        if not self.app.is_admin:
            # Not reachable from the UI for a driver; refuse anyway if something pushes it.
            self.notify("Only a lot manager (admin) can open the admin screen.", severity="error", markup=False)
            self.dismiss()
            return
        log = self.query_one("#desk-log", DataTable)
        log.add_column("Time", key="time")
        log.add_column("Action", key="action")
        log.add_column("Code", key="code")
        log.add_column("User", key="user")
        log.add_column("Slot", key="slot")
        res = self.query_one("#res-table", DataTable)
        res.add_column("Code", key="code")
        res.add_column("User", key="user")
        res.add_column("Slot", key="slot")
        res.add_column("When", key="window")
        res.add_column("Status", key="status")
        summary = self.query_one("#summary-table", DataTable)
        for key, label in (
            ("lot", "Lot"),
            ("free", "Free"),
            ("reserved", "Resvd"),
            ("occupied", "Occup"),
            ("oos", "Out"),
            ("today", "Today"),
            ("noshow", "No-show"),
            ("overstay", "Over"),
            ("over_now", "Over now"),
        ):
            summary.add_column(label, key=key)
        users = self.query_one("#users-table", DataTable)
        users.add_column("Username", key="username")
        users.add_column("E-mail", key="email")
        users.add_column("Phone", key="phone")
        users.add_column("Role", key="role")
        users.add_column("Account", key="account")
        self.reload_lots()
        self.query_one("#desk-code", Input).focus()
        self.stamp_updated()
        self.poller = follow_store(self, self.live_reload, name="admin-poll")

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()

    def on_screen_resume(self) -> None:
        self.reload_active()

    def live_reload(self) -> None:
        """Something changed in the store (any process): show it on the open tab."""
        self.reload_lots()
        self.reload_active()

    def stamp_updated(self) -> None:
        self.query_one("#admin-updated", Static).update(Text(f"{updated_label(self.app.svc)} · r refreshes"))

    # -------------------------------------------------------------------------------------- tabs

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.reload_active()
        self.focus_active()
        self.refresh_bindings()

    def focus_active(self) -> None:
        tab = self.active_tab
        if tab == "admin-desk":
            self.query_one("#desk-code", Input).focus()
        elif tab == "admin-reservations":
            self.query_one("#res-table", DataTable).focus()
        elif tab == "admin-lots":
            self.query_one(LotsPane).focus_first()
        elif tab == "admin-summary":
            self.query_one("#summary-table", DataTable).focus()
        elif tab == "admin-users":
            self.query_one("#users-table", DataTable).focus()
        elif tab == "admin-audit":
            self.query_one(AuditPane).focus_first()

    def reload_active(self) -> None:
        tab = self.active_tab
        self.stamp_updated()
        if tab == "admin-reservations":
            self.reload_reservations()
        elif tab == "admin-lots":
            self.query_one(LotsPane).reload()
        elif tab == "admin-summary":
            self.reload_summary()
        elif tab == "admin-users":
            self.reload_users()
        elif tab == "admin-audit":
            self.query_one(AuditPane).reload()

    def action_reload(self) -> None:
        self.reload_lots()
        self.reload_active()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Footer keys follow the tab: booking actions on Reservations, the role toggle on Users."""
        if not self.is_mounted:
            return True
        try:
            tab = self.active_tab
        except Exception:
            return True
        focused = self.focused
        if action in ("check_in", "check_out", "cancel_booking"):
            if tab != "admin-reservations":
                return False
            if focused is not None and focused.id != "res-table":
                return None  # shown, greyed: a letter typed while a filter has the focus never acts
            b = self.selected_reservation
            wanted = {
                "check_in": (BookingStatus.RESERVED,),
                "check_out": (BookingStatus.CHECKED_IN,),
                "cancel_booking": (BookingStatus.RESERVED,),
            }[action]
            return b is not None and b.status in wanted
        if action == "chart_view":
            return tab == "admin-summary"
        if action in ("toggle_admin", "toggle_active"):
            if tab != "admin-users":
                return False
            return None if focused is not None and focused.id != "users-table" else True
        if action == "export":
            if tab not in ("admin-reservations", "admin-summary"):
                return False
            return None if isinstance(focused, (Input, Select)) else True
        return True

    # ------------------------------------------------------------------------------------ shared

    def reload_lots(self) -> None:
        svc, token = self.app.svc, self.app.session
        self.call(lambda: svc.list_lots(token), then=self._show_lots, group="admin-lots", exclusive=True)

    def _show_lots(self, lots: list[Lot]) -> None:
        self.lots = {lot.id: lot for lot in lots}
        select = self.query_one("#res-lot", Select)
        keep = select.value
        select.set_options((Text(lot.name), lot.id) for lot in lots)
        if keep in self.lots:
            select.value = keep

    def zone_of(self, b: Booking) -> str | None:
        """The zone of the booking's lot: its times are on that lot's clock."""
        return zone_of(self.lots.get(b.lot_id))

    def slot_label(self, b: Booking) -> str:
        lot = self.lots.get(b.lot_id)
        return f"{b.slot_number} {lot.name}" if lot else b.slot_number

    @on(LotsPane.LotsChanged)
    def _lots_changed(self) -> None:
        self.reload_lots()

    # ---------------------------------------------------------------------------- check in / out desk

    @on(Input.Submitted, "#desk-code")
    def _desk_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.desk_process(event.value)

    def desk_process(self, code: str) -> None:
        """Find the booking by code and do what the driver needs: check in a reservation, check out a car."""
        svc, token = self.app.svc, self.app.session

        def job() -> tuple[Booking, bool]:
            booking = self.desk_find(svc, token, code)
            if booking.status is BookingStatus.RESERVED:
                return svc.check_in(token, booking.id), True
            if booking.status is BookingStatus.CHECKED_IN:
                return booking, False
            raise ParkingError(
                f"Booking {booking.confirmation_code} ({booking.username}) is "
                f"{STATUS_LABELS[booking.status]}; nothing to do."
            )

        def found(outcome: tuple[Booking, bool]) -> None:
            booking, checked_in = outcome
            if checked_in:
                self.desk_done("Checked in", booking)
            else:
                self.desk_already_in(booking)

        self.call(job, then=found, inline=self.desk_failed, group="desk", exclusive=True)

    def desk_failed(self, error: ParkingError) -> None:
        result = self.query_one("#desk-result", Static)
        result.update(Text(str(error)))
        result.set_classes("-error")
        self.query_one("#desk-code", Input).action_select_all()

    @staticmethod
    def desk_find(svc, token: str | None, text: str) -> Booking:
        """The booking for a confirmation code, or for a plate: the one live booking of that car (runs in
        the desk's worker)."""
        try:
            return svc.find_booking(token, text)
        except ValidationError:
            try:
                plate = rules.normalize_plate(text)
            except ValidationError:
                plate = ""
            if not plate:
                raise ParkingError("Type a confirmation code like K7QX-2M9P, or the car's plate.") from None
        live = [b for b in svc.list_reservations(token, q=plate) if b.is_live and b.plate == plate]
        if not live:
            raise ParkingError(
                f"No reservation or parked car with the plate {plate}; a confirmation code looks like K7QX-2M9P."
            )
        parked = [b for b in live if b.status is BookingStatus.CHECKED_IN]
        if parked:
            return parked[0]
        if len(live) > 1:
            codes = ", ".join(b.confirmation_code for b in live[:4])
            raise ParkingError(f"{plate} has {len(live)} reservations ({codes}); type the code instead.")
        return live[0]

    def desk_already_in(self, booking: Booking) -> None:
        """A second scan of a parked car's code: say so, and offer the check-out as its own choice."""
        result = self.query_one("#desk-result", Static)
        result.update(
            Text(
                f"Already checked in: {booking.confirmation_code} · {booking.username} · slot "
                f"{self.slot_label(booking)}\n"
                f"{span(booking.start_time, booking.end_time, self.app.svc.now(), self.zone_of(booking))}"
            )
        )
        result.set_classes("-warning")
        self.query_one("#desk-code", Input).action_select_all()

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            svc, token = self.app.svc, self.app.session
            self.call(
                lambda: svc.check_out(token, booking.id),
                then=lambda done: self.desk_done("Checked out", done),
                inline=self.desk_failed,
                group="desk",
            )

        self.app.push_screen(
            ConfirmModal(
                f"{booking.confirmation_code} ({booking.username}) is already checked in. Check out now?",
                f"Slot {self.slot_label(booking)}, "
                f"{span(booking.start_time, booking.end_time, self.app.svc.now(), self.zone_of(booking))}.",
                yes="Check out",
                no="Leave parked",
            ),
            answered,
        )

    def desk_done(self, verb: str, done: Booking) -> None:
        app = self.app
        result = self.query_one("#desk-result", Static)
        code_input = self.query_one("#desk-code", Input)
        plate = f" · {done.plate}" if done.plate else ""
        lines = [
            f"{verb}: {done.confirmation_code} · {done.username}{plate} · slot {self.slot_label(done)}",
            span(done.start_time, done.end_time, app.svc.now(), self.zone_of(done)),
        ]
        if verb == "Checked in" and done.moved_from:
            lines.append(f"Slot {done.moved_from} was blocked: send the car to {done.slot_number} (same code).")
        if verb == "Checked out" and done.is_overstay:
            lines.append(f"Overstay: left {int(done.overstay.total_seconds() // 60)} minutes after the end.")
        result.update(Text("\n".join(lines)))
        result.set_classes("-ok")
        self.desk_count += 1
        log = self.query_one("#desk-log", DataTable)
        log.add_row(
            Text(f"{local(app.svc.now(), self.zone_of(done)):%H:%M}"),
            Text(verb.removeprefix("Checked ").lower()),
            Text(done.confirmation_code),
            Text(done.username),
            Text(self.slot_label(done)),
            key=f"log-{self.desk_count}",
        )
        log.move_cursor(row=log.row_count - 1, animate=False)
        code_input.value = ""

    # ------------------------------------------------------------------------------ reservations

    def reservation_filters(self) -> tuple[int | None, str | None, date | None, str]:
        lot = self.query_one("#res-lot", Select).value
        status = self.query_one("#res-status", Select).value
        day = parse_day(self.query_one("#res-date", Input).value, local(self.app.svc.now()).date())
        return (
            None if lot is Select.NULL else int(str(lot)),
            None if status is Select.NULL else str(status),
            day,
            self.query_one("#res-search", Input).value,
        )

    def reload_reservations(self) -> None:
        error_line = self.query_one("#res-filter-error", Static)
        try:
            lot_id, status, day, search = self.reservation_filters()
        except ParkingError as error:
            error_line.update(Text(str(error)))
            error_line.add_class("-shown")
            return
        error_line.update("")
        error_line.remove_class("-shown")
        since = None
        day_end = None
        if day is not None:
            since = datetime.combine(day, datetime.min.time()).astimezone()
            day_end = datetime.combine(day + timedelta(days=1), datetime.min.time()).astimezone()
        svc, token = self.app.svc, self.app.session
        self.call(
            lambda: svc.list_reservations(token, lot_id=lot_id, status=status, since=since),
            then=lambda bookings: self._show_reservations(bookings, day_end, search),
            group="reservations",
            exclusive=True,
        )

    def _show_reservations(self, bookings: list[Booking], day_end: datetime | None, search: str) -> None:
        app = self.app
        if day_end is not None:
            bookings = [b for b in bookings if b.start_time < day_end]
        self.reservations = {b.id: b for b in bookings}
        shown = [b for b in bookings if matches_search(b, search)]
        self.shown = shown
        table = self.query_one("#res-table", DataTable)
        keep = self.selected_reservation
        table.clear()
        now = app.svc.now()
        for b in shown:
            table.add_row(
                Text(b.confirmation_code),
                Text(b.username),
                Text(self.slot_label(b)),
                Text(span(b.start_time, b.end_time, now, self.zone_of(b))),
                status_text(self.app, b.status),
                key=str(b.id),
            )
        if keep is not None and keep.id in {b.id for b in shown}:
            table.move_cursor(row=table.get_row_index(str(keep.id)), animate=False)
        self.show_reservation_line()
        self.refresh_bindings()

    def show_reservation_line(self) -> None:
        """The count, and what the highlighted booking's clock says (follows the cursor)."""
        total = len(self.reservations)
        shown = len(self.shown)
        count = f"{shown} of {plural(total, 'reservation')}" if shown != total else plural(total, "reservation")
        b = self.selected_reservation
        extra = f" · {b.confirmation_code}: {timing(b, self.app.svc.now(), self.lots.get(b.lot_id))}" if b else ""
        self.query_one("#res-count", Static).update(Text(count + extra))

    @property
    def selected_reservation(self) -> Booking | None:
        key = cursor_row_key(self.query_one("#res-table", DataTable))
        return None if key is None else self.reservations.get(int(key))

    @on(Select.Changed, "#res-lot, #res-status")
    def _filter_select(self) -> None:
        if self.is_mounted and self.active_tab == "admin-reservations":
            self.reload_reservations()

    @on(Input.Changed, "#res-date, #res-search")
    def _filter_input(self) -> None:
        if self.active_tab == "admin-reservations":
            self.reload_reservations()

    @on(Input.Submitted, "#res-date, #res-search")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#res-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#res-table")
    def _res_highlighted(self) -> None:
        self.show_reservation_line()
        self.refresh_bindings()

    def _booking_action(self, action: str, done: str) -> None:
        """Run ``svc.<action>(token, booking id)`` on the highlighted reservation; say ``done``; reload."""
        b = self.selected_reservation
        if b is None:
            return
        fn, token = getattr(self.app.svc, action), self.app.session
        self.call(
            lambda: fn(token, b.id),
            then=lambda result: self.notify(done.format(b=result), markup=False),
            always=self.reload_reservations,
            group="reservation-action",
        )

    def action_check_in(self) -> None:
        self._booking_action("check_in", "Checked in {b.confirmation_code} ({b.username}), slot {b.slot_number}.")

    def action_check_out(self) -> None:
        b = self.selected_reservation
        if b is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._booking_action("check_out", "Checked out {b.confirmation_code} ({b.username}).")

        self.app.push_screen(
            ConfirmModal(
                f"Check out {b.username}'s booking {b.confirmation_code}?",
                f"Slot {self.slot_label(b)}, {span(b.start_time, b.end_time, self.app.svc.now(), self.zone_of(b))}. "
                "The stay ends now and the slot is released.",
                yes="Check out",
                no="Not yet",
            ),
            answered,
        )

    def action_cancel_booking(self) -> None:
        b = self.selected_reservation
        if b is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._booking_action("cancel_booking", "Booking {b.confirmation_code} cancelled.")

        self.app.push_screen(
            ConfirmModal(
                f"Cancel {b.username}'s booking {b.confirmation_code}?",
                f"Slot {self.slot_label(b)}, {span(b.start_time, b.end_time, self.app.svc.now(), self.zone_of(b))}.",
                yes="Cancel booking",
                no="Keep it",
            ),
            answered,
        )

    # ---------------------------------------------------------------------------------- summary

    def reload_summary(self) -> None:
        svc, token = self.app.svc, self.app.session
        self.call(
            lambda: (svc.lot_summary(token), svc.occupancy_by_hour(token, days=7)),
            then=self._show_summary,
            group="summary",
            exclusive=True,
        )

    def _show_summary(self, loaded: tuple[list[LotSummary], list[LotHours]]) -> None:
        app = self.app
        summaries, hours = loaded
        table = self.query_one("#summary-table", DataTable)
        keep = cursor_row_key(table)
        table.clear()
        for s in summaries:
            table.add_row(
                Text(s.lot.name),
                s.free_now,
                s.reserved_now,
                s.occupied_now,
                s.out_of_service,
                s.bookings_today,
                s.no_shows_today,
                s.overstays_today,
                s.overstaying_now,
                key=str(s.lot.id),
            )
        if keep is not None and any(str(s.lot.id) == keep for s in summaries):
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.hours = {h.lot.id: h for h in hours}
        self.show_chart()
        now = local(app.svc.now())
        self.query_one("#summary-note", Static).update(
            Text(f"As of {now:%a %d %b %H:%M} · Today: bookings that start today · w: day / week")
        )

    def show_chart(self) -> None:
        """The chart follows the lot under the summary table's cursor."""
        key = cursor_row_key(self.query_one("#summary-table", DataTable))
        hours = self.hours.get(int(key)) if key is not None else None
        self.query_one(DayChart).show(hours, self.app.svc.now())

    @on(DataTable.RowHighlighted, "#summary-table")
    def _summary_highlighted(self) -> None:
        self.show_chart()

    def action_chart_view(self) -> None:
        self.query_one(DayChart).toggle()

    # ------------------------------------------------------------------------------------ export

    def action_export(self) -> None:
        """Export what the tab shows: the filtered reservations, or the occupancy summary."""
        stamp = f"{local(self.app.svc.now()):%Y%m%d-%H%M}"
        folder = self.app.export_dir
        if self.active_tab == "admin-summary":
            svc, token = self.app.svc, self.app.session
            self.call(
                lambda: svc.lot_summary(token),
                then=lambda summaries: self._export(
                    ExportModal(
                        summary_rows(summaries),
                        "occupancy per lot",
                        default_export_path(folder, f"summary-{stamp}.csv"),
                        noun="lot",
                        fields=SUMMARY_FIELDS,
                    ),
                    "lot",
                ),
                group="export",
            )
        else:
            self._export(
                ExportModal(
                    reservation_rows(self.shown, self.lots),
                    "as filtered",
                    default_export_path(folder, f"reservations-{stamp}.csv"),
                ),
                "reservation",
            )

    def _export(self, modal: ExportModal, noun: str) -> None:
        def written(result: tuple[Path, int] | None) -> None:
            if result is not None:
                path, count = result
                self.notify(f"Wrote {plural(count, noun)} to {path}", title="Exported", markup=False, timeout=10)

        self.app.push_screen(modal, written)

    # ------------------------------------------------------------------------------------- users

    def reload_users(self) -> None:
        svc, token = self.app.svc, self.app.session
        self.call(lambda: svc.list_users(token), then=self._show_users, group="users", exclusive=True)

    def _show_users(self, users: list[User]) -> None:
        query = self.query_one("#users-search", Input).value.strip().casefold()
        if query:
            users = [u for u in users if query in f"{u.username} {u.email} {u.phone_number}".casefold()]
        self.users = {u.username: u for u in users}
        table = self.query_one("#users-table", DataTable)
        keep = self.selected_user
        table.clear()
        for u in users:
            table.add_row(
                Text(u.username),
                Text(u.email),
                Text(u.phone_number),
                Text("admin", style="bold") if u.is_admin else Text("driver"),
                Text("active") if u.active else Text("disabled", style="bold"),
                key=u.username,
            )
        if keep is not None and keep.username in self.users:
            table.move_cursor(row=table.get_row_index(keep.username), animate=False)

    @on(Input.Changed, "#users-search")
    def _users_search(self, event: Input.Changed) -> None:
        event.stop()
        self.reload_users()

    @on(Input.Submitted, "#users-search")
    def _users_search_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#users-table", DataTable).focus()

    def action_search(self) -> None:
        """``/``: to the search field of the tab (code or user; username; the audit's user)."""
        target = {
            "admin-desk": "#desk-code",
            "admin-reservations": "#res-search",
            "admin-users": "#users-search",
            "admin-audit": "#audit-user",
        }.get(self.active_tab)
        if target:
            self.query_one(target, Input).focus()

    @property
    def selected_user(self) -> User | None:
        key = cursor_row_key(self.query_one("#users-table", DataTable))
        return None if key is None else self.users.get(key)

    @on(DataTable.RowSelected, "#users-table")
    def _user_selected(self) -> None:
        self.action_toggle_admin()

    def action_toggle_admin(self) -> None:
        user = self.selected_user
        if user is None:
            return
        grant = not user.is_admin
        me = self.app.profile.username if self.app.profile is not None else None
        if not grant and user.username == me:
            # The service refuses this too; say so before asking anything.
            self.notify("You cannot remove your own admin role; another admin can.", severity="warning", markup=False)
            return
        question = (
            f"Make {user.username} an admin (lot manager)?"
            if grant
            else f"Withdraw the admin role from {user.username}?"
        )
        svc, token = self.app.svc, self.app.session
        self._change_user(
            ConfirmModal(question, yes="Grant" if grant else "Withdraw", no="Keep as is"),
            lambda: svc.set_admin(token, user.username, grant),
            lambda u: f"{u.username} is now {'an admin' if u.is_admin else 'a driver'}.",
        )

    def action_toggle_active(self) -> None:
        user = self.selected_user
        if user is None:
            return
        enable = not user.active
        me = self.app.profile.username if self.app.profile is not None else None
        if not enable and user.username == me:
            self.notify("You cannot disable your own account.", severity="warning", markup=False)
            return
        svc, token = self.app.svc, self.app.session
        self._change_user(
            ConfirmModal(
                f"Enable {user.username} again?" if enable else f"Disable {user.username}?",
                "" if enable else "They cannot sign in, and their open sessions end. Their bookings stay.",
                yes="Enable" if enable else "Disable",
                no="Keep as is",
            ),
            lambda: svc.set_user_active(token, user.username, enable),
            lambda u: f"{u.username} is {'enabled' if u.active else 'disabled'}.",
        )

    def _change_user(self, ask: ConfirmModal, job: Callable[[], Any], done: Callable[[Any], str]) -> None:
        """Ask first; on yes run ``job`` through the seam, say ``done(user)`` and show the users again."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.call(
                    job,
                    then=lambda result: self.notify(done(result), markup=False),
                    always=self.reload_users,
                    group="user-action",
                )

        self.app.push_screen(ask, answered)

    # -------------------------------------------------------------------------------------- back

    def action_back(self) -> None:
        self.dismiss()

    def has_unsaved_input(self) -> bool:
        """Half-filled lot or slot forms would be lost."""
        if not self.is_mounted:
            return False
        return any(
            i.value.strip() for i in self.query_one(LotsPane).query(Input) if not (i.id or "").startswith("edit-")
        )

    def palette_commands(self):
        yield Command("Check in/out by code", "Type a confirmation code, Enter", lambda: self.action_tab("admin-desk"))
        yield Command(
            "All reservations", "Filter by lot, status, date; search", lambda: self.action_tab("admin-reservations")
        )
        yield Command(
            "Create lot / add slot",
            "A new lot with rows of slots, or one more slot",
            lambda: self.action_tab("admin-lots"),
        )
        yield Command(
            "Occupancy summary",
            "Free, reserved, occupied, no-shows, overstays per lot",
            lambda: self.action_tab("admin-summary"),
        )
        yield Command("Users and roles", "Grant or withdraw the admin role", lambda: self.action_tab("admin-users"))
        yield Command(
            "Audit log",
            "Who did what, when, from where; filter by user, operation, code",
            lambda: self.action_tab("admin-audit"),
        )
        if self.active_tab == "admin-reservations":
            yield Command(
                "Export reservations as CSV", "The reservations as filtered, to a file you name", self.action_export
            )
        elif self.active_tab == "admin-summary":
            yield Command("Export the summary as CSV", "Occupancy per lot, to a file you name", self.action_export)
