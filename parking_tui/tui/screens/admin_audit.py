"""Admin: the audit log - who did what, when, from which terminal - filtered by user, operation or booking code.

Everything in the table is user-controlled text (usernames, lot names, terminals): it is shown as plain
``rich.text.Text``, so markup and escape sequences are inert.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Select, Static

from ...domain import rules
from ...domain.errors import ParkingError
from ..shell import ParkingShell, ShellNode
from ..bookings_text import local

LIMIT = 500
IDS = ("code", "booking_id", "lot_id", "slot_id", "slot_number", "target", "owner", "name")
SHOWN = {"at", "user", "terminal", "op", "before", "after", "tx", "committed", *IDS}
#: The operations the log holds (the filter also offers any other operation seen in the log).
KNOWN_OPS = (
    "create_booking", "check_in", "check_out", "cancel", "extend", "expire",
    "login", "login_failed", "login_locked", "logout", "register", "create_admin", "update_profile", "set_admin",
    "create_lot", "add_slots", "set_slot_status", "rolled_back", "snapshot_failed",
)


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


class AuditPane(ShellNode, Vertical):
    """Filters (user, operation, code) over a table of the newest matching audit events, newest first."""

    app = getters.app(ParkingShell)

    DEFAULT_CSS = """
    AuditPane #audit-filters {
        height: 1;
        margin: 1 1 0 1;
    }
    AuditPane #audit-filters Input, AuditPane #audit-filters Select {
        width: 1fr;
        margin-right: 1;
    }
    AuditPane #audit-detail {
        height: 3;
        padding: 0 1;
        margin: 0 1;
        background: $panel;
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
        self._ops: list[str] = list(KNOWN_OPS)

    def compose(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            yield Input(placeholder="user", id="audit-user", compact=True, max_length=40)
            yield Select([(op, op) for op in KNOWN_OPS], prompt="any operation", id="audit-op", compact=True)
            yield Input(placeholder="code (K7QX-2M9P)", id="audit-code", compact=True, max_length=12)
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-detail")
        yield Static("", id="audit-note")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        for key, label in (
            ("time", "Time"),
            ("user", "User"),
            ("op", "Operation"),
            ("ids", "Code / ids"),
            ("change", "Before → after"),
        ):
            table.add_column(label, key=key)

    def focus_first(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def filters(self) -> dict[str, Any]:
        user = self.query_one("#audit-user", Input).value.strip()
        chosen = self.query_one("#audit-op", Select).value
        op = "" if chosen is Select.NULL else str(chosen)
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
        svc, token = self.app.svc, self.app.session
        self.call(lambda: svc.audit_log(token, limit=LIMIT, **filters), then=self._show, group="audit", exclusive=True)

    def _show(self, events: list[dict[str, Any]]) -> None:
        note = self.query_one("#audit-note", Static)
        self.events = list(reversed(events))
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for i, e in enumerate(self.events):
            table.add_row(
                Text(when(e)),
                Text(_plain(e.get("user", "?"))),
                Text(_plain(e.get("op", "?")) + (" (not committed)" if e.get("committed") is False else "")),
                Text(ids(e)),
                Text(change(e)),
                key=str(i),
            )
        shown = len(self.events)
        more = f" (the newest {LIMIT})" if shown >= LIMIT else ""
        plural = "s" if shown != 1 else ""
        note.update(Text(f"{shown} event{plural}{more}, newest first · Enter shows the whole record"))
        self._offer_ops(e.get("op") for e in self.events)
        self.show_detail()

    def _offer_ops(self, seen) -> None:
        """Operations the log holds that the list does not name yet (new kinds of change) join the list."""
        select = self.query_one("#audit-op", Select)
        extra = sorted({str(op) for op in seen if op and str(op) not in self._ops})
        if extra:
            self._ops.extend(extra)
            keep = select.value
            with select.prevent(Select.Changed):
                select.set_options([(op, op) for op in self._ops])
                if keep is not Select.NULL:
                    select.value = keep

    @property
    def selected_event(self) -> dict[str, Any] | None:
        table = self.query_one("#audit-table", DataTable)
        if not table.row_count:
            return None
        row = table.cursor_row
        return self.events[row] if 0 <= row < len(self.events) else None

    def show_detail(self) -> None:
        e = self.selected_event
        detail = self.query_one("#audit-detail", Static)
        if e is None:
            detail.update("")
            return
        head = (
            f"{when(e)} · {_plain(e.get('user', '?'))} on {_plain(e.get('terminal', '?'))} · {_plain(e.get('op', '?'))}"
        )
        detail.update(Text(" ".join(p for p in (head, ids(e), change(e)) if p)))

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_detail()

    @on(DataTable.RowSelected, "#audit-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        e = self.selected_event
        if e is not None:
            self.app.push_screen(AuditRecordModal(e))

    @on(Select.Changed, "#audit-op")
    def _op_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self.is_mounted:
            self.reload()

    @on(Input.Changed, "#audit-user, #audit-code")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.reload()

    @on(Input.Submitted, "#audit-user, #audit-code")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_first()


class AuditRecordModal(ModalScreen[None]):
    """One audit event in full: every field on its own line, nothing cut."""

    DEFAULT_CSS = """
    AuditRecordModal {
        align: center middle;
    }
    AuditRecordModal > #record-box {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        padding: 0 1;
        border: thick $primary;
        background: $panel;
    }
    AuditRecordModal #record-title {
        text-style: bold;
    }
    AuditRecordModal #record-scroll {
        height: auto;
        max-height: 30;
    }
    """

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="record.close")]

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        e = self.event
        with Vertical(id="record-box"):
            yield Static(Text(f"Audit record · {when(e)} · {_plain(e.get('op', '?'))}"), id="record-title")
            with VerticalScroll(id="record-scroll"):
                yield Static(record_text(e), id="record-body")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)


def record_text(event: dict[str, Any]) -> Text:
    """Every field of an event, ``name: value``, values as plain text (JSON for lists and objects)."""
    width = max((len(str(k)) for k in event), default=0)
    text = Text()
    for key, value in event.items():
        text.append(f"{_plain(str(key)):<{width}}  ", "bold")
        text.append(_plain(value))
        text.append("\n")
    text.rstrip()
    return text
