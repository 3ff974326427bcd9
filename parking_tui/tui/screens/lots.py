"""The lot browser (home after sign-in): every lot, how many slots are free now, type to filter, Enter opens."""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from ...domain.models import Lot
from ..commands import Command
from ..shell import ParkingScreen, Place
from ..widgets.live import Poller, store_stamp, updated_label

BAR_WIDTH = 20
LotRow = tuple[Lot, int, int]


def matches(row: LotRow, query: str) -> bool:
    query = query.strip().casefold()
    lot = row[0]
    return not query or query in lot.name.casefold() or query in lot.location.casefold()


class LotList(OptionList):
    """The lots, two lines each: name and free count; location and an occupancy bar."""

    COMPONENT_CLASSES = {"lot-list--free", "lot-list--taken", "lot-list--full", "lot-list--location"}
    def prompt_for(self, row: LotRow) -> Table:
        lot, free, total = row
        taken = total - free
        filled = 0 if total == 0 else round(BAR_WIDTH * taken / total)
        if taken and not filled:
            filled = 1
        bar = Text()
        bar.append("█" * filled, self.get_component_rich_style("lot-list--taken", partial=True))
        bar.append("░" * (BAR_WIDTH - filled), self.get_component_rich_style("lot-list--free", partial=True))
        count_style = "lot-list--full" if free == 0 else "lot-list--free"
        count = Text(f"{free} free", style=self.get_component_rich_style(count_style, partial=True) + Style(bold=True))
        count.append(f" of {total}", style="")
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True, width=BAR_WIDTH)
        grid.add_row(Text(lot.name, style="bold"), count)
        grid.add_row(Text(lot.location, style=self.get_component_rich_style("lot-list--location", partial=True)), bar)
        return grid


class LotBrowserScreen(ParkingScreen[None]):
    """Every lot with free now / total; type to filter; Enter opens the lot's map."""

    CSS_PATH = "../lots.tcss"

    PLACE = Place.LOTS

    IS_ROOT = True
    TITLE = "Lots"
    HELP_TEXT = "Type any letter to filter the lots by name or location; Enter opens the selected lot's map."
    HELP_KEYS = [
        ("↑ ↓", "move between lots"),
        ("letters", "filter by name or location (Esc clears)"),
        ("F2 F3 F4", "my bookings, profile, admin (b, p, a on other screens)"),
    ]
    BINDINGS = [
        Binding("enter", "open", "Open map", tooltip="Open the selected lot's slot map", show=True),
        Binding("slash", "focus_filter", "Filter", key_display="/", tooltip="Filter the lots by name or location"),
        Binding("ctrl+r", "reload", "Refresh", show=False, tooltip="Read the lots again now"),
        # Letters filter here, so the other screens are on function keys (b, p and a everywhere else).
        Binding("f2", "bookings", "Bookings", id="lots.bookings", tooltip="Your bookings"),
        Binding("f3", "profile", "Profile", id="lots.profile", tooltip="Your account; sign out"),
        Binding("f4", "admin", "Admin", id="lots.admin", tooltip="Lot manager tools"),
    ]

    def __init__(self) -> None:
        super().__init__(id="lots")
        self.rows: list[LotRow] = []
        self.poller: Poller[list[LotRow]] | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        with Horizontal(id="lots-top"):
            yield Static("Choose a lot. Type to filter, Enter to open its map.", id="lots-intro")
            yield Static("", id="lots-updated", classes="updated-line")
        yield Input(placeholder="Filter by name or location", id="lot-filter", compact=True, select_on_focus=False)
        yield LotList(id="lot-list")
        yield Static("", id="lots-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LotList).focus()
        svc, token = self.app.svc, self.app.session
        self.poller = Poller(
            self,
            probe=lambda: store_stamp(svc),
            load=lambda: svc.lot_overview(token),
            apply=self._show,
            interval=1.0,
            name="lots-poll",
        )
        self.poller.start(now=True)
        self._fresh = True  # loading: the resume that follows the first mount needs no reload

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()

    def on_screen_resume(self) -> None:
        if getattr(self, "_fresh", False):
            self._fresh = False
            return
        if self.is_mounted and self.app.token is not None:
            self.action_reload()

    def action_reload(self) -> None:
        if self.poller is not None:
            self.poller.reload()

    def _show(self, rows: list[LotRow]) -> None:
        self.rows = rows
        self._fill()
        self.query_one("#lots-updated", Static).update(updated_label(self.app.svc))

    def _fill(self) -> None:
        lots = self.query_one(LotList)
        query = self.query_one("#lot-filter", Input).value
        keep = lots.highlighted_option.id if lots.highlighted_option is not None else None
        shown = [row for row in self.rows if matches(row, query)]
        lots.clear_options()
        lots.add_options(Option(lots.prompt_for(row), id=str(row[0].id)) for row in shown)
        ids = [str(row[0].id) for row in shown]
        if shown:
            lots.highlighted = ids.index(keep) if keep in ids else 0
        empty = self.query_one("#lots-empty", Static)
        if not self.rows:
            admin = self.app.is_admin
            hint = " Create one in Admin (a)." if admin else " Ask the lot manager to add one."
            empty.update("No lots yet." + hint)
        elif not shown:
            empty.update(Text(f"No lot matches {query.strip()!r}. Esc clears the filter."))
        else:
            empty.update("")
        empty.display = not shown

    @on(Input.Changed, "#lot-filter")
    def _filter_changed(self) -> None:
        self._fill()

    @on(Input.Submitted, "#lot-filter")
    def _filter_submitted(self) -> None:
        self.action_open()

    @on(OptionList.OptionSelected, "#lot-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._open_option(event.option)

    def action_open(self) -> None:
        option = self.query_one(LotList).highlighted_option
        if option is not None:
            self._open_option(option)

    def _open_option(self, option: Option) -> None:
        if option.id is not None:
            self.app.action_open_lot(int(option.id))

    def action_bookings(self) -> None:
        self.app.action_open_my_bookings()

    def action_profile(self) -> None:
        self.app.action_open_profile()

    def action_admin(self) -> None:
        self.app.action_open_admin()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "admin":
            return self.app.is_admin
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#lot-filter", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """Type-to-filter: a printable key that is not a shortcut goes to the filter box."""
        filter_box = self.query_one("#lot-filter", Input)
        if filter_box.has_focus:
            if event.key in ("down", "up"):
                lots = self.query_one(LotList)
                lots.action_cursor_down() if event.key == "down" else lots.action_cursor_up()
                event.stop()
            elif event.key == "escape":
                if filter_box.value:
                    filter_box.value = ""
                else:
                    self.query_one(LotList).focus()
                event.stop()
                event.prevent_default()
            return
        char = event.character
        # Every letter and digit typed on the list goes to the filter (names like "bahn" hold b and a).
        if char is None:
            return
        typed = len(char) == 1 and (char.isalnum() or char in "-.,'&()")
        if typed or (char and char.isprintable() and not char.isspace() and event.key not in self.active_bindings):
            filter_box.focus()
            filter_box.insert_text_at_cursor(char)
            event.stop()
            event.prevent_default()

    def has_unsaved_input(self) -> bool:
        return False

    def palette_commands(self):
        yield Command("Filter lots", "Filter the lots by name or location", self.action_focus_filter)
        for lot, free, total in self.rows:
            yield Command(
                f"Open {lot.name}",
                f"{lot.location}: {free} of {total} free",
                lambda i=lot.id: self.app.action_open_lot(i),
            )
