"""Moving everything between stores: ``parking-tui export --to FILE`` and ``parking-tui import FILE``.

The file is JSON lines: a header line, then one line per row - users (with their password hashes), lots,
slots, live and finished bookings, and the audit log - every row with its own id, times as ISO-8601 UTC.
Export reads through the port (any store); import fills an EMPTY store with each store's bulk loader, keeping
the ids, so the audit log's booking ids and codes still point at the right bookings. Sessions and failed
sign-in counts are not moved: people sign in again on the new store.

A round trip TinyDB -> PostgreSQL -> TinyDB gives the same export, line for line (``tests/postgres/test_transfer.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..domain.errors import StorageError, ValidationError
from ..domain.models import LotPolicy
from ..domain.ports import AuditEvent, AuditFilter, BookingQuery, BookingRow, LotRow, SlotRow, UserRow

FORMAT = "parking-tui-export"
VERSION = 1
KINDS: dict[str, type] = {"user": UserRow, "lot": LotRow, "slot": SlotRow, "booking": BookingRow, "audit": AuditEvent}
_ALL = 2**62


def _encode(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(row):
        value = getattr(row, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, LotPolicy):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return out


_HINTS: dict[type, dict[str, Any]] = {}


def _decode(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = _HINTS.get(cls) or _HINTS.setdefault(cls, typing.get_type_hints(cls))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = str(hints[f.name])
        try:
            if value is not None and "datetime" in hint:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError("a time without its offset")
            elif value is not None and "LotPolicy" in hint:
                value = LotPolicy(**value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{where}: field {f.name!r} is {value!r}: {exc}") from None
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def rows(store: Any) -> Iterator[tuple[str, Any]]:
    """Every row of a store, through the port, in a stable order."""
    with store.view() as v:
        for u in v.users.all():
            yield "user", u
        lots = v.lots.all()
        for lot in lots:
            yield "lot", lot
        for lot in lots:
            for s in v.slots.in_lot(lot.id):
                yield "slot", s
        for b in sorted(v.bookings.query(BookingQuery()), key=lambda b: b.id):
            yield "booking", b
        for e in v.audit.query(AuditFilter(), _ALL):
            yield "audit", e


def export(store: Any, path: Path, *, source: str = "") -> dict[str, int]:
    """Write every row of ``store`` to ``path`` (written beside it and renamed: a crash leaves no half file)."""
    counts = dict.fromkeys(KINDS, 0)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"format": FORMAT, "version": VERSION, "source": source}) + "\n")
            for kind, row in rows(store):
                counts[kind] += 1
                fh.write(json.dumps({"kind": kind, **_encode(row)}, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise StorageError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return counts


def read(path: Path) -> dict[str, list[Any]]:
    """The rows of an export file, by kind; ``ValidationError`` naming the line for anything malformed."""
    out: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"Could not read {path}: {exc.strerror or exc}.") from None
    with fh:
        for n, line in enumerate(fh, 1):
            where = f"{path} line {n}"
            try:
                data = json.loads(line)
            except ValueError:
                raise ValidationError(f"{where} is not JSON: the file is damaged or not an export.") from None
            if n == 1:
                if not isinstance(data, dict) or data.get("format") != FORMAT:
                    raise ValidationError(f"{path} is not a parking-tui export (no header line).")
                if data.get("version") != VERSION:
                    raise ValidationError(f"{path} is export version {data.get('version')}; this parking-tui reads {VERSION}.")
                continue
            kind = data.pop("kind", None) if isinstance(data, dict) else None
            if kind not in KINDS:
                raise ValidationError(f"{where}: unknown kind of row {kind!r}.")
            out[kind].append(_decode(KINDS[kind], data, where))
    return out


def load(target: Any, data: dict[str, list[Any]], **options: Any) -> dict[str, int]:
    """Fill the EMPTY store at ``target`` (a path or a ``postgresql://`` URL) with ``data``, keeping ids."""
    from .. import is_database_url

    if is_database_url(target):
        from . import postgres
        from .postgres.bulk import bulk_load

        store = postgres.open_store(str(target), **{k: v for k, v in options.items() if k in postgres.OPTIONS})
        try:
            return bulk_load(store, users=data["user"], lots=data["lot"], slots=data["slot"],
                             bookings=data["booking"], audit=data["audit"])
        finally:
            store.close()
    return _load_tinydb(Path(target), data, **options)


def _load_tinydb(path: Path, data: dict[str, list[Any]], **options: Any) -> dict[str, int]:
    from .tinydb.port import record_of as to_record
    from .tinydb.bulk import bulk_load
    from .tinydb.store import TinyStore

    store = TinyStore(path, **{k: v for k, v in options.items() if k in ("file_mode", "lock_timeout")})
    try:
        with store.view() as v:
            if any(True for _ in v.users()) or v.lots():
                raise StorageError(f"{path} already holds data; import needs an empty data file.")
        bulk_load(
            store,
            users=[to_record(u) for u in data["user"]],
            lots=[to_record(lot) for lot in data["lot"]],
            slots=[to_record(s) for s in data["slot"]],
            bookings=[to_record(b) for b in data["booking"]],
        )
        events = []
        for e in data["audit"]:
            rec = {**e.details, "at": e.at.isoformat(), "user": e.user, "terminal": e.terminal, "op": e.op}
            if not e.committed:
                rec["committed"] = False
            events.append(rec)
        if events:
            with store._locked():  # noqa: SLF001 - appended as a commit's events are
                fd = store._append_audit(events)  # noqa: SLF001
                if fd is not None:
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
    finally:
        store.close()
    return {kind: len(rows_) for kind, rows_ in zip(KINDS, data.values())}
