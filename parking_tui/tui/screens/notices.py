"""Small screens the app shows by itself: the terminal is too small, storage failed, quit with unsaved input."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..sizes import MIN_HEIGHT, MIN_WIDTH


class TooSmallScreen(ModalScreen[None]):
    """Shown while the terminal is smaller than 80x24; it closes by itself when the terminal grows."""

    BINDINGS = [
        Binding("enter", "continue", "Continue anyway", show=True),
        Binding("escape", "continue", "Continue anyway", show=False),
    ]

    def __init__(self, width: int, height: int) -> None:
        super().__init__(id="too-small")
        self._width = width
        self._height = height

    def compose(self) -> ComposeResult:
        with Vertical(id="too-small-box", classes="notice-box"):
            yield Static("Terminal too small", classes="notice-title")
            yield Static(self._message(), id="too-small-message")

    def _message(self) -> str:
        return (
            f"This terminal is {self._width}×{self._height}; parking-tui needs at least "
            f"{MIN_WIDTH}×{MIN_HEIGHT}.\nEnlarge the window or use a smaller font.\n"
            "Press Enter to continue anyway."
        )

    def update_size(self, width: int, height: int) -> None:
        self._width, self._height = width, height
        if self.is_mounted:
            self.query_one("#too-small-message", Static).update(self._message())

    def action_continue(self) -> None:
        self.dismiss(None)


class StorageErrorScreen(ModalScreen[None]):
    """The data file could not be read or written. Says what happened and that nothing was written."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", show=True),
        Binding("q", "quit", "Quit", show=True),
    ]

    #: When the data could not be opened at all (the app starts before it opens).
    NOT_OPENED = (
        "The data could not be opened, so nothing can be booked here yet. Quit and check the setting or the file "
        "(parking-tui doctor names what is wrong); if it keeps failing, ask the lot manager."
    )
    #: When one action could not be written.
    NOT_WRITTEN = (
        "Nothing was written: your last action did not happen and the data is as it was. "
        "Try again in a moment; if it keeps failing, ask the lot manager to check the data file."
    )

    def __init__(self, message: str, *, opened: bool = True) -> None:
        super().__init__(id="storage-error")
        self.message = message
        self.advice = self.NOT_WRITTEN if opened else self.NOT_OPENED

    def compose(self) -> ComposeResult:
        with Vertical(id="storage-error-box", classes="notice-box -error"):
            yield Static("The data file could not be used", classes="notice-title")
            yield Static(self.message, id="storage-error-message", markup=False)
            yield Static(self.advice, id="storage-error-advice")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")
                yield Button("Quit", id="quit")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "quit":
            self.action_quit()
        else:
            self.dismiss(None)

    def action_quit(self) -> None:
        self.app.exit(1)  # the exit status says it did not end well

    def action_close(self) -> None:
        self.dismiss(None)


class QuitScreen(ModalScreen[bool]):
    """Quit although a form holds input that would be lost?"""

    BINDINGS = [
        Binding("y", "answer(True)", "Quit", show=True),
        Binding("n,escape", "answer(False)", "Stay", show=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box", classes="notice-box"):
            yield Static("Quit parking-tui?", classes="notice-title")
            yield Static("A form holds input that has not been saved; quitting loses it.")
            with Horizontal(classes="buttons"):
                yield Button("Quit (y)", id="yes", variant="error")
                yield Button("Stay (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
