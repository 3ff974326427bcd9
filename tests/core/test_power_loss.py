"""Invariant 2 against power loss, not only ``kill -9``.

A killed process leaves the page cache behind, so a missing ``fsync`` never shows in a kill test. Here a spy
wraps the ``os`` calls the store makes (``write``, ``fsync``, ``replace``/``rename``) and records them in order
for the data folder. Two things are checked:

* every acknowledged call wrote its temporary files, fsynced each of them, renamed them into place, appended and
  fsynced its audit lines, and fsynced the folder, all before it returned;
* a model of the disk after a power cut at any point: a file holds what it held at its last ``fsync`` (nothing,
  if it was never fsynced) and the folder lists what it listed at its last ``fsync`` of the folder. The folder
  as it would be found after a cut between any two recorded calls opens cleanly and holds every booking that
  was acknowledged before the cut, with every acknowledged change.

The writes outside a commit get the same checks: a new data file and a schema upgrade (each file fsynced before
its rename, the folder after, before the open returns; an upgrade cut by a power failure at any point opens with
the same data), a restore (staged and fsynced, switched by one rename, the folder fsynced after the moves and after
the journal's removal), and a folder sync that fails after either is reported in words.
"""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

import parking_tui

from .conftest import PASSWORD, T0, FrozenClock, cheap_hasher

REAL = {name: getattr(os, name) for name in ("write", "fsync", "replace", "rename", "unlink", "remove")}
Ident = tuple[int, int]  # (inode, how many times that inode number was freed before): inode numbers are reused


@dataclass
class Event:
    kind: str  # write | fsync | fsync_dir | replace
    name: str  # the file's name in the data folder (for replace: the target)
    ino: int


