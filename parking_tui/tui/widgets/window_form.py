"""Date, start and end of a time window, with 1 h / 2 h / 4 h presets and inline validation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from ...domain.errors import ParkingError
from .. import timefmt
from .form import Field, clear_errors, show_error

R = TypeVar("R")

#: Which field a service error is about.
ERROR_FIELDS = {"start_time": "start", "end_time": "end", "date": "date"}


class WindowForm(Vertical):
    """Three fields and the presets. ``window()`` returns the window, or ``None`` after marking the errors."""

    DEFAULT_CSS = """
    WindowForm { height: auto; }
    WindowForm .presets { height: 1; margin-bottom: 1; }
    WindowForm .presets Label { width: 12; }
    WindowForm .presets Button { margin-right: 1; min-width: 6; }
    WindowForm .presets Button.-chosen { text-style: bold underline; }
    WindowForm #window-summary { margin-bottom: 1; padding-left: 12; }
    """

    def __init__(
        self, start: datetime, end: datetime, now: datetime, *, zone: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.now = now
        #: The lot's zone: times are shown and typed on its clock.
        self.zone = zone
        #: The Length button last pressed (its note shows while the window is that long).
        self.chosen_length: int | None = None
        self.initial = (f"{timefmt.local(start, zone):%Y-%m-%d}", timefmt.hm(start, zone), timefmt.hm(end, zone))

    def compose(self) -> ComposeResult:
        date_text, start_text, end_text = self.initial
        yield Field("Date", "date", value=date_text, max_length=16, placeholder="YYYY-MM-DD, 'tomorrow'")
        yield Field("Start", "start", value=start_text, max_length=5, placeholder="HH:MM")
        yield Field("End", "end", value=end_text, max_length=5, placeholder="HH:MM")
        with Horizontal(classes="presets"):
            yield Label("Length", classes="field-label")
            for hours in (1, 2, 4):
                yield Button(f"{hours} h", id=f"preset-{hours}", compact=True)
        yield Static("", id="window-summary", classes="hint")
        yield Static("", id="window-error", classes="form-error", markup=False)

    def on_mount(self) -> None:
        self._update_summary()

    @property
    def fields(self) -> list[Field]:
        return [self.query_one(f"#field-{name}", Field) for name in ("date", "start", "end")]

    @property
    def general(self) -> Static:
        return self.query_one("#window-error", Static)

    def is_dirty(self) -> bool:
        return tuple(f.value for f in self.fields) != self.initial

    def _parse(self, mark: bool) -> tuple[datetime, datetime] | None:
        date_f, start_f, end_f = self.fields
        today = timefmt.local(self.now, self.zone).date()
        def read(field: Field, parse: Callable[[str], R]) -> R | None:
            try:
                value = parse(field.value)
            except ValueError as error:
                if mark:
                    field.set_error(str(error))
                return None
            if mark:
                field.set_error(None)
            return value

        day = read(date_f, lambda v: timefmt.parse_date(v, today))
        start = read(start_f, timefmt.parse_time)
        end = read(end_f, timefmt.parse_time)
        if day is None or start is None or end is None:
            return None
        try:
            return timefmt.window_from(day, start, end, self.zone)
        except ValueError as error:
            if mark:
                date_f.set_error(str(error))
            return None

    def _update_summary(self) -> None:
        window = self._parse(mark=True)
        summary = self.query_one("#window-summary", Static)
        end_field = self.query_one("#field-end", Field)
        if window is None:
            summary.update("")
            end_field.set_note(None)
            return
        start, end = window
        chosen = (
            self.chosen_length if self.chosen_length and end - start == timedelta(hours=self.chosen_length) else None
        )
        for button in self.query(".presets Button"):
            button.set_class(button.id == f"preset-{chosen}", "-chosen")
        zone = self.zone
        overnight = (
            timefmt.local(end, zone).date() != timefmt.local(start, zone).date() and timefmt.hm(end, zone) != "00:00"
        )
        if overnight:
            # An end before the start means the next day: say so where the end is typed.
            same_day = timefmt.local(start, zone).date() == timefmt.local(self.now, zone).date()
            when = timefmt.day_label(end, self.now, zone) if same_day else "the next day"
            end_note = f"ends {when} {timefmt.hm(end, zone)}"
        else:
            end_note = ""
        if chosen:
            # A Length button moved the end: say so next to the end, where it changed.
            end_note = f"{chosen} h: {end_note or 'ends ' + timefmt.hm(end, zone)}"
        end_field.set_note(end_note or None)
        text = f"{timefmt.span(start, end, self.now, zone)}  ({timefmt.duration(end - start)})"
        if start < self.now - timedelta(minutes=5):
            text += " - starts in the past"
        summary.update(text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        clear_errors([], self.general)
        self._update_summary()

    @on(Button.Pressed, ".presets Button")
    def _preset(self, event: Button.Pressed) -> None:
        event.stop()
        hours = int((event.button.id or "preset-1").split("-")[1])
        self.set_length(hours)

    def set_length(self, hours: int) -> None:
        date_f, start_f, end_f = self.fields
        try:
            start = timefmt.parse_time(start_f.value)
        except ValueError:
            start_f.set_error("Enter the start first, like 09:30.")
            start_f.input.focus()
            return
        end = (datetime.combine(datetime(2000, 1, 1), start) + timedelta(hours=hours)).time()
        self.chosen_length = hours
        end_f.value = f"{end:%H:%M}"
        self._update_summary()  # at once, even when the end was already that

    def window(self) -> tuple[datetime, datetime] | None:
        """The window, or ``None`` (the bad fields show why, and the first one gets the focus)."""
        clear_errors(self.fields, self.general)
        window = self._parse(mark=True)
        if window is None:
            for field in self.fields:
                if field.error:
                    field.input.focus()
                    break
        return window

    def show_error(self, error: ParkingError) -> None:
        show_error(error, self.fields, self.general, ERROR_FIELDS)
