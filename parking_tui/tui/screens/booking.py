"""Book a slot (date, start, end) and see the confirmation code, large."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Static

from ...domain.errors import ParkingError
from ...domain.models import Booking, BookingStatus, Lot, Slot
from .. import timefmt
from ..commands import Command
from ..shell import ParkingScreen
from ..widgets.bigtext import BigText
from ..widgets.form import Field
from ..widgets.live import follow_store
from ..widgets.window_form import WindowForm

#: What became of a booking that no longer holds (the confirmation screen closes and says so).
STATUS_WORDS = {
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.COMPLETED: "checked out",
    BookingStatus.EXPIRED: "a no-show: it lapsed without a check-in",
}


class BookingScreen(ParkingScreen[None]):
    """The booking form for one slot."""

    CSS_PATH = "../booking.tcss"

    TITLE = "Book a slot"
    HELP_KEYS = [
        ("Tab", "next field or button"),
        ("Enter", "in a field: confirm the booking"),
    ]
    HELP_TEXT = "Dates: 2026-11-27, 27.11., 'today', 'tomorrow' or +2. An end before the start means the next day."
    BINDINGS = [
        Binding("ctrl+s", "confirm", "Confirm", tooltip="Reserve the slot for this time"),
        Binding("f1", "preset(1)", "1 h", show=False, tooltip="Make the booking 1 hour long"),
        Binding("f2", "preset(2)", "2 h", show=False, tooltip="Make the booking 2 hours long"),
        Binding("f4", "preset(4)", "4 h", show=False, tooltip="Make the booking 4 hours long"),
    ]

    def __init__(self, lot: Lot, slot: Slot, window: tuple[datetime, datetime]) -> None:
        super().__init__(id="booking")
        self.lot = lot
        self.slot = slot
        self.window = window
        self.busy = False

    def compose(self) -> ComposeResult:
        now = self.app.svc.now()
        yield Header(icon="P")
        with VerticalScroll(id="booking-scroll"):
            with Vertical(id="booking-box"):
                yield Static(Text.assemble(("Slot ", "bold"), (self.slot.slot_number, "bold")), id="booking-slot")
                yield Static(f"{self.lot.name} · {self.lot.location}", id="booking-lot", markup=False)
                yield Static(
                    f"At most {self.lot.policy.max_duration_hours} h, "
                    f"up to {self.lot.policy.max_advance_days} days ahead.",
                    classes="hint",
                )
                yield WindowForm(*self.window, now, zone=self.lot.time_zone, id="booking-form")
                yield Field("Plate", "plate", max_length=16, placeholder="optional: the car's plate, like AB12 CDE")
                with Horizontal(classes="buttons"):
                    yield Button("Confirm booking", id="confirm", variant="primary", compact=True)
                    yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.lot.name} · slot {self.slot.slot_number}"
        self.query_one("#start", Input).focus()

    def has_unsaved_input(self) -> bool:
        return self.query_one(WindowForm).is_dirty() or bool(self.query_one("#field-plate", Field).value.strip())

    def action_preset(self, hours: int) -> None:
        self.query_one(WindowForm).set_length(hours)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self, event) -> None:
        event.stop()
        self.action_confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.pop_screen()

    def action_confirm(self) -> None:
        if self.busy:
            return
        form = self.query_one(WindowForm)
        window = form.window()
        if window is None:
            return
        plate = self.query_one("#field-plate", Field)
        plate.set_error(None)
        self.busy = True
        self.query_one("#confirm", Button).disabled = True
        self._create(*window, plate.value)

    def _create(self, start: datetime, end: datetime, plate: str = "") -> None:
        svc, token, slot_id = self.app.svc, self.app.session, self.slot.id
        self.call(
            lambda: svc.create_booking(token, slot_id, start, end, plate=plate),
            then=self._booked,
            inline=self._failed,
            always=self._not_busy,
            group="booking",
            exclusive=True,
        )

    def _not_busy(self) -> None:
        self.busy = False
        self.query_one("#confirm", Button).disabled = False

    def _failed(self, error: ParkingError) -> None:
        if error.field == "plate":
            self.query_one("#field-plate", Field).set_error(str(error))
            return
        self.query_one(WindowForm).show_error(error)

    def _booked(self, booking: Booking) -> None:
        self.app.switch_screen(ConfirmationScreen(booking, self.lot))

    def palette_commands(self):
        yield Command("Confirm booking", "Reserve the slot for this time", self.action_confirm)
        for hours in (1, 2, 4):
            yield Command(
                f"Make it {hours} h", f"Set the end {hours} h after the start", lambda h=hours: self.action_preset(h)
            )


class ConfirmationScreen(ParkingScreen[None]):
    """Booked: the code in big letters, the slot, lot and times, and what to do on arrival."""

    CSS_PATH = "../booking.tcss"

    TITLE = "Booked"
    BINDINGS = [
        Binding("enter", "done", "Done", tooltip="Back to the map"),
        Binding("m", "my_bookings", "My bookings", show=False, tooltip="Open your bookings"),
    ]

    def __init__(self, booking: Booking, lot: Lot) -> None:
        super().__init__(id="confirmation")
        self.booking = booking
        self.lot = lot

    def compose(self) -> ComposeResult:
        b = self.booking
        now = self.app.svc.now()
        policy = self.lot.policy
        zone = self.lot.time_zone
        opens = b.start_time - timedelta(minutes=policy.early_checkin_minutes)
        held = b.start_time + timedelta(minutes=policy.grace_minutes)
        yield Header(icon="P")
        with VerticalScroll(id="confirm-scroll"):
            yield Static("Booked. Your confirmation code:", id="confirm-title")
            with Center():
                yield BigText(b.confirmation_code, id="confirm-code")
            yield Static(f"Code: {b.confirmation_code}", id="confirm-code-plain", markup=False)
            yield Static(
                Text.assemble(
                    ("Slot ", "bold"),
                    (b.slot_number or "?", "bold"),
                    f" in {self.lot.name} · {self.lot.location}\n",
                    (timefmt.span(b.start_time, b.end_time, now, zone), "bold"),
                    f"  ({timefmt.duration(b.end_time - b.start_time)})",
                    f"  · {b.plate}" if b.plate else "",
                ),
                id="confirm-where",
            )
            yield Static(
                f"On arrival: drive to slot {b.slot_number} and check in (My bookings, b) or show this code to "
                f"the attendant. Check-in opens at {timefmt.hm(opens, zone)}. The slot is held until "
                f"{timefmt.hm(held, zone)}; after that the booking lapses and the slot is released. "
                "Check out when you leave.",
                id="confirm-arrival",
                markup=False,
            )
            with Horizontal(classes="buttons", id="confirm-buttons"):
                yield Button("Done", id="done", variant="primary", compact=True)
                yield Button("My bookings", id="bookings", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.lot.name} · slot {self.booking.slot_number}"
        self.query_one("#done", Button).focus()
        self.poller = follow_store(self, self.check_still_holds, name="confirmation-poll")

    def on_unmount(self) -> None:
        self.poller.stop()

    def on_screen_resume(self) -> None:
        self.check_still_holds()

    def check_still_holds(self) -> None:
        """A booking cancelled, checked out or lapsed since (here or elsewhere): this screen is stale, so
        it closes and says what became of the booking."""
        svc, token, booking_id = self.app.svc, self.app.session, self.booking.id
        self.call(
            lambda: svc.get_booking(token, booking_id),
            then=self._looked,
            inline=lambda _error: None,  # the file is busy: the next look decides
            group="confirmation-look",
            exclusive=True,
        )

    def _looked(self, now: Booking) -> None:
        app = self.app
        if now.status in (BookingStatus.RESERVED, BookingStatus.CHECKED_IN):
            return
        self.poller.stop()
        if app.screen is self:
            self.dismiss()
        else:
            app.call_later(self._close_when_on_top)
        app.notify(
            f"Booking {now.confirmation_code} is {STATUS_WORDS.get(now.status, now.status.value)}.", markup=False
        )

    def _close_when_on_top(self) -> None:
        if self.is_attached and self.app.screen is self:
            self.dismiss()

    @on(Button.Pressed, "#done")
    def _done(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_done()

    @on(Button.Pressed, "#bookings")
    def _bookings(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_my_bookings()

    def action_done(self) -> None:
        if self.app.kiosk:
            self.app.action_log_out()
            return
        self.app.pop_screen()

    def action_my_bookings(self) -> None:
        self.app.pop_screen()
        self.app.action_open_my_bookings()
