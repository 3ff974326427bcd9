"""My bookings: active, upcoming and past bookings with check in, check out, cancel and extend."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from ...domain.errors import ParkingError, ValidationError
from ...domain.models import Booking, BookingStatus, Lot
from ..bookings_text import STATUS_LABELS, local, order_bookings, status_text, timing, zone_of
from ..commands import Command
from ..shell import ParkingModal, ParkingScreen, Place
from .. import timefmt
from ..timefmt import span
from ..words import plural
from ..widgets.confirm import ConfirmModal
from ..widgets.live import Poller, follow_store, updated_label
from ..widgets.tables import cursor_row_key


# --------------------------------------------------------------------------------------- time parsing

_PLUS_RE = re.compile(r"\+\s*(\d{1,4})\s*(m|min|mins|minutes|h|hr|hrs|hours)?", re.IGNORECASE)
_HM_RE = re.compile(r"(\d{1,2})[:.h]?(\d{2})")
_FULL_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2})[:.h]?(\d{2})")


def parse_new_end(text: str, current_end: datetime, zone: str | None = None) -> datetime:
    """Read a new end time typed by a person.

    ``+30`` / ``+30m`` / ``+2h`` add to the current end; ``14:30`` is that time on the current end's day (the next
    day when that is not later); ``2030-06-15 14:30`` is absolute. On ``zone``'s clock (the lot's).
    """
    raw = text.strip()
    if not raw:
        raise ValidationError("Type a new end time, like 14:30 or +30m.", field="end_time")
    m = _PLUS_RE.fullmatch(raw)
    if m:
        amount = int(m.group(1))
        unit = (m.group(2) or "m").lower()
        delta = timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount)
        return current_end + delta
    m = _FULL_RE.fullmatch(raw)
    if m:
        try:
            day = date.fromisoformat(m.group(1))
            at = time(int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise ValidationError("That is not a valid date and time.", field="end_time") from None
        return timefmt.combine(day, at, zone)
    m = _HM_RE.fullmatch(raw)
    if m:
        try:
            at = time(int(m.group(1)), int(m.group(2)))
        except ValueError:
            raise ValidationError("That is not a valid time (00:00–23:59).", field="end_time") from None
        end_local = local(current_end, zone)
        value = timefmt.combine(end_local.date(), at, zone)
        if value <= current_end:
            value = timefmt.combine(end_local.date() + timedelta(days=1), at, zone)
        return value
    raise ValidationError(
        "Type a time like 14:30, 2030-06-15 14:30, or an amount like +30m or +2h.", field="end_time"
    )


# ----------------------------------------------------------------------------------------- extend modal


class ExtendModal(ParkingModal["Booking | None"]):
    """Pick a new end for a live booking; the service re-checks it and a conflict is shown here."""

    DEFAULT_CSS = """
    ExtendModal {
        align: center middle;
    }
    ExtendModal > #extend-box {
        width: 64;
        max-width: 100%;
        height: auto;
        padding: 0 1;
        border: thick $primary;
        background: $panel;
    }
    ExtendModal #extend-title {
        text-style: bold;
        width: 100%;
    }
    ExtendModal #extend-presets {
        height: auto;
        margin: 1 0 0 0;
    }
    ExtendModal #extend-presets Button {
        min-width: 10;
        margin-right: 1;
    }
    ExtendModal #extend-input {
        margin-top: 1;
    }
    ExtendModal #extend-error {
        color: $error;
        width: 100%;
        height: auto;
    }
    ExtendModal #extend-hint {
        color: $text-muted;
        width: 100%;
    }
    """

    BINDINGS = [Binding("escape", "close", "Back", id="extend.back")]

    PRESETS = (("+15 min", 15), ("+30 min", 30), ("+1 h", 60), ("+2 h", 120))

    def __init__(self, booking: Booking, zone: str | None = None) -> None:
        super().__init__()
        self.booking = booking
        #: The booking's lot's zone: the end is shown and typed on its clock.
        self.zone = zone

    def compose(self) -> ComposeResult:
        b = self.booking
        with Vertical(id="extend-box"):
            yield Label(
                Text(
                    f"Extend {b.confirmation_code} · slot {b.slot_number} · ends {local(b.end_time, self.zone):%H:%M}"
                ),
                id="extend-title",
            )
            with Horizontal(id="extend-presets"):
                for label, minutes in self.PRESETS:
                    yield Button(label, id=f"extend-plus-{minutes}", compact=True)
            yield Input(placeholder="New end: 14:30, +45m, 2030-06-15 14:30", id="extend-input")
            yield Static("", id="extend-error")
            yield Static("Enter extends · Escape goes back", id="extend-hint")

    def on_mount(self) -> None:
        self.query_one("#extend-input", Input).focus()

    @on(Button.Pressed)
    def _preset(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("extend-plus-"):
            minutes = int(event.button.id.rsplit("-", 1)[1])
            self.try_extend(self.booking.end_time + timedelta(minutes=minutes))

    @on(Input.Submitted, "#extend-input")
    def _typed(self, event: Input.Submitted) -> None:
        try:
            new_end = parse_new_end(event.value, self.booking.end_time, self.zone)
        except ParkingError as error:
            self.show_error(str(error))
            return
        self.try_extend(new_end)

    def show_error(self, message: str) -> None:
        self.query_one("#extend-error", Static).update(Text(message))

    def try_extend(self, new_end: datetime) -> None:
        svc, token, booking_id = self.app.svc, self.app.session, self.booking.id
        self.call(
            lambda: svc.extend_booking(token, booking_id, new_end),
            then=self.dismiss,
            inline=lambda error: self.show_error(str(error)),
            group="extend",
            exclusive=True,
        )

    def action_close(self) -> None:
        self.dismiss(None)


# ----------------------------------------------------------------------------------------- the screen


class MyBookingsScreen(ParkingScreen[None]):
    """The signed-in driver's bookings, newest activity first, with what can be done to each."""

    PLACE = Place.MY_BOOKINGS

    TITLE = "My bookings"
    HELP_TEXT = (
        "Your bookings: the car that is parked first, then upcoming reservations, then past ones. "
        "Check in when you arrive (from 15 minutes before the start), check out when you leave. "
        "A reservation nobody checks in within the grace period becomes a no-show and the slot is released."
    )
    HELP_KEYS = [("↑ ↓", "move between bookings")]

    DEFAULT_CSS = """
    MyBookingsScreen #bookings-table {
        height: 1fr;
    }
    MyBookingsScreen #bookings-empty {
        height: 1fr;
        padding: 1 2;
        color: $text-muted;
        display: none;
    }
    MyBookingsScreen.-empty #bookings-empty {
        display: block;
    }
    MyBookingsScreen.-empty #bookings-table {
        display: none;
    }
    MyBookingsScreen #booking-detail {
        height: 3;
        padding: 0 1;
        background: $panel;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="bookings.back"),
        Binding("i", "check_in", "Check in", id="bookings.check_in"),
        Binding("o", "check_out", "Check out", id="bookings.check_out"),
        Binding("e", "extend", "Extend", id="bookings.extend"),
        Binding("c", "cancel_booking", "Cancel", id="bookings.cancel"),
        Binding("r", "reload", "Refresh", show=False, id="bookings.refresh"),
    ]

    def __init__(self, name: str | None = None, id: str | None = "my-bookings", classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.bookings: dict[int, Booking] = {}
        self.lots: dict[int, Lot] = {}
        self.poller: Poller[bool] | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        table: DataTable = DataTable(id="bookings-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(
            "You have no bookings yet. Press Escape, pick a lot and a free slot to book one.",
            id="bookings-empty",
        )
        yield Static("", id="booking-detail")
        yield Static("", id="bookings-updated", classes="updated-line")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Code", key="code")
        table.add_column("Status", key="status")
        table.add_column("Slot", key="slot")
        table.add_column("When", key="window")
        table.add_column("", key="timing")
        self.reload()
        table.focus()
        self.poller = follow_store(self, lambda: self.reload(quiet=True), name="bookings-poll")

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()

    def on_screen_resume(self) -> None:
        self.reload()

    # -------------------------------------------------------------------------------------- data

    def reload(self, *, quiet: bool = False) -> None:
        """Fetch the bookings again and redraw, keeping the cursor on the same booking."""
        svc, token = self.app.svc, self.app.session

        def job() -> tuple[list[Booking], dict[int, Lot]]:
            return svc.my_bookings(token), {lot.id: lot for lot in svc.list_lots(token)}

        # Quiet (a poll): a domain error is left for the next look; an ended session or storage still show.
        self.call(
            job, then=self._show, inline=(lambda _error: None) if quiet else None, group="my-bookings", exclusive=True
        )

    def _show(self, loaded: tuple[list[Booking], dict[int, Lot]]) -> None:
        app = self.app
        bookings, lots = loaded
        self.lots = lots
        ordered = order_bookings(bookings)
        self.bookings = {b.id: b for b in ordered}
        table = self.query_one(DataTable)
        selected = self.selected
        now = app.svc.now()
        table.clear()
        for b in ordered:
            table.add_row(
                Text(b.confirmation_code),
                status_text(self.app, b.status),
                Text(b.slot_number + (f" (was {b.moved_from})" if b.moved_from else "") if b.slot_number else "?"),
                Text(span(b.start_time, b.end_time, now, zone_of(lots.get(b.lot_id)))),
                Text(timing(b, now, lots.get(b.lot_id))),
                key=str(b.id),
            )
        self.set_class(not ordered, "-empty")
        count = len(ordered)
        live = sum(1 for b in ordered if b.is_live)
        self.query_one("#bookings-updated", Static).update(
            Text(f"{plural(count, 'booking')}, {live} active or upcoming · {updated_label(app.svc)} · r refreshes")
        )
        if selected is not None and selected.id in self.bookings:
            table.move_cursor(row=table.get_row_index(str(selected.id)), animate=False)
        self.show_detail()
        self.refresh_bindings()

    def zone_of(self, b: Booking) -> str | None:
        """The zone of the booking's lot: its times are on that lot's clock."""
        return zone_of(self.lots.get(b.lot_id))

    @property
    def selected(self) -> Booking | None:
        key = cursor_row_key(self.query_one(DataTable))
        return None if key is None else self.bookings.get(int(key))

    def show_detail(self) -> None:
        detail = self.query_one("#booking-detail", Static)
        b = self.selected
        if b is None:
            detail.update("")
            return
        lot = self.lots.get(b.lot_id)
        where = f"{lot.name}, {lot.location}" if lot else f"lot {b.lot_id}"
        moved = f" (moved from {b.moved_from}: same code, same time)" if b.moved_from and b.is_live else ""
        plate = f"  ·  {b.plate}" if b.plate else ""
        lines = [
            f"{b.confirmation_code}  ·  slot {b.slot_number}{moved}{plate}  ·  {where}",
            f"{span(b.start_time, b.end_time, self.app.svc.now(), zone_of(lot))}  ·  {STATUS_LABELS[b.status]}"
            f"  ·  {timing(b, self.app.svc.now(), lot)}",
        ]
        hint = self._hint(b, lot)
        if hint:
            lines.append(hint)
        detail.update(Text("\n".join(lines)))

    def _hint(self, b: Booking, lot: Lot | None) -> str:
        if b.attention and b.status is BookingStatus.RESERVED:
            return f"Attention: {b.attention}. See the attendant."
        if b.attention and b.status is BookingStatus.CANCELLED:
            return f"Cancelled by the lot: {b.attention}."
        if b.status is BookingStatus.RESERVED:
            early = lot.policy.early_checkin if lot else timedelta(minutes=15)
            opens = b.start_time - early
            if self.app.svc.now() < opens:
                return f"Check-in opens at {local(opens, zone_of(lot)):%H:%M}. Show the code at the barrier."
            return "Press i when you arrive to check in."
        if b.status is BookingStatus.CHECKED_IN:
            return "Press o when you leave; e extends the booking."
        return ""

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_detail()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the actions that make sense for the highlighted booking."""
        wanted = {
            "check_in": (BookingStatus.RESERVED,),
            "check_out": (BookingStatus.CHECKED_IN,),
            "cancel_booking": (BookingStatus.RESERVED,),
            "extend": (BookingStatus.RESERVED, BookingStatus.CHECKED_IN),
        }.get(action)
        if wanted is None:
            return True
        if not self.is_mounted:
            return False
        b = self.selected
        return b is not None and b.status in wanted

    # ----------------------------------------------------------------------------------- actions

    def _act(self, action: str, booking: Booking, done: str) -> None:
        """Run ``svc.<action>(token, booking.id)``; say ``done`` and show the bookings again."""
        fn, token = getattr(self.app.svc, action), self.app.session
        self.call(
            lambda: fn(token, booking.id),
            then=lambda result: self.notify(done.format(b=result), markup=False),
            always=self.reload,
            group="booking-action",
        )

    def action_check_in(self) -> None:
        b = self.selected
        if b is not None:
            self._act("check_in", b, "Checked in at slot {b.slot_number}. Enjoy your stay.")

    def action_check_out(self) -> None:
        b = self.selected
        if b is not None:
            self._act("check_out", b, "Checked out of slot {b.slot_number}. Thank you.")

    def action_cancel_booking(self) -> None:
        b = self.selected
        if b is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._act("cancel_booking", b, "Booking {b.confirmation_code} cancelled.")

        self.app.push_screen(
            ConfirmModal(
                f"Cancel booking {b.confirmation_code}?",
                f"Slot {b.slot_number}, {span(b.start_time, b.end_time, self.app.svc.now(), self.zone_of(b))}. "
                "The slot is released for others.",
                yes="Cancel booking",
                no="Keep it",
            ),
            answered,
        )

    def action_extend(self) -> None:
        b = self.selected
        if b is None:
            return

        def extended(result: Booking | None) -> None:
            if result is not None:
                self.notify(
                    f"Booking {result.confirmation_code} now ends at "
                    f"{local(result.end_time, self.zone_of(result)):%H:%M}.",
                    markup=False,
                )
            self.reload()

        self.app.push_screen(ExtendModal(b, self.zone_of(b)), extended)

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.dismiss()

    def has_unsaved_input(self) -> bool:
        return False

    def palette_commands(self):
        b = self.selected
        if b is None:
            return
        for action, name in (
            ("check_in", "Check in"),
            ("check_out", "Check out"),
            ("extend", "Extend"),
            ("cancel_booking", "Cancel"),
        ):
            if self.check_action(action, ()):
                yield Command(
                    f"{name} {b.confirmation_code}",
                    f"Slot {b.slot_number}, {span(b.start_time, b.end_time, self.app.svc.now(), self.zone_of(b))}",
                    getattr(self, f"action_{action}"),
                )
        yield Command("Refresh my bookings", "Load your bookings again", self.action_reload)
