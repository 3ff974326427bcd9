"""Operator commands of ``parking-tui``: backup, restore, doctor, audit. Local file access is the authority
here (as for ``admin create``): whoever can read the data files can read their backups and audit log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPS = ("backup", "restore", "doctor", "audit")


def add_commands(sub, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    backup = sub.add_parser(
        "backup",
        help="take a snapshot of the data now (or list them)",
        description="Take a snapshot of every data file now: independent copies in parking.backups/ beside "
        "the data file, with a SHA256SUMS file that proves them intact. The app also takes one after a write "
        "when the newest is 15 minutes old; the newest 10 are kept.",
    )
    what = backup.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list the snapshots instead")
    what.add_argument(
        "--verify", action="store_true", help="check every snapshot against its checksums (exit 1 if one is damaged)"
    )
    add_db(backup)
    restore = sub.add_parser(
        "restore",
        help="replace the data with a snapshot",
        description="Replace the data files with a snapshot's (a name exactly as `backup --list` prints it). "
        "Every file of the snapshot is checked first, and the current data is kept as a snapshot, so a "
        "restore can itself be undone. It is all or nothing, even if interrupted, and safe while kiosks and "
        "other sessions run: their next read or write sees the restored data, and no id is ever handed out "
        "twice (ids made after the snapshot are not reused).",
    )
    restore.add_argument("snapshot")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db(restore)
    doctor = sub.add_parser(
        "doctor",
        help="check every data file and invariant",
        description="Read every data file and check every invariant; print what is wrong and how to fix it. "
        "Changes nothing. Exits 0 only when all is well.",
    )
    add_db(doctor)
    audit = sub.add_parser(
        "audit",
        help="show the audit log",
        description="Show the audit log: when, who, from which terminal, what. Filters combine.",
    )
    audit.add_argument("--user", help="events by or about this username")
    audit.add_argument("--code", help="trace one booking by its confirmation code")
    audit.add_argument("--op", help="one operation, e.g. check_in, set_slot_status, login_failed")
    audit.add_argument("--limit", type=int, default=50, help="newest N events (default 50)")
    add_db(audit)


_MODE: list[int | None] = [None]


def dispatch(args: argparse.Namespace, db: Path | str, file_mode: int | None = None) -> int:
    """Run one operator command on the data at ``db`` (``file_mode``: from the config, if set)."""
    _MODE[0] = file_mode
    ops = _operations(db)
    return {"backup": _backup, "restore": _restore, "doctor": _doctor, "audit": _audit}[args.command](args, ops)


def _operations(db: Path | str) -> Any:
    """The store's operator tools for ``db``: the store is picked by the target's scheme, as ``open_service``."""
    from .. import is_database_url

    if is_database_url(db):
        from ..domain.ports import NotSupported

        try:
            from ..storage import postgres as backend
        except ImportError as exc:
            raise NotSupported(f"PostgreSQL needs the postgres extra: {exc}.") from None
        if not hasattr(backend, "operations"):
            raise NotSupported("Back up and restore a PostgreSQL database with pg_dump and pg_restore.")
        return backend.operations(str(db))
    from ..storage import tinydb

    return tinydb.operations(Path(db), file_mode=_file_mode())


def _file_mode() -> int | None:
    """The configured mode; ``None`` keeps the mode the data file has. A bad value stops, as in the config."""
    if _MODE[0] is not None:
        return _MODE[0]
    raw = os.environ.get("PARKING_TUI_FILE_MODE")
    if not raw:
        return None
    from .config import parse_file_mode

    return parse_file_mode(raw, "PARKING_TUI_FILE_MODE")


def _backup(args: argparse.Namespace, ops: Any) -> int:
    if getattr(args, "verify", False):
        checks = ops.verify()
        if not checks:
            print(f"No snapshots yet in {ops.backup_dir}.")
            return 0
        damaged = 0
        for check in checks:
            if check.state == "damaged":
                damaged += 1
                print(f"DAMAGED {check.name}: " + "; ".join(check.problems))
            elif check.state == "unproven":
                print(f"unproven {check.name}: {check.problems[0]}")
            else:
                print(f"ok      {check.name}")
        if damaged:
            print(f"{damaged} damaged snapshot(s): do not restore them.", file=sys.stderr)
            return 1
        return 0
    if args.list:
        names = ops.backups()
        if not names:
            print(f"No snapshots yet in {ops.backup_dir}.")
        for name in names:
            print(name)
        return 0
    print(f"Snapshot taken: {ops.backup()}")
    return 0


def _restore(args: argparse.Namespace, ops: Any) -> int:
    from ..domain.errors import NotFound

    try:
        ops.check_backup(args.snapshot)  # an unknown name stops here, before the question
    except NotFound as exc:
        print(f"parking-tui: {exc}", file=sys.stderr)
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            print("parking-tui: restore replaces the data; add --yes to confirm.", file=sys.stderr)
            return 2
        answer = input(f"Replace the data in {ops.describe()} with snapshot {args.snapshot}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was changed.")
            return 1
    safety = ops.restore(args.snapshot)
    print(f"Restored {args.snapshot}. The data as it was before is kept as snapshot {safety}.")
    return 0


def _doctor(args: argparse.Namespace, ops: Any) -> int:
    findings = ops.doctor()
    serious = [f for f in findings if f.level != "info"]
    for f in findings:
        print(f)
    where = ops.describe()
    if serious:
        print(f"{len(serious)} problem(s) in {where}.")
        return 1
    print(f"All is well: {where} and its companion files pass every check.")
    return 0


def _audit(args: argparse.Namespace, ops: Any) -> int:
    from ..domain.ports import AuditFilter
    from ..domain.rules import normalize_code

    code = normalize_code(args.code) if args.code else None
    events = ops.audit(AuditFilter(user=args.user, op=args.op, code=code), max(1, args.limit))
    for e in events:
        rest = {k: v for k, v in e.details.items() if k not in ("tx", "committed")}
        detail = " ".join(f"{k}={v}" for k, v in rest.items())
        if not e.committed:
            detail = "NOT COMMITTED (the process stopped before the change was saved) " + detail
        at = e.at.isoformat()[:19] if e.at.year > 1 else "?"
        print(f"{at}  {e.user or '?':<12} {e.terminal or '?':<18} {e.op or '?':<16} {detail}")
    if not events:
        print("No matching events.")
    return 0
