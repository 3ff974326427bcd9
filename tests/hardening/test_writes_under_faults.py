"""Writes under faults: short writes, a sign-in racing an admin's change, lock waits that time out, and
failed sign-ins with made-up names."""

from __future__ import annotations

import fcntl
import os
import threading

import argon2
import pytest

from parking_tui.domain import AuthenticationError, StorageError
from parking_tui.domain import accounts
from parking_tui.storage.tinydb.lock import LockTimeout, ProcessLock

from .conftest import PASSWORD, build_world, open_svc


def test_short_writes_are_looped_until_the_audit_line_is_whole(world, monkeypatch):
    real = os.write

    def short(fd, data):
        return real(fd, bytes(data[:7]))  # the kernel may take fewer bytes than it was given

    monkeypatch.setattr(os, "write", short)
    booking = world.book(world.alice)
    monkeypatch.setattr(os, "write", real)
    events = [e for e in world.svc.store.files.read_audit() if e.get("op") == "create_booking"]
    assert [e["code"] for e in events] == [booking.confirmation_code]
    lines = world.svc.store.files.audit_path.read_bytes().splitlines()
    assert all(line.startswith(b"{") and line.endswith(b"}") for line in lines)


def test_a_sign_in_with_a_rehash_does_not_undo_an_admins_change(db_path):
    world = build_world(db_path)
    world.svc.set_admin(world.admin, "alice", True)
    other = open_svc(db_path, world.clock)  # the admin, in another process
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)  # the stored hash is older
    held = []

    class Racing:
        def verify(self, stored, password):
            ok = stronger.verify(stored, password)
            other.set_admin(world.admin, "alice", False)  # lands between the read and the sign-in's write
            return ok

        def hash(self, password):
            held.append(svc.store.files._lock._fd is not None)  # noqa: SLF001
            return stronger.hash(password)

        def check_needs_rehash(self, stored):
            return stronger.check_needs_rehash(stored)

    svc = open_svc(db_path, world.clock, password_hasher=Racing())
    svc.login("alice", PASSWORD)
    assert held == [False]  # the new hash was computed without holding the lock
    users = {u.username: u for u in other.list_users(world.admin)}
    assert users["alice"].is_admin is False
    stored = other.store  # the hash did change: the next sign-in needs no rehash
    with stored.view() as view:
        assert not stronger.check_needs_rehash(view.users.get("alice").password_hash)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_lock_wait_that_times_out_leaves_nothing_behind(tmp_path):
    path = str(tmp_path / "x.lock")
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        lock = ProcessLock(path, timeout=0.01)
        threads, fds = threading.active_count(), _fds()
        for _ in range(200):
            with pytest.raises(LockTimeout):
                lock.acquire()
        assert threading.active_count() == threads
        assert _fds() == fds
    finally:
        os.close(holder)
    lock.acquire()  # free now: taken at once
    lock.release()


def test_a_busy_store_says_so_and_leaves_nothing_behind(world):
    store = world.svc.store.files
    holder = os.open(str(store.path) + ".lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    store.lock_timeout = store._lock.timeout = 0.02  # noqa: SLF001
    try:
        threads, fds = threading.active_count(), _fds()
        for _ in range(50):
            with pytest.raises(StorageError, match="busy"):
                world.book(world.alice)
        assert threading.active_count() == threads and _fds() == fds
    finally:
        os.close(holder)
    world.book(world.alice)


def test_failed_sign_ins_with_made_up_names_stay_bounded(world, monkeypatch):
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 40)
    for i in range(100):
        with pytest.raises(AuthenticationError):
            world.svc.login(f"nobody{i}", "wrong-password")
    with world.svc.store.files.view() as view:
        states = view.get_login_state
        kept = [f"nobody{i}" for i in range(100) if states(f"nobody{i}") is not None]
    assert len(kept) <= 40
    assert "nobody99" in kept  # the newest are kept, the oldest forgotten
    # A real account's lockout still works under the cap.
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            world.svc.login("alice", "wrong-password")
    with pytest.raises(AuthenticationError, match="Too many failed sign-ins"):
        world.svc.login("alice", PASSWORD)


def test_stale_failed_sign_ins_are_forgotten_first(world, monkeypatch):
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 10)
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            world.svc.login("alice", "wrong-password")
    world.clock.advance(minutes=1)
    for i in range(5):
        with pytest.raises(AuthenticationError):
            world.svc.login(f"old{i}", "x")
    world.clock.advance(minutes=20)
    for i in range(8):
        with pytest.raises(AuthenticationError):
            world.svc.login(f"new{i}", "x")
    with world.svc.store.files.view() as view:
        assert all(view.get_login_state(f"old{i}") is None for i in range(5))
        assert all(view.get_login_state(f"new{i}") is not None for i in range(8))


