"""The TinyDB store's write path, one piece at a time: the lock, the commit, the audit append, the fsyncs.

These pin what the mutation run of the store's commit code (``tools/mutation.sh commit``) showed the wider tests
leave open; each names the mutant it kills in docs/testing.md. They use the store directly, in one process:
two ``ProcessLock`` objects on one file conflict exactly as two processes do (``flock`` locks belong to the open
file, not to the process).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from parking_tui.storage.tinydb.lock import LockTimeout, ProcessLock


@contextmanager
def _umask(mask: int):
    """Run the block with this process's umask set to ``mask``."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _book_in_new_store(tmp_path: Path, clock, file_mode: int, umask: int) -> None:
    """Open a new store in ``tmp_path`` with ``file_mode`` under ``umask``, populate it and make a booking."""
    import parking_tui
    from conftest import cheap_hasher, populate

    with _umask(umask):
        svc = parking_tui.open_service(
            tmp_path / "parking.json", clock=clock, password_hasher=cheap_hasher(), file_mode=file_mode
        )
        world = populate(svc, clock, time_zone="UTC")
        world.book(world.alice)


# ------------------------------------------------------------------------------------------------ the lock


def test_a_held_lock_keeps_a_second_holder_out_until_it_is_released(tmp_path: Path) -> None:
    path = str(tmp_path / "parking.json.lock")
    first = ProcessLock(path, timeout=5.0)
    second = ProcessLock(path, timeout=0.05)
    first.acquire()
    began = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        second.acquire()
    waited = time.monotonic() - began
    assert caught.value.args == (path,)  # it names the lock file
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


def test_a_waiter_tries_again_every_few_milliseconds_and_no_more_often(tmp_path: Path, monkeypatch) -> None:
    """The pauses between tries start short and grow to 5 ms, so that a released lock is noticed within a few
    milliseconds and a waiter does not spin: in a 0.1-s wait, a few dozen tries."""
    path = str(tmp_path / "parking.json.lock")
    holder = ProcessLock(path, timeout=1.0)
    holder.acquire()
    pauses: list[float] = []
    real = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (pauses.append(s), real(s))[1])
    with pytest.raises(LockTimeout):
        ProcessLock(path, timeout=0.1).acquire()
    monkeypatch.undo()
    holder.release()
    assert pauses and max(pauses) <= 0.005, f"a pause of {max(pauses):.3f} s: a released lock is noticed late"
    assert len(pauses) <= 60, f"{len(pauses)} tries in a 0.1-s wait: the waiter spins"


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
    with _umask(0o077):
        lock = ProcessLock(str(path), timeout=1.0, mode=0o660)
        lock.acquire()
        lock.release()
    assert (path.stat().st_mode & 0o777) == 0o660
    os.chmod(path, 0o644)  # an existing file with another mode is set to the configured one
    ProcessLock(str(path), timeout=1.0, mode=0o600).acquire()
    assert (path.stat().st_mode & 0o777) == 0o600
    plain = tmp_path / "plain.lock"
    with _umask(0):
        ProcessLock(str(plain), timeout=1.0).acquire()  # no mode given: owner only
    assert (plain.stat().st_mode & 0o777) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the lock file to another account")
def test_a_lock_file_of_another_account_keeps_its_mode(tmp_path: Path) -> None:
    """In a shared folder the lock file may belong to another account (an attendant's): its mode is that
    account's business, even for root, who could change it."""
    import pwd

    path = tmp_path / "parking.json.lock"
    path.write_bytes(b"")
    os.chmod(path, 0o660)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    lock = ProcessLock(str(path), timeout=1.0, mode=0o600)
    lock.acquire()
    lock.release()
    assert (path.stat().st_mode & 0o777) == 0o660


def test_releasing_a_lock_never_taken_is_harmless(tmp_path: Path) -> None:
    lock = ProcessLock(str(tmp_path / "parking.json.lock"), timeout=1.0)
    lock.release()
    lock.acquire()
    lock.release()


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


