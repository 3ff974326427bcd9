"""A labelled input with its error shown inline underneath; and a helper that routes errors to fields."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from ...domain.errors import ParkingError


class Field(Vertical):
    """``Label  [input]`` on one line, the error (if any) on the next."""

    DEFAULT_CSS = """
    Field { height: auto; }
    Field > Horizontal { height: 1; }
    Field .field-label { width: 12; }
    Field Input { width: 1fr; }
    Field .field-error { display: none; padding-left: 12; height: auto; }
    Field .field-error.-shown { display: block; }
    Field .field-note { width: auto; display: none; padding-left: 1; text-style: bold; }
    Field .field-note.-shown { display: block; }
    """

    def __init__(
        self,
        label: str,
        name: str,
        *,
        value: str = "",
        placeholder: str = "",
        password: bool = False,
        max_length: int = 0,
        restrict: str | None = None,
        label_width: int | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id or f"field-{name}", classes="field")
        self.field_name = name
        self._label = label
        self._label_width = label_width
        self.input = Input(
            value=value,
            placeholder=placeholder,
            password=password,
            max_length=max_length,
            restrict=restrict,
            compact=True,
            id=name,
        )

    def compose(self) -> ComposeResult:
        # The note and the error line are mounted when first used: most fields never show either, and every
        # widget costs time when a screen is built (the sign-in screen is the first thing people see).
        with Horizontal():
            label = Label(self._label, classes="field-label")
            if self._label_width:
                label.styles.width = self._label_width
            yield label
            yield self.input

    @property
    def value(self) -> str:
        return self.input.value

    @value.setter
    def value(self, text: str) -> None:
        self.input.value = text

    @property
    def error(self) -> str:
        line = self._line("field-error")
        return str(line.content) if line is not None else ""

    def _line(self, kind: str) -> Static | None:
        """The field's note or error line; ``None`` while it was never needed."""
        found = self.query(f".{kind}").results(Static)
        return next(iter(found), None)

    def set_note(self, text: str | None) -> None:
        """A short note right of the input (not an error): "ends tomorrow 04:00"."""
        note = self._line("field-note")
        if note is None:
            if not text:
                return
            note = Static("", classes="field-note", markup=False)
            self.query_one(Horizontal).mount(note)
        note.update(Content(text or ""))
        note.set_class(bool(text), "-shown")

    def set_error(self, message: str | None) -> None:
        self.input.set_class(bool(message), "-invalid")
        error = self._line("field-error")
        if error is None:
            if not message:
                return
            error = Static("", classes="field-error", markup=False)
            if self._label_width:
                error.styles.padding = (0, 0, 0, self._label_width)
            self.mount(error)
        error.update(Content(message or ""))
        error.set_class(bool(message), "-shown")


def clear_errors(fields: Iterable[Field], general: Static | None = None) -> None:
    for field in fields:
        field.set_error(None)
    if general is not None:
        general.update("")
        general.remove_class("-shown")


def show_error(
    error: ParkingError, fields: Iterable[Field], general: Static, aliases: dict[str, str] | None = None
) -> None:
    """Put the error under the field it names (``error.field``), else in the form's general error line."""
    name = (aliases or {}).get(error.field or "", error.field)
    for field in fields:
        if name and field.field_name == name:
            field.set_error(str(error))
            field.input.focus()
            return
    general.update(Content(str(error)))
    general.add_class("-shown")
