"""The live slot map of one lot: the grid, a legend with counts, the selected slot's details, a time window.

It refreshes by itself: a thread worker polls the store's version (a ``stat``) and reloads when it changed.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Header, Input, Static

from ...domain.errors import ParkingError, ValidationError
from ...domain.models import Booking, BookingStatus, Lot, Slot, SlotMark, SlotStatus
from .. import timefmt
from ..commands import Command
from ..marks import MARKS, describe_mark
from ..shell import ParkingScreen, Place
from ..widgets.confirm import ConfirmModal
from ..widgets.live import Poller, updated_label
from ..widgets.slot_grid import BUSY_IN_WINDOW, FREE_IN_WINDOW, GLYPHS, LABELS, SlotGrid, component_for
from ..widgets.window_form import WindowForm

Window = tuple[datetime, datetime]
MapData = tuple[list[Slot], "set[int] | None", "Window | None"]

class SlotMapScreen(ParkingScreen[None]):
    """One lot's slots, live."""

    CSS_PATH = "../slot_map.tcss"

    PLACE = Place.MAP

    TITLE = "Slot map"
    HELP_TEXT = (
        "Colours and marks: ' ' free, '•' reserved, '■' occupied, '×' out of service; in a time window, "
        "'·' is a slot taken at that time. The map refreshes by itself when anyone books or releases a slot."
    )
    HELP_KEYS = [
        ("← → ↑ ↓", "move between slots (or h l k j)"),
        ("Home End", "first / last slot"),
        ("PgUp PgDn", "a page up or down"),
    ]
    BINDINGS = [
        Binding("w", "choose_window", "When?", tooltip="Show which slots are free for a date and time"),
        Binding("n", "show_now", "Now", tooltip="Back to the slots as they are now"),
        Binding("o", "mark('occupied')", "Occupied", tooltip="Admin: mark the slot occupied (walk-in)"),
        Binding("v", "mark('available')", "Available", tooltip="Admin: clear the slot's manual mark"),
        Binding("x", "mark('out_of_service')", "Out of svc", tooltip="Admin: mark the slot out of service"),
        Binding("r", "refresh_map", "Refresh", show=False, tooltip="Read the slots again now"),
    ]

    def __init__(self, lot_id: int) -> None:
        super().__init__(id="slot-map")
        self.lot_id = lot_id
        self.lot: Lot | None = None
        self.window: Window | None = None
        self.free_ids: set[int] | None = None
        self.poller: Poller[MapData] | None = None
        #: Each slot's bookings ahead, read when the cursor first reaches it (emptied when the data changes).
        self.schedules: dict[int, list[Booking]] = {}

    # ------------------------------------------------------------------------------------------ parts

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        with Horizontal(id="map-top"):
            yield Static("", id="map-title")
            yield Static("", id="map-when")
        yield Static("", id="map-legend")
        with Horizontal(id="map-body"):
            yield SlotGrid(id="slot-grid")
            yield Static("", id="slot-details")
        yield Footer(compact=True)

    @property
    def svc(self):
        return self.app.svc

    @property
    def token(self) -> str | None:
        return self.app.token

    @property
    def is_admin(self) -> bool:
        return self.app.is_admin

    @property
    def zone(self) -> str | None:
        """The lot's zone: every time on the map is on its clock."""
        return self.lot.time_zone if self.lot is not None else None

    @property
    def grid(self) -> SlotGrid:
        return self.query_one(SlotGrid)

    @property
    def selected_slot(self) -> Slot | None:
        """The slot under the cursor."""
        return self.grid.selected_slot

    # --------------------------------------------------------------------------------------- loading

    def on_mount(self) -> None:
        self.grid.focus()
        self._fresh = True  # loading: the resume that follows the first mount needs no reload
        svc, token, lot_id = self.svc, self.token, self.lot_id
        self.call(lambda: svc.get_lot(token, lot_id), then=self._lot_read, inline=self._no_lot, group="map-lot")

    def _no_lot(self, error: ParkingError) -> None:
        self.app.report_error(error)
        self.dismiss()

    def _lot_read(self, lot: Lot) -> None:
        self.lot = lot
        self.sub_title = lot.name
        self.query_one("#map-title", Static).update(Text.assemble((lot.name, "bold"), "  ", lot.location))
        self.poller = Poller(self, probe=self._stamp, load=self._load, apply=self._apply, name="map-poll")
        self.poller.start(now=True)

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()

    def on_screen_resume(self) -> None:
        if getattr(self, "_fresh", False):
            self._fresh = False
            return
        if self.lot is not None and self.token is not None:
            self.refresh_slots()

    def _stamp(self) -> tuple:
        """Changes when any process writes to this lot, and every minute (reservations start and lapse)."""
        return (self.svc.version(self.lot_id), self.svc.now().replace(second=0, microsecond=0))

    def _load(self) -> MapData:
        """Read the lot (runs in the poll's worker thread)."""
        window = self.window
        slots = self.svc.lot_slots(self.token, self.lot_id)
        free = None
        if window is not None:
            try:
                free = {s.id for s in self.svc.available_slots(self.token, self.lot_id, window[0], window[1])}
            except ValidationError:
                free = set()  # a window that can no longer be booked (it has begun): nothing is free for it
        return slots, free, window

    def refresh_slots(self) -> None:
        """Reload the slots now (after a change made here; other processes' changes arrive by polling)."""
        if self.poller is not None:
            self.poller.reload()

    def _apply(self, data: MapData) -> None:
        slots, free, window = data
        if window != self.window:
            return  # loaded for a window that is no longer shown; the reload set_window started brings it
        self.schedules = {}
        self.free_ids = free
        if window is None:
            kinds = [s.status.value for s in slots]
        else:
            kinds = [
                FREE_IN_WINDOW
                if s.id in (free or ())
                else SlotStatus.OUT_OF_SERVICE.value
                if s.status is SlotStatus.OUT_OF_SERVICE
                else BUSY_IN_WINDOW
                for s in slots
            ]
        self.grid.set_slots(slots, kinds)
        self._show_when()
        self._show_legend()
        self._show_details(self.grid.selected_slot)

    # --------------------------------------------------------------------------------------- display

    def action_refresh_map(self) -> None:
        self.refresh_slots()

    def _show_when(self) -> None:
        now = self.svc.now()
        if self.window is None:
            today = f"  {timefmt.day_label(now, now, self.zone)} {timefmt.hm(now, self.zone)}"
            text = Text.assemble(("Now", "bold"), today)
        else:
            text = Text.assemble(("Free for", "bold"), f"  {timefmt.span(*self.window, now, self.zone)}")
        note = timefmt.zone_note(now, self.zone)
        if note:
            text.append(f" · {note}", "bold")
        text.append(f" · {updated_label(self.svc)}", "dim")
        self.query_one("#map-when", Static).update(text)

    def _show_legend(self) -> None:
        grid = self.grid
        counts: dict[str, int] = {}
        for kind in grid.kinds:
            counts[kind] = counts.get(kind, 0) + 1
        if self.window is None:
            order = [s.value for s in SlotStatus]
        else:
            order = [FREE_IN_WINDOW, BUSY_IN_WINDOW, SlotStatus.OUT_OF_SERVICE.value]
        legend = Text()
        for kind in order:
            if legend:
                legend.append("  ")
            legend.append(f" {GLYPHS[kind]} ", grid.get_component_rich_style(component_for(kind)))
            legend.append(f" {LABELS[kind]} {counts.get(kind, 0)}")
        if not grid.slots:
            legend = Text("This lot has no slots yet.")
        self.query_one("#map-legend", Static).update(legend)

    @on(SlotGrid.CursorMoved)
    def _cursor_moved(self, event: SlotGrid.CursorMoved) -> None:
        self._show_details(event.slot)

    def _show_details(self, slot: Slot | None) -> None:
        panel = self.query_one("#slot-details", Static)
        if slot is None:
            panel.update("No slot selected.")
            return
        now = self.svc.now()
        text = Text()
        text.append(f"Slot {slot.slot_number}\n", "bold")
        kind = self.grid.kinds[self.grid.cursor] if self.grid.kinds else slot.status.value
        text.append(
            f" {GLYPHS[slot.status.value]} ", self.grid.get_component_rich_style(component_for(slot.status.value))
        )
        text.append(f" {LABELS[slot.status.value]} now\n")
        if slot.retired:
            text.append("Retired: takes no bookings\n", "italic")
        elif slot.admin_status is not SlotStatus.AVAILABLE:
            what = "occupied (walk-in)" if slot.admin_status is SlotStatus.OCCUPIED else "out of service"
            until = (
                f" until {timefmt.day_label(slot.mark_until, now, self.zone)} {timefmt.hm(slot.mark_until, self.zone)}"
                if slot.mark_until
                else ""
            )
            text.append(f"Marked {what}{until}\n", "italic")
            if slot.mark_reason:
                text.append(f"  {slot.mark_reason}\n", "italic")
        if self.window is not None:
            free = kind == FREE_IN_WINDOW
            text.append(
                ("Free" if free else "Not free") + f" {timefmt.span(*self.window, now, self.zone)}\n",
                "bold" if free else "",
            )
        text.append("\n")
        schedule = self.schedules.get(slot.id)
        if schedule is None:
            text.append("Reading the bookings…\n", "italic")
            self._read_schedule(slot)
        else:
            text.append_text(self._schedule_text(schedule, now))
        text.append("\n")
        text.append_text(self._hint(slot, kind))
        panel.update(text)

    def _read_schedule(self, slot: Slot) -> None:
        """Read the slot's bookings ahead in a worker; show them if the cursor is still there."""
        svc, token = self.svc, self.token

        def read(schedule: list[Booking]) -> None:
            self.schedules[slot.id] = schedule
            if self.grid.selected_slot is not None and self.grid.selected_slot.id == slot.id:
                self._show_details(self.grid.selected_slot)

        self.call(lambda: svc.slot_schedule(token, slot.id), then=read, group="slot-schedule", exclusive=True)

    def _schedule_text(self, schedule: list[Booking], now: datetime) -> Text:
        text = Text()
        if not schedule:
            text.append("No bookings ahead.\n", "italic")
            return text
        me = self.app.profile.username if self.app.profile else ""
        current = [b for b in schedule if b.start_time <= now < b.end_time or b.status is BookingStatus.CHECKED_IN]
        upcoming = [b for b in schedule if b not in current and b.start_time > now]
        shown = 0
        for label, bookings in (("Now", current), ("Next", upcoming)):
            for booking in bookings:
                if shown >= 4:
                    break
                shown += 1
                text.append(f"{label}: ", "bold")
                text.append(f"{timefmt.span(booking.start_time, booking.end_time, now, self.zone)}\n")
                who = ""
                if booking.username == me:
                    who = f"your booking {booking.confirmation_code}"
                elif booking.username:
                    who = f"{booking.username} · {booking.confirmation_code}"
                state = "checked in" if booking.status is BookingStatus.CHECKED_IN else "reserved"
                if booking.status is BookingStatus.CHECKED_IN and booking.is_overstay:
                    state = f"overstaying {timefmt.duration(booking.overstay)}"
                plate = f" {booking.plate}" if booking.plate else ""
                text.append(f"  {state}" + (f", {who}{plate}" if who else "") + "\n")
                if booking.attention:
                    text.append(f"  ⚠ {booking.attention}\n", "bold")
                label = "Then"
        more = len(current) + len(upcoming) - shown
        if more > 0:
            text.append(f"… and {more} more\n")
        return text

    def _hint(self, slot: Slot, kind: str) -> Text:
        if slot.retired:
            return Text("Retired: not bookable.", "italic")
        if slot.status is SlotStatus.OUT_OF_SERVICE:
            return Text("Out of service: not bookable.", "italic")
        if kind in (SlotStatus.AVAILABLE.value, FREE_IN_WINDOW):
            return Text.assemble(("Enter", "bold"), " book this slot")
        if self.window is None:
            return Text.assemble(("w", "bold"), " look for a time it is free")
        return Text("Taken at that time: choose another slot or time.", "italic")

    # ---------------------------------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mark":
            return self.is_admin
        if action == "show_now":
            return self.window is not None
        return True

    @on(SlotGrid.SlotChosen)
    def _chosen(self, event: SlotGrid.SlotChosen) -> None:
        self.book(event.slot)

    def book(self, slot: Slot) -> None:
        """Open the booking form for ``slot`` if it is free (now, or in the chosen window)."""
        if self.lot is None:
            return
        index = self.grid.slots.index(slot) if slot in self.grid.slots else -1
        kind = self.grid.kinds[index] if index >= 0 else slot.status.value
        if slot.status is SlotStatus.OUT_OF_SERVICE:
            self.notify(
                f"Slot {slot.slot_number} is out of service; choose another slot.", severity="warning", markup=False
            )
            return
        if kind == BUSY_IN_WINDOW:
            self.notify(
                f"Slot {slot.slot_number} is taken at that time; choose a free slot.", severity="warning", markup=False
            )
            return
        if kind != FREE_IN_WINDOW and kind != SlotStatus.AVAILABLE.value:
            self.notify(
                f"Slot {slot.slot_number} is {LABELS[kind].lower()} now. Press w to see which slots are free later.",
                severity="warning",
                markup=False,
            )
            return
        window = self.window or timefmt.default_window(self.svc.now(), zone=self.zone)
        self.app.open_booking(self.lot, slot, window)

    def action_choose_window(self) -> None:
        now = self.svc.now()
        start, end = self.window or timefmt.default_window(now, zone=self.zone)

        def chosen(result: object) -> None:
            if result == NOW:
                self.set_window(None)
            elif isinstance(result, tuple):
                self.set_window((result[0], result[1]))

        self.app.push_screen(WindowScreen(start, end, now, zone=self.zone), chosen)

    def set_window(self, window: Window | None) -> None:
        """Show the slots free for ``window`` (``None``: as they are now)."""
        self.window = window
        self.refresh_slots()
        self.refresh_bindings()

    def action_show_now(self) -> None:
        self.set_window(None)

    def action_mark(self, status: str) -> None:
        """Mark the slot. First the service says what the mark would do (which bookings move to which slot,
        which cannot be placed); when anything would move, or the slot goes out of service, that is shown
        and asked before the mark is set."""
        if not self.is_admin:
            return
        slot = self.selected_slot
        if slot is None:
            return
        svc, token = self.svc, self.token
        self.call(
            lambda: svc.preview_mark(token, slot.id, status), then=lambda preview: self._ask_mark(slot, status, preview)
        )

    def _ask_mark(self, slot: Slot, status: str, preview: SlotMark) -> None:
        if status != "out_of_service" and not preview.moved and not preview.unplaced:
            self._mark_now(slot, status)
            return
        lot = self.lot.name if self.lot is not None else "this lot"
        question = (
            f"Take slot {slot.slot_number} of {lot} out of service?"
            if status == "out_of_service"
            else f"Mark slot {slot.slot_number} of {lot} {MARKS[status]}?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._mark_now(slot, status)

        self.app.push_screen(
            ConfirmModal(
                question, describe_mark(preview, self.svc.now(), self.zone), yes="Mark it", no="Keep it as it is"
            ),
            answered,
        )

    def _mark_now(self, slot: Slot, status: str) -> None:
        svc, token = self.svc, self.token
        self.call(lambda: svc.mark_slot(token, slot.id, status), then=lambda result: self._marked(slot, status, result))

    def _marked(self, slot: Slot, status: str, result: SlotMark) -> None:
        if result is not None:
            moved = f" {len(result.moved)} booking(s) moved." if result.moved else ""
            unplaced = f" {len(result.unplaced)} could not be placed: see Reservations." if result.unplaced else ""
            self.notify(
                f"Slot {slot.slot_number} marked {MARKS[status]}.{moved}{unplaced}",
                severity="warning" if result.unplaced else "information",
                markup=False,
            )
            self.refresh_slots()

    def palette_commands(self):
        yield Command(
            "Choose a time window", "Show which slots are free for a date and time", self.action_choose_window
        )
        if self.window is not None:
            yield Command("Show the map now", "Back to the slots as they are now", self.action_show_now)
        slot = self.selected_slot
        if slot is not None:
            yield Command(
                f"Book slot {slot.slot_number}", "Open the booking form for the selected slot", lambda: self.book(slot)
            )
            if self.is_admin:
                for status, text in MARKS.items():
                    yield Command(
                        f"Mark slot {slot.slot_number} {status.replace('_', ' ')}",
                        f"Admin: {text}",
                        lambda s=status: self.action_mark(s),
                    )


NOW = "now"


class WindowScreen(ModalScreen[object]):
    """Choose a date, start and end; the map then shows which slots are free for that window.

    Dismisses with the window, ``NOW`` (back to now), or ``None`` (cancelled)."""

    CSS_PATH = "../slot_map.tcss"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, start: datetime, end: datetime, now: datetime, *, zone: str | None = None) -> None:
        super().__init__(id="window-dialog")
        self._start, self._end, self._at, self._zone = start, end, now, zone

    def compose(self) -> ComposeResult:
        with Vertical(id="window-box", classes="notice-box"):
            yield Static("Which slots are free…", classes="notice-title")
            yield WindowForm(self._start, self._end, self._at, zone=self._zone, id="window-form")
            with Horizontal(classes="buttons"):
                yield Button("Show free slots", id="apply", variant="primary", compact=True)
                yield Button("Now", id="now", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#date", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def _apply(self, event) -> None:
        event.stop()
        window = self.query_one(WindowForm).window()
        if window is not None:
            if window[1] <= window[0]:
                return
            self.dismiss(window)

    @on(Button.Pressed, "#now")
    def _now(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(NOW)

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)