def test_a_root_only_change_cut_short_before_its_rename_is_recorded_as_never_happened(
    world, db_path, open_svc, monkeypatch
):
    # update_lot writes the root alone: the root decides (it carries the transaction id in its meta).
    _die_at(monkeypatch, "replace", lambda src, dst, *a: Path(dst).name == "parking.json")
    with pytest.raises(Died):
        world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    monkeypatch.undo()
    assert b'"files":["parking.json"]' in _lock_note(db_path).replace(b" ", b"")
    left = [p.name for p in db_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert [n.split(".")[1:3] for n in left] == [["parking", "json"]], left  # the root's, written and fsynced
    fresh = open_svc()  # the next process
    assert not [p for p in db_path.parent.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"
    assert fresh.get_lot(world.admin, world.lot.id).name == "Central"
    world.book(world.alice)  # the next writer settles the note
    raw = _raw_audit(db_path)
    updates = [e for e in raw if e.get("op") == "update_lot"]
    assert len(updates) == 1
    rolled = [e for e in raw if e.get("op") == "rolled_back"]
    assert [(e["tx"], e["user"]) for e in rolled] == [(updates[0]["tx"], "system")]
    from datetime import datetime

    assert sorted(rolled[0]) == ["at", "op", "tx", "user"]
    assert datetime.fromisoformat(rolled[0]["at"]).utcoffset() is not None  # when it was found out, with its zone
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


# ------------------------------------------------------------------------------------------------ the unit of work


def _lot(name: str = "North"):
    from parking_tui.domain.ports import LotRow

    return LotRow(id=0, name=name, location="Hill Road 5", total_slots=4, time_zone="UTC")


def _names(store) -> list[str]:
    """The lots on disk, as another process reads them (a view in this process would see its own writes)."""
    from parking_tui.storage.tinydb import open_store

    other = open_store(store.files.path, lock_timeout=0.5)
    try:
        with other.view() as view:
            return [lot.name for lot in view.lots.all()]
    finally:
        other.close()


@pytest.fixture
def tiny(tmp_path: Path):
    from parking_tui.storage.tinydb import open_store

    store = open_store(tmp_path / "parking.json")
    yield store
    store.close()


def test_a_unit_of_work_writes_only_at_commit_and_commits_once(tiny, tmp_path: Path) -> None:
    uow = tiny.unit_of_work()
    with pytest.raises(RuntimeError, match=r"^commit\(\) outside the unit of work, or twice$"):
        uow.commit()  # not entered yet
    before = tiny.files.path.read_bytes()
    with uow:
        uow.lots.add(_lot())
        assert tiny.files.path.read_bytes() == before  # nothing on disk before the commit
        uow.commit()
        assert _names(tiny) == ["North"]
        with pytest.raises(RuntimeError, match=r"^commit\(\) outside the unit of work, or twice$"):
            uow.commit()  # twice
    with pytest.raises(RuntimeError, match="^a unit of work is entered once$"):
        uow.__enter__()  # a unit of work is entered once
    assert _names(tiny) == ["North"]


def test_leaving_a_unit_of_work_without_commit_discards_it(tiny) -> None:
    with tiny.unit_of_work() as uow:
        uow.lots.add(_lot())
    assert _names(tiny) == []
    with pytest.raises(RuntimeError, match="or twice"):
        uow.commit()  # the block is over: nothing left to commit
    uow.rollback()  # nor to roll back
    with tiny.unit_of_work() as uow:  # the store is usable again, and the lock was let go
        uow.lots.add(_lot("South"))
        uow.commit()
    assert _names(tiny) == ["South"]


def test_an_error_inside_a_unit_of_work_discards_it_and_is_raised_as_it_was(tiny) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with tiny.unit_of_work() as uow:
            uow.lots.add(_lot())
            raise Boom
    assert _names(tiny) == []
    with pytest.raises(KeyboardInterrupt):
        with tiny.unit_of_work() as uow:
            uow.lots.add(_lot())
            raise KeyboardInterrupt
    assert _names(tiny) == []


def test_rollback_discards_at_once_and_ends_the_unit_of_work(tiny) -> None:
    tiny.unit_of_work().rollback()  # never entered: nothing to do
    with tiny.unit_of_work() as uow:
        uow.lots.add(_lot())
        uow.rollback()
        # The lock is let go at the rollback: another process's writer gets in before this block ends.
        from parking_tui.storage.tinydb import open_store

        second = open_store(tiny.files.path, lock_timeout=0.5)
        with second.unit_of_work() as other:
            other.lots.add(_lot("South"))
            other.commit()
        second.close()
        uow.rollback()  # a second rollback does nothing
        with pytest.raises(RuntimeError):
            uow.commit()  # nothing left to commit
    assert _names(tiny) == ["South"]


def test_rollback_then_an_error_leaving_the_block_is_raised_as_it_was(tiny) -> None:
    with pytest.raises(ValueError):
        with tiny.unit_of_work() as uow:
            uow.lots.add(_lot())
            uow.rollback()
            raise ValueError("after the rollback")
    assert _names(tiny) == []


# ------------------------------------------------------------------------------------------- faults during a commit


def _fail(monkeypatch: pytest.MonkeyPatch, call: str, err: int, when) -> list[int]:
    """Make ``os.<call>`` fail with ``err`` while ``when(*args)``; returns a list that counts the failures."""
    import errno as errno_mod

    real = getattr(os, call)
    failures: list[int] = []

    def failing(*args, **kwargs):
        if when(*args):
            failures.append(1)
            raise OSError(err, os.strerror(err)) if err else OSError("the device went away")
        return real(*args, **kwargs)

    assert err == 0 or err in errno_mod.errorcode
    monkeypatch.setattr(os, call, failing)
    return failures


def _fd_name(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _folder_state(path: Path) -> dict[str, bytes]:
    files = sorted(path.parent.iterdir())
    return {p.name: p.read_bytes() for p in files if p.is_file() and not p.name.endswith(".lock")}


SAVE = "Could not save to {dir}: %s. Nothing was changed; the data is as it was."
AUDIT = "Could not write the audit log {dir}/parking.audit.jsonl: %s. Nothing was changed; the data is as it was."
NOTE = "Could not write to the lock file of parking.json: %s. Nothing was changed."
FAULTS = [
    # (os call, errno, which calls fail, the message)
    ("write", 28, lambda fd, data: _fd_name(fd).endswith(".tmp"), SAVE % "the disk is full"),
    ("write", 5, lambda fd, data: _fd_name(fd).endswith(".tmp"), SAVE % "Input/output error"),
    ("fsync", 5, lambda fd: _fd_name(fd).endswith(".tmp"), SAVE % "Input/output error"),
    ("open", 28, lambda path, *a: str(path).endswith(".tmp"), SAVE % "the disk is full"),
    ("write", 28, lambda fd, data: _fd_name(fd).endswith(".audit.jsonl"), AUDIT % "the disk is full"),
    ("write", 5, lambda fd, data: _fd_name(fd).endswith(".audit.jsonl"), AUDIT % "Input/output error"),
    ("pwrite", 28, lambda fd, data, offset: _fd_name(fd).endswith(".lock"), NOTE % "the disk is full"),
    ("pwrite", 5, lambda fd, data, offset: _fd_name(fd).endswith(".lock"), NOTE % "Input/output error"),
    # An error without an errno (none from the kernel has one; a wrapped file system's may) is quoted as it is.
    ("write", 0, lambda fd, data: _fd_name(fd).endswith(".tmp"), SAVE % "the device went away"),
    ("write", 0, lambda fd, data: _fd_name(fd).endswith(".audit.jsonl"), AUDIT % "the device went away"),
    ("pwrite", 0, lambda fd, data, offset: _fd_name(fd).endswith(".lock"), NOTE % "the device went away"),
]


@pytest.mark.parametrize(
    "call, err, when, words", FAULTS, ids=[f"{c}-{e}-{i}" for i, (c, e, _, _) in enumerate(FAULTS)]
)
def test_a_fault_at_any_step_before_the_renames_changes_nothing_and_says_so(
    world, db_path, monkeypatch, call, err, when, words
):
    from parking_tui.domain import StorageError

    before = _folder_state(db_path)
    failures = _fail(monkeypatch, call, err, when)
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert failures, "the fault was never met: the test tested nothing"
    message = str(caught.value)
    assert message == words.format(dir=db_path.parent)
    assert _folder_state(db_path) == before, "a refused commit left a file changed, added or half-written"
    assert _lock_note(db_path) == b"", "a commit that wrote no audit byte left a note for the next writer"
    booking = world.book(world.alice)  # the store goes on as if the failed call never happened
    assert [b.confirmation_code for b in world.svc.my_bookings(world.alice)] == [booking.confirmation_code]
    ops = [e["op"] for e in _raw_audit(db_path)]
    assert ops.count("create_booking") == 1 and "rolled_back" not in ops


def test_a_failed_sync_after_the_renames_is_reported_and_closes_both_descriptors(world, db_path, monkeypatch):
    from parking_tui.domain import StorageError

    folder = os.path.realpath(db_path.parent)
    failures = _fail(monkeypatch, "fsync", 5, lambda fd: _fd_name(fd) == folder)
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert failures == [1]
    assert str(caught.value) == (
        f"The change was written but {db_path.parent} could not be synced to disk (Input/output error); check the disk."
    )
    assert len(os.listdir("/proc/self/fd")) == open_before, "a descriptor was left open"
    assert not [p for p in db_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_audit_sync_is_reported_and_closes_both_descriptors(world, db_path, monkeypatch):
    from parking_tui.domain import StorageError

    failures = _fail(monkeypatch, "fsync", 5, lambda fd: _fd_name(fd).endswith(".audit.jsonl"))
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert failures == [1]
    assert "could not be synced to disk (Input/output error)" in str(caught.value)
    assert len(os.listdir("/proc/self/fd")) == open_before, "a descriptor was left open"


def test_a_disk_that_takes_no_bytes_is_an_error_not_a_hang(world, db_path, monkeypatch):
    from parking_tui.domain import StorageError

    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: 0 if _fd_name(fd).endswith(".tmp") else real(fd, data))
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert str(caught.value) == SAVE.format(dir=db_path.parent) % "the disk took no bytes"


# ------------------------------------------------------------------------------------------------ the audit log


def test_the_audit_log_is_created_with_exactly_the_configured_mode(tmp_path: Path, clock) -> None:
    import parking_tui
    from conftest import cheap_hasher

    with _umask(0o077):
        svc = parking_tui.open_service(
            tmp_path / "parking.json", clock=clock, password_hasher=cheap_hasher(), file_mode=0o640
        )
        svc.register("alice", "alice@example.com", "correct-horse")
    audit = tmp_path / "parking.audit.jsonl"
    assert (audit.stat().st_mode & 0o777) == 0o640
    os.chmod(audit, 0o600)  # an existing log keeps the mode it has
    svc.register("bob", "bob@example.com", "correct-horse")
    assert (audit.stat().st_mode & 0o777) == 0o600


def test_a_torn_last_audit_line_does_not_swallow_the_next_event(world, db_path):
    audit = db_path.parent / "parking.audit.jsonl"
    with open(audit, "ab") as fh:
        fh.write(b'{"at": "2030-06-15T10:00:00+00:00", "op": "crea')  # a crash cut this line short
    booking = world.book(world.alice)
    events = [e for e in world.svc.store.files.read_audit() if e.get("op") == "create_booking"]
    assert [e["code"] for e in events] == [booking.confirmation_code]
    tail = audit.read_bytes().rsplit(b'"op": "crea', 1)[1]
    assert tail.startswith(b"\n{") and tail.count(b"\n") == 2 and tail.endswith(b"}\n"), tail


def test_an_audit_log_replaced_by_a_link_is_refused_and_nothing_changes(world, db_path, tmp_path):
    from parking_tui.domain import StorageError

    audit = db_path.parent / "parking.audit.jsonl"
    elsewhere = tmp_path / "planted.jsonl"
    elsewhere.write_bytes(audit.read_bytes())
    audit.unlink()
    audit.symlink_to(elsewhere)
    before = _folder_state(db_path)
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    assert str(caught.value).startswith(f"{audit} is a symbolic link; parking-tui never follows links")
    assert _folder_state(db_path) == before
    assert elsewhere.read_bytes().count(b"create_booking") == 0


# ------------------------------------------------------------------------------------------- blocks of booking ids


def test_booking_ids_from_blocks_never_repeat_within_a_transaction_or_across_processes(world, db_path) -> None:
    """Booking ids come in blocks of ``ID_BLOCK`` per process; the ids are used by bookings the same commit
    writes (an id taken by a transaction that writes nothing is not used up)."""
    from parking_tui.storage.tinydb.store import ID_BLOCK, TinyStore

    first, second = TinyStore(db_path), TinyStore(db_path)  # two processes
    taken: list[int] = []

    def take(store: TinyStore, n: int = 1) -> None:
        with store.transaction() as tx:
            for _ in range(n):
                taken.append(tx.next_id("booking"))
                tx.put_booking(
                    {"id": taken[-1], "lot_id": world.lot.id, "slot_id": world.slots[0].id, "username": "alice",
                     "status": "cancelled", "confirmation_code": f"C{taken[-1]:07d}",
                     "start_time": "2030-06-15T11:00:00+00:00", "end_time": "2030-06-15T12:00:00+00:00",
                     "created_at": "2030-06-15T10:00:00+00:00"}
                )

    take(first, 2)  # one transaction, two ids
    for _ in range(ID_BLOCK - 2):  # the rest of the first block, one transaction each
        take(first)
    take(second)  # the other process takes the next block
    take(first)  # the first block is used up exactly: a new one is taken
    assert len(taken) == len(set(taken)) == ID_BLOCK + 2, sorted(taken)
    assert taken[:ID_BLOCK] == list(range(taken[0], taken[0] + ID_BLOCK))
    first.close()
    second.close()


# ------------------------------------------------------------------------------- what the root says of each commit


def _meta(path: Path) -> dict:
    import json

    return json.loads(path.read_bytes())["meta"]["1"]


def _replaces(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[str]:
    real = os.replace
    names: list[str] = []

    def spy(src, dst, *args, **kwargs):
        if Path(dst).parent == folder:
            names.append(Path(dst).name)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    return names


def test_a_new_file_is_listed_by_the_root_and_named_new_for_one_commit(world, db_path):
    lot = world.svc.create_lot(world.admin, "North", "Hill Road 5", 4)
    name = f"parking.lot-{lot.id}.json"
    version = _meta(db_path)["version"]
    world.svc.add_slot(world.admin, lot.id, "N1")  # the lot's file is created by its first slot
    meta = _meta(db_path)
    assert meta["version"] == version + 1
    assert meta["new_files"] == [name]
    assert name in meta["files"] and "parking.json" not in meta["files"]
    world.svc.update_lot(world.admin, lot.id, name="North Side")  # the next commit of the root
    meta = _meta(db_path)
    assert meta["version"] == version + 2
    assert meta["new_files"] == [] and name in meta["files"]
    assert meta["files"] == sorted(meta["files"])


def test_only_a_change_that_the_root_alone_decides_tags_the_root(world, db_path):
    world.book(world.bob, 1)  # takes this process's first block of booking ids (a write of the root)
    world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    tx = [e for e in _raw_audit(db_path) if e.get("op") == "update_lot"][-1]["tx"]
    assert _meta(db_path)["tx"] == tx
    root = os.stat(db_path).st_ino
    world.book(world.bob, 2, start_min=240)  # the lot file decides: the root is left alone (keeps its tag)
    assert os.stat(db_path).st_ino == root
    assert _meta(db_path)["tx"] == tx


def test_a_move_to_the_archive_is_noted_in_the_root_until_the_next_commit_of_the_root(world, db_path, monkeypatch):
    booking = world.book(world.alice)
    world.svc.cancel_booking(world.alice, booking.id)
    assert _meta(db_path)["pending_archive"] == [[booking.id, world.lot.id]]
    version = _meta(db_path)["version"]
    names = _replaces(monkeypatch, db_path.parent)
    world.book(world.bob, 1)  # writes the lot; the root is rewritten too, to clear the note
    monkeypatch.undo()
    assert names[0] == "parking.json", names
    assert _meta(db_path)["pending_archive"] == []
    assert _meta(db_path)["version"] == version + 1
    root = os.stat(db_path).st_ino
    world.book(world.bob, 2, start_min=240)  # nothing to clear now: the root is left alone
    assert os.stat(db_path).st_ino == root


def test_a_cancel_renames_the_root_then_the_archive_then_the_holds_then_the_lot(world, db_path, monkeypatch):
    booking = world.book(world.alice)
    names = _replaces(monkeypatch, db_path.parent)
    world.svc.cancel_booking(world.alice, booking.id)
    monkeypatch.undo()
    kinds = [n.split(".")[1].split("-")[0] for n in names]
    assert kinds == ["json", "archive", "holds", "lot"], names


def test_data_written_before_the_root_listed_its_files_gets_a_list_of_what_is_there(world, db_path):
    import json

    data = json.loads(db_path.read_bytes())
    listed = data["meta"]["1"].pop("files")
    data["meta"]["1"].pop("new_files", None)
    db_path.write_text(json.dumps(data))
    fresh = world.svc  # the same process: the root is re-read (it changed on disk)
    fresh.create_lot(world.admin, "North", "Hill Road 5", 4)
    meta = _meta(db_path)
    assert set(listed) <= set(meta["files"])
    assert set(meta["files"]) == {p.name for p in db_path.parent.glob("parking.*.json")}


def test_an_error_inside_a_unit_of_work_keeps_its_traceback(tiny) -> None:
    def deep_inside() -> None:
        raise LookupError("raised here")

    with pytest.raises(LookupError) as caught:
        with tiny.unit_of_work() as uow:
            uow.lots.add(_lot())
            deep_inside()
    assert "deep_inside" in [entry.name for entry in caught.traceback], "the frames where it was raised are lost"


def test_a_unit_of_work_reads_the_audit_log_of_its_store(tiny) -> None:
    from datetime import datetime, timezone

    from parking_tui.domain.ports import AuditEvent, AuditFilter

    at = datetime(2030, 6, 15, 10, 0, tzinfo=timezone.utc)
    with tiny.unit_of_work() as uow:
        uow.audit.append(AuditEvent(at=at, user="admin", terminal="tty1", op="create_lot", details={"lot_id": 1}))
        uow.lots.add(_lot())
        uow.commit()
    with tiny.unit_of_work() as uow:
        found = uow.audit.query(AuditFilter(op="create_lot"), 10)
    assert [(e.user, e.op, e.details.get("lot_id")) for e in found] == [("admin", "create_lot", 1)]


# ------------------------------------------------------------------------------------------ parsing outside the lock


def test_files_another_process_changed_are_parsed_before_the_lock_except_the_many(
    world, db_path, open_svc, monkeypatch
):
    """The root, users and auth files (one each) are re-read before the lock is taken, so other writers need not
    wait for the parse; lot, holds and archive files (many) only under the lock, when the transaction asks."""
    svc = world.svc
    first = world.book(world.alice)
    svc.cancel_booking(world.alice, first.id)  # an archive file, cached here
    world.book(world.alice, 1)
    svc.my_bookings(world.alice)
    svc.list_reservations(world.admin)
    other = open_svc()  # another process changes every kind of file
    other.register("carol", "carol@example.com", "correct-horse")  # users
    other.login("carol", "correct-horse")  # auth
    other.update_lot(world.admin, world.lot.id, name="Renamed")  # root
    second = other.create_booking(world.alice, world.slots[2].id, *world.window(300))  # lot, holds
    other.cancel_booking(world.alice, second.id)  # archive
    store = svc.store.files
    seen: list[tuple[str, bool]] = []
    real = store._parse

    def spy(path, raw):
        seen.append((path.name.split(".")[1].split("-")[0], store._lock._fd is not None))
        return real(path, raw)

    monkeypatch.setattr(store, "_parse", spy)
    world.book(world.alice, 0, start_min=400)
    monkeypatch.undo()
    before = {kind for kind, locked in seen if not locked}
    assert {"json", "users", "auth"} <= before, seen
    assert not before & {"lot", "holds", "archive"}, seen


# ------------------------------------------------------------------------------------------------ the file cache


def _spy_on_opens(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[str]:
    """The names of the files in ``folder`` that ``os.open`` opens from now on (until ``monkeypatch.undo()``)."""
    opened: list[str] = []
    real = os.open

    def spy(path, *args, **kwargs):
        if Path(str(path)).parent == folder:
            opened.append(Path(str(path)).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return opened


def test_an_unchanged_file_costs_one_stat_per_call_and_no_open(world, db_path, monkeypatch):
    svc = world.svc
    world.book(world.alice)
    svc.lot_slots(world.alice, world.lot.id)
    opened = _spy_on_opens(monkeypatch, db_path.parent)
    svc.lot_slots(world.alice, world.lot.id)
    svc.my_bookings(world.alice)
    monkeypatch.undo()
    opened = [n for n in opened if (db_path.parent / n).exists()]  # a file not there yet is looked for each time
    assert opened == [], f"unchanged data files were opened again: {opened}"


def test_another_processs_commit_makes_this_one_read_again_only_what_it_changed(world, db_path, open_svc, monkeypatch):
    """A commit elsewhere that changed only the root (a lot renamed) costs this process the root's re-read; the
    users, auth and lot files it has cached stay cached (only a restore, a new epoch, drops them all)."""
    svc = world.svc
    world.book(world.alice)
    svc.lot_slots(world.alice, world.lot.id)
    other = open_svc()
    for name in ("Renamed", "Renamed again"):  # the first re-read of the root is this process's first parse of it
        other.update_lot(world.admin, world.lot.id, name=name)
        svc.lot_slots(world.alice, world.lot.id)
    other.update_lot(world.admin, world.lot.id, name="Central")
    opened = _spy_on_opens(monkeypatch, db_path.parent)
    assert [s.slot_number for s in svc.lot_slots(world.alice, world.lot.id)] == [s.slot_number for s in world.slots]
    svc.my_bookings(world.alice)
    monkeypatch.undo()
    opened = [n for n in opened if (db_path.parent / n).exists()]
    assert opened == ["parking.json"], f"files no other process changed were read again: {opened}"


def test_a_damaged_file_met_after_another_processs_restore_is_reported(world, db_path, open_svc):
    """This process re-reads its cached files before taking the lock; when the root shows a restore, it drops
    its caches, and a file that then fails to load is left for the transaction to report in words."""
    from parking_tui.domain import StorageError
    from parking_tui.storage import TinyStore

    world.book(world.alice)
    open_svc().update_lot(world.admin, world.lot.id, name="Renamed")
    world.svc.get_lot(world.admin, world.lot.id)  # this process parses the root (and learns its epoch)
    snap = world.svc.store.files.snapshot().name
    TinyStore(db_path).restore(snap)
    users = db_path.parent / "parking.users.json"
    users.write_bytes(users.read_bytes()[:-5])  # damaged after the restore
    with pytest.raises(StorageError) as caught:
        world.book(world.alice, 1)
    assert "parking.users.json" in str(caught.value)


def test_a_file_replaced_by_another_process_is_read_again_even_with_the_same_size(world, db_path, open_svc):
    svc = world.svc
    svc.get_lot(world.admin, world.lot.id)  # cached here
    other = open_svc()
    other.update_lot(world.admin, world.lot.id, name="Centrak")  # same length as "Central"
    assert svc.get_lot(world.admin, world.lot.id).name == "Centrak"


def test_data_files_get_exactly_the_configured_mode_and_leave_no_temporary_file(tmp_path: Path, clock) -> None:
    _book_in_new_store(tmp_path, clock, file_mode=0o640, umask=0o077)
    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("parking") and p.name.endswith(".json"))
    assert len(files) >= 5
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o640 for p in files}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_each_file_but_the_root_is_tagged_with_its_name_the_epoch_and_the_transaction(world, db_path):
    import json

    world.book(world.alice)
    tx = [e for e in _raw_audit(db_path) if e.get("op") == "create_booking"][-1]["tx"]
    epoch = _meta(db_path).get("epoch")
    lot = f"parking.lot-{world.lot.id}.json"
    tag = json.loads((db_path.parent / lot).read_bytes())["_file"]["1"]
    assert tag == {"name": lot, "epoch": epoch, "tx": tx}
    assert "_file" not in json.loads(db_path.read_bytes())


def test_a_note_naming_files_without_tags_is_settled_as_never_happened(world, db_path):
    """Files written before the store tagged them (no ``_file`` record; a root without ``meta``) prove nothing."""
    import json

    lot = db_path.parent / f"parking.lot-{world.lot.id}.json"
    data = json.loads(lot.read_bytes())
    data.pop("_file", None)
    untagged = db_path.parent / "parking.lot-99.json"
    untagged.write_text(json.dumps(data))
    bare = db_path.parent / "parking.archive-999.json"
    bare.write_text(json.dumps({"bookings": {}}))
    rootless = db_path.parent / "parking.lot-98.json"
    rootless.write_text("{}")
    names = ["parking.lot-99.json", "parking.archive-999.json", "parking.lot-98.json"]
    Path(str(db_path) + ".lock").write_bytes(json.dumps({"tx": "0123abcd", "files": names}).encode())
    store = world.svc.store.files
    assert store._tx_landed("0123abcd", names) is False  # noqa: SLF001
    untagged.unlink()
    bare.unlink()
    rootless.unlink()
    world.book(world.alice)
    rolled = [e for e in _raw_audit(db_path) if e.get("op") == "rolled_back"]
    assert [e["tx"] for e in rolled] == ["0123abcd"]


def test_a_root_without_meta_proves_no_transaction(tmp_path: Path) -> None:
    import json

    from parking_tui.storage.tinydb.store import TinyStore

    store = TinyStore(tmp_path / "parking.json")
    root = tmp_path / "parking.json"
    keep = root.read_bytes()
    root.write_text(json.dumps({"lots": {}}))
    try:
        assert store._tx_landed("0123abcd", ["parking.json"]) is False  # noqa: SLF001
        root.write_text(json.dumps({"meta": {"1": {"tx": "0123abcd"}}}))
        assert store._tx_landed("0123abcd", ["parking.json"]) is True  # noqa: SLF001
    finally:
        root.write_bytes(keep)
        store.close()


def test_the_audit_log_is_one_json_object_a_line_with_no_blank_line(world, db_path):
    world.book(world.alice, 0, start_min=10)
    world.clock.advance(hours=2)  # alice never came: the next write to the lot expires her booking first
    world.book(world.bob, 1)  # one commit, two events (the expiry and the booking)
    world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    ops = [e["op"] for e in _raw_audit(db_path)]
    assert ops[-3:] == ["expire", "create_booking", "update_lot"], ops
    audit = (db_path.parent / "parking.audit.jsonl").read_bytes()
    assert audit.endswith(b"\n")
    lines = audit[:-1].split(b"\n")
    assert all(line.startswith(b"{") and line.endswith(b"}") for line in lines), lines


def test_a_transaction_that_only_audits_appends_its_line_and_renames_nothing(world, db_path, monkeypatch):
    store = world.svc.store.files
    before = _folder_state(db_path)
    names = _replaces(monkeypatch, db_path.parent)
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(_fd_name(fd)), real_fsync(fd))[1])
    with store.transaction() as tx:
        tx.audit({"at": "2030-06-15T10:00:00+00:00", "user": "admin", "op": "export"})
    monkeypatch.undo()
    assert names == []
    after = _folder_state(db_path)
    audit = "parking.audit.jsonl"
    assert {k: v for k, v in after.items() if k != audit} == {k: v for k, v in before.items() if k != audit}
    line = _raw_audit(db_path)[-1]
    assert line["op"] == "export" and len(line["tx"]) == 16
    assert [Path(p).name for p in synced] == [audit], synced  # the line is fsynced; there is no rename to sync
    assert _lock_note(db_path) == b""
    synced.clear()
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(_fd_name(fd)), real_fsync(fd))[1])
    with store.transaction():
        pass  # nothing to write, nothing to append: not even the audit log is opened
    monkeypatch.undo()
    assert synced == []
    assert _folder_state(db_path) == after


