"""Missing and wrongly shaped data files: a clear ``StorageError`` naming the file (and, for a missing one, the
newest good snapshot) at open, never a traceback or a hang; ``doctor`` reports each and exits non-zero.
The files are left exactly as found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parking_tui.domain import StorageError
from parking_tui.storage.tinydb.doctor import diagnose

from .conftest import build_world, files_bytes, open_svc


@pytest.fixture
def data(db_path: Path):
    world = build_world(db_path)
    b = world.book(world.alice)
    world.svc.cancel_booking(world.alice, b.id)  # an archive shard
    world.book(world.bob, 1)
    world.svc.store.files.snapshot()
    return world


def archive_of(folder: Path) -> Path:
    return next(folder.glob("parking.archive-*.json"))


@pytest.mark.parametrize("victim", ["parking.lot-1.json", "parking.users.json", "archive", "parking.auth.json"])
def test_a_deleted_file_stops_the_program_and_doctor(data, victim):
    folder = data.path.parent
    gone = archive_of(folder) if victim == "archive" else folder / victim
    gone.unlink()
    before = files_bytes(folder)
    with pytest.raises(StorageError) as err:
        open_svc(data.path)
    message = str(err.value)
    assert gone.name in message and "missing" in message
    snap = data.svc.store.files.snapshots()[-1].name
    assert snap in message, message
    assert files_bytes(folder) == before
    findings = [f for f in diagnose(data.path) if f.level == "error"]
    assert any(gone.name in f.what for f in findings), findings


def test_a_deleted_file_stops_a_running_process_too(data):
    folder = data.path.parent
    (folder / "parking.lot-1.json").unlink()
    with pytest.raises(StorageError, match="lot-1.json is missing"):
        data.book(data.alice, 2, start_min=600)


def _holds_of(folder: Path, username: str) -> Path:
    """The holds file that lists ``username`` (whatever order the file system lists the folder in)."""
    for path in sorted(folder.glob("parking.holds-*.json")):
        holds = json.loads(path.read_text(encoding="utf-8"))["holds"].values()
        if any(entry["username"] == username for entry in holds):
            return path
    raise AssertionError(f"no holds file lists {username}")


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))


def _set_session_expiry(doc):
    for rec in doc["sessions"].values():
        rec["expires_at"] = "x"


def _lot_key(doc):
    doc["lots"]["abc"] = doc["lots"].pop("1")


def _meta(**values):
    def change(doc):
        doc["meta"]["1"].update(values)

    return change


def _ids(**values):
    def change(doc):
        doc["meta"]["1"]["ids"].update(values)

    return change


def _booking_field(field, value):
    def change(doc):
        for rec in doc["bookings"].values():
            rec[field] = value

    return change


DAMAGE = {
    "session expires_at 'x'": ("parking.auth.json", _set_session_expiry, "expires_at"),
    "lot key 'abc'": ("parking.json", _lot_key, "abc"),
    "archive_buckets 0": ("parking.json", _meta(archive_buckets=0), "archive_buckets"),
    "archive_buckets 10^9": ("parking.json", _meta(archive_buckets=10**9), "archive_buckets"),
    "ids.booking 2^64-1": ("parking.json", _ids(booking=2**64 - 1), "booking id counter"),
    "ids.booking 2^53": ("parking.json", _ids(booking=2**53), "booking id counter"),
    "ids.booking text": ("parking.json", _ids(booking="7"), "booking id counter"),
    "booking slot_id text": ("parking.lot-1.json", _booking_field("slot_id", "A1"), "slot_id"),
    "booking start_time number": ("parking.lot-1.json", _booking_field("start_time", 5), "start_time"),
    "booking status unknown": ("parking.lot-1.json", _booking_field("status", "zzz"), "status"),
    "user is_admin text": (
        "parking.users.json",
        lambda doc: next(iter(doc["users"].values())).update(is_admin="yes"),
        "is_admin",
    ),
    "holds lots a list": (
        "holds",
        lambda doc: next(e for e in doc["holds"].values() if e["username"] == "alice").update(lots=[1]),
        "lots",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_wrongly_shaped_record_is_a_clear_error(data, case):
    name, change, word = DAMAGE[case]
    folder = data.path.parent
    target = _holds_of(folder, "alice") if name == "holds" else folder / name
    _edit(target, change)
    before = files_bytes(folder)
    with pytest.raises(StorageError) as err:
        svc = open_svc(data.path)
        token = svc.login("alice", "correct-horse")
        svc.my_bookings(token)
    message = str(err.value)
    assert target.name in message and word in message, message
    assert target.read_bytes() == before[target.name]
    findings = [f for f in diagnose(data.path) if f.level == "error"]
    assert any(target.name in f.what for f in findings), findings


def test_a_file_copied_under_another_name_is_refused(data):
    folder = data.path.parent
    data.svc.create_lot(data.admin, "North", "Hill Road 5", 5)
    data.svc.add_slots(data.admin, 2, ["B1"])
    (folder / "parking.lot-2.json").write_bytes((folder / "parking.lot-1.json").read_bytes())
    with pytest.raises(StorageError, match="lot-2.json"):
        open_svc(data.path)
    assert any("lot-2.json" in f.what for f in diagnose(data.path) if f.level == "error")


def test_a_stale_copy_from_before_a_restore_is_refused(data, tmp_path):
    folder = data.path.parent
    old = (folder / "parking.lot-1.json").read_bytes()
    data.svc.store.files.restore(data.svc.store.files.snapshots()[-1].name)
    (folder / "parking.lot-1.json").write_bytes(old)
    with pytest.raises(StorageError, match="stale"):
        open_svc(data.path)
    assert any("stale" in f.what for f in diagnose(data.path) if f.level == "error")


def test_a_commit_cut_short_before_a_new_file_is_renamed_is_not_a_missing_file(data, monkeypatch):
    """The root lists a file a commit creates before the file is renamed into place; a crash in between must
    not make the data unopenable."""
    import os

    real = os.replace
    calls = []

    def stop_after_root(src, dst, *a, **k):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", stop_after_root)
    with pytest.raises(KeyboardInterrupt):
        data.svc.create_lot(data.admin, "North", "Hill Road 5", 5)
        data.svc.add_slots(data.admin, 2, ["B1"])
    monkeypatch.setattr(os, "replace", real)
    svc = open_svc(data.path)
    svc.login("alice", "correct-horse")
    assert not [f for f in diagnose(data.path) if f.level == "error"]
