"""Restore with other processes running, and restore interrupted at every step.

* Another store (as another process would) holding a block of booking ids when a restore rewinds the data: no
  id is handed out twice and no acknowledged booking is overwritten; its caches follow the restored data.
* A restore stopped at each rename (an exception in-process, a real ``kill -9`` in a child process) leaves the
  data either wholly as it was or wholly as the snapshot, once the store is opened again.
* Only names that ``backup --list`` prints are accepted.
"""

from __future__ import annotations

import os
import signal
import shutil
from pathlib import Path

import pytest

from parking_tui.domain import StorageError
from parking_tui.storage import TinyStore
from parking_tui.storage.tinydb.store import _loads

from .conftest import build_world, open_svc

ROOT_META_CHANGED_BY_RESTORE = ("epoch", "version", "ids", "files", "new_files")


def logical(folder: Path, stem: str = "parking") -> dict[str, object]:
    """The data files' contents, leaving out what a restore sets on purpose (the epoch and the counters)."""
    out: dict[str, object] = {}
    for p in sorted(folder.glob(f"{stem}*.json")):
        data = _loads(p.read_bytes())
        if p.name == f"{stem}.json":
            meta = data["meta"]["1"]
            data["meta"]["1"] = {k: v for k, v in meta.items() if k not in ROOT_META_CHANGED_BY_RESTORE}
        data.pop("_file", None)
        out[p.name] = data
    return out


def test_restore_while_another_process_holds_an_id_block_loses_nothing(db_path):
    world = build_world(db_path)
    svc_a = world.svc
    snap = svc_a.store.files.snapshot().name
    first = world.book(world.alice, 0, start_min=60)  # A now holds a block of booking ids
    TinyStore(db_path).restore(snap)
    svc_c = open_svc(db_path, world.clock)
    alice_c = svc_c.login("alice", "correct-horse")
    bob_c = svc_c.login("bob", "correct-horse")
    made_c = [svc_c.create_booking(bob_c, world.slots[1].id, *world.window(60 + 120 * i)) for i in range(3)]
    # A's sessions were restored away too (the snapshot predates nothing of them: they were made before it).
    made_a = [world.book(world.alice, 2, start_min=60 + 120 * i) for i in range(3)]
    ids = [b.id for b in made_c + made_a]
    assert len(set(ids)) == len(ids), ids
    assert first.id not in ids  # the counter never goes back: an id handed out before the restore stays used
    for svc, token in ((svc_a, world.admin), (svc_c, svc_c.login("admin", "correct-horse"))):
        seen = {b.id for b in svc.list_reservations(token)}
        assert set(ids) <= seen, (sorted(ids), sorted(seen))
    assert alice_c


def test_restore_drops_other_processes_caches(db_path):
    world = build_world(db_path)
    snap = world.svc.store.files.snapshot().name
    lot = world.svc.create_lot(world.admin, "North", "Hill Road 5", 5)
    assert [l.name for l in world.svc.list_lots(world.admin)] == ["Central", "North"]
    TinyStore(db_path).restore(snap)
    assert [l.name for l in world.svc.list_lots(world.admin)] == ["Central"]
    again = world.svc.create_lot(world.admin, "South", "Low Road 1", 5)
    assert again.id > lot.id  # ids of the restored-away lot are not reused


def test_restore_accepts_only_listed_snapshot_names(db_path, tmp_path, monkeypatch):
    world = build_world(db_path)
    store = world.svc.store.files
    snap = store.snapshot()
    elsewhere = tmp_path / "copy"
    shutil.copytree(snap, elsewhere)
    monkeypatch.chdir(tmp_path)
    before = logical(db_path.parent)
    for bad in ("copy", str(elsewhere), f"../{snap.parent.name}/{snap.name}", "..", "", f"{snap.name}/.."):
        with pytest.raises(StorageError, match="backup --list"):
            TinyStore(db_path).restore(bad)
    assert logical(db_path.parent) == before
    TinyStore(db_path).restore(snap.name)