@dataclass
class DiskModel:
    """What the data folder would hold after a power cut, as the recorded calls go by."""

    folder: Path
    listing: dict[str, Ident] = field(default_factory=dict)  # name -> file, as of the last fsync of the folder
    content: dict[Ident, bytes] = field(default_factory=dict)  # file -> bytes, as of its last fsync
    events: list[Event] = field(default_factory=list)
    states: list[tuple[dict[str, Ident], dict[Ident, bytes]]] = field(default_factory=list)
    freed: dict[int, int] = field(default_factory=dict)

    def ident(self, ino: int) -> Ident:
        return ino, self.freed.get(ino, 0)

    def _free(self, path: Path) -> None:
        """``path`` is about to lose its inode (replaced or unlinked): a later file may get the same number."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        if st.st_nlink <= 1:
            self.freed[st.st_ino] = self.freed.get(st.st_ino, 0) + 1

    def start(self) -> None:
        """The folder as it is now counts as durable (the test set it up before the spy)."""
        for entry in os.scandir(self.folder):
            if entry.is_file(follow_symlinks=False):
                self.listing[entry.name] = self.ident(entry.inode())
                self.content[self.ident(entry.inode())] = Path(entry.path).read_bytes()
        self.states.append((dict(self.listing), dict(self.content)))

    def _where(self, fd: int) -> Path | None:
        try:
            target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return None
        if target == self.folder or target.parent == self.folder:
            return target
        return None

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self.states.append((dict(self.listing), dict(self.content)))

    # the wrappers -------------------------------------------------------------------------------------

    def write(self, fd, data):
        n = REAL["write"](fd, data)
        where = self._where(fd)
        if where is not None:
            self._record(Event("write", where.name, os.fstat(fd).st_ino))
        return n

    def fsync(self, fd):
        REAL["fsync"](fd)
        where = self._where(fd)
        if where is None:
            return
        st = os.fstat(fd)
        if stat_mod.S_ISDIR(st.st_mode):
            if where != self.folder:
                return  # a folder inside the data folder (snapshots): not what lists the data files
            self.listing = {
                e.name: self.ident(e.inode()) for e in os.scandir(self.folder) if e.is_file(follow_symlinks=False)
            }
            self._record(Event("fsync_dir", where.name, st.st_ino))
        else:
            with open(f"/proc/self/fd/{fd}", "rb") as fh:  # works for a write-only descriptor too
                self.content[self.ident(st.st_ino)] = fh.read()
            self._record(Event("fsync", where.name, st.st_ino))

    def _move(self, real, src, dst, *args, **kwargs):
        src_path, dst_path = Path(src), Path(dst)
        ino = os.stat(src_path).st_ino if dst_path.parent == self.folder else 0
        if dst_path.parent == self.folder:
            self._free(dst_path)
        real(src, dst, *args, **kwargs)
        if dst_path.parent == self.folder:
            self._record(Event("replace", dst_path.name, ino))

    def replace(self, src, dst, *args, **kwargs):
        self._move(REAL["replace"], src, dst, *args, **kwargs)

    def rename(self, src, dst, *args, **kwargs):
        self._move(REAL["rename"], src, dst, *args, **kwargs)

    def unlink(self, path, *args, **kwargs):
        if Path(path).parent == self.folder:
            self._free(Path(path))
        REAL["unlink"](path, *args, **kwargs)

    def remove(self, path, *args, **kwargs):
        if Path(path).parent == self.folder:
            self._free(Path(path))
        REAL["remove"](path, *args, **kwargs)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.start()
        for name in REAL:
            monkeypatch.setattr(os, name, getattr(self, name))

    def materialise(self, point: int, into: Path) -> Path:
        """The data folder as found after a power cut just after recorded call ``point`` (0: before any)."""
        listing, content = self.states[point]
        into.mkdir()
        for name, ident in listing.items():
            (into / name).write_bytes(content.get(ident, b""))  # never fsynced: found empty
        return into / "parking.json"


def _open(path: Path):
    """A fresh process at the start of the day (so no reservation has expired yet)."""
    return parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher())


def _run_day(world, model: DiskModel):
    """A mix of writes touching every kind of file; returns ``[(events recorded at return, expected)]`` where
    ``expected`` maps each acknowledged booking id to its status."""
    svc, w = world.svc, world
    acks: list[tuple[int, dict[int, str], int]] = []
    expected: dict[int, str] = {}
    audit = model.folder / "parking.audit.jsonl"

    def ack(booking=None) -> None:
        if booking is not None:
            expected[booking.id] = booking.status
        lines = audit.read_bytes().count(b"\n") if audit.exists() else 0
        acks.append((len(model.events), dict(expected), lines))

    start = w.clock.now + timedelta(minutes=30, seconds=7)
    for i in range(6):
        token = (w.alice, w.bob)[i % 2]
        s = start + timedelta(hours=i)
        ack(svc.create_booking(token, w.slots[i % 3].id, s, s + timedelta(minutes=50)))
    first = sorted(expected)[0]
    ack(svc.cancel_booking(w.alice, first))  # a move to the archive: root, archive, holds and lot in one commit
    lot = svc.create_lot(w.admin, "North", "Side Street 2", 4)  # the root and a new lot file
    ack()
    slot = svc.add_slot(w.admin, lot.id, "N1")
    ack()
    ack(svc.create_booking(w.bob, slot.id, start + timedelta(hours=8), start + timedelta(hours=9)))
    second = sorted(expected)[1]
    w.clock.advance(hours=1, minutes=30)
    ack(svc.check_in(w.bob, second))
    ack(svc.check_out(w.bob, second))
    return acks


def test_each_acknowledged_write_is_fsynced_renamed_and_the_folder_synced_before_return(world, db_path, monkeypatch):
    model = DiskModel(Path(os.path.realpath(db_path.parent)))
    model.install(monkeypatch)
    acks = _run_day(world, model)
    monkeypatch.undo()
    assert len(acks) == 12
    begin = 0
    for end, _, _ in acks:
        calls = model.events[begin:end]
        _check_durable_before_return(calls)
        replaces = [i for i, e in enumerate(calls) if e.kind == "replace"]
        audit = [i for i, e in enumerate(calls) if e.kind == "write" and e.name.endswith(".audit.jsonl")]
        assert audit, "an acknowledged change wrote no audit line"
        assert audit[-1] < replaces[0], "the audit line was written after a data file was renamed"
        audit_ino = calls[audit[-1]].ino
        assert any(e.kind == "fsync" and e.ino == audit_ino for e in calls[audit[-1] + 1 :]), (
            "the call returned before its audit line was fsynced"
        )
        # The documented order: the root (id counters) first, a driver's holds before the lot file.
        order = [calls[i].name for i in replaces]
        if "parking.json" in order:
            assert order[0] == "parking.json", order
        holds = [k for k, n in enumerate(order) if ".holds-" in n]
        lots = [k for k, n in enumerate(order) if ".lot-" in n]
        if holds and lots:
            assert max(holds) < min(lots), order
        begin = end


def test_a_power_cut_at_any_point_keeps_every_acknowledged_booking(world, db_path, monkeypatch, tmp_path_factory):
    model = DiskModel(Path(os.path.realpath(db_path.parent)))
    cuts = tmp_path_factory.mktemp("cuts")
    model.install(monkeypatch)
    acks = _run_day(world, model)
    monkeypatch.undo()
    admin = world.admin
    seen: set = set()
    checked = 0
    for point in range(len(model.states)):
        listing, content = model.states[point]
        owed, lines = {}, 0
        for end, expected, audit_lines in acks:
            if end <= point:
                owed, lines = expected, audit_lines
        found = tuple(sorted((name, hash(content.get(ident, b""))) for name, ident in listing.items()))
        key = (found, len(owed), lines)
        if key in seen:
            continue
        seen.add(key)
        path = model.materialise(point, cuts / f"cut-{point}")
        svc = _open(path)  # opens cleanly: a damaged file would raise here
        stored = {b.id: b.status for b in svc.list_reservations(admin)}
        lost = {i: s for i, s in owed.items() if stored.get(i) != s}
        assert not lost, (
            f"a power cut after call {point} ({model.events[point - 1] if point else 'start'}) loses acknowledged "
            f"state: expected {lost}, found {[(i, stored.get(i)) for i in lost]}"
        )
        audit = (path.parent / "parking.audit.jsonl").read_bytes() if lines else b""
        assert audit.count(b"\n") >= lines, f"a power cut after call {point} loses acknowledged audit lines"
        checked += 1
    assert checked >= 12, "the crash points checked too few distinct states to mean anything"
    print(f"{checked} distinct power-cut states checked out of {len(model.states)} points")


# ------------------------------------------------------------------------------- writes outside a commit
#
# A new data file, a schema upgrade and a restore write outside the commit path (no audit line, no lock note),
# so the checks above do not reach them; each must still leave its files durable before it returns.

SCHEMA1 = Path(__file__).parent.parent / "fixtures" / "schema1"
SCHEMA1_WRITTEN = T0 + timedelta(minutes=50)  # the fixture was written at 10:50 UTC that day


def _check_durable_before_return(calls: list[Event]) -> None:
    """Each file renamed into the folder was written and fsynced before its rename, and the folder was fsynced
    after the last rename (``calls``: what one call recorded, up to its return)."""
    replaces = [i for i, e in enumerate(calls) if e.kind == "replace"]
    assert replaces, f"nothing was renamed into place: {calls}"
    for i in replaces:
        moved = calls[i]
        writes = [j for j in range(i) if calls[j].kind == "write" and calls[j].ino == moved.ino]
        assert writes, f"{moved.name} was renamed into place without being written"
        assert [j for j in range(writes[-1] + 1, i) if calls[j].kind == "fsync" and calls[j].ino == moved.ino], (
            f"{moved.name} was renamed into place before its new content was fsynced"
        )
    assert [e for e in calls[replaces[-1] + 1 :] if e.kind == "fsync_dir"], (
        "the call returned before the folder was fsynced after its renames"
    )


def test_a_new_data_file_is_fsynced_and_its_folder_synced_before_the_open_returns(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    model = DiskModel(Path(os.path.realpath(folder)))
    model.install(monkeypatch)
    _open(folder / "parking.json")
    monkeypatch.undo()
    _check_durable_before_return(model.events)
    after = model.materialise(len(model.events), tmp_path / "after-the-cut")
    assert after.exists(), "a power cut right after the open loses the new data file"
    _open(after)


@pytest.fixture
def schema1(tmp_path) -> Path:
    """Data written by parking-tui 0.1.0, with a walk-in mark of that time (no end), so that the upgrade rewrites
    a lot file as well as the root."""
    import json
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(SCHEMA1, folder)
    lot = folder / "parking.lot-1.json"
    data = json.loads(lot.read_text())
    data["slots"]["3"].update(admin_status="occupied")
    lot.write_text(json.dumps(data))
    return folder / "parking.json"


def _open_old(path: Path):
    return parking_tui.open_service(
        path, clock=FrozenClock(SCHEMA1_WRITTEN), password_hasher=cheap_hasher(), time_zone="Europe/London"
    )


def _schema_and_data(path: Path) -> tuple[int, list, list]:
    import json

    svc = _open_old(path)
    schema = json.loads(path.read_bytes())["meta"]["1"]["schema"]
    admin = svc.login("admin", PASSWORD)
    slots = [(s.slot_number, s.status) for s in svc.lot_slots(admin, 1)]
    bookings = sorted((b.id, b.username, b.slot_number, b.status) for b in svc.list_reservations(admin))
    return schema, slots, bookings


def test_a_schema_upgrade_is_fsynced_renamed_and_its_folder_synced_before_the_open_returns(
    schema1, tmp_path, monkeypatch
):
    import json

    model = DiskModel(Path(os.path.realpath(schema1.parent)))
    model.install(monkeypatch)
    _open_old(schema1)
    monkeypatch.undo()
    assert json.loads(schema1.read_bytes())["meta"]["1"]["schema"] == 2
    renamed = {e.name for e in model.events if e.kind == "replace"}
    assert renamed == {"parking.json", "parking.lot-1.json"}, renamed
    _check_durable_before_return(model.events)
    tag = json.loads((schema1.parent / "parking.lot-1.json").read_bytes())["_file"]["1"]
    epoch = json.loads(schema1.read_bytes())["meta"]["1"].get("epoch")
    assert tag == {"name": "parking.lot-1.json", "epoch": epoch}  # a write outside a commit names no transaction
    upgraded = _schema_and_data(schema1)
    assert upgraded[0] == 2 and upgraded[2], upgraded
    # A power cut at any point: the data opens, and holds what it held (upgraded again if the cut came before
    # the folder was synced); after the open returned, it is found upgraded.
    for point in range(len(model.states)):
        found = _schema_and_data(model.materialise(point, tmp_path / f"cut-{point}"))
        assert found[1:] == upgraded[1:], f"a power cut after call {point} changed the data: {found}"
    schema, _, _ = _schema_and_data(model.materialise(len(model.events), tmp_path / "after-the-open"))
    found = json.loads((tmp_path / "after-the-open" / "parking.json").read_bytes())["meta"]["1"]["schema"]
    assert found == 2, "a power cut right after the open returned finds the data not upgraded"


def test_a_restore_fsyncs_each_file_before_its_rename_and_the_folder_after_before_it_returns(
    world, db_path, monkeypatch
):
    """A restore stages every file (written, fsynced) in a folder beside the data, fsyncs that folder, and
    switches with one rename of an fsynced journal; then it renames the staged files into place, fsyncs the data
    folder, removes the journal and fsyncs the folder again, all before it returns."""
    from parking_tui.storage import TinyStore

    store = world.svc.store.files
    snap = store.snapshot().name
    world.svc.create_lot(world.admin, "North", "Side Street 2", 4)
    world.book(world.alice)
    folder = Path(os.path.realpath(db_path.parent))
    staging = folder / ".parking.restore"
    journal = folder / "parking.restore-journal"
    calls: list[tuple[str, Path, int]] = []  # (fsync | fsync_dir | replace | unlink, path, inode)

    def where(fd: int) -> Path:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))

    def fsync(fd):
        REAL["fsync"](fd)
        st = os.fstat(fd)
        calls.append(("fsync_dir" if stat_mod.S_ISDIR(st.st_mode) else "fsync", where(fd), st.st_ino))

    def replace(src, dst, *a, **k):
        ino = os.lstat(src).st_ino
        REAL["replace"](src, dst, *a, **k)
        calls.append(("replace", Path(dst), ino))

    def unlink(path, *a, **k):
        REAL["unlink"](path, *a, **k)
        calls.append(("unlink", Path(path), 0))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    TinyStore(db_path).restore(snap)
    monkeypatch.undo()

    into = [i for i, (kind, path, _) in enumerate(calls) if kind == "replace" and path.parent == folder]
    switch = [i for i in into if calls[i][1] == journal]
    assert len(switch) == 1, calls
    files = [i for i in into if calls[i][1] != journal]
    assert {calls[i][1].name for i in files} == {p.name for p in Path(store.backup_dir / snap).glob("parking*.json")}
    for i in [*switch, *files]:
        _, path, ino = calls[i]
        assert [c for c in calls[:i] if c[0] == "fsync" and c[2] == ino], f"{path.name} renamed before it was fsynced"
    staged = [i for i, c in enumerate(calls) if c[0] == "fsync_dir" and c[1] == staging]
    assert staged and staged[-1] < switch[0], "the journal was switched before the staged files' folder was fsynced"
    synced = [i for i, c in enumerate(calls) if c[0] == "fsync_dir" and c[1] == folder]
    assert [i for i in synced if switch[0] < i < files[0]], "the staged files moved before the switch was durable"
    gone = [i for i, c in enumerate(calls) if c[0] == "unlink" and c[1] == journal]
    assert gone and [i for i in synced if max(files) < i < gone[0]], "the journal went before the files were synced"
    assert [i for i in synced if i > gone[0]], "the restore returned before the journal's removal was synced"


def test_a_folder_that_cannot_be_synced_after_an_upgrade_or_a_restore_is_reported(
    schema1, tmp_path, monkeypatch
):
    from parking_tui.domain import StorageError
    from parking_tui.storage import TinyStore

    folder = os.path.realpath(schema1.parent)
    real = os.fsync
    failed: list[int] = []

    def failing(fd):
        if os.readlink(f"/proc/self/fd/{fd}") == folder:
            failed.append(fd)
            raise OSError(5, "Input/output error")
        return real(fd)

    words = (
        f"The change was written but {schema1.parent} could not be synced to disk (Input/output error); "
        "check the disk."
    )
    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StorageError) as caught:
        _open_old(schema1)
    monkeypatch.undo()
    assert failed and str(caught.value) == words
    snap = TinyStore(schema1).snapshots()[0].name  # the upgrade's own snapshot, taken first
    assert _schema_and_data(schema1)[0] == 2  # the renames were done; only their sync failed
    failed.clear()
    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StorageError) as caught:
        TinyStore(schema1).restore(snap)
    monkeypatch.undo()
    assert failed and str(caught.value) == words