def test_a_booking_cut_short_after_the_holds_rename_before_the_lots_never_happened(
    world, db_path, open_svc, monkeypatch
):
    """A driver's holds file is renamed before the lot's and says nothing on its own: the lot file decides."""
    world.book(world.alice, 1)  # alice's holds file exists; the block of ids is taken
    renamed: list[str] = []
    real = os.replace

    def stop_at_the_lot(src, dst, *args, **kwargs):
        if Path(dst).name.startswith("parking.lot-"):
            raise Died("replace")
        renamed.append(Path(dst).name)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", stop_at_the_lot)
    with pytest.raises(Died):
        world.book(world.alice, 0, start_min=300)
    monkeypatch.undo()
    assert [n for n in renamed if ".holds-" in n], renamed  # the holds file did land
    fresh = open_svc()
    assert len(fresh.my_bookings(world.alice)) == 1
    world.book(world.bob, 2)  # the next writer settles the note
    made = [e for e in world.svc.store.files.read_audit() if e.get("op") == "create_booking"]
    assert [e.get("committed", True) for e in made] == [True, False, True]


def _edit_meta(path: Path, **changes) -> None:
    import json

    data = json.loads(path.read_bytes())
    for key, value in changes.items():
        if value is None:
            data["meta"]["1"].pop(key, None)
        else:
            data["meta"]["1"][key] = value
    path.write_text(json.dumps(data))


