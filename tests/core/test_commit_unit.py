"""The TinyDB store's write path, one piece at a time: the lock, the commit, the audit append, the fsyncs.

These pin what the mutation run of the store's commit code (``tools/mutation.sh commit``) showed the wider tests
leave open; each names the mutant it kills in docs/testing.md. They use the store directly, in one process:
two ``ProcessLock`` objects on one file conflict exactly as two processes do (``flock`` locks belong to the open
file, not to the process).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from parking_tui.storage.tinydb.lock import LockTimeout, ProcessLock


# ------------------------------------------------------------------------------------------------ the lock


def test_a_held_lock_keeps_a_second_holder_out_until_it_is_released(tmp_path: Path) -> None:
    path = str(tmp_path / "parking.json.lock")
    first = ProcessLock(path, timeout=5.0)
    second = ProcessLock(path, timeout=0.05)
    first.acquire()
    began = time.monotonic()
    with pytest.raises(LockTimeout):
        second.acquire()
    waited = time.monotonic() - began
    assert 0.04 <= waited < 2.0, f"a timed-out wait took {waited:.3f} s against a timeout of 0.05 s"
    first.release()
    second.acquire()  # free now: taken at once
    with pytest.raises(LockTimeout):
        ProcessLock(path, timeout=0.01).acquire()
    second.release()


def test_a_waiter_gets_the_lock_soon_after_it_is_released(tmp_path: Path) -> None:
    import threading

    path = str(tmp_path / "parking.json.lock")
    holder = ProcessLock(path, timeout=1.0)
    holder.acquire()
    threading.Timer(0.05, holder.release).start()
    waiter = ProcessLock(path, timeout=5.0)
    began = time.monotonic()
    waiter.acquire()
    waited = time.monotonic() - began
    waiter.release()
    assert waited < 1.0, f"the waiter took {waited:.3f} s to notice a lock released after 0.05 s"


def test_a_timed_out_wait_leaves_no_descriptor_open(tmp_path: Path) -> None:
    path = str(tmp_path / "parking.json.lock")
    holder = ProcessLock(path, timeout=1.0)
    holder.acquire()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(LockTimeout):
            ProcessLock(path, timeout=0.0).acquire()
    assert len(os.listdir("/proc/self/fd")) == before
    holder.release()
    assert len(os.listdir("/proc/self/fd")) == before - 1  # release closes the holder's descriptor


def test_the_lock_file_gets_exactly_the_configured_mode(tmp_path: Path) -> None:
    path = tmp_path / "parking.json.lock"
    old = os.umask(0o077)
    try:
        lock = ProcessLock(str(path), timeout=1.0, mode=0o660)
        lock.acquire()
        lock.release()
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o660
    os.chmod(path, 0o644)  # an existing file with another mode is set to the configured one
    ProcessLock(str(path), timeout=1.0, mode=0o600).acquire()
    assert (path.stat().st_mode & 0o777) == 0o600


def test_the_lock_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    path = tmp_path / "parking.json.lock"
    path.symlink_to(target)
    with pytest.raises(OSError):
        ProcessLock(str(path), timeout=0.1).acquire()


def test_the_note_is_written_whole_read_back_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "parking.json.lock"
    lock = ProcessLock(str(path), timeout=1.0)
    lock.acquire()
    lock.write_note(b'{"tx": "abc", "files": ["parking.lot-1.json"]}')
    assert lock.read_note() == b'{"tx": "abc", "files": ["parking.lot-1.json"]}'
    lock.write_note(b"short")  # a shorter note leaves nothing of the longer one behind
    assert lock.read_note() == b"short"
    assert path.read_bytes() == b"short"
    lock.write_note(b"")
    assert lock.read_note() == b""
    assert path.stat().st_size == 0
    lock.release()
    lock.release()  # a second release is harmless
