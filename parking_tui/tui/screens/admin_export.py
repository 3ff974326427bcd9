"""CSV export of what an admin tab shows (reservations, or the occupancy summary) to a file the admin names.

The file name starts in the configured export folder (``export_dir``; else the working directory), always shown
as a full path; it is written in a thread and errors are shown in the dialog."""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...domain.models import Booking, Lot, LotSummary
from ..widgets.confirm import ConfirmModal
from ..words import plural

CSV_FIELDS = (
    "id",
    "confirmation_code",
    "username",
    "lot_id",
    "lot_name",
    "slot_id",
    "slot_number",
    "start_time",
    "end_time",
    "status",
    "checked_in_at",
    "checked_out_at",
    "overstay_minutes",
)


def booking_to_row(b: Booking) -> dict[str, Any]:
    """A flat dict for CSV export (times as stored: aware UTC, ISO-8601)."""
    return {
        "id": b.id,
        "confirmation_code": b.confirmation_code,
        "username": b.username,
        "lot_id": b.lot_id,
        "slot_id": b.slot_id,
        "slot_number": b.slot_number,
        "start_time": b.start_time.isoformat(),
        "end_time": b.end_time.isoformat(),
        "status": b.status.value,
        "checked_in_at": b.checked_in_at.isoformat() if b.checked_in_at else "",
        "checked_out_at": b.checked_out_at.isoformat() if b.checked_out_at else "",
        "overstay_minutes": int(b.overstay.total_seconds() // 60),
    }


SUMMARY_FIELDS = (
    "lot_id",
    "lot_name",
    "location",
    "free_now",
    "reserved_now",
    "occupied_now",
    "out_of_service",
    "bookings_today",
    "no_shows_today",
    "overstays_today",
)


def reservation_rows(bookings: Sequence[Booking], lots: Mapping[int, Lot]) -> list[dict[str, Any]]:
    """One flat row per booking, with the lot's name next to its id."""
    rows = []
    for b in bookings:
        row = booking_to_row(b)
        lot = lots.get(b.lot_id)
        named: dict[str, Any] = {}
        for key, value in row.items():
            named[key] = value
            if key == "lot_id":
                named["lot_name"] = lot.name if lot is not None else ""
        rows.append(named)
    return rows


def summary_rows(summaries: Sequence[LotSummary]) -> list[dict[str, Any]]:
    """One row per lot: the figures the Summary tab shows."""
    return [
        {
            "lot_id": s.lot.id,
            "lot_name": s.lot.name,
            "location": s.lot.location,
            "free_now": s.free_now,
            "reserved_now": s.reserved_now,
            "occupied_now": s.occupied_now,
            "out_of_service": s.out_of_service,
            "bookings_today": s.bookings_today,
            "no_shows_today": s.no_shows_today,
            "overstays_today": s.overstays_today,
        }
        for s in summaries
    ]


def default_export_path(folder: Path | None, name: str) -> Path:
    """``folder/name`` as a full path (the working directory when no folder is configured)."""
    base = Path(os.path.expanduser(str(folder))) if folder is not None else Path.cwd()
    return (base / name).absolute()


class ExportError(Exception):
    """The file could not be written; the message says why, for a person."""


def resolve_export_path(raw: str) -> Path:
    """The file a typed path means (``~`` expanded, relative to the working directory)."""
    text = raw.strip()
    if not text:
        raise ExportError("Type a file path, like reservations.csv.")
    if "\x00" in text:
        raise ExportError("The path contains a NUL character.")
    path = Path(os.path.expanduser(text)).absolute()
    if path.is_dir():
        raise ExportError(f"{path} is a folder; add a file name, like {path / 'reservations.csv'}.")
    return path


def write_reservations_csv(
    path: Path, bookings: Sequence[Booking], lots: Mapping[int, Lot] | None = None, *, mode: int = 0o600
) -> int:
    """Write one row per booking (with a header) and return the number of rows. Raises ``ExportError``."""
    return write_csv(path, reservation_rows(bookings, lots or {}), CSV_FIELDS, mode=mode)


def write_csv(
    path: Path, rows: Sequence[Mapping[str, Any]], default_fields: Sequence[str], *, mode: int = 0o600
) -> int:
    """Write the rows (with a header) through a temporary file; return how many. Raises ``ExportError``.

    The file gets ``mode`` (the data files' mode: it holds usernames and codes) whatever the umask, through a
    new temporary file with an unpredictable name that is never a symbolic link planted in its place."""
    fields = list(rows[0].keys()) if rows else list(default_fields)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        if not path.parent.exists():
            raise ExportError(f"The folder {path.parent} does not exist.")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except ExportError:
        raise
    except OSError as error:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        reason = error.strerror or str(error)
        raise ExportError(f"Could not write {path}: {reason}.") from None
    return len(rows)


class ExportModal(ModalScreen["tuple[Path, int] | None"]):
    """Ask for a file path and write the given rows (reservations or lots) there as CSV."""

    DEFAULT_CSS = """
    ExportModal {
        align: center middle;
    }
    ExportModal > #export-box {
        width: 70;
        max-width: 100%;
        height: auto;
        padding: 0 1;
        border: thick $primary;
        background: $panel;
    }
    ExportModal #export-title {
        text-style: bold;
        width: 100%;
    }
    ExportModal #export-input {
        margin-top: 1;
    }
    ExportModal #export-error {
        color: $error;
        height: auto;
        width: 100%;
    }
    ExportModal #export-hint {
        color: $text-muted;
        width: 100%;
    }
    """

    BINDINGS = [Binding("escape", "close", "Back", id="export.back")]

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        what: str,
        default_path: str | Path,
        *,
        noun: str = "reservation",
        fields: Sequence[str] = CSV_FIELDS,
    ) -> None:
        super().__init__()
        self.rows = list(rows)
        self.what = what
        self.default_path = str(default_path)
        self.noun = noun
        self.fields = tuple(fields)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label(Text(f"Export {plural(len(self.rows), self.noun)} ({self.what}) as CSV"), id="export-title")
            yield Input(self.default_path, placeholder="File path, like ~/reservations.csv", id="export-input")
            yield Static("", id="export-error")
            yield Static("Enter writes the file · Escape goes back", id="export-hint")

    def on_mount(self) -> None:
        self.query_one("#export-input", Input).focus()

    def show_error(self, message: str) -> None:
        self.query_one("#export-error", Static).update(Text(message))

    @on(Input.Submitted, "#export-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            path = resolve_export_path(event.value)
        except ExportError as error:
            self.show_error(str(error))
            return
        if path.exists():

            def answered(yes: bool | None) -> None:
                if yes:
                    self.start_write(path)

            self.app.push_screen(
                ConfirmModal(f"{path} exists. Replace it?", yes="Replace", no="Keep it"), answered
            )
            return
        self.start_write(path)

    def start_write(self, path: Path) -> None:
        self.show_error("")
        self.query_one("#export-hint", Static).update(Text(f"Writing {path}…"))
        self._write(path)

    @work(thread=True, exclusive=True, group="export")
    def _write(self, path: Path) -> None:
        try:
            store = getattr(getattr(self.app, "svc", None), "store", None)
            count = write_csv(path, self.rows, self.fields, mode=getattr(store, "file_mode", 0o600))
        except ExportError as error:
            self.app.call_from_thread(self._failed, str(error))
        except Exception as error:  # never a traceback on screen
            self.app.call_from_thread(self._failed, f"Could not write {path}: {error}")
        else:
            self.app.call_from_thread(self.dismiss, (path, count))

    def _failed(self, message: str) -> None:
        self.show_error(message)
        self.query_one("#export-hint", Static).update("Enter writes the file · Escape goes back")

    def action_close(self) -> None:
        self.dismiss(None)
