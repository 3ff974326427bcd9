"""Races through HTTP, against ``parking-tui api --workers 2`` (two processes on one data file)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import argon2
import pytest

import parking_tui
from parking_tui.bench import count_overlaps

from .conftest import ADMIN, window

pytestmark = pytest.mark.slow

CLIENTS = 8


def _drivers(server, n: int) -> tuple[dict, list[int], list[str]]:
    """A lot with three slots and ``n`` signed-in drivers, made through the service on the same data file
    (cheap hashes, so that the test spends its time on the race, not on argon2)."""
    svc = parking_tui.open_service(server.db, password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    admin = svc.login(ADMIN[0], ADMIN[1])
    lot = svc.create_lot(admin, "Race", "Track 1", 3)
    slots = [s.id for s in svc.add_slots(admin, lot.id, ["R1", "R2", "R3"])]
    tokens = []
    for i in range(n):
        svc.register(f"racer{i}", f"racer{i}@example.com", "racer-password")
        tokens.append(svc.login(f"racer{i}", "racer-password"))
    svc.store.close()
    return {"id": lot.id}, slots, tokens


def _together(n: int, work) -> list:
    """Run ``work(i)`` on ``n`` threads released at the same instant; the answers in order."""
    gate = threading.Barrier(n)
    out: list = [None] * n

    def run(i: int) -> None:
        gate.wait()
        out[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_eight_clients_one_slot_one_window(server_factory):
    server = server_factory(args=("--workers", "2"))
    _, slots, tokens = _drivers(server, CLIENTS)
    start, end = window(server, start_in=60, hours=2)
    clients = [server.client(t) for t in tokens]
    for c in clients:  # connected before the gate opens
        assert c.get("/api/auth/profile/").status_code == 200

    def book(i: int):
        return clients[i].post("/api/booking/create/", json={"slot_id": slots[0], "start_time": start, "end_time": end})

    answers = _together(CLIENTS, book)
    assert sorted(r.status_code for r in answers) == [201] + [409] * (CLIENTS - 1), [r.text for r in answers]
    winner = next(r.json() for r in answers if r.status_code == 201)
    assert all(set(r.json()) == {"detail"} for r in answers if r.status_code == 409)
    svc = parking_tui.open_service(server.db)
    admin = svc.login(*ADMIN)
    live = [b for b in svc.list_reservations(admin, slot_id=slots[0]) if b.is_live]
    assert [b.confirmation_code for b in live] == [winner["confirmation_code"]]


def test_eight_clients_twenty_five_random_bookings_never_overlap_on_disk(server_factory):
    server = server_factory(args=("--workers", "2"))
    lot, slots, tokens = _drivers(server, CLIENTS)
    base = server.now() + timedelta(minutes=30)

    def book_many(i: int) -> list[tuple[int, dict]]:
        rnd = random.Random(1000 + i)
        c = server.client(tokens[i])
        got = []
        for _ in range(25):
            start = base + timedelta(minutes=15 * rnd.randrange(0, 4 * 12))
            end = start + timedelta(minutes=15 * rnd.randrange(1, 9))
            r = c.post(
                "/api/booking/create/",
                json={"slot_id": rnd.choice(slots), "start_time": start.isoformat(), "end_time": end.isoformat()},
            )
            got.append((r.status_code, r.json()))
            # Free the driver for the next try now and then, so the slots see many windows.
            if r.status_code == 201 and rnd.random() < 0.5:
                assert c.put(f"/api/booking/{r.json()['id']}/cancel/").status_code == 200
        return got

    results = [x for chunk in _together(CLIENTS, book_many) for x in chunk]
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 10 and statuses[409] >= 10, statuses  # a real race, both ways
    assert count_overlaps(server.db) == 0
    # Every booking acknowledged is on disk.
    svc = parking_tui.open_service(server.db)
    admin = svc.login(*ADMIN)
    stored = {b.confirmation_code for b in svc.list_reservations(admin, lot_id=lot["id"])}
    assert {body["confirmation_code"] for status, body in results if status == 201} <= stored
