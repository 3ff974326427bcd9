"""Admin: the audit log - who did what, when, from which terminal - filtered by user, operation or booking code.

Everything in the table is user-controlled text (usernames, lot names, terminals): it is shown as plain
``rich.text.Text``, so markup and escape sequences are inert.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from ...domain import rules
from ...domain.errors import ParkingError
from .my_bookings import local

if TYPE_CHECKING:
    from ..app import ParkingApp

LIMIT = 500
IDS = ("code", "booking_id", "lot_id", "slot_id", "slot_number", "target", "owner", "name")
SHOWN = {"at", "user", "terminal", "op", "before", "after", "tx", "committed", *IDS}


def _plain(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    # No control character reaches the terminal: escape sequences show as visible \\x1b.
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def when(event: dict[str, Any]) -> str:
    try:
        return f"{local(datetime.fromisoformat(event['at'])):%d %b %H:%M:%S}"
    except (KeyError, TypeError, ValueError):
        return _plain(event.get("at", "?"))


def ids(event: dict[str, Any]) -> str:
    return " ".join(f"{k}={_plain(event[k])}" if k != "code" else _plain(event[k]) for k in IDS if k in event)


def change(event: dict[str, Any]) -> str:
    parts = []
    if "before" in event or "after" in event:
        parts.append(f"{_plain(event.get('before', '-'))} → {_plain(event.get('after', '-'))}")
    extra = {k: v for k, v in event.items() if k not in SHOWN}
    parts.extend(f"{k}={_plain(v)}" for k, v in extra.items())
    return " ".join(parts)


class AuditPane(Vertical):
    """Filters (user, operation, code) over a table of the newest matching audit events, newest first."""

    DEFAULT_CSS = """
    AuditPane #audit-filters {
        height: 1;
        margin: 1 1 0 1;
    }
    AuditPane #audit-filters Input {
        width: 1fr;
        margin-right: 1;
    }
    AuditPane #audit-table {
        height: 1fr;
        margin: 1 1 0 1;
    }
    AuditPane #audit-note {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    AuditPane #audit-note.-error {
        color: $error;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: list[dict[str, Any]] = []

    @property
    def papp(self) -> ParkingApp:
        return cast("ParkingApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            yield Input(placeholder="user", id="audit-user", compact=True, max_length=40)
            yield Input(placeholder="operation (check_in)", id="audit-op", compact=True, max_length=40)
            yield Input(placeholder="code (K7QX-2M9P)", id="audit-code", compact=True, max_length=12)
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-note")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        for key, label in (
            ("time", "Time"),
            ("user", "User"),
            ("terminal", "Terminal"),
            ("op", "Operation"),
            ("ids", "Code / ids"),
            ("change", "Before → after"),
        ):
            table.add_column(label, key=key)

    def focus_first(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def filters(self) -> dict[str, Any]:
        user = self.query_one("#audit-user", Input).value.strip()
        op = self.query_one("#audit-op", Input).value.strip()
        code = self.query_one("#audit-code", Input).value.strip()
        return {
            "username": user or None,
            "op": op or None,
            "code": rules.normalize_code(code) if code else None,  # ValidationError for a half-typed code
        }

    def reload(self) -> None:
        note = self.query_one("#audit-note", Static)
        try:
            filters = self.filters()
        except ParkingError as error:
            note.update(Text(str(error)))
            note.add_class("-error")
            return
        note.remove_class("-error")
        app = self.papp
        events = app.call_service(app.svc.audit_log, app.token, limit=LIMIT, **filters)
        if events is None:
            return
        self.events = list(reversed(events))
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for i, e in enumerate(self.events):
            table.add_row(
                Text(when(e)),
                Text(_plain(e.get("user", "?"))),
                Text(_plain(e.get("terminal", "?"))),
                Text(_plain(e.get("op", "?")) + (" (not committed)" if e.get("committed") is False else "")),
                Text(ids(e)),
                Text(change(e)),
                key=str(i),
            )
        shown = len(self.events)
        more = f" (the newest {LIMIT})" if shown >= LIMIT else ""
        note.update(Text(f"{shown} event{'s' if shown != 1 else ''}{more}, newest first"))

    @on(Input.Changed, "#audit-user, #audit-op, #audit-code")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.reload()

    @on(Input.Submitted, "#audit-user, #audit-op, #audit-code")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_first()
