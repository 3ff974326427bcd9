"""Faults on real files and real processes: a full disk, a read-only folder, a hung or killed lock holder, a
process that dies inside a transaction. After each, the data is exactly as it was and the caller was told."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from parking_tui.domain import StorageError
from parking_tui.storage.tinydb import store as store_module

from .conftest import WAIT, build_world, files_bytes, open_svc, temp_files

pytestmark = pytest.mark.slow

REAL_WRITE = os.write


def enospc_on(monkeypatch: pytest.MonkeyPatch, suffix: str) -> list[str]:
    """Make every write to a file whose name ends in ``suffix`` fail as a full disk would; returns what was
    refused (``.tmp``: the data files' temporary files; ``.audit.jsonl``: the audit log)."""
    refused: list[str] = []

    def write(fd: int, data) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.endswith(suffix):
            refused.append(target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return REAL_WRITE(fd, data)

    monkeypatch.setattr(store_module.os, "write", write)
    return refused


def enospc_on_temp_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return enospc_on(monkeypatch, ".tmp")


def enospc_on_audit_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return enospc_on(monkeypatch, ".audit.jsonl")


class TestDiskFull:
    def test_full_disk_at_the_audit_log_changes_nothing(self, world, monkeypatch):
        """The audit lines are appended before the renames: no change is ever saved without its line."""
        folder = world.path.parent
        audit = folder / "parking.audit.jsonl"
        before = files_bytes(folder)
        audit_before = audit.read_bytes() if audit.exists() else b""
        refused = enospc_on_audit_log(monkeypatch)
        with pytest.raises(StorageError) as caught:
            world.book(world.alice)
        assert refused, "the append never reached os.write"
        assert "audit log" in str(caught.value) and "Nothing was changed" in str(caught.value)
        assert temp_files(folder) == []
        assert files_bytes(folder) == before
        assert (audit.read_bytes() if audit.exists() else b"") == audit_before
        monkeypatch.undo()
        booking = world.book(world.alice)
        assert [b.id for b in world.svc.my_bookings(world.alice)] == [booking.id]

    def test_injected_enospc_leaves_the_data_as_it_was(self, world, monkeypatch):
        folder = world.path.parent
        before = files_bytes(folder)
        refused = enospc_on_temp_files(monkeypatch)
        with pytest.raises(StorageError) as caught:
            world.book(world.alice)
        assert refused, "the write never reached os.write"
        assert "disk is full" in str(caught.value) and "Nothing was changed" in str(caught.value)
        assert temp_files(folder) == []
        assert files_bytes(folder) == before
        monkeypatch.undo()
        # The same process carries on once there is room again: nothing stale was cached.
        booking = world.book(world.alice)
        assert [b.id for b in world.svc.my_bookings(world.alice)] == [booking.id]

    def test_a_really_full_tmpfs(self, tmpfs):
        folder = tmpfs("1m")
        world = build_world(folder / "parking.json", backups=0)
        filler = folder / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # fill every last byte
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        REAL_WRITE(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        before = files_bytes(folder)
        with pytest.raises(StorageError) as caught:
            world.svc.create_lot(world.admin, "North " + "x" * 60, "Hill Road 5", 500)
        assert "disk is full" in str(caught.value)
        assert temp_files(folder) == []
        assert files_bytes(folder) == before
        filler.unlink()
        lot = world.svc.create_lot(world.admin, "North", "Hill Road 5", 500)
        assert lot.name in [x.name for x in world.svc.list_lots(world.admin)]

    def test_the_tui_shows_it_and_keeps_running(self, tmp_path, monkeypatch):
        from textual.widgets import Static

        from parking_tui.cli.demo import ensure_demo_data
        from parking_tui.tui.app import make_app
        from parking_tui.tui.screens.booking import BookingScreen
        from parking_tui.tui.screens.notices import StorageErrorScreen

        from .conftest import FrozenClock

        svc = open_svc(tmp_path / "parking.json", FrozenClock(datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)))
        ensure_demo_data(svc)
        token = svc.login("driver", "driver1234")
        lot = next(x for x in svc.list_lots(token) if x.name.startswith("Central"))
        before = files_bytes(tmp_path)

        async def scenario() -> tuple[str, bool, type]:
            app = make_app(svc, session_token=token)
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                app.action_open_lot(lot.id)
                await pilot.pause()
                await pilot.pause()
                await pilot.press("enter")  # A1 is free: the booking form
                await pilot.pause()
                assert isinstance(app.screen, BookingScreen)
                enospc_on_temp_files(monkeypatch)
                await pilot.press("enter")  # submit
                for _ in range(50):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                    if isinstance(app.screen, StorageErrorScreen):
                        break
                    await asyncio.sleep(0.05)
                assert isinstance(app.screen, StorageErrorScreen)
                message = str(app.screen.query_one("#storage-error-message", Static).render())
                await pilot.press("escape")
                await pilot.pause()
                return message, app.is_running, type(app.screen)

        message, running, screen_after = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
        monkeypatch.undo()
        assert "disk is full" in message
        assert running and screen_after.__name__ == "BookingScreen"
        assert files_bytes(tmp_path) == before
        assert temp_files(tmp_path) == []


class TestReadOnlyFolder:
    def test_a_read_only_data_folder_is_a_clear_error_at_open(self, tmpfs):
        folder = tmpfs("4m")
        build_world(folder / "parking.json")
        before = files_bytes(folder)
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, timeout=WAIT)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only: {done.stderr.decode().strip()}")
        with pytest.raises(StorageError) as caught:
            open_svc(folder / "parking.json")
        message = str(caught.value)
        assert str(folder) in message and "writable" in message, message
        with pytest.raises(StorageError) as fresh:  # a new data file in a read-only folder
            open_svc(folder / "other.json")
        assert "writable" in str(fresh.value)
        assert files_bytes(folder) == before


LOCK_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1] if len(sys.argv) > 1 else {lock!r}, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""

