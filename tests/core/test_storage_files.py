"""Damaged, foreign or newer data files stop the program with a clear message and are left byte-for-byte."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import stat
import time
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import StorageError

from .conftest import PASSWORD, cheap_hasher, make_user

DAMAGE = {
    "empty": b"",
    "blank": b"   \n",
    "truncated": None,  # filled in from the real file
    "nul-filled": None,
    "garbage": b"\x89PNG\r\n\x1a\n not json",
    "not-a-dict": b"[1, 2, 3]",
    "table-not-a-dict": b'{"users": [1, 2]}',
    "record-not-a-dict": b'{"users": {"1": "alice"}}',
}


@pytest.fixture
def populated(svc, db_path, clock):
    """A store with a user, a session, a lot, a slot, a live and an archived booking."""
    from datetime import timedelta

    admin = make_user(svc, "admin", admin=True)
    alice = make_user(svc, "alice")
    lot = svc.create_lot(admin, "Lot", "x", 5)
    slot = svc.add_slot(admin, lot.id, "A1")
    start = clock.now + timedelta(hours=1)
    b = svc.create_booking(alice, slot.id, start, start + timedelta(hours=1))
    svc.cancel_booking(alice, b.id)
    svc.create_booking(alice, slot.id, start, start + timedelta(hours=1))
    names = sorted(p.name for p in db_path.parent.glob("parking*.json"))
    assert {"parking.json", "parking.users.json", "parking.auth.json", f"parking.lot-{lot.id}.json"} <= set(names)
    assert any(".archive-" in n for n in names)
    return svc, admin, alice, lot, slot


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.endswith(".lock")}


def _companions(db_path):
    return sorted(p.name for p in db_path.parent.glob("parking*.json"))


@pytest.mark.parametrize("which", ["root", "users", "auth", "lot", "archive"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_file_is_storage_error_and_left_alone(populated, db_path, clock, which, damage):
    svc, admin, alice, lot, slot = populated
    target = {
        "root": db_path,
        "users": db_path.with_name("parking.users.json"),
        "auth": db_path.with_name("parking.auth.json"),
        "lot": db_path.with_name(f"parking.lot-{lot.id}.json"),
        "archive": next(db_path.parent.glob("parking.archive-*.json")),
    }[which]
    original = target.read_bytes()
    bad = DAMAGE[damage]
    if damage == "truncated":
        bad = original[: len(original) // 2]
    elif damage == "nul-filled":
        bad = b"\x00" * len(original)
    target.write_bytes(bad)

    attempts = {
        "open": lambda: parking_tui.open_service(db_path, clock=clock, password_hasher=cheap_hasher()),
        "login": lambda: svc.login("alice", PASSWORD),
        "my_bookings": lambda: svc.my_bookings(alice),
        "list_reservations": lambda: svc.list_reservations(admin),
        "register": lambda: svc.register("zed", "z@example.com", PASSWORD),
        "create_lot": lambda: svc.create_lot(admin, "Other", "y", 3),
        "add_slot": lambda: svc.add_slot(admin, lot.id, "B1"),
    }
    # What must fail: everything needing the damaged file (every call authenticates through the auth file).
    # Opening reads the hot files (root, users, auth, lots) so that damage stops the program at start;
    # archives are read when first needed.
    must_fail = {
        "root": set(attempts),
        "users": {"open", "login", "my_bookings", "list_reservations", "register", "create_lot", "add_slot"},
        "auth": {"open", "login", "my_bookings", "list_reservations", "create_lot", "add_slot"},
        "lot": {"open", "my_bookings", "list_reservations", "add_slot"},
        "archive": {"my_bookings", "list_reservations"},
    }[which]
    failed = set()
    for name, attempt in attempts.items():
        try:
            attempt()
        except StorageError as exc:
            failed.add(name)
            msg = str(exc)
            assert target.name in msg, msg
            assert "\n" not in msg
        assert target.read_bytes() == bad, f"{name} wrote to the damaged {target.name}"
    assert failed == must_fail


def test_damaged_root_refuses_open(db_path, svc):
    svc.register("alice", "a@example.com", PASSWORD)
    db_path.write_bytes(b'{"meta": {"1": {"schema": 1')
    before = db_path.read_bytes()
    with pytest.raises(StorageError) as exc:
        parking_tui.open_service(db_path, password_hasher=cheap_hasher())
    assert str(db_path) in str(exc.value) and "damaged" in str(exc.value)
    assert db_path.read_bytes() == before


def test_newer_schema_refused(svc, db_path):
    svc.register("alice", "a@example.com", PASSWORD)
    data = json.loads(db_path.read_bytes())
    data["meta"]["1"]["schema"] = 99
    db_path.write_bytes(json.dumps(data).encode())
    before = _snapshot(db_path.parent)
    with pytest.raises(StorageError) as exc:
        parking_tui.open_service(db_path, password_hasher=cheap_hasher())
    assert "newer" in str(exc.value) and db_path.name in str(exc.value)
    with pytest.raises(StorageError):
        svc.register("bob", "b@example.com", PASSWORD)
    assert _snapshot(db_path.parent) == before


def test_missing_schema_refused(svc, db_path):
    db_path.write_bytes(b'{"meta": {"1": {"version": 3}}}')
    with pytest.raises(StorageError) as exc:
        parking_tui.open_service(db_path, password_hasher=cheap_hasher())
    assert db_path.name in str(exc.value)
    assert db_path.read_bytes() == b'{"meta": {"1": {"version": 3}}}'


def test_missing_root_with_companions_refused(populated, db_path):
    db_path.unlink()
    before = _snapshot(db_path.parent)
    with pytest.raises(StorageError) as exc:
        parking_tui.open_service(db_path, password_hasher=cheap_hasher())
    assert db_path.name in str(exc.value)
    assert not db_path.exists()
    assert _snapshot(db_path.parent) == before


def test_root_removed_under_a_running_service(populated, db_path):
    svc, admin, *_ = populated
    db_path.unlink()
    with pytest.raises(StorageError):
        svc.create_lot(admin, "Other", "y", 3)
    assert not db_path.exists()


def test_stray_temp_files_cleaned_at_open(svc, db_path):
    svc.register("alice", "a@example.com", PASSWORD)
    stray = [db_path.parent / ".parking.json.123.abcd.tmp", db_path.parent / ".parking.lot-1.json.9.ff.tmp"]
    for p in stray:
        p.write_bytes(b'{"half": ')
    unrelated = db_path.parent / ".other.json.1.tmp"
    unrelated.write_bytes(b"keep")
    parking_tui.open_service(db_path, password_hasher=cheap_hasher())
    assert not any(p.exists() for p in stray)
    assert unrelated.read_bytes() == b"keep"


def test_data_files_created_0600(populated, db_path):
    files = list(db_path.parent.glob("parking*.json"))
    assert len(files) >= 5
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_fresh_file_created_and_reopened(db_path, clock):
    assert not db_path.exists()
    svc = parking_tui.open_service(db_path, clock=clock, password_hasher=cheap_hasher())
    assert db_path.exists()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    data = json.loads(db_path.read_bytes())
    assert data["meta"]["1"]["schema"] == parking_tui.storage.SCHEMA
    svc.register("alice", "a@example.com", PASSWORD)
    again = parking_tui.open_service(db_path, clock=clock, password_hasher=cheap_hasher())
    assert again.login("alice", PASSWORD)


def test_version_changes_on_write_only(svc, db_path):
    v0 = svc.version()
    svc.register("alice", "a@example.com", PASSWORD)
    v1 = svc.version()
    assert v1 != v0
    token = svc.login("alice", PASSWORD)
    v2 = svc.version()
    svc.profile(token)
    svc.list_lots(token)
    assert svc.version() == v2


def test_no_temp_files_left_after_writes(populated, db_path):
    leftovers = [p.name for p in db_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def _unwritable_folder_scenario(folder: Path) -> str:
    """Open a store in ``folder``, make the folder read-only, try a write: returns what happened."""
    from .conftest import FrozenClock

    svc = parking_tui.open_service(folder / "parking.json", clock=FrozenClock(), password_hasher=cheap_hasher())
    folder.chmod(0o500)
    try:
        svc.register("alice", "a@example.com", PASSWORD)
    except StorageError as exc:
        return f"StorageError: {exc}"
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        return f"{type(exc).__name__}: {exc}"
    finally:
        folder.chmod(0o700)
    return "the write succeeded"


def test_unwritable_folder_is_storage_error(tmp_path):
    """Root ignores folder permissions, so as root the scenario runs in a forked child that first becomes the
    unprivileged account ``nobody`` (CI runs as root: a skip there would leave this untested)."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        outcome = _unwritable_folder_scenario(folder)
    else:
        warm = tmp_path / "warm"
        warm.mkdir()
        _unwritable_folder_scenario(warm)  # as root: loads every module the scenario needs into this process
        nobody = 65534
        # pytest's own temporary folders are root's alone: the child works in a folder of its own under /tmp.
        base = Path(tempfile.mkdtemp(prefix="parking-unprivileged-"))
        folder = base / "ro"
        folder.mkdir()
        os.chown(base, nobody, nobody)
        os.chown(folder, nobody, nobody)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.close(read)
                os.setgroups([])
                os.setgid(nobody)
                os.setuid(nobody)
                os.write(write, _unwritable_folder_scenario(folder).encode()[:4000])
                code = 0
            except BaseException:  # noqa: BLE001 - told to the parent
                import traceback

                os.write(write, traceback.format_exc().encode()[-4000:])
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            outcome = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
        shutil.rmtree(base, ignore_errors=True)
        assert os.waitstatus_to_exitcode(status) == 0, f"the unprivileged child failed: {outcome!r}"
    assert outcome.startswith("StorageError: "), outcome
    assert str(folder) in outcome  # the message names where it could not write


