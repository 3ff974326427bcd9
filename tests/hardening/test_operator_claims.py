"""Operator commands, through the real command line, for claims that had no test of their own:

* ``parking-tui audit`` filters: ``--user``, ``--code``, ``--op``, alone and combined;
* ``parking-tui doctor`` warns about a data file whose mode is wider than the configured one;
* ``parking-tui restore`` checks every file of the snapshot before it touches anything: a damaged snapshot is
  refused and the data, the audit log and the snapshots are left byte for byte as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, WAIT, build_world, files_bytes

pytestmark = pytest.mark.slow


def cli(*args: str, db: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``parking-tui ARGS --db DB`` with no config file, and no ``PARKING_TUI_*`` but those in ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    full.update(PYTHONPATH=str(ROOT), **(env or {}))
    full["HOME"] = full["XDG_CONFIG_HOME"] = str(db.parent / "home")
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args, "--db", str(db)],
        capture_output=True, text=True, timeout=WAIT * 2, env=full, cwd=str(ROOT), stdin=subprocess.DEVNULL,
    )


# ------------------------------------------------------------------------------------------------- audit


def _audit_rows(*args: str, db: Path) -> list[tuple[str, str]]:
    """``(user, op)`` of each line ``parking-tui audit`` prints (columns: at, user, terminal, op, details)."""
    done = cli("audit", "--limit", "1000", *args, db=db)
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines():
        if line.startswith("No matching events"):
            continue
        words = line.split()
        rows.append((words[1], words[3], line))
    return rows


@pytest.fixture
def busy(db_path):
    """Alice and Bob each book, check in, check out; a failed sign-in and a slot mark by the admin."""
    world = build_world(db_path)
    a = world.book(world.alice, 0, start_min=0)
    b = world.book(world.bob, 1, start_min=0)
    for booking, token in ((a, world.alice), (b, world.bob)):
        world.svc.check_in(token, booking.id)
    world.clock.advance(minutes=70)
    world.svc.check_out(world.alice, a.id)
    world.svc.check_out(world.admin, b.id)
    world.svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service")
    try:
        world.svc.login("bob", "wrong-password")
    except Exception:
        pass
    return world, a, b


def test_audit_user_filter(busy):
    world, a, b = busy
    everything = _audit_rows(db=world.path)
    rows = _audit_rows("--user", "bob", db=world.path)
    assert rows and len(rows) < len(everything)
    # Events by bob, and events about bob's booking done by someone else (the admin's check-out).
    assert {user for user, _, _ in rows} == {"bob", "admin"}
    assert {op for user, op, _ in rows if user == "admin"} == {"check_out"}
    assert all("alice" not in line for _, _, line in rows)
    assert {op for _, op, _ in rows} >= {"create_booking", "check_in", "check_out", "login_failed"}


def test_audit_code_filter(busy):
    world, a, b = busy
    code = a.confirmation_code
    for given in (code, code.lower().replace("-", "")):
        rows = _audit_rows("--code", given, db=world.path)
        assert [op for _, op, _ in rows] == ["create_booking", "check_in", "check_out"]
        assert all(f"code={code}" in line for _, _, line in rows)
        assert all(b.confirmation_code not in line for _, _, line in rows)


def test_audit_op_filter(busy):
    world, a, b = busy
    rows = _audit_rows("--op", "check_in", db=world.path)
    assert [(user, op) for user, op, _ in rows] == [("alice", "check_in"), ("bob", "check_in")]
    rows = _audit_rows("--op", "set_slot_status", db=world.path)
    assert [(user, op) for user, op, _ in rows] == [("admin", "set_slot_status")]


def test_audit_filters_combine(busy):
    world, a, b = busy
    rows = _audit_rows("--user", "bob", "--op", "check_out", db=world.path)
    assert [(user, op) for user, op, _ in rows] == [("admin", "check_out")]
    assert f"code={b.confirmation_code}" in rows[0][2]
    done = cli("audit", "--user", "alice", "--code", b.confirmation_code, db=world.path)
    assert done.returncode == 0 and done.stdout.strip() == "No matching events."


# ------------------------------------------------------------------------------------------------ doctor


def test_doctor_warns_about_a_file_mode_wider_than_configured(db_path):
    world = build_world(db_path)
    healthy = cli("doctor", db=world.path)
    assert healthy.returncode == 0, healthy.stdout
    users = world.path.parent / "parking.users.json"
    os.chmod(users, 0o644)
    done = cli("doctor", db=world.path)
    assert done.returncode == 1, done.stdout
    assert "WARNING" in done.stdout and "parking.users.json has mode 644" in done.stdout, done.stdout
    assert f"chmod 600 {users}" in done.stdout
    assert done.stdout.count("has mode") == 1  # only the file that is too wide
    assert (users.stat().st_mode & 0o777) == 0o644  # the doctor only reports


def test_doctor_judges_modes_against_the_configured_one(db_path):
    """With ``file_mode`` 660 (a shared attendants' group) group-writable files are right; under the default
    600 the same files are each reported."""
    world = build_world(db_path, file_mode=0o660)
    shared = cli("doctor", db=world.path, env={"PARKING_TUI_FILE_MODE": "660"})
    assert shared.returncode == 0, shared.stdout
    default = cli("doctor", db=world.path)
    assert default.returncode == 1
    data = sorted(p.name for p in world.path.parent.glob("parking*.json"))
    assert sorted(line.split()[1] for line in default.stdout.splitlines() if "has mode 660" in line) == data


# ----------------------------------------------------------------------------------------------- restore


def _replace_in_snapshot(snap: Path, name: str, content: bytes) -> None:
    """Snapshots hold hard links to the data: put a new file in place (never write through the link)."""
    target = snap / name
    target.unlink()
    target.write_bytes(content)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b'{"slots": {"1": "A1"}, "bookings": []}', id="wrong-shape"),
        pytest.param(lambda raw: b"", id="empty"),
    ],
)
@pytest.mark.parametrize("which", ["lot", "root"])
def test_restore_refuses_a_damaged_snapshot_and_touches_nothing(db_path, damage, which):
    world = build_world(db_path)
    world.book(world.alice, 0)
    snap = world.svc.store.files.snapshot()
    world.book(world.bob, 1)  # the data moves on after the snapshot
    name = f"parking.lot-{world.lot.id}.json" if which == "lot" else "parking.json"
    _replace_in_snapshot(snap, name, damage((snap / name).read_bytes()))
    folder = world.path.parent
    before = files_bytes(folder)
    done = cli("restore", snap.name, "--yes", db=world.path)
    assert done.returncode != 0, done.stdout
    message = (done.stdout + done.stderr).strip()
    assert name in message and "Traceback" not in message, message
    assert len(message.splitlines()) == 1, message
    assert files_bytes(folder) == before  # data, audit log and snapshots: nothing new, nothing changed