HOLDER_IN_TRANSACTION = """
import time
from datetime import datetime
import parking_tui
from tests.hardening.conftest import FrozenClock, cheap_hasher
svc = parking_tui.open_service({path!r}, clock=FrozenClock(), password_hasher=cheap_hasher())
with svc.store.files.transaction() as tx:
    tx.put_lot({{"id": 99, "name": "Ghost", "location": "nowhere", "total_slots": 1, "policy": {{}}}})
    tx.audit({{"op": "ghost"}})
    print("inside", flush=True)
    time.sleep(120)
"""


class TestLock:
    def test_a_hung_holder_makes_writers_wait_then_say_busy(self, world, child):
        svc = open_svc(world.path, lock_timeout=1)
        holder = child(LOCK_HOLDER.format(lock=str(world.path) + ".lock"))
        holder.expect("locked")
        before = files_bytes(world.path.parent)
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            svc.create_lot(world.admin, "North", "Hill Road 5", 10)
        waited = time.monotonic() - started
        message = str(caught.value)
        assert 0.9 <= waited < 3.0, waited
        assert "busy" in message and "try again" in message
        assert files_bytes(world.path.parent) == before

    def test_a_killed_holder_lets_the_next_writer_in_at_once(self, world, child):
        svc = open_svc(world.path, lock_timeout=15)
        before = files_bytes(world.path.parent)
        holder = child(HOLDER_IN_TRANSACTION.format(path=str(world.path)))
        holder.expect("inside")
        result: dict = {}

        def write() -> None:
            try:
                result["lot"] = svc.create_lot(world.admin, "North", "Hill Road 5", 10)
            except BaseException as exc:  # reported below
                result["error"] = exc
            result["at"] = time.monotonic()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(0.5)
        assert "at" not in result, "the writer did not wait for the lock"
        assert files_bytes(world.path.parent) == before
        killed_at = time.monotonic()
        holder.kill()
        writer.join(timeout=10)
        assert "error" not in result, result.get("error")
        assert result["at"] - killed_at < 1.0, result["at"] - killed_at
        names = [x.name for x in svc.list_lots(world.admin)]
        assert names == ["Central", "North"]  # the killed holder's ghost lot was never written
        assert not any(e.get("op") == "ghost" for e in svc.store.files.read_audit())


CRASH_IN_TRANSACTION = """
import os
import parking_tui
from tests.hardening.conftest import FrozenClock, cheap_hasher
svc = parking_tui.open_service({path!r}, clock=FrozenClock(), password_hasher=cheap_hasher())
token = svc.login("admin", "correct-horse")
print("signed-in", flush=True)
before = sorted(os.listdir({folder!r}))
with svc.store.files.transaction() as tx:
    tx.put_lot({{"id": 77, "name": "Ghost", "location": "nowhere", "total_slots": 1, "policy": {{}}}})
    tx.put_slot({{"id": 777, "lot_id": 1, "slot_number": "Z9", "admin_status": "available"}})
    tx.put_user({{"username": "ghost", "email": "g@example.com", "password_hash": "x", "is_admin": True}})
    tx.audit({{"op": "ghost"}})
    os._exit(3)
"""


def test_a_crash_inside_a_transaction_writes_nothing(world, child):
    folder = world.path.parent
    crasher = child(CRASH_IN_TRANSACTION.format(path=str(world.path), folder=str(folder)))
    crasher.expect("signed-in")
    assert crasher.wait() == 3
    # The login above was a real write; take the picture after it, then prove the crash added nothing.
    after_login = files_bytes(folder)
    crasher2 = child(CRASH_IN_TRANSACTION.format(path=str(world.path), folder=str(folder)).replace(
        'token = svc.login("admin", "correct-horse")\n', ""
    ))
    crasher2.expect("signed-in")
    assert crasher2.wait() == 3
    assert files_bytes(folder) == after_login
    assert temp_files(folder) == []
    svc = open_svc(world.path)
    assert [x.name for x in svc.list_lots(world.admin)] == ["Central"]
    assert [s.slot_number for s in svc.lot_slots(world.admin, world.lot.id)] == ["A1", "A2", "A3"]