def test_each_commit_of_the_root_counts_one_version_from_wherever_it_was(world, db_path, open_svc):
    world.book(world.bob, 1)  # bob's holds file exists from now on
    version = _meta(db_path)["version"]
    other = open_svc()  # another process: its first booking takes a block of ids (the root changes)
    other.create_booking(world.bob, world.slots[2].id, *world.window(300))  # the lot file decides
    assert _meta(db_path)["version"] == version + 1
    _edit_meta(db_path, version=None)  # data written before the root kept a version
    world.svc.update_lot(world.admin, world.lot.id, name="Renamed")
    assert _meta(db_path)["version"] == 1


def test_a_commit_creating_a_file_lists_it_even_when_nothing_else_changes_the_root(world, db_path):
    world.book(world.bob, 1)  # the block of ids is taken: later bookings leave the root alone
    root = os.stat(db_path).st_ino
    world.book(world.bob, 2, start_min=240)
    assert os.stat(db_path).st_ino == root
    world.book(world.alice, 0)  # alice's first booking creates her holds file: the root lists it
    holds = [p.name for p in db_path.parent.glob("parking.holds-*.json")]
    meta = _meta(db_path)
    assert set(holds) <= set(meta["files"]) and len(meta["new_files"]) == 1, meta


def test_data_without_a_file_list_gets_one_at_the_next_commit_whatever_it_changes(world, db_path):
    world.book(world.bob, 1)  # the block of ids is taken
    _edit_meta(db_path, files=None, new_files=None)
    stray = db_path.parent / "parking.notes.txt"
    stray.write_text("not data")
    world.book(world.bob, 2, start_min=240)  # only the lot would change: the root is written to list the files
    meta = _meta(db_path)
    assert set(meta["files"]) == {p.name for p in db_path.parent.glob("parking.*.json")} - {"parking.json"}
    root = os.stat(db_path).st_ino
    planted = db_path.parent / "parking.lot-77.json"
    planted.write_bytes((db_path.parent / f"parking.lot-{world.lot.id}.json").read_bytes())
    world.svc.update_lot(world.admin, world.lot.id, name="Renamed")  # a listed root: what is there is not re-listed
    assert os.stat(db_path).st_ino != root
    assert "parking.lot-77.json" not in _meta(db_path)["files"]


