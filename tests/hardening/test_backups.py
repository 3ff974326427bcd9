"""Backups and recovery through the real command line: automatic snapshots keep the last N, ``backup``,
``backup --list``, ``restore NAME --yes`` (byte-identical, with a safety snapshot), ``doctor`` on healthy and on
broken data, and a corrupt file at start naming the newest good snapshot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from parking_tui.domain import StorageError

from .conftest import ROOT, WAIT, build_world, files_bytes, open_svc
from .test_restore import logical

pytestmark = pytest.mark.slow


def cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for key in [k for k in env if k.startswith("PARKING_TUI_")]:
        del env[key]
    env["HOME"] = env["XDG_CONFIG_HOME"] = str(db.parent / "home")  # no config file: the defaults
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        env=env,
        cwd=str(ROOT),
        stdin=subprocess.DEVNULL,
    )


def data_only(folder: Path) -> dict[str, bytes]:
    """The data files (not the lock, the audit log or the snapshots)."""
    return {k: v for k, v in files_bytes(folder).items() if k.endswith(".json") and "/" not in k}


def test_automatic_snapshots_keep_the_last_n(db_path):
    world = build_world(db_path, backups=3, backup_interval=0)
    for i in range(6):
        world.svc.set_slot_status(world.admin, world.slots[0].id, ["occupied", "available"][i % 2])
    snaps = world.svc.store.files.snapshots()
    assert len(snaps) == 3
    # The newest snapshot is the data as it is now, file for file.
    assert {p.name: p.read_bytes() for p in snaps[-1].iterdir() if p.name != "SHA256SUMS"} == data_only(db_path.parent)


def test_backup_list_and_restore_through_the_cli(world):
    folder, db = world.path.parent, world.path
    taken = cli("backup", db=db)
    assert taken.returncode == 0, taken.stderr
    listed = cli("backup", "--list", db=db)
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    assert names and names[-1] in taken.stdout
    snapshot = names[-1]
    at_snapshot = data_only(folder)
    logical_at_snapshot = logical(folder)

    lot = world.svc.create_lot(world.admin, "North", "Hill Road 5", 5)
    world.book(world.alice)
    changed = data_only(folder)
    assert changed != at_snapshot

    refused = cli("restore", snapshot, db=db)  # no --yes and no terminal: nothing happens
    assert refused.returncode != 0 and data_only(folder) == changed
    restored = cli("restore", snapshot, "--yes", db=db)
    assert restored.returncode == 0, restored.stderr
    # Byte for byte but for the root's epoch and counters, and nothing extra (the new lot file is gone).
    assert data_only(folder).keys() == at_snapshot.keys()
    assert logical(folder) == {k: v for k, v in logical_at_snapshot.items()}
    kept = re.search(r"kept as snapshot (\S+?)\.$", restored.stdout.strip())
    assert kept, restored.stdout
    safety = [p for p in world.svc.store.files.snapshots() if p.name == kept.group(1)]
    assert len(safety) == 1 and safety[0].name != snapshot
    assert {p.name: p.read_bytes() for p in safety[0].iterdir() if p.name != "SHA256SUMS"} == changed
    svc = open_svc(db)
    assert [x.name for x in svc.list_lots(world.admin)] == ["Central"]
    assert lot.id not in [x.id for x in svc.list_lots(world.admin)]


@pytest.fixture
def healthy(tmp_path):
    """Demo data on the real clock (the doctor judges "live" against now)."""
    import parking_tui
    from parking_tui.cli.demo import ensure_demo_data

    from .conftest import cheap_hasher

    db = tmp_path / "parking.json"
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
    ensure_demo_data(svc)
    return db, svc


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_bytes())
    change(data)
    path.write_text(json.dumps(data))


def _two_future_bookings(svc):
    admin = svc.login("admin", "admin1234")
    lot = next(x for x in svc.list_lots(admin) if x.name.startswith("Riverside"))
    slot = svc.lot_slots(admin, lot.id)[-1]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    a = svc.create_booking(svc.login("alice", "alice-demo-pass"), slot.id, start, start + timedelta(hours=1))
    b = svc.create_booking(svc.login("bruno", "bruno-demo-pass"), slot.id, start + timedelta(hours=2), start + timedelta(hours=3))
    return lot, a, b


def _overlap(db, svc):
    lot, a, b = _two_future_bookings(svc)
    lot_file = db.parent / f"parking.lot-{lot.id}.json"
    _edit(lot_file, lambda d: d["bookings"][str(b.id)].update(start_time=a.start_time.isoformat()))
    return "overlap"


def _damaged(db, svc):
    lot = svc.list_lots(svc.login("admin", "admin1234"))[0]
    f = db.parent / f"parking.lot-{lot.id}.json"
    f.write_bytes(f.read_bytes()[:-40])
    return "not valid JSON"


def _counter_behind(db, svc):
    _edit(db, lambda d: d["meta"]["1"]["ids"].update(slot=3))
    return "counter"


def _missing_hold(db, svc):
    lot, a, b = _two_future_bookings(svc)
    for f in db.parent.glob("parking.holds-*.json"):
        _edit(f, lambda d: [rec["lots"].pop(str(a.id), None) for rec in d.get("holds", {}).values()])
    return "missing from its driver's holds"


def test_doctor_passes_healthy_demo_data(healthy):
    db, _ = healthy
    done = cli("doctor", db=db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All is well" in done.stdout


@pytest.mark.parametrize("breakage", [_overlap, _damaged, _counter_behind, _missing_hold])
def test_doctor_finds_what_is_wrong(healthy, breakage):
    db, svc = healthy
    expected = breakage(db, svc)
    before = files_bytes(db.parent)
    done = cli("doctor", db=db)
    assert done.returncode != 0
    assert expected in done.stdout, done.stdout
    assert "fix:" in done.stdout
    assert files_bytes(db.parent) == before  # the doctor changes nothing


def test_a_corrupt_file_at_start_names_the_newest_good_snapshot(world):
    store = world.svc.store.files
    older = store.snapshot()
    world.svc.update_profile(world.alice, phone_number="+44 20 7946 0003")
    newest = store.snapshot()
    users = world.path.parent / "parking.users.json"
    good = users.read_bytes()
    # A damaged copy put in place (a new file): every snapshot still holds a good one.
    users.unlink()
    users.write_bytes(good[: len(good) // 2])
    damaged = users.read_bytes()
    with pytest.raises(StorageError) as caught:
        open_svc(world.path)
    message = str(caught.value)
    assert f"parking-tui restore {newest.name}`" in message, message
    assert users.read_bytes() == damaged  # left exactly as found
    restored = cli("restore", newest.name, "--yes", db=world.path)
    assert restored.returncode == 0, restored.stderr
    assert open_svc(world.path).profile(world.alice).phone_number == "+44 20 7946 0003"


def test_damage_in_place_does_not_reach_the_snapshots(world):
    """Snapshots are independent copies: a file overwritten in place (an editor, a sync tool) is damaged only
    in the live data. The message names the newest snapshot, and every snapshot still verifies."""
    store = world.svc.store.files
    older = store.snapshot()
    world.svc.update_profile(world.alice, phone_number="+44 20 7946 0004")  # a new users file
    newest = store.snapshot()
    users = world.path.parent / "parking.users.json"
    kept = (newest / "parking.users.json").read_bytes()
    with open(users, "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(StorageError) as caught:
        open_svc(world.path)
    message = str(caught.value)
    assert f"parking-tui restore {newest.name}`" in message, message
    assert (newest / "parking.users.json").read_bytes() == kept
    assert store.verify_snapshot(older) == [] and store.verify_snapshot(newest) == []
    done = cli("doctor", db=world.path)
    assert done.returncode != 0 and "parking.users.json" in done.stdout


def _age(snapshot: Path, seconds: float) -> None:
    """Make ``snapshot`` look ``seconds`` old (the interval is measured from the newest snapshot's mtime)."""
    when = time.time() - seconds
    os.utime(snapshot, (when, when))


def test_automatic_snapshots_follow_the_interval_and_keep_the_last_n(db_path):
    """``backup_interval`` 900 s: writes inside the interval take no snapshot, the first write after it takes one;
    ``backups`` 3: the oldest go once there are more."""
    world = build_world(db_path, backups=3, backup_interval=900)
    store = world.svc.store.files
    first = store.snapshots()
    assert len(first) == 1  # the first write found none and took one
    for i in range(4):
        world.svc.set_slot_status(world.admin, world.slots[0].id, ["occupied", "available"][i % 2])
    assert store.snapshots() == first  # inside the interval: none taken
    _age(first[0], 899)
    world.svc.set_slot_status(world.admin, world.slots[0].id, "occupied")
    assert store.snapshots() == first  # 899 s is still inside
    taken = list(first)
    for n in range(4):
        _age(taken[-1], 901)
        world.svc.set_slot_status(world.admin, world.slots[0].id, ["available", "occupied"][n % 2])
        now = store.snapshots()
        assert len(now) == min(len(taken) + 1, 3), [p.name for p in now]
        assert now[:-1] == taken[-(len(now) - 1):]  # the newest ones kept, in order
        assert now[-1] not in taken
        taken.append(now[-1])
    # The newest snapshot is the data as it is now.
    assert {p.name: p.read_bytes() for p in store.snapshots()[-1].iterdir() if p.name.endswith(".json")} == data_only(
        db_path.parent
    )
