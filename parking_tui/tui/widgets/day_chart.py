"""A picture of a lot's day drawn with text: occupancy hour by hour today, or the last seven days as rows.

Readable without colour: parked cars are ``█``, reservations held ``▒``, no-shows ``n`` and overstays ``o`` on a
marker line; the week view shades each hour by the share of slots in use (`` ░▒▓█``). Colours, where the theme
has them, only repeat what the glyphs say.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual.widgets import Static

from ...domain.models import LotHours

#: Rows of the bar area in the today view.
BAR_ROWS = 4
#: Characters per hour in the today view (a bar two wide and a gap).
HOUR_WIDTH = 3
SHADES = " ░▒▓█"
#: Leading blanks that survive line wrapping (a no-break space).
PAD = "\u00a0"
TODAY = "today"
WEEK = "week"


def _hour_label_line(width: int, step: int = 3) -> str:
    line = [" "] * (24 * width)
    for hour in range(0, 24, step):
        label = f"{hour:02d}"
        for i, ch in enumerate(label):
            line[hour * width + i] = ch
    return "".join(line).rstrip()


def today_picture(hours: LotHours, now: datetime, styles: dict[str, str] | None = None) -> Text:
    """Today (the last 24 hours of ``hours``), one bar per hour: parked below, held above, markers under."""
    styles = styles or {}
    first = len(hours.occupied) - 24
    occupied = hours.occupied[first:]
    reserved = hours.reserved[first:]
    no_shows = hours.no_shows[first:]
    overstays = hours.overstays[first:]
    peak = max((o + r for o, r in zip(occupied, reserved, strict=True)), default=0)
    top = max(peak, 1)
    text = Text()
    text.append(f"{hours.lot.name}", "bold")
    total_n, total_o = sum(no_shows), sum(overstays)
    text.append(
        f" · today · peak {peak}/{hours.capacity} · "
        f"{total_n} no-show{'s' if total_n != 1 else ''} · {total_o} overstay{'s' if total_o != 1 else ''}\n"
    )
    # Rows from the top: a cell is filled when the hour's value reaches that row (any non-zero value shows).
    def rows_for(value: int) -> int:
        if value <= 0:
            return 0
        return max(1, round(BAR_ROWS * value / top))

    now_hour = None
    day_start = hours.start + timedelta(hours=first)
    if day_start <= now < day_start + timedelta(hours=24):
        now_hour = int((now - day_start).total_seconds() // 3600)
    for row in range(BAR_ROWS, 0, -1):
        label = f"{top:>3} " if row == BAR_ROWS else "    "
        text.append(label.replace(" ", PAD))
        for h in range(24):
            parked = rows_for(occupied[h])
            both = rows_for(occupied[h] + reserved[h])
            if row <= parked:
                text.append("██", styles.get("parked", ""))
            elif row <= both:
                text.append("▒▒", styles.get("held", ""))
            else:
                text.append("  ")
            text.append(" ")
        text.append("\n")
    axis = "".join(("┴┴" if h == now_hour else "──") + "─" for h in range(24))
    text.append(f"{PAD}{PAD}0{PAD}" + axis + "\n")
    text.append(PAD * 4 + _hour_label_line(HOUR_WIDTH) + "\n")
    marks = []
    for h in range(24):
        cell = ("n" * min(no_shows[h], 1) + "o" * min(overstays[h], 1)).ljust(2)
        marks.append(cell + " ")
    text.append(PAD * 4)
    text.append("".join(marks).rstrip().replace(" ", PAD), styles.get("marks", ""))
    text.append("\n")
    text.append("█", styles.get("parked", ""))
    text.append(" parked  ")
    text.append("▒", styles.get("held", ""))
    text.append(" held  n no-show  o overstay")
    if now_hour is not None:
        text.append(f"  ┴ now {now:%H:%M}")
    return text


def week_picture(hours: LotHours) -> Text:
    """One row per day (oldest first), one shaded cell per hour: the share of slots parked or held."""
    days = len(hours.occupied) // 24
    capacity = max(hours.capacity, 1)
    text = Text()
    text.append(f"{hours.lot.name}", "bold")
    text.append(f" · last {days} days · in use of {hours.capacity}: ░<25% ▒<50% ▓<75% █\n")
    text.append(PAD * 11 + _hour_label_line(2, 3).ljust(48) + "  no-show overstay\n")
    for d in range(days):
        day = hours.start + timedelta(days=d)
        cells = []
        for h in range(24):
            i = d * 24 + h
            used = hours.occupied[i] + hours.reserved[i]
            if used <= 0:
                shade = " "
            else:
                share = used / capacity
                shade = SHADES[min(4, 1 + int(share * 4))] if share < 1 else SHADES[4]
            cells.append((shade * 2).replace(" ", PAD))
        n = sum(hours.no_shows[d * 24 : d * 24 + 24])
        o = sum(hours.overstays[d * 24 : d * 24 + 24])
        text.append(f"{day:%a %d %b} ")
        text.append("".join(cells))
        text.append(f"  {n:>7} {o:>8}\n")
    text.rstrip()
    return text


class DayChart(Static):
    """The chart of one lot; ``show(hours, now)`` draws it, ``view`` is ``today`` or ``week``."""

    DEFAULT_CSS = """
    DayChart {
        height: auto;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.view = TODAY
        self.hours: LotHours | None = None
        self.now: datetime | None = None

    def show(self, hours: LotHours | None, now: datetime) -> None:
        self.hours, self.now = hours, now
        self.redraw()

    def toggle(self) -> None:
        self.view = WEEK if self.view == TODAY else TODAY
        self.redraw()

    def redraw(self) -> None:
        if self.hours is None or self.now is None:
            self.update("")
            return
        if self.view == WEEK:
            self.update(week_picture(self.hours))
            return
        theme = getattr(self.app, "theme_variables", {}) or {}
        styles = {"parked": theme.get("error", ""), "held": theme.get("warning", ""), "marks": "bold"}
        self.update(today_picture(self.hours, self.now.astimezone(self.hours.start.tzinfo), styles))
