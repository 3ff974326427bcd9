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
"""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

import parking_tui

from .conftest import T0, FrozenClock, cheap_hasher

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
    for end, expected, _ in acks:
        calls = model.events[begin:end]
        replaces = [i for i, e in enumerate(calls) if e.kind == "replace"]
        assert replaces, f"an acknowledged write renamed nothing into place: {calls}"
        for i in replaces:
            moved = calls[i]
            writes = [j for j in range(i) if calls[j].kind == "write" and calls[j].ino == moved.ino]
            assert writes, f"{moved.name} was renamed into place without being written"
            synced = [
                j for j in range(writes[-1] + 1, i) if calls[j].kind == "fsync" and calls[j].ino == moved.ino
            ]
            assert synced, f"{moved.name} was renamed into place before its new content was fsynced"
        dir_syncs = [i for i, e in enumerate(calls) if e.kind == "fsync_dir" and i > replaces[-1]]
        assert dir_syncs, "the call returned before the folder was fsynced after its renames"
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

