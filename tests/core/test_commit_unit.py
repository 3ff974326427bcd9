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


# ------------------------------------------------------------------------------------- settling a cut-short commit
#
# A process that dies between its audit lines and the end of its renames leaves a note in the lock file (the
# transaction's id and the files that decide whether it happened). The next writer reads the note under the lock
# and, if none of those files carries the id, appends a ``rolled_back`` line: readers then mark the transaction's
# events ``committed: False``. Here the process "dies" by an exception from the os call named (the lock is let go
# as the kernel would let go of a dead process's lock), and a fresh store on the same files plays the next process.


class Died(BaseException):
    """The process stops here (not an error the store could handle)."""


def _die_at(monkeypatch: pytest.MonkeyPatch, call: str, when) -> None:
    real = getattr(os, call)

    def stop(*args, **kwargs):
        if when(*args):
            raise Died(call)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, stop)


def _raw_audit(path: Path) -> list[dict]:
    import json

    audit = path.parent / "parking.audit.jsonl"
    return [json.loads(line) for line in audit.read_bytes().splitlines() if line.strip()]


def _lock_note(path: Path) -> bytes:
    return Path(str(path) + ".lock").read_bytes()


def test_a_root_only_change_cut_short_before_its_rename_is_recorded_as_never_happened(world, db_path, open_svc, monkeypatch):
    # update_lot writes the root alone: the root decides (it carries the transaction id in its meta).
    _die_at(monkeypatch, "replace", lambda src, dst, *a: Path(dst).name == "parking.json")
    with pytest.raises(Died):
        world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    monkeypatch.undo()
    assert b'"files":["parking.json"]' in _lock_note(db_path).replace(b" ", b"")
    fresh = open_svc()  # the next process
    assert fresh.get_lot(world.admin, world.lot.id).name == "Central"
    world.book(world.alice)  # the next writer settles the note
    raw = _raw_audit(db_path)
    updates = [e for e in raw if e.get("op") == "update_lot"]
    assert len(updates) == 1
    rolled = [e for e in raw if e.get("op") == "rolled_back"]
    assert [(e["tx"], e["user"]) for e in rolled] == [(updates[0]["tx"], "system")]
    assert raw.index(rolled[0]) < raw.index([e for e in raw if e.get("op") == "create_booking"][-1])
    events = [e for e in world.svc.store.files.read_audit() if e.get("op") == "update_lot"]
    assert [e.get("committed", True) for e in events] == [False]
    assert _lock_note(db_path) == b""


def test_a_root_only_change_cut_short_after_its_rename_is_recorded_as_done(world, db_path, open_svc, monkeypatch):
    # Killed after the rename, before the note was cleared (the note is cleared by truncating it to 0 bytes).
    _die_at(monkeypatch, "ftruncate", lambda fd, length: length == 0)
    with pytest.raises(Died):
        world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    monkeypatch.undo()
    assert _lock_note(db_path) != b""
    fresh = open_svc()
    assert fresh.get_lot(world.admin, world.lot.id).name == "Renamed"
    world.book(world.alice)
    raw = _raw_audit(db_path)
    assert [e["op"] for e in raw if e.get("op") == "rolled_back"] == []
    events = [e for e in world.svc.store.files.read_audit() if e.get("op") == "update_lot"]
    assert [e.get("committed", True) for e in events] == [True]
    assert _lock_note(db_path) == b""


def test_a_note_whose_first_file_is_missing_still_finds_the_transaction_in_the_next(world, db_path):
    import json

    booking = world.book(world.alice)
    tx = [e for e in _raw_audit(db_path) if e.get("op") == "create_booking"][-1]["tx"]
    lot_file = f"parking.lot-{world.lot.id}.json"
    assert json.loads((db_path.parent / lot_file).read_bytes())["_file"]["1"]["tx"] == tx  # tagged with its id
    note = json.dumps({"tx": tx, "files": ["parking.lot-77.json", lot_file]}).encode()
    Path(str(db_path) + ".lock").write_bytes(note)
    world.book(world.bob, 1)
    assert [e for e in _raw_audit(db_path) if e.get("op") == "rolled_back"] == []
    assert booking.confirmation_code in {b.confirmation_code for b in world.svc.my_bookings(world.alice)}
    assert _lock_note(db_path) == b""


@pytest.mark.parametrize(
    "note",
    [b"not json", b'{"files": []}', b'{"tx": "ab"}', b'{"tx": "ab", "files": 3}', b"[1, 2]"],
    ids=["garbage", "no-tx", "no-files", "files-not-a-list", "a-list"],
)
def test_a_note_that_cannot_be_read_is_cleared_and_appends_nothing(world, db_path, note):
    Path(str(db_path) + ".lock").write_bytes(note)
    before = len(_raw_audit(db_path))
    world.book(world.alice)
    raw = _raw_audit(db_path)
    assert [e["op"] for e in raw[before:]] == ["create_booking"]
    assert _lock_note(db_path) == b""


def test_a_note_naming_no_data_file_of_this_store_is_settled_as_never_happened(world, db_path, tmp_path):
    import json

    # A file outside the data (or another store's) can never prove a transaction of this one happened.
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"meta": {"1": {"tx": "feedface"}}, "_file": {"1": {"tx": "feedface"}}}))
    names = [str(other), "../elsewhere.json", "other.lot-1.json", "parking.audit.jsonl"]
    Path(str(db_path) + ".lock").write_bytes(json.dumps({"tx": "feedface", "files": names}).encode())
    world.book(world.alice)
    rolled = [e for e in _raw_audit(db_path) if e.get("op") == "rolled_back"]
    assert [(e["tx"], e["user"]) for e in rolled] == [("feedface", "system")]
    assert _lock_note(db_path) == b""


# ------------------------------------------------------------------------------------------- the cache after a refusal


def test_a_refused_change_keeps_the_files_it_did_not_change_cached(world, db_path, monkeypatch):
    from parking_tui.domain import Conflict

    store = world.svc.store.files
    world.book(world.alice)
    parsed: list[str] = []
    real = store._parse

    def counting(path, raw):
        parsed.append(path.name)
        return real(path, raw)

    monkeypatch.setattr(store, "_parse", counting)
    with pytest.raises(Conflict):
        world.book(world.bob)  # the same slot and window: refused after reading the lot
    world.svc.lot_slots(world.alice, world.lot.id)
    world.svc.my_bookings(world.alice)
    assert parsed == [], f"files re-read after a refusal though nothing changed on disk: {parsed}"