def test_a_really_full_tmpfs_never_tears_the_audit_line_of_a_saved_booking(tmpfs, monkeypatch):
    """The disk fills up at every point of a booking's commit in turn (one page more room each time). A short
    write to the audit log must be carried on or fail the booking before anything is renamed."""
    import errno

    from parking_tui.storage.tinydb.store import _loads

    from .conftest import files_bytes

    real_write = os.write
    short_writes = []

    def spy(fd, data):
        n = real_write(fd, data)
        if n < len(data):
            short_writes.append((len(data), n))
        return n

    outcomes = set()
    for pages in range(0, 12):
        folder = tmpfs("1m")
        world = build_world(folder / "parking.json", backups=0)
        audit = folder / "parking.audit.jsonl"
        size = audit.stat().st_size  # pad the log so that only 50 bytes are left in its last page
        audit.write_bytes(audit.read_bytes() + b"{}\n" * ((4096 - 50 - size % 4096) % 4096 // 3))
        filler = folder / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        real_write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - pages * 4096))
        finally:
            os.close(fd)
        before = files_bytes(folder)
        monkeypatch.setattr(os, "write", spy)
        try:
            booking = world.book(world.alice)
        except StorageError as exc:
            monkeypatch.setattr(os, "write", real_write)
            assert "disk is full" in str(exc)
            after = files_bytes(folder)
            assert {k: v for k, v in after.items() if k.endswith(".json")} == {
                k: v for k, v in before.items() if k.endswith(".json")
            }
            outcomes.add("refused")
        else:
            monkeypatch.setattr(os, "write", real_write)
            lines = (folder / "parking.audit.jsonl").read_bytes().splitlines()
            made = [line for line in lines if booking.confirmation_code.encode() in line]
            assert len(made) == 1 and _loads(made[0])["code"] == booking.confirmation_code, made
            outcomes.add("saved")
    assert outcomes == {"refused", "saved"}
    assert short_writes, "the disk never cut a write short: the test did not test anything"


CHILD_BOOKING = """
import os, signal
from datetime import timedelta
from tests.hardening.conftest import open_svc, FrozenClock, T0, PASSWORD
svc = open_svc({path!r}, FrozenClock(T0))
token = svc.login("bob", PASSWORD)
slot = svc.lot_slots(token, 1)[2]
real = getattr(os, {call!r})
def stop(*a, **k):
    if {when}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
setattr(os, {call!r}, stop)
print("ready", flush=True)
svc.create_booking(token, slot.id, T0 + timedelta(hours=5), T0 + timedelta(hours=6))
"""


@pytest.mark.parametrize(
    "call, when, happened",
    [
        ("replace", "True", False),  # killed after its audit line, before the first rename
        ("ftruncate", "a[1] == 0", True),  # killed after every rename, before it tidied up
    ],
)
def test_an_audit_line_says_whether_its_change_happened(db_path, child, call, when, happened):
    import signal

    from parking_tui.storage.tinydb.doctor import diagnose

    world = build_world(db_path)
    c = child(CHILD_BOOKING.format(path=str(db_path), call=call, when=when))
    assert c.wait() == -signal.SIGKILL
    store = world.svc.store.files
    made = [e for e in store.read_audit() if e.get("op") == "create_booking"]
    assert len(made) == 1 and made[0]["user"] == "bob"
    assert made[0].get("committed", True) is happened
    noted = [f for f in diagnose(db_path) if "never happened" in f.what]
    assert bool(noted) is not happened
    world.book(world.alice)  # the next writer settles it for good
    made = [e for e in store.read_audit() if e.get("op") == "create_booking" and e["user"] == "bob"]
    assert made[0].get("committed", True) is happened
    bob_has = [b.confirmation_code for b in world.svc.my_bookings(world.bob)]
    assert (made[0]["code"] in bob_has) is happened
    assert (open(str(db_path) + ".lock", "rb").read()) == b""


def test_the_transaction_id_does_not_make_every_booking_rewrite_the_root(world):
    """A change of the root alone tags the root with its transaction id; later bookings within a block of ids
    must still leave the root alone (it is the file every process re-reads)."""
    world.svc.create_lot(world.admin, "North", "Hill Road 5", 5)
    world.book(world.bob, 1, start_min=60)  # may take a new block of ids: writes the root once
    root = os.stat(world.path).st_ino
    for i in range(1, 4):
        world.book(world.bob, 1, start_min=60 + 120 * i)
    assert os.stat(world.path).st_ino == root
