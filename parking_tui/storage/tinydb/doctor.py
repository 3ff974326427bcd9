"""``parking-tui doctor``: read every data file and check every invariant, changing nothing.

Each finding says what is wrong and how to fix it. ``info`` findings are harmless; anything else means the data
needs attention (the command exits non-zero).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import shapes
from .store import SCHEMA, _foreign, _loads, _read_nofollow, _TrustedOwners

LIVE = ("reserved", "checked_in")
TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Finding:
    level: str  # "error", "warning" or "info"
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.level.upper():7} {self.what}\n        fix: {self.fix}"


def _read(path: Path, out: list[Finding], stem: str) -> dict[str, dict[str, Any]] | None:
    try:
        raw = _read_nofollow(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            out.append(
                Finding(
                    "error",
                    f"{path} is a symbolic link.",
                    "Remove it: parking-tui never follows links in its data folder.",
                )
            )
        else:
            out.append(Finding("error", f"{path} cannot be read ({exc.strerror}).", "Check its owner and mode."))
        return None
    restore = "Restore it with `parking-tui restore SNAPSHOT` (see `parking-tui backup --list`)."
    if not raw.strip(b" \t\r\n\x00"):
        out.append(Finding("error", f"{path} is empty or holds only zero bytes.", restore))
        return None
    try:
        data = _loads(raw)
    except ValueError:
        out.append(Finding("error", f"{path} is not valid JSON (truncated or overwritten).", restore))
        return None
    if not isinstance(data, dict) or not all(
        isinstance(t, dict) and all(isinstance(r, dict) for r in t.values()) for t in data.values()
    ):
        out.append(Finding("error", f"{path} is not a parking-tui data file.", restore))
        return None
    try:
        shapes.check(path.name, stem, data)
    except shapes.ShapeError as exc:
        out.append(Finding("error", f"{path} is damaged: {exc}.", restore))
        return None
    return data


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def diagnose(path: str | Path, *, now: datetime | None = None, file_mode: int = 0o600) -> list[Finding]:
    """Every problem found in the data file at ``path`` and its companions. Reads only."""
    out: list[Finding] = []
    try:
        return _diagnose(Path(path).absolute(), now, file_mode, out)
    except Exception as exc:  # a shape no check foresaw: still one finding, never a traceback
        out.append(
            Finding(
                "error",
                f"The data cannot be checked to the end: {type(exc).__name__}: {exc}.",
                "Restore from a snapshot.",
            )
        )
        return out


def _diagnose(path: Path, now: datetime | None, file_mode: int, out: list[Finding]) -> list[Finding]:
    now = now or datetime.now(timezone.utc)
    folder, stem = path.parent, path.name[:-5] if path.name.endswith(".json") else path.name
    if not path.exists():
        companions = list(folder.glob(f"{stem}.*.json"))
        if companions:
            out.append(
                Finding(
                    "error",
                    f"{path} is missing but {len(companions)} companion files are there.",
                    "Restore the data from a snapshot: `parking-tui restore SNAPSHOT`.",
                )
            )
        else:
            out.append(Finding("info", f"{path} does not exist yet.", "It is created at the first start."))
        return out
    trusted = _TrustedOwners(folder.stat().st_gid)
    if not trusted(folder.stat().st_uid):
        out.append(
            Finding(
                "error",
                _foreign(folder, folder.stat().st_uid, folder.stat().st_gid, "folder"),
                "Give the folder to a member of the group (chown).",
            )
        )
    for extra in (folder / f"{path.name}.lock", folder / f"{stem}.audit.jsonl", folder / f"{stem}.restore-journal"):
        if extra.is_symlink():
            out.append(
                Finding(
                    "error",
                    f"{extra} is a symbolic link.",
                    "Remove it: parking-tui never follows links in its data folder.",
                )
            )
    for p in [path, *folder.glob(f"{stem}.*")]:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if not trusted(st.st_uid):
            out.append(
                Finding(
                    "error",
                    _foreign(p, st.st_uid, folder.stat().st_gid, "file"),
                    "Move it aside; it was not written by a member of the group.",
                )
            )
    for tmp in folder.glob(f".{stem}.*.tmp"):
        out.append(
            Finding("info", f"Temporary file {tmp.name} left by an interrupted write.", "Removed at the next start.")
        )

    files = {p.name: p for p in [path, *sorted(folder.glob(f"{stem}.*.json"))]}
    data = {name: _read(p, out, stem) for name, p in files.items()}
    for name, p in files.items():
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & ~file_mode & 0o777:
            out.append(
                Finding(
                    "warning",
                    f"{name} has mode {mode:o}, wider than the configured {file_mode:o}.",
                    f"chmod {file_mode:o} {p}",
                )
            )
    root = data.get(path.name)
    if root is None:
        return out
    meta = root.get("meta", {}).get("1", {})
    schema = meta.get("schema")
    if not isinstance(schema, int) or schema > SCHEMA:
        out.append(
            Finding(
                "error",
                f"{path.name} has schema {schema!r}; this parking-tui reads up to {SCHEMA}.",
                "Upgrade parking-tui.",
            )
        )
        return out
    ids = meta.get("ids", {})
    lots = root.get("lots", {})
    # The manifest: every file the root lists is there and of this generation (epoch).
    if "files" in meta:
        for name in sorted(set(meta["files"]) - set(meta.get("new_files", ())) - set(files)):
            out.append(
                Finding(
                    "error",
                    f"{name} is missing, but {path.name} lists it.",
                    "Restore it from a snapshot: `parking-tui restore SNAPSHOT`.",
                )
            )
    for name, content in data.items():
        tag = (content or {}).get("_file", {}).get("1", {})
        if name != path.name and "epoch" in tag and tag["epoch"] != meta.get("epoch"):
            out.append(
                Finding(
                    "error",
                    f"{name} is a stale copy from before the last restore.",
                    "Restore from a snapshot: `parking-tui restore SNAPSHOT`.",
                )
            )
    pending = {int(i) for i, _ in meta.get("pending_archive", [])}

    # Lots, slots and live bookings.
    live: dict[int, dict[str, Any]] = {}
    max_slot = 0
    for lot_key, lot in lots.items():
        lot_id = int(lot_key)
        name = f"{stem}.lot-{lot_id}.json"
        lot_data = data.get(name) or {}
        slots = lot_data.get("slots", {})
        numbers: dict[str, str] = {}
        for slot_key, slot in slots.items():
            max_slot = max(max_slot, int(slot_key))
            if slot.get("lot_id") != lot_id:
                out.append(
                    Finding(
                        "error",
                        f"Slot {slot_key} in {name} says it belongs to lot {slot.get('lot_id')}.",
                        "Restore from a snapshot.",
                    )
                )
            if slot.get("slot_number") in numbers:
                out.append(
                    Finding(
                        "error",
                        f"Lot {lot_id} has slot number {slot.get('slot_number')} twice.",
                        "Restore from a snapshot.",
                    )
                )
            numbers[slot.get("slot_number")] = slot_key
        in_use = sum(1 for s in slots.values() if not s.get("retired"))
        if in_use > int(lot.get("total_slots", 0)):
            out.append(
                Finding(
                    "warning",
                    f"Lot {lot_id} has {in_use} slots in use but a capacity of {lot.get('total_slots')}.",
                    "Raise the capacity or retire slots.",
                )
            )
        grace = timedelta(minutes=int((lot.get("policy") or {}).get("grace_minutes", 15)))
        for b_key, b in lot_data.get("bookings", {}).items():
            bid = int(b_key)
            if bid in live:
                out.append(Finding("error", f"Booking {bid} is live in two lot files.", "Restore from a snapshot."))
            if b.get("status") not in LIVE:
                out.append(
                    Finding(
                        "error",
                        f"Booking {bid} in {name} has status {b.get('status')!r} "
                        "but lot files hold live bookings only.",
                        "Restore from a snapshot.",
                    )
                )
            if str(b.get("slot_id")) not in slots:
                out.append(
                    Finding(
                        "error",
                        f"Booking {bid} points at slot {b.get('slot_id')}, which lot {lot_id} does not have.",
                        "Restore from a snapshot.",
                    )
                )
            start, end = _ts(b.get("start_time")), _ts(b.get("end_time"))
            if start is None or end is None or end <= start:
                out.append(Finding("error", f"Booking {bid} has a broken time window.", "Restore from a snapshot."))
                continue
            # A reservation held for a blocked slot (attention set) does not lapse; grace restarts when it ends.
            since = max(start, _ts(b.get("grace_from")) or start)
            lapsed = b.get("status") == "reserved" and now > since + grace and not b.get("attention")
            effective = "expired" if lapsed else b.get("status")
            live[bid] = dict(b, _id=bid, _lot=lot_id, _start=start, _end=end, _effective=effective)
    for name in files:
        m = re.fullmatch(re.escape(stem) + r"\.lot-(\d+)\.json", name)
        if m and m.group(1) not in lots:
            out.append(
                Finding("warning", f"{name} belongs to no lot (a lot creation was interrupted).", f"Move {name} aside.")
            )

    # Invariant 1: no two live bookings of one slot overlap.
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for b in live.values():
        if b["_effective"] in LIVE:
            by_slot.setdefault(int(b["slot_id"]), []).append(b)
    for slot_id, bookings in by_slot.items():
        bookings.sort(key=lambda b: b["_start"])
        for a, b in zip(bookings, bookings[1:], strict=False):
            if b["_start"] < a["_end"]:
                out.append(
                    Finding(
                        "error",
                        f"Slot {slot_id}: bookings {a.get('confirmation_code')} "
                        f"and {b.get('confirmation_code')} overlap.",
                        "Cancel one of them in the admin screen (Reservations) and tell the driver.",
                    )
                )

    # Archive: finished only, ids not live unless a move was interrupted.
    archived: set[int] = set()
    max_booking = max(live, default=0)
    for name, content in data.items():
        if content is None or ".archive-" not in name:
            continue
        for b_key, b in content.get("bookings", {}).items():
            bid = int(b_key)
            max_booking = max(max_booking, bid)
            if b.get("status") in LIVE:
                out.append(
                    Finding(
                        "error",
                        f"Archived booking {bid} in {name} is still {b.get('status')}.",
                        "Restore from a snapshot.",
                    )
                )
            if bid in archived:
                out.append(Finding("error", f"Booking {bid} is archived twice.", "Restore from a snapshot."))
            archived.add(bid)
            if bid in live and bid not in pending:
                out.append(
                    Finding(
                        "warning",
                        f"Booking {bid} is both archived and live.",
                        "Start parking-tui once with a write (any booking) to settle it.",
                    )
                )

    # Holds: a superset of every driver's live lots.
    holds: dict[str, set[int]] = {}
    for name, content in data.items():
        if content is not None and ".holds-" in name:
            for rec in content.get("holds", {}).values():
                holds.setdefault(rec.get("username"), set()).update(int(v) for v in rec.get("lots", {}).values())
    for b in live.values():
        if b["_lot"] not in holds.get(b.get("username"), set()):
            out.append(
                Finding(
                    "error",
                    f"Live booking {b['_id']} ({b.get('confirmation_code')}) is missing from its driver's holds.",
                    "Restore from a snapshot.",
                )
            )

    # Id counters never behind the ids in use.
    for kind, used in (("lot", max((int(k) for k in lots), default=0)), ("slot", max_slot), ("booking", max_booking)):
        if int(ids.get(kind, 0)) < used:
            out.append(
                Finding(
                    "error",
                    f"The {kind} id counter ({ids.get(kind, 0)}) is behind the ids in use ({used}).",
                    "Restore from a snapshot.",
                )
            )

    # Accounts: argon2id hashes only; tokens only as hashes.
    users = (data.get(f"{stem}.users.json") or {}).get("users", {})
    for rec in users.values():
        if not str(rec.get("password_hash", "")).startswith("$argon2id$"):
            out.append(
                Finding(
                    "error",
                    f"User {rec.get('username')} has no argon2id password hash.",
                    "Reset the password: delete the user and register again.",
                )
            )
        if "password" in rec:
            out.append(
                Finding("error", f"User {rec.get('username')} has a plain password stored.", "Restore from a snapshot.")
            )
    auth = data.get(f"{stem}.auth.json") or {}
    for rec in auth.get("sessions", {}).values():
        if not TOKEN_HASH.fullmatch(str(rec.get("token_hash", ""))) or "token" in rec:
            out.append(
                Finding(
                    "error", "A session is stored without a token hash.", "Delete the auth file to sign everybody out."
                )
            )

    # The audit log: JSON lines; a torn last line is harmless.
    audit = folder / f"{stem}.audit.jsonl"
    if audit.exists():
        lines = audit.read_bytes().split(b"\n")
        bad = [i for i, line in enumerate(lines) if line.strip() and not _json_ok(line)]
        # Every event starts with '{"'; such a line that does not parse was cut short by a crash mid-append
        # (the next append starts a new line). Anything else was not written by parking-tui.
        torn = [i for i in bad if lines[i].startswith(b'{"')]
        foreign = [i for i in bad if i not in torn]
        if foreign:
            out.append(
                Finding(
                    "warning",
                    f"{audit.name} has {len(foreign)} unreadable lines.",
                    "Keep the file for the record; new events are appended after them.",
                )
            )
        from .store import TinyStore

        uncommitted = [e for e in TinyStore.for_restore(path).read_audit() if e.get("committed") is False]
        if uncommitted:
            ops = ", ".join(sorted({str(e.get("op")) for e in uncommitted}))
            out.append(
                Finding(
                    "info",
                    f"{audit.name} has {len(uncommitted)} event(s) ({ops}) of changes that never happened: the "
                    "process stopped after writing them and before saving the change.",
                    "Nothing to do: `parking-tui audit` and the audit screen mark them NOT COMMITTED.",
                )
            )
        if torn == [len(lines) - 1]:
            out.append(
                Finding("info", f"{audit.name} ends in a line cut short by a crash.", "Nothing to do: readers skip it.")
            )
        elif torn:
            out.append(
                Finding(
                    "info",
                    f"{audit.name} has {len(torn)} line(s) cut short by a crash.",
                    "Nothing to do: readers skip them.",
                )
            )
    _check_snapshots(path, out)
    return out


def _check_snapshots(path: Path, out: list[Finding]) -> None:
    """Every snapshot against its checksums, and automatic snapshots that failed since the newest one."""
    from .store import SUMS, TinyStore

    store = TinyStore.for_restore(path)
    snaps = store.snapshots()
    for snap in snaps:
        damage = [p for p in store.verify_snapshot(snap) if not p.startswith(f"no {SUMS}")]
        if damage:
            out.append(
                Finding(
                    "warning",
                    f"Snapshot {snap.name} is damaged: {'; '.join(damage)}.",
                    f"Do not restore it; remove {snap}.",
                )
            )
    newest = snaps[-1].stat().st_mtime if snaps else 0.0
    failed = [
        e for e in store.read_audit() if e.get("op") == "snapshot_failed" and _epoch_seconds(e.get("at")) > newest
    ]
    if failed:
        out.append(
            Finding(
                "warning",
                f"{len(failed)} automatic snapshot(s) failed since the newest one: {failed[-1].get('reason')}.",
                "Fix the cause, then take one with `parking-tui backup`.",
            )
        )


def _epoch_seconds(value: Any) -> float:
    moment = _ts(value)
    return moment.timestamp() if moment is not None and moment.tzinfo is not None else 0.0


def _json_ok(line: bytes) -> bool:
    try:
        return isinstance(_loads(line), dict)
    except ValueError:
        return False