def test_a_new_file_lost_to_a_cut_short_commit_is_dropped_from_the_list(world, db_path, open_svc, monkeypatch):
    lot = world.svc.create_lot(world.admin, "North", "Hill Road 5", 4)
    name = f"parking.lot-{lot.id}.json"
    _die_at(monkeypatch, "replace", lambda src, dst, *a: Path(dst).name == name)
    with pytest.raises(Died):
        world.svc.add_slot(world.admin, lot.id, "N1")  # the root (listing the new file) lands, the file does not
    monkeypatch.undo()
    assert name in _meta(db_path)["new_files"] and not (db_path.parent / name).exists()
    fresh = open_svc()
    fresh.update_lot(world.admin, world.lot.id, name="Renamed")  # the next commit of the root
    meta = _meta(db_path)
    assert name not in meta["files"] and meta["new_files"] == []
    again = open_svc()  # a later process opens the data and reads every lot
    assert [s.slot_number for s in again.lot_slots(world.admin, lot.id)] == []
    assert again.add_slot(world.admin, lot.id, "N1").slot_number == "N1"


def test_a_folder_that_cannot_be_opened_for_its_sync_is_reported_and_the_audit_descriptor_closed(
    world, db_path, monkeypatch
):
    from parking_tui.domain import StorageError

    folder = str(db_path.parent)
    failures = _fail(monkeypatch, "open", 24, lambda path, *a: str(path) == folder)
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert failures == [1]
    assert str(caught.value) == (
        f"The change was written but {db_path.parent} could not be synced to disk (Too many open files); "
        "check the disk."
    )
    assert len(os.listdir("/proc/self/fd")) == open_before, "a descriptor was left open"