def test_lock_busy_is_storage_error(populated, db_path, clock):
    import fcntl

    svc, admin, *_ = populated
    impatient = parking_tui.open_service(db_path, clock=clock, password_hasher=cheap_hasher(), lock_timeout=0.2)
    before = _snapshot(db_path.parent)
    fd = os.open(str(db_path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process holds the lock
        started = time.monotonic()
        with pytest.raises(StorageError) as exc:
            impatient.create_lot(admin, "Other", "y", 3)
        assert time.monotonic() - started < 3
        assert "busy" in str(exc.value) and db_path.name in str(exc.value)
        assert [lot.name for lot in impatient.list_lots(admin)] == ["Lot"]  # reads need no lock
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert _snapshot(db_path.parent) == before
    assert impatient.create_lot(admin, "Other", "y", 3).name == "Other"


def test_disk_full_changes_nothing(populated, db_path, monkeypatch):
    import errno

    svc, admin, alice, lot, slot = populated
    before = _snapshot(db_path.parent)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError) as exc:
        svc.create_lot(admin, "Other", "y", 3)
    assert "disk is full" in str(exc.value)
    with pytest.raises(StorageError):
        svc.add_slot(admin, lot.id, "B1")
    monkeypatch.undo()
    assert _snapshot(db_path.parent) == before
    assert not [p for p in db_path.parent.iterdir() if p.name.endswith(".tmp")]
    # The service goes on from the state on disk; the failed writes never happened.
    assert [x.name for x in svc.list_lots(admin)] == ["Lot"]
    assert [s.slot_number for s in svc.lot_slots(admin, lot.id)] == ["A1"]
    assert svc.add_slot(admin, lot.id, "B1").slot_number == "B1"
