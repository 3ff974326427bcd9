"""``?``: the keys that work on the screen underneath, read from its live bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


#: Bindings every widget has that only add noise to a list of what this app does.
NOISE = {"focus_next", "focus_previous", "copy_text", "page_left", "page_right", "command_palette", "maximize"}


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(keys, what they do) for every enabled binding of ``screen``, plus the keys it describes itself."""
    app = screen.app
    by_action: dict[tuple[int, str], tuple[list[str], str]] = {}
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if not active.enabled or not binding.description or binding.system or binding.action in NOISE:
            continue
        slot = by_action.setdefault((id(active.node), binding.action), ([], binding.tooltip or binding.description))
        display = app.get_key_display(binding)
        if display not in slot[0]:
            slot[0].append(display)
    rows = [(" ".join(keys), text) for keys, text in by_action.values()]
    rows = list(getattr(screen, "HELP_KEYS", ())) + rows
    rows.append(("^p", "command palette: screens and actions by name"))
    return rows


class HelpScreen(ModalScreen[None]):
    """The keys that work on the screen underneath."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", show=True)]

    def __init__(self, under: Screen) -> None:
        super().__init__(id="help")
        self._rows = key_rows(under)
        self._title = under.title or under.__class__.__name__.removesuffix("Screen")
        self._about = getattr(under, "HELP_TEXT", "")

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="notice-box"):
            yield Static(Content(f"Keys: {self._title}"), classes="notice-title")
            with VerticalScroll(id="help-keys"):
                width = min(16, max((len(k) for k, _ in self._rows), default=4))
                lines = [
                    Content.assemble((f"{keys:<{width}}", "bold $accent"), "  ", text) for keys, text in self._rows
                ]
                yield Static(Content("\n").join(lines), id="help-table")
                if self._about:
                    yield Static(self._about, id="help-about")
            yield Static("Esc closes this help.", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