def _prepare(db_path: Path) -> tuple[str, dict, dict]:
    """Data with a snapshot, then changes to every kind of file; returns (snapshot, data at it, data now)."""
    world = build_world(db_path)
    world.book(world.alice, 0)
    snap = world.svc.store.files.snapshot().name
    at_snap = logical(db_path.parent)
    world.svc.create_lot(world.admin, "North", "Hill Road 5", 5)
    b = world.book(world.bob, 1, start_min=300)
    world.svc.cancel_booking(world.bob, b.id)
    world.book(world.alice, 2, start_min=600)
    world.svc.register("carol", "carol@example.com", "correct-horse")
    world.svc.login("carol", "correct-horse")
    now = logical(db_path.parent)
    assert now.keys() != at_snap.keys()
    return snap, at_snap, now


def _count_renames(db_path: Path, snap: str, monkeypatch) -> int:
    calls = [0]
    real = os.replace

    def counting(*a, **k):
        calls[0] += 1
        return real(*a, **k)

    monkeypatch.setattr(os, "replace", counting)
    TinyStore(db_path).restore(snap)
    monkeypatch.setattr(os, "replace", real)
    return calls[0]


def test_restore_stopped_at_each_rename_is_all_or_nothing(db_path, tmp_path, monkeypatch):
    snap, at_snap, now = _prepare(db_path)
    pristine = tmp_path / "pristine"
    shutil.copytree(db_path.parent, pristine)
    trial = tmp_path / "trial"
    shutil.copytree(pristine, trial)
    n = _count_renames(trial / "parking.json", snap, monkeypatch)
    assert n >= 4
    real = os.replace
    outcomes = []
    for stop_at in range(1, n + 1):
        shutil.rmtree(trial)
        shutil.copytree(pristine, trial)
        calls = [0]

        def failing(*a, **k):
            calls[0] += 1
            if calls[0] == stop_at:
                raise KeyboardInterrupt("stopped")
            return real(*a, **k)

        monkeypatch.setattr(os, "replace", failing)
        with pytest.raises(KeyboardInterrupt):
            TinyStore(trial / "parking.json").restore(snap)
        monkeypatch.setattr(os, "replace", real)
        TinyStore(trial / "parking.json")  # opening finishes or forgets the interrupted restore
        got = logical(trial)
        assert got in (at_snap, now), f"mixed data after stopping at rename {stop_at} of {n}"
        outcomes.append(got == at_snap)
    assert any(outcomes) and not all(outcomes)


def test_restore_killed_at_each_rename_is_all_or_nothing(db_path, tmp_path, child, monkeypatch):
    snap, at_snap, now = _prepare(db_path)
    pristine = tmp_path / "pristine"
    shutil.copytree(db_path.parent, pristine)
    trial = tmp_path / "trial"
    shutil.copytree(pristine, trial)
    n = _count_renames(trial / "parking.json", snap, monkeypatch)
    for stop_at in range(1, n + 1):
        shutil.rmtree(trial)
        shutil.copytree(pristine, trial)
        c = child(
            f"""
            import os, signal
            from parking_tui.storage import TinyStore
            real, calls = os.replace, [0]
            def replace(*a, **k):
                calls[0] += 1
                if calls[0] == {stop_at}:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(*a, **k)
            os.replace = replace
            TinyStore({str(trial / "parking.json")!r}).restore({snap!r})
            """
        )
        assert c.wait() == -signal.SIGKILL
        TinyStore(trial / "parking.json")
        got = logical(trial)
        assert got in (at_snap, now), f"mixed data after kill -9 at rename {stop_at} of {n}"


def test_restore_refuses_a_snapshot_edited_into_other_valid_data_and_touches_nothing(db_path):
    """A file of the snapshot that still parses (same shape, another lot name) but no longer matches its
    checksum is refused before anything is touched: parsing alone would not notice."""
    world = build_world(db_path)
    store = world.svc.store.files
    snap = store.snapshot()
    root = snap / "parking.json"
    edited = root.read_bytes().replace(b'"Central"', b'"Centrax"')
    assert edited != root.read_bytes()
    root.write_bytes(edited)
    before = {p.name: p.read_bytes() for p in db_path.parent.iterdir() if p.is_file()}
    with pytest.raises(StorageError) as caught:
        store.restore(snap.name)
    assert "damaged" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert {p.name: p.read_bytes() for p in db_path.parent.iterdir() if p.is_file()} == before
    assert world.svc.get_lot(world.admin, world.lot.id).name == "Central"
