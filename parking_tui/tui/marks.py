"""What a slot mark does, in words (the map's marks and the lots tab's retire both ask with this)."""

from __future__ import annotations

from datetime import datetime

from ..domain.models import SlotMark
from . import timefmt

MARKS = {
    "occupied": "occupied (a car without a booking)",
    "available": "available (the manual mark is cleared)",
    "out_of_service": "out of service",
}


def describe_mark(mark: SlotMark, now: datetime, zone: str | None = None) -> str:
    """What a mark does to the bookings, for the admin to read before confirming (times on ``zone``'s clock)."""
    lines = []
    for b in mark.moved:
        lines.append(
            f"Moves {b.confirmation_code} ({timefmt.span(b.start_time, b.end_time, now, zone)}) to {b.slot_number}, "
            "same code."
        )
    for b in mark.unplaced:
        lines.append(
            f"No free slot for {b.confirmation_code} ({timefmt.span(b.start_time, b.end_time, now, zone)}): it stays, "
            "flagged for the attendant, and does not lapse while blocked."
        )
    if not lines:
        lines.append("No booking is affected. Nobody can book the slot while it is marked.")
    return "\n".join(lines)
