"""Small helpers for the words on screen."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 reservation``, ``2 reservations``, ``0 no-shows`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