def test_a_disk_that_takes_one_byte_at_a_time_still_gets_every_byte(world, db_path, open_svc, monkeypatch):
    real = os.write
    def one_byte(fd, data):
        return real(fd, bytes(data[:1])) if _fd_name(fd).endswith(".tmp") else real(fd, data)

    monkeypatch.setattr(os, "write", one_byte)
    booking = world.book(world.alice)
    monkeypatch.undo()
    fresh = open_svc()  # another process reads what reached the disk
    assert [b.confirmation_code for b in fresh.my_bookings(world.alice)] == [booking.confirmation_code]


def test_a_data_file_replaced_by_a_link_is_refused(world, db_path, open_svc, tmp_path):
    from parking_tui.domain import StorageError

    lot = db_path.parent / f"parking.lot-{world.lot.id}.json"
    copy = tmp_path / "elsewhere.json"
    copy.write_bytes(lot.read_bytes())
    lot.unlink()
    lot.symlink_to(copy)
    with pytest.raises(StorageError) as caught:
        world.svc.lot_slots(world.admin, world.lot.id)
    assert str(caught.value).startswith(f"{lot} is a symbolic link; parking-tui never follows links")


def test_a_root_gone_from_under_a_running_process_is_named(world, db_path):
    from parking_tui.domain import StorageError

    db_path.unlink()
    with pytest.raises(StorageError) as caught:
        world.svc.list_lots(world.admin)
    assert str(caught.value) == f"The data file {db_path} is missing."


