"""Plant known bugs one at a time and check that the tests named for each catch it.

    .venv/bin/python tools/plant_bugs.py            every bug below (about 10 minutes on a busy 2-core machine)
    .venv/bin/python tools/plant_bugs.py --list     the bugs and the tests named for each
    .venv/bin/python tools/plant_bugs.py NAME...    only these bugs

For each bug the working tree (tracked and untracked files that git does not ignore) is copied to a temporary
folder, the bug is planted there by replacing one exact piece of text (it must occur exactly once, so a bug
that no longer fits today's code is reported, not silently skipped), and the named tests are run there with
that copy first on the import path (child processes of the tests import the copy too), on the TinyDB store only
(`-k 'not postgres'`: the PostgreSQL variants would start a server for every bug). A bug is caught when at
least one named test fails; the tests that failed are printed. The working tree itself is never touched.
Exit status 1 if any bug was not caught or no longer fits the code. Run it under `nice -n 10`. The last
recorded run is in docs/testing.md ("Planted bugs").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = "parking_tui/storage/tinydb/store.py"
LOCK = "parking_tui/storage/tinydb/lock.py"


@dataclass(frozen=True)
class Bug:
    name: str
    what: str
    edits: tuple[tuple[str, str, str], ...]  # (file, exact text, replacement)
    tests: tuple[str, ...]


BUGS = [
    Bug(
        "touching-overlap",
        "windows that touch count as overlap",
        (("parking_tui/domain/rules.py", "return a_start < b_end and b_start < a_end", "return a_start <= b_end and b_start <= a_end"),),
        ("tests/core/test_subminute.py",),
    ),
    Bug(
        "overlap-1s",
        "overlaps up to 1 s allowed",
        (
            (
                "parking_tui/domain/rules.py",
                "return a_start < b_end and b_start < a_end",
                "return a_start < b_end - timedelta(seconds=1) and b_start < a_end - timedelta(seconds=1)",
            ),
        ),
        ("tests/core/test_subminute.py",),
    ),
    Bug(
        "overlap-59s",
        "overlaps up to 59 s allowed",
        (
            (
                "parking_tui/domain/rules.py",
                "return a_start < b_end and b_start < a_end",
                "return a_start < b_end - timedelta(seconds=59) and b_start < a_end - timedelta(seconds=59)",
            ),
        ),
        ("tests/core/test_subminute.py",),
    ),
    Bug(
        "lock-does-nothing",
        "lock acquire does nothing (the lock file is opened, never locked)",
        ((LOCK, "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "pass"),),
        ("tests/core/test_commit_unit.py", "tests/core/test_multiprocess.py", "tests/core/test_multiprocess_caches.py"),
    ),
    Bug(
        "lot-not-reread",
        "lot files not re-read under the lock (a cached lot file is always taken as current)",
        (
            (
                STORE,
                "        cached = self._files.get(name)\n        if cached is not None:\n",
                "        cached = self._files.get(name)\n        if cached is not None and '.lot-' in name:\n"
                "            return cached\n        if cached is not None:\n",
            ),
        ),
        ("tests/core/test_multiprocess_caches.py", "tests/core/test_multiprocess.py"),
    ),
    Bug(
        "no-fsync-folder",
        "no fsync of the folder",
        (
            (STORE, "            dfd = os.open(self.dir, os.O_RDONLY) if wrote else None\n", "            dfd = None\n"),
            (STORE, "            dfd = os.open(self.dir, os.O_RDONLY)\n            try:\n                os.fsync(dfd)\n",
             "            dfd = os.open(self.dir, os.O_RDONLY)\n            try:\n                pass\n"),
        ),
        ("tests/core/test_power_loss.py",),
    ),
    Bug(
        "no-fsync-files",
        "no fsync of the data files",
        ((STORE, "            for i, fd in enumerate(fds):\n                os.fsync(fd)\n", "            for i, fd in enumerate(fds):\n"),),
        ("tests/core/test_power_loss.py",),
    ),
    Bug(
        "no-fsync-at-all",
        "no fsync at all (data files, audit log, folder)",
        (
            (STORE, "            for i, fd in enumerate(fds):\n                os.fsync(fd)\n", "            for i, fd in enumerate(fds):\n"),
            (STORE, "            dfd = os.open(self.dir, os.O_RDONLY) if wrote else None\n            for fd in (audit_fd, dfd):\n"
                    "                if fd is not None:\n                    os.fsync(fd)\n",
             "            dfd = os.open(self.dir, os.O_RDONLY) if wrote else None\n            for fd in (audit_fd, dfd):\n"
             "                if fd is not None:\n                    pass\n"),
            (STORE, "            dfd = os.open(self.dir, os.O_RDONLY)\n            try:\n                os.fsync(dfd)\n",
             "            dfd = os.open(self.dir, os.O_RDONLY)\n            try:\n                pass\n"),
        ),
        ("tests/core/test_power_loss.py",),
    ),
    Bug(
        "cancel-others",
        "a driver may cancel (or change) another driver's booking",
        (("parking_tui/domain/context.py", "if row is None or (row.username != user.username and not user.is_admin):",
          "if row is None:"),),
        ("tests/core/test_authorisation.py", "tests/core/test_invariants_hypothesis.py"),
    ),
    Bug(
        "no-lockout",
        "lockout not enforced",
        (("parking_tui/domain/accounts.py", "    if until > now:\n        minutes", "    if False:\n        minutes"),),
        ("tests/core/test_accounts.py",),
    ),
    Bug(
        "map-ignores-version",
        "the slot map ignores version changes (another process's writes)",
        (("parking_tui/tui/screens/slot_map.py", "return (self.svc.version(self.lot_id), self.svc.now()",
          "return (None, self.svc.now()"),),
        ("tests/tui/test_flows.py::TestSlotMap::test_live_refresh_from_another_process",),
    ),
    Bug(
        "empty-slot-number",
        "empty slot_number accepted",
        (("parking_tui/domain/rules.py", "    if not number or len(number) > 16 or not SLOT_NUMBER_RE.fullmatch(number):",
          "    if number and (len(number) > 16 or not SLOT_NUMBER_RE.fullmatch(number)):"),),
        ("tests/hardening/test_hostile_fields.py",),
    ),
    Bug(
        "audit-after-rename",
        "the audit line appended after the renames",
        (
            (STORE, "self._write_files(dirty, sync_dir=False, before_rename=append_audit, tx_id=tx_id)",
             "self._write_files(dirty, sync_dir=False, tx_id=tx_id)\n        append_audit()"),
        ),
        ("tests/core/test_power_loss.py",),
    ),
    Bug(
        "holds-not-reread",
        "a cached holds file never re-read (a second process lets the same driver double-book)",
        (
            (
                STORE,
                "        cached = self._files.get(name)\n        if cached is not None:\n",
                "        cached = self._files.get(name)\n        if cached is not None and '.holds-' in name:\n"
                "            return cached\n        if cached is not None:\n",
            ),
        ),
        ("tests/core/test_multiprocess_caches.py",),
    ),
    Bug(
        "doctor-ignores-modes",
        "doctor ignores file modes",
        (("parking_tui/storage/tinydb/doctor.py", "        if mode & ~file_mode & 0o777:", "        if False:"),),
        ("tests/hardening/test_operator_claims.py",),
    ),
    Bug(
        "audit-code-filter",
        "`parking-tui audit --code` ignores its filter",
        (("parking_tui/storage/tinydb/port.py", "    if f.code is not None and d.get(\"code\") != f.code:",
          "    if False:"),),
        ("tests/hardening/test_operator_claims.py",),
    ),
    Bug(
        "restore-unchecked",
        "restore does not check the snapshot before touching anything",
        ((STORE, "            damage = [p for p in self.verify_snapshot(snap) if not p.startswith(f\"no {SUMS}\")]\n"
                 "            if damage:\n                raise StorageError(f\"The snapshot {snap.name} is damaged",
          "            damage = []\n            if damage:\n                raise StorageError(f\"The snapshot {snap.name} is damaged"),),
        (
            "tests/hardening/test_operator_claims.py",
            "tests/hardening/test_restore.py::test_restore_refuses_a_snapshot_edited_into_other_valid_data_and_touches_nothing",
        ),
    ),
]


def copy_tree(into: Path) -> None:
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted in the working tree
        dst = into / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def plant(bug: Bug, tree: Path) -> str | None:
    """Apply the bug's edits; the reason it does not fit today's code, if it does not."""
    for rel, old, new in bug.edits:
        path = tree / rel
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            return f"{rel}: the text to replace occurs {count} times (expected once): {old.strip()[:60]!r}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return None


def run(bug: Bug, python: str) -> tuple[bool, list[str], str, float]:
    with tempfile.TemporaryDirectory(prefix=f"plant-{bug.name}-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        problem = plant(bug, tree)
        if problem:
            return False, [], problem, 0.0
        env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
        began = time.monotonic()
        out = subprocess.run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", "--no-header", "-k", "not postgres",
             *bug.tests],
            cwd=tree, env=env, capture_output=True, text=True,
        )
        took = time.monotonic() - began
        failed = [m.group(1) for m in re.finditer(r"^FAILED (\S+)", out.stdout, re.M)]
        errored = [m.group(1) for m in re.finditer(r"^ERROR (\S+)", out.stdout, re.M)]
        summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()[-200:]
        if out.returncode not in (0, 1):
            return False, failed + errored, f"pytest exit {out.returncode}: {summary}", took
        return bool(failed), failed, summary, took


def main(argv: list[str]) -> int:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still delete the copy
    wanted = [a for a in argv if not a.startswith("-")]
    unknown = set(wanted) - {b.name for b in BUGS}
    if unknown:
        print(f"unknown bug(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    bugs = [b for b in BUGS if not wanted or b.name in wanted]
    if "--list" in argv:
        for b in bugs:
            print(f"{b.name}: {b.what}\n    {' '.join(b.tests)}")
        return 0
    python = str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else sys.executable
    bad = 0
    for b in bugs:
        caught, failed, summary, took = run(b, python)
        bad += not caught
        print(f"{'caught' if caught else 'NOT CAUGHT'}  {b.name}: {b.what} ({took:.0f} s; {summary})", flush=True)
        for nodeid in failed:
            print(f"    {nodeid}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
