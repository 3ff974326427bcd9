"""Across processes: the per-driver rule raced by one driver from 8 processes, and each file a process caches
(root, users, auth, lot, holds) re-read after another process replaced it.

Each process caches the files it parsed and re-reads one only when its stamp changes; a file kind that were
never re-read would let this process act on stale data: book a driver twice, accept a token that was signed out,
miss a lot or a user another process made. Workers are module-level so a worker can import them.
"""

from __future__ import annotations

import traceback
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import AuthenticationError, Conflict

from conftest import child_processes

from .conftest import PASSWORD, T0, FrozenClock, cheap_hasher, live_overlaps, make_user

pytestmark = pytest.mark.slow

CTX = child_processes()
JOIN_TIMEOUT = 60


def _open(path) -> parking_tui.ParkingService:
    return parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher(), lock_timeout=30)


# ----------------------------------------------------------------------------------------- workers


def same_driver_worker(path, token, slot_id, start_iso, end_iso, barrier, results):
    """One driver's attempt; the driver's holds and lot files are read (cached) before the race starts."""
    try:
        svc = _open(path)
        svc.my_bookings(token)  # reads the driver's holds file and lots: now cached in this process
        svc.available_slots(token)
        barrier.wait(timeout=JOIN_TIMEOUT)
        try:
            b = svc.create_booking(token, slot_id, datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso))
            results.put(("ok", b.id))
        except Conflict as exc:
            results.put(("conflict", str(exc)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def other_process(path, op, args, results):
    """Do one write in a process of its own and report what it returned."""
    try:
        svc = _open(path)
        if op == "book":
            token, slot_id, start_iso, end_iso = args
            out = svc.create_booking(token, slot_id, datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)).id
        elif op == "register":
            out = svc.register(*args).username
        elif op == "update_email":
            token, email = args
            out = svc.update_profile(token, email=email).email
        elif op == "logout":
            svc.logout(args[0])
            out = None
        elif op == "login":
            out = svc.login(*args)
        elif op == "create_lot":
            token, name = args
            out = svc.create_lot(token, name, "Elsewhere 3", 5).id
        else:
            raise ValueError(op)
        results.put(("ok", out))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _in_other_process(path: Path, op: str, *args):
    results = CTX.Queue()
    p = CTX.Process(target=other_process, args=(str(path), op, args, results))
    p.start()
    kind, out = results.get(timeout=JOIN_TIMEOUT)
    p.join(JOIN_TIMEOUT)
    assert kind == "ok", out
    return out


# ------------------------------------------------------------------------------------------- setup


@pytest.fixture
def town(tmp_path):
    """Two lots of two slots, an admin and two drivers; ``mine`` is this process's service, its caches warm."""
    path = tmp_path / "parking.json"
    svc = _open(path)
    admin = make_user(svc, "admin", admin=True)
    alice, bob = make_user(svc, "alice"), make_user(svc, "bob")
    lots = [svc.create_lot(admin, f"Lot {n}", f"Street {n}", 4) for n in (1, 2)]
    slots = [svc.add_slots(admin, lot.id, [f"A{n}", f"B{n}"]) for n, lot in enumerate(lots, 1)]
    mine = _open(path)
    start = T0 + timedelta(hours=1)
    # Warm every cache of this process: root, users, auth, both lot files, alice's holds.
    mine.list_lots(alice)
    mine.profile(alice)
    mine.create_booking(alice, slots[0][0].id, start + timedelta(hours=5), start + timedelta(hours=6))
    for lot in lots:
        mine.lot_slots(alice, lot.id)
    mine.my_bookings(alice)
    return path, mine, admin, alice, bob, lots, slots, start


# --------------------------------------------------------------------------------------------- tests


def test_one_driver_from_eight_processes_holds_one_booking(tmp_path):
    """The per-driver rule (one booking at a time without a plate) holds when the same driver races from 8
    processes, each for a different slot, four lots apart, for overlapping windows."""
    path = tmp_path / "parking.json"
    svc = _open(path)
    admin = make_user(svc, "admin", admin=True)
    token = make_user(svc, "racer")
    slot_ids = []
    for n in range(4):
        lot = svc.create_lot(admin, f"Lot {n}", "x", 4)
        slot_ids += [s.id for s in svc.add_slots(admin, lot.id, [f"A{n}", f"B{n}"])]
    barrier, results = CTX.Barrier(8), CTX.Queue()
    procs = []
    for i, slot_id in enumerate(slot_ids):
        start = T0 + timedelta(hours=1, seconds=13 * i, microseconds=i)  # all overlap, none the same
        procs.append(
            CTX.Process(
                target=same_driver_worker,
                args=(str(path), token, slot_id, start.isoformat(), (start + timedelta(hours=1)).isoformat(), barrier, results),
            )
        )
    for p in procs:
        p.start()
    out = [results.get(timeout=JOIN_TIMEOUT) for _ in procs]
    for p in procs:
        p.join(JOIN_TIMEOUT)
    errors = [r[1] for r in out if r[0] == "error"]
    assert not errors, errors[0]
    wins = [r[1] for r in out if r[0] == "ok"]
    assert len(wins) == 1, out
    assert sum(r[0] == "conflict" for r in out) == 7, out  # every slot was free: each refusal is the driver rule
    fresh = _open(path)
    stored = fresh.list_reservations(admin)
    assert [b.id for b in stored] == wins
    assert [b.id for b in fresh.my_bookings(token)] == wins


def test_lot_file_written_by_another_process_is_reread(town):
    path, mine, admin, alice, bob, lots, slots, start = town
    slot = slots[1][1]
    taken = _in_other_process(path, "book", bob, slot.id, start.isoformat(), (start + timedelta(hours=1)).isoformat())
    free = {s.id for s in mine.available_slots(alice, lots[1].id, start, start + timedelta(minutes=30))}
    assert slot.id not in free
    carol = make_user(mine, "carol")
    with pytest.raises(Conflict):
        mine.create_booking(carol, slot.id, start + timedelta(minutes=30), start + timedelta(hours=2))
    assert live_overlaps(mine.list_reservations(admin)) == []
    assert taken in {b.id for b in mine.list_reservations(admin, lots[1].id)}


def test_holds_file_written_by_another_process_is_reread(town):
    """Another process books alice in lot 2; this process, which has alice's holds cached, must refuse her an
    overlapping booking in lot 1 (one booking at a time)."""
    path, mine, admin, alice, bob, lots, slots, start = town
    _in_other_process(path, "book", alice, slots[1][0].id, start.isoformat(), (start + timedelta(hours=1)).isoformat())
    with pytest.raises(Conflict):  # slot B1 is free: only the one-at-a-time rule can refuse this
        mine.create_booking(alice, slots[0][1].id, start + timedelta(minutes=30), start + timedelta(hours=2))
    assert len([b for b in mine.my_bookings(alice) if b.status == "reserved"]) == 2


def test_users_file_written_by_another_process_is_reread(town):
    path, mine, admin, alice, bob, lots, slots, start = town
    _in_other_process(path, "register", "carol", "carol@example.com", PASSWORD)
    _in_other_process(path, "update_email", alice, "alice.new@example.com")
    with pytest.raises(Conflict):
        mine.register("carol", "other@example.com", PASSWORD)
    assert mine.profile(alice).email == "alice.new@example.com"
    assert mine.profile(mine.login("carol", PASSWORD)).email == "carol@example.com"


def test_auth_file_written_by_another_process_is_reread(town):
    path, mine, admin, alice, bob, lots, slots, start = town
    fresh_token = _in_other_process(path, "login", "bob", PASSWORD)
    _in_other_process(path, "logout", alice)
    assert mine.profile(fresh_token).email == "bob@example.com"  # a session made by the other process
    with pytest.raises(AuthenticationError):
        mine.profile(alice)
    with pytest.raises(AuthenticationError):
        mine.create_booking(alice, slots[0][1].id, start, start + timedelta(hours=1))


def test_root_file_written_by_another_process_is_reread(town):
    path, mine, admin, alice, bob, lots, slots, start = town
    lot_id = _in_other_process(path, "create_lot", admin, "Annex")
    assert lot_id in {lot.id for lot in mine.list_lots(alice)}
    slot = mine.add_slot(admin, lot_id, "X1")
    assert mine.create_booking(bob, slot.id, start, start + timedelta(hours=1)).slot_id == slot.id
    # And a lot this process makes next gets a new id, not the one the other process took.
    assert mine.create_lot(admin, "Third", "Road 4", 2).id not in {lot_id, *(lot.id for lot in lots)}
