"""The slot grid: ONE widget drawing every slot of a lot with the line API (a ``ScrollView`` + ``render_line``).

A widget per slot is too slow for big lots (2,000 ``Static`` cells took 5.5 s to mount); here painting costs
only the visible lines, whatever the lot's size. Slots are grouped by their row prefix (``A``, ``B``, ``P2-``)
and each group starts a new line, wrapped to the width. Colours come from component classes (theme
variables in the CSS); a glyph beside each number tells the statuses apart without colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...domain.models import Slot, SlotStatus

GAP = 1

#: Cell kinds: the slot's status now, or (in window mode) whether it is free for the chosen window.
FREE_IN_WINDOW = "free_window"
BUSY_IN_WINDOW = "busy_window"

GLYPHS = {
    SlotStatus.AVAILABLE.value: " ",
    SlotStatus.RESERVED.value: "•",
    SlotStatus.OCCUPIED.value: "■",
    SlotStatus.OUT_OF_SERVICE.value: "×",
    FREE_IN_WINDOW: " ",
    BUSY_IN_WINDOW: "·",
}

LABELS = {
    SlotStatus.AVAILABLE.value: "Free",
    SlotStatus.RESERVED.value: "Reserved",
    SlotStatus.OCCUPIED.value: "Occupied",
    SlotStatus.OUT_OF_SERVICE.value: "Out of service",
    FREE_IN_WINDOW: "Free then",
    BUSY_IN_WINDOW: "Taken then",
}


def component_for(kind: str) -> str:
    return "slot-grid--" + kind.replace("_", "-")


def row_prefix(slot_number: str) -> str:
    """``A12`` -> ``A``; ``P2-14`` -> ``P2-``; ``17`` -> ``""``: slots of one prefix share a row."""
    match = re.match(r"^(.*?)(\d+)$", slot_number)
    return match.group(1) if match else slot_number


class SlotGrid(ScrollView, can_focus=True):
    """Every slot of a lot as a cell; a cursor moved with the arrows or hjkl."""

    COMPONENT_CLASSES = {component_for(kind) for kind in GLYPHS} | {"slot-grid--cursor", "slot-grid--row-label"}

    BINDINGS = [
        Binding("left,h", "move(-1, 0)", "", show=False),
        Binding("right,l", "move(1, 0)", "", show=False),
        Binding("up,k", "move(0, -1)", "", show=False),
        Binding("down,j", "move(0, 1)", "", show=False),
        Binding("home", "jump('first')", "", show=False),
        Binding("end", "jump('last')", "", show=False),
        Binding("pageup", "page(-1)", "", show=False),
        Binding("pagedown", "page(1)", "", show=False),
        Binding("enter", "choose", "Book", tooltip="Book the selected slot"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class CursorMoved(Message):
        """The cursor is on another slot (or the slots were reloaded)."""

        grid: SlotGrid
        slot: Slot | None

        @property
        def control(self) -> SlotGrid:
            return self.grid

    @dataclass
    class SlotChosen(Message):
        """Enter (or a double click) on a slot."""

        grid: SlotGrid
        slot: Slot

        @property
        def control(self) -> SlotGrid:
            return self.grid

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.slots: list[Slot] = []
        self.kinds: list[str] = []
        self._label_width = 2
        self._rows: list[list[int] | None] = []  # visual lines: slot indices, or None for a blank separator
        self._where: list[tuple[int, int]] = []  # slot index -> (visual line, column)
        self._layout_width = -1
        self._rich_styles: dict[str, Style] = {}
        self._prefixes: list[str] = []
        #: Lines drawn since the slots were last set (the benchmark waits for the first paint).
        self.lines_rendered = 0

    # ------------------------------------------------------------------------------------------ data

    @property
    def cell_width(self) -> int:
        return self._label_width + 2

    @property
    def selected_slot(self) -> Slot | None:
        if 0 <= self.cursor < len(self.slots):
            return self.slots[self.cursor]
        return None

    def set_slots(self, slots: list[Slot], kinds: list[str] | None = None) -> None:
        """Show ``slots`` (in order); ``kinds`` gives each cell's colour (default: the status now)."""
        keep = self.selected_slot.id if self.selected_slot is not None else None
        self.slots = list(slots)
        self.kinds = list(kinds) if kinds is not None else [s.status.value for s in slots]
        self.lines_rendered = 0
        self._prefixes = [row_prefix(s.slot_number) for s in self.slots]  # once per load, not per relayout
        self._label_width = max((len(s.slot_number) for s in slots), default=2)
        self._layout_width = -1
        self._relayout()
        index = next((i for i, s in enumerate(self.slots) if s.id == keep), None) if keep is not None else None
        if index is None:
            index = min(self.cursor, max(0, len(self.slots) - 1))
        self.cursor = index
        self.refresh()

    def set_kinds(self, kinds: list[str]) -> None:
        self.kinds = list(kinds)
        self.refresh()

    def select_slot_id(self, slot_id: int) -> bool:
        for i, slot in enumerate(self.slots):
            if slot.id == slot_id:
                self.cursor = i
                return True
        return False

    # ---------------------------------------------------------------------------------------- layout

    def _relayout(self) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        if width == self._layout_width:
            return
        self._layout_width = width
        per_line = max(1, (width + GAP) // (self.cell_width + GAP))
        # Balance wrapped groups: 12 slots on 7 columns become 6 + 6, not 7 + 5.
        prefixes = self._prefixes
        sizes: dict[str, int] = {}
        for key in prefixes:
            sizes[key] = sizes.get(key, 0) + 1
        widest = max(sizes.values(), default=1)
        if widest > per_line:
            lines = -(-widest // per_line)
            per_line = -(-widest // lines)
        rows: list[list[int] | None] = []
        where: list[tuple[int, int]] = [(0, 0)] * len(self.slots)
        prefix: str | None = None
        line: list[int] = []
        for i, p in enumerate(prefixes):
            if line and (p != prefix or len(line) >= per_line):
                rows.append(line)
                if p != prefix:
                    rows.append(None)
                line = []
            prefix = p
            where[i] = (len(rows), len(line))
            line.append(i)
        if line:
            rows.append(line)
        self._rows = rows
        self._where = where
        used = min(len(self.slots), per_line)
        self.virtual_size = Size(max(0, used * (self.cell_width + GAP) - GAP), len(rows))

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()
        self._scroll_to_cursor(animate=False)
        self.refresh()

    def cell_region(self, index: int) -> Region:
        line, column = self._where[index]
        return Region(column * (self.cell_width + GAP), line, self.cell_width, 1)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        if not self.slots or not self._where:
            return
        region = self.cell_region(self.cursor)
        # Keep a line of context above and below, so the group separator shows.
        self.scroll_to_region(region.grow((1, 0, 1, 0)), animate=animate, force=True, immediate=True)

    # ----------------------------------------------------------------------------------- rendering

    def notify_style_update(self) -> None:
        self._rich_styles.clear()
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        style = self._rich_styles.get(name)
        if style is None:
            style = self._rich_styles[name] = self.get_component_rich_style(name)
        return style

    def render_line(self, y: int) -> Strip:
        self.lines_rendered += 1
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = scroll_y + y
        row = self._rows[index] if index < len(self._rows) else None
        if row is None:
            return Strip.blank(width, base)
        segments: list[Segment] = []
        lw = self._label_width
        gap = Segment(" " * GAP, base)
        focused = self.has_focus
        for column, i in enumerate(row):
            kind = self.kinds[i] if i < len(self.kinds) else self.slots[i].status.value
            style = self._style(component_for(kind))
            number = self.slots[i].slot_number
            if i == self.cursor:
                text = f"▶{number:<{lw}}{GLYPHS.get(kind, ' ')}"
                cursor = self._style("slot-grid--cursor") if focused else Style(bold=True, underline=True)
                style = style + cursor
            else:
                text = f" {number:<{lw}}{GLYPHS.get(kind, ' ')}"
            if column:
                segments.append(gap)
            segments.append(Segment(text, style))
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -------------------------------------------------------------------------------------- cursor

    def watch_cursor(self, old: int, new: int) -> None:
        if self._where and 0 <= old < len(self._where):
            self.refresh(self._line_region(old))
        if self._where and 0 <= new < len(self._where):
            self.refresh(self._line_region(new))
            self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, self.selected_slot))

    def _line_region(self, index: int) -> Region:
        line, _ = self._where[index]
        return Region(0, line - round(self.scroll_offset.y), self.size.width, 1)

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.slots) - 1)) if self.slots else 0

    def action_move(self, dx: int, dy: int) -> None:
        if not self.slots:
            return
        if dx:
            self.cursor = self.cursor + dx
            return
        line, column = self._where[self.cursor]
        target = line + dy
        while 0 <= target < len(self._rows) and self._rows[target] is None:
            target += dy
        if 0 <= target < len(self._rows):
            row = self._rows[target]
            assert row is not None
            self.cursor = row[min(column, len(row) - 1)]

    def action_page(self, direction: int) -> None:
        if not self.slots:
            return
        for _ in range(max(1, self.scrollable_content_region.height - 2)):
            before = self.cursor
            self.action_move(0, direction)
            if self.cursor == before:
                break

    def action_jump(self, where: str) -> None:
        if self.slots:
            self.cursor = 0 if where == "first" else len(self.slots) - 1

    def action_choose(self) -> None:
        slot = self.selected_slot
        if slot is not None:
            self.post_message(self.SlotChosen(self, slot))

    def _index_at(self, x: int, y: int) -> int | None:
        line = y + round(self.scroll_offset.y)
        if not 0 <= line < len(self._rows) or self._rows[line] is None:
            return None
        column, inside = divmod(x + round(self.scroll_offset.x), self.cell_width + GAP)
        row = self._rows[line]
        assert row is not None
        if inside >= self.cell_width or column >= len(row):
            return None
        return row[column]

    def on_click(self, event: events.Click) -> None:
        index = self._index_at(event.x, event.y)
        if index is None:
            return
        self.focus()
        if index == self.cursor and event.chain >= 2:
            self.action_choose()
        else:
            self.cursor = index