@pytest.mark.parametrize("call, err", [("open", 13), ("read", 5)], ids=["open-EACCES", "read-EIO"])
def test_a_data_file_that_cannot_be_read_is_named_with_the_reason(
    world, db_path, open_svc, monkeypatch, call, err
):
    from parking_tui.domain import StorageError

    lot = db_path.parent / f"parking.lot-{world.lot.id}.json"
    if call == "open":
        _fail(monkeypatch, "open", err, lambda path, *a: str(path) == str(lot))
    else:
        _fail(monkeypatch, "read", err, lambda fd, n: _fd_name(fd) == str(lot))
    with pytest.raises(StorageError) as caught:
        open_svc().lot_slots(world.admin, world.lot.id)
    monkeypatch.undo()
    assert str(caught.value) == f"Cannot read the data file {lot}: {os.strerror(err)}."


def test_a_file_read_in_small_pieces_is_read_whole(world, db_path, open_svc, monkeypatch):
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real(fd, min(n, 10)))
    slots = open_svc().lot_slots(world.admin, world.lot.id)
    monkeypatch.undo()
    assert [s.slot_number for s in slots] == ["A1", "A2", "A3"]


def test_a_file_written_before_files_were_tagged_is_read(world, db_path, open_svc):
    import json

    lot = db_path.parent / f"parking.lot-{world.lot.id}.json"
    data = json.loads(lot.read_bytes())
    data.pop("_file")
    lot.write_text(json.dumps(data))
    assert [s.slot_number for s in open_svc().lot_slots(world.admin, world.lot.id)] == ["A1", "A2", "A3"]


