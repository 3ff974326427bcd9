"""A yes/no question in a modal dialog. ``push_screen(ConfirmModal("Cancel?"), callback)`` gets ``True``/``False``."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label


class ConfirmModal(ModalScreen[bool]):
    """Ask a question; ``y``/Enter on Yes answers True, ``n``/Escape answers False.

    The question and detail are shown as plain text (they often hold lot names and usernames: never markup)."""

    DEFAULT_CSS = """
    ConfirmModal {
        align: center middle;
    }
    ConfirmModal > #confirm-box {
        width: 60;
        max-width: 100%;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $panel;
    }
    ConfirmModal #confirm-question {
        width: 100%;
        margin-bottom: 1;
    }
    ConfirmModal #confirm-detail {
        width: 100%;
        color: $text-muted;
        margin-bottom: 1;
    }
    ConfirmModal #confirm-buttons {
        width: 100%;
        height: auto;
        align-horizontal: right;
    }
    ConfirmModal #confirm-buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm.escape"),
    ]

    def __init__(self, question: str, detail: str = "", *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(Content(self.question), id="confirm-question")
            if self.detail:
                yield Label(Content(self.detail), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button(Content(f"{self.no_label} (n)"), id="no")
                yield Button(Content(f"{self.yes_label} (y)"), variant="primary", id="yes")
        yield Footer()

    def on_mount(self) -> None:
        # The safe answer has the focus, so a stray Enter does nothing harmful.
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
