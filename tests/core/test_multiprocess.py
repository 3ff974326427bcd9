"""Real processes on one data file: races, random contention, and writers killed with SIGKILL.

Workers are forked from a fresh server process (``conftest.child_processes``), not from the test process, and
import their module-level function by name. Every process uses the same frozen instant.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import Conflict

from conftest import child_processes

from .conftest import T0, FrozenClock, cheap_hasher, live_overlaps, make_user

pytestmark = pytest.mark.slow

CTX = child_processes()
JOIN_TIMEOUT = 60


def _open(path: str, now_iso: str):
    return parking_tui.open_service(
        path,
        clock=FrozenClock(datetime.fromisoformat(now_iso)),
        password_hasher=cheap_hasher(),
        lock_timeout=30,  # a loaded CI machine must not turn waiting into a failure
    )


# ----------------------------------------------------------------------------------------- workers


def race_worker(path, now_iso, token, slot_id, start_iso, end_iso, barrier, results):
    try:
        svc = _open(path, now_iso)
        barrier.wait(timeout=JOIN_TIMEOUT)
        try:
            b = svc.create_booking(token, slot_id, datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso))
            results.put(("ok", b.id))
        except Conflict as exc:
            results.put(("conflict", str(exc)))
    except BaseException:  # report, never hang the parent
        results.put(("error", traceback.format_exc()))


def random_worker(path, now_iso, tokens, slot_ids, seed, attempts, barrier, results):
    try:
        rng = random.Random(seed)
        svc = _open(path, now_iso)
        now = datetime.fromisoformat(now_iso)
        acked, conflicts = [], 0
        barrier.wait(timeout=JOIN_TIMEOUT)
        for i in range(attempts):
            start = now + timedelta(minutes=15 * rng.randrange(0, 24))
            end = start + timedelta(minutes=15 * rng.randrange(1, 9))
            slot = rng.choice(slot_ids)
            try:
                b = svc.create_booking(tokens[i % len(tokens)], slot, start, end)
            except Conflict:
                conflicts += 1
                continue
            acked.append((b.id, b.slot_id, b.start_time.isoformat(), b.end_time.isoformat()))
        results.put(("ok", acked, conflicts))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0))


def kill_writer(path, now_iso, token, slot_ids, ack_path, ready):
    """Book back-to-back windows forever; append each id to ``ack_path`` only AFTER the service returned."""
    svc = _open(path, now_iso)
    mine = svc.my_bookings(token)
    start = max((b.end_time for b in mine), default=datetime.fromisoformat(now_iso) + timedelta(minutes=10))
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    ready.set()
    n = len(mine)
    while True:
        end = start + timedelta(minutes=20)
        b = svc.create_booking(token, slot_ids[n % len(slot_ids)], start, end)
        os.write(fd, f"B {b.id}\n".encode())
        if n % 3 == 2:  # now and then a cancel: a move to the archive, three files in one commit
            c = svc.cancel_booking(token, b.id)
            os.write(fd, f"C {c.id}\n".encode())
        start, n = end, n + 1


# ------------------------------------------------------------------------------------------- setup


def _setup(path: Path, usernames, slots=("A1", "A2", "A3")):
    svc = parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher())
    admin = make_user(svc, "admin", admin=True)
    tokens = {u: make_user(svc, u) for u in usernames}
    lot = svc.create_lot(admin, "Lot", "x", 10)
    slot_ids = [s.id for s in svc.add_slots(admin, lot.id, list(slots))]
    return svc, admin, tokens, slot_ids


def _collect(results, n):
    out = [results.get(timeout=JOIN_TIMEOUT) for _ in range(n)]
    errors = [r[1] for r in out if r[0] == "error"]
    assert not errors, errors[0]
    return out


def _raw_live(path: Path):
    """Live bookings as stored in the lot files, read straight from disk."""
    out = []
    for p in path.parent.glob(f"{path.stem}.lot-*.json"):
        for key, rec in json.loads(p.read_bytes()).get("bookings", {}).items():
            if rec["status"] in ("reserved", "checked_in"):
                out.append((int(key), rec["slot_id"], rec["start_time"], rec["end_time"]))
    return out


def _raw_overlaps(raw):
    bad = []
    for i, a in enumerate(raw):
        for b in raw[i + 1 :]:
            sa, ea, sb, eb = (datetime.fromisoformat(x) for x in (a[2], a[3], b[2], b[3]))
            if a[1] == b[1] and sa < eb and sb < ea:
                bad.append((a, b))
    return bad


# --------------------------------------------------------------------------------------------- tests


def test_eight_processes_same_slot_same_window_exactly_one_wins(tmp_path):
    path = tmp_path / "parking.json"
    users = [f"racer{i}" for i in range(8)]
    svc, admin, tokens, slot_ids = _setup(path, users)
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    barrier, results = CTX.Barrier(8), CTX.Queue()
    procs = [
        CTX.Process(
            target=race_worker,
            args=(str(path), T0.isoformat(), tokens[u], slot_ids[0], start.isoformat(), end.isoformat(), barrier, results),
        )
        for u in users
    ]
    for p in procs:
        p.start()
    out = _collect(results, 8)
    for p in procs:
        p.join(JOIN_TIMEOUT)
        assert p.exitcode == 0
    wins = [r[1] for r in out if r[0] == "ok"]
    assert len(wins) == 1, out
    assert sum(r[0] == "conflict" for r in out) == 7
    fresh = parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher())
    stored = fresh.list_reservations(admin)
    assert [b.id for b in stored] == wins
    assert (stored[0].start_time, stored[0].end_time, stored[0].status) == (start, end, "reserved")


def test_eight_processes_random_overlapping_bookings(tmp_path):
    path = tmp_path / "parking.json"
    per_proc = 4
    users = [f"w{i}u{j}" for i in range(8) for j in range(per_proc)]
    svc, admin, tokens, slot_ids = _setup(path, users)
    barrier, results = CTX.Barrier(8), CTX.Queue()
    procs = []
    for i in range(8):
        mine = [tokens[f"w{i}u{j}"] for j in range(per_proc)]
        procs.append(
            CTX.Process(
                target=random_worker,
                args=(str(path), T0.isoformat(), mine, slot_ids, 1000 + i, 25, barrier, results),
            )
        )
    for p in procs:
        p.start()
    out = _collect(results, 8)
    for p in procs:
        p.join(JOIN_TIMEOUT)
        assert p.exitcode == 0
    acked = [a for r in out for a in r[1]]
    conflicts = sum(r[2] for r in out)
    assert len(acked) + conflicts == 8 * 25
    assert acked and conflicts, "the test needs both winners and losers to mean anything"
    assert len({a[0] for a in acked}) == len(acked), "a booking id was handed out twice"

    raw = _raw_live(path)
    assert _raw_overlaps(raw) == []
    fresh = parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher())
    stored = {b.id: b for b in fresh.list_reservations(admin)}
    assert live_overlaps(stored.values()) == []
    for booking_id, slot_id, start, end in acked:
        b = stored[booking_id]
        assert (b.slot_id, b.start_time.isoformat(), b.end_time.isoformat(), b.status) == (slot_id, start, end, "reserved")
    assert set(stored) == {a[0] for a in acked}  # and nothing that was not acknowledged


def test_writer_killed_again_and_again_loses_nothing(tmp_path):
    path = tmp_path / "parking.json"
    svc, admin, tokens, slot_ids = _setup(path, ["writer"])
    ack_path = tmp_path / "acks.txt"
    rng = random.Random(7)
    rounds = 20
    for _ in range(rounds):
        ready = CTX.Event()
        p = CTX.Process(
            target=kill_writer, args=(str(path), T0.isoformat(), tokens["writer"], slot_ids, str(ack_path), ready)
        )
        p.start()
        assert ready.wait(JOIN_TIMEOUT), "writer did not start"
        # Let the writer acknowledge one more booking first (however loaded the machine is), then kill it at a
        # random point of what follows.
        _wait_for_acks(ack_path, _count_acks(ack_path) + 1)
        time.sleep(rng.uniform(0.001, 0.06))
        os.kill(p.pid, signal.SIGKILL)
        p.join(JOIN_TIMEOUT)
        assert p.exitcode == -signal.SIGKILL, "the writer died on its own"
        # The store opens cleanly after every kill, and tidies what the dead writer left.
        fresh = parking_tui.open_service(path, clock=FrozenClock(T0), password_hasher=cheap_hasher())
        assert not list(tmp_path.glob(".*.tmp"))
        stored = {b.id: b for b in fresh.list_reservations(admin)}
        lines = ack_path.read_text().splitlines() if ack_path.exists() else []
        booked = [int(x.split()[1]) for x in lines if x.startswith("B ")]
        cancelled = {int(x.split()[1]) for x in lines if x.startswith("C ")}
        missing = [i for i in booked if i not in stored]
        assert not missing, f"acknowledged bookings lost: {missing}"
        for i in cancelled:
            assert stored[i].status == "cancelled"
        assert live_overlaps(stored.values()) == []
        assert _raw_overlaps(_raw_live(path)) == []
        # Exactly one copy of every booking across the lot file and the archive.
        copies = []
        for f in tmp_path.glob("parking.*.json"):
            copies += list(json.loads(f.read_bytes()).get("bookings", {}))
        assert sorted(copies) == sorted(str(i) for i in stored) or _pending_ok(path, copies, stored)
    assert len(booked) >= rounds, "the writer hardly wrote anything; the kills tested little"
    assert cancelled


def _count_acks(ack_path: Path) -> int:
    return sum(1 for x in ack_path.read_text().splitlines() if x.startswith("B ")) if ack_path.exists() else 0


def _wait_for_acks(ack_path: Path, n: int) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT
    while _count_acks(ack_path) < n:
        assert time.monotonic() < deadline, "the writer acknowledged nothing"
        time.sleep(0.005)


def _pending_ok(path: Path, copies, stored) -> bool:
    """A move to the archive cut short leaves a live copy that readers ignore (listed in the root's meta)."""
    pending = {str(i) for i, _ in json.loads(path.read_bytes())["meta"]["1"].get("pending_archive", ())}
    dupes = {c for c in copies if copies.count(c) > 1}
    return dupes <= pending and set(copies) == {str(i) for i in stored}
