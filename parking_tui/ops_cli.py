"""Operator commands of ``parking-tui``: backup, restore, doctor, audit. Local file access is the authority
here (as for ``admin create``): whoever can read the data files can read their backups and audit log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

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


def dispatch(args: argparse.Namespace, db: Path, file_mode: int | None = None) -> int:
    """Run one operator command on the data file ``db`` (``file_mode``: from the config, if set)."""
    from .storage.store import check_data_path

    _MODE[0] = file_mode
    check_data_path(Path(db).expanduser().absolute())
    return {"backup": _backup, "restore": _restore, "doctor": _doctor, "audit": _audit}[args.command](args, db)


def _file_mode() -> int:
    if _MODE[0] is not None:
        return _MODE[0]
    raw = os.environ.get("PARKING_TUI_FILE_MODE", "600")
    try:
        return int(raw, 8)
    except ValueError:
        return 0o600


def _backup(args: argparse.Namespace, db: Path) -> int:
    from .storage import TinyStore

    if getattr(args, "verify", False):
        store = TinyStore.for_restore(db, file_mode=_file_mode())  # the snapshots only, not the live data
        snaps = store.snapshots()
        if not snaps:
            print(f"No snapshots yet in {store.backup_dir}.")
            return 0
        damaged = 0
        for snap in snaps:
            problems = store.verify_snapshot(snap)
            serious = [p for p in problems if not p.startswith("no SHA256SUMS")]
            damaged += bool(serious)
            if serious:
                print(f"DAMAGED {snap.name}: " + "; ".join(serious))
            elif problems:
                print(f"unproven {snap.name}: {problems[0]}")
            else:
                print(f"ok      {snap.name}")
        if damaged:
            print(f"{damaged} damaged snapshot(s): do not restore them.", file=sys.stderr)
            return 1
        return 0
    store = TinyStore(db, file_mode=_file_mode())
    if args.list:
        snaps = store.snapshots()
        if not snaps:
            print(f"No snapshots yet in {store.backup_dir}.")
        for snap in snaps:
            print(snap.name)
        return 0
    print(f"Snapshot taken: {store.snapshot()}")
    return 0


def _restore(args: argparse.Namespace, db: Path) -> int:
    from .storage import TinyStore

    store = TinyStore.for_restore(db, file_mode=_file_mode())
    store.named_snapshot(args.snapshot)  # an unknown name stops here, before the question
    if not args.yes:
        if not sys.stdin.isatty():
            print("parking-tui: restore replaces the data; add --yes to confirm.", file=sys.stderr)
            return 2
        answer = input(f"Replace the data in {store.path} with snapshot {args.snapshot}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was changed.")
            return 1
    safety = store.restore(args.snapshot)
    print(f"Restored {args.snapshot}. The data as it was before is kept as snapshot {safety.name}.")
    return 0


def _doctor(args: argparse.Namespace, db: Path) -> int:
    from .storage.doctor import diagnose

    findings = diagnose(db, file_mode=_file_mode())
    serious = [f for f in findings if f.level != "info"]
    for f in findings:
        print(f)
    if serious:
        print(f"{len(serious)} problem(s) in {db}.")
        return 1
    print(f"All is well: {db} and its companion files pass every check.")
    return 0


def _audit(args: argparse.Namespace, db: Path) -> int:
    from .domain.rules import normalize_code
    from .storage import TinyStore

    store = TinyStore.for_restore(db)  # reads the log only; does not need the data files to be healthy
    code = normalize_code(args.code) if args.code else None
    events = [
        e
        for e in store.read_audit()
        if (args.user is None or args.user in (e.get("user"), e.get("owner")))
        and (code is None or e.get("code") == code)
        and (args.op is None or e.get("op") == args.op)
    ]
    for e in events[-max(1, args.limit) :]:
        rest = {k: v for k, v in e.items() if k not in ("at", "user", "terminal", "op", "tx", "committed")}
        detail = " ".join(f"{k}={v}" for k, v in rest.items())
        if e.get("committed") is False:
            detail = "NOT COMMITTED (the process stopped before the change was saved) " + detail
        print(
            f"{str(e.get('at', '?'))[:19]}  {str(e.get('user', '?')):<12} {str(e.get('terminal', '?')):<18} "
            f"{str(e.get('op', '?')):<16} {detail}"
        )
    if not events:
        print("No matching events.")
    return 0