def test_a_copy_of_a_file_from_before_a_restore_is_refused_as_stale(world, db_path, open_svc):
    from parking_tui.domain import StorageError
    from parking_tui.storage.tinydb.store import TinyStore

    lot = db_path.parent / f"parking.lot-{world.lot.id}.json"
    snap = world.svc.store.files.snapshot().name
    old = lot.read_bytes()  # tagged with the epoch before the restore
    TinyStore(db_path).restore(snap)
    lot.write_bytes(old)  # someone copies the old file back
    with pytest.raises(StorageError) as caught:
        open_svc().lot_slots(world.admin, world.lot.id)
    assert f"The data file {lot} is damaged (it is a stale copy: from before the last restore)." in str(caught.value)


# ------------------------------------------------------------------------------------- new files: modes and links


def test_no_new_file_of_the_store_is_ever_open_with_a_wider_mode_than_configured(tmp_path: Path, clock, monkeypatch):
    """Each new file (a temporary data file, the audit log, the lock file) is created with the configured mode,
    not only set to it afterwards: with umask 0, a file created with the default mode would be readable and
    writable by everyone until its ``fchmod``, and to whoever opened it in that moment, for good."""
    seen: dict[str, int] = {}
    real = os.fchmod

    def fchmod(fd, mode):
        seen[Path(_fd_name(fd)).name] = os.fstat(fd).st_mode & 0o777  # the mode it was created with
        return real(fd, mode)

    monkeypatch.setattr(os, "fchmod", fchmod)
    try:
        _book_in_new_store(tmp_path, clock, file_mode=0o600, umask=0)
    finally:
        monkeypatch.undo()
    assert [n for n in seen if n.endswith(".tmp")] and "parking.audit.jsonl" in seen, seen
    assert {n: oct(m) for n, m in seen.items() if m & ~0o600} == {}


def test_a_link_planted_at_a_temporary_files_name_is_not_followed(world, db_path, tmp_path, monkeypatch):
    """The temporary file's name is random, but one planted there anyway (a guessed name, a reused pid) is
    refused, not written through: the file it points to stays as it was and no data file becomes a link."""
    import secrets

    from parking_tui.domain import StorageError

    victim = tmp_path / "victim.json"
    victim.write_bytes(b"not yours")
    lot = f"parking.lot-{world.lot.id}.json"
    planted = db_path.parent / f".{lot}.{os.getpid()}.feedface.tmp"
    planted.symlink_to(victim)
    before = _folder_state(db_path)
    monkeypatch.setattr(secrets, "token_hex", lambda nbytes=None: "feedface")
    with pytest.raises(StorageError) as caught:
        world.book(world.alice)
    monkeypatch.undo()
    assert str(caught.value) == SAVE.format(dir=db_path.parent) % "File exists"
    assert victim.read_bytes() == b"not yours"
    assert _folder_state(db_path) == before
    assert not [p for p in db_path.parent.iterdir() if p.is_symlink() and p != planted]
    planted.unlink()
    world.book(world.alice)
