"""What a call costs on PostgreSQL, counted: statements sent (each one the client builds and the server binds and
runs) and round trips (waits for an answer). A list of bookings does not wait once per lot, a booking sends its
locks with the reads they guard and its INSERT without waiting, and a unit's booking read comes after its lot's
lock."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
import psycopg  # noqa: E402

import parking_tui  # noqa: E402
from parking_tui.domain.ports import NEW, BookingRow, LotRow, SlotRow  # noqa: E402
from parking_tui.storage import postgres  # noqa: E402

from conftest import T0, FrozenClock, cheap_hasher, make_user  # noqa: E402  (the root conftest)

H = timedelta(hours=1)


class Counter:
    """Counts statements sent and round trips waited for, as the benchmark does (``pg_round_trips``): a round trip
    is a wait for the server's answer - a statement outside a pipeline, a flush of the pipeline with answers
    pending, a pipeline sync or exit."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from psycopg import _pipeline_base

        self.statements = self.waits = 0
        leaving = [0]  # inside a pipeline's exit: its last fetch waits for the same answer as its sync
        base = _pipeline_base.BasePipeline
        execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
        fetch, sync, exit_ = base._fetch_gen, base._sync_gen, base._exit_gen

        def counted_execute(cur, *a, **k):
            self.statements += 1
            self.waits += cur._conn._pipeline is None
            return execute(cur, *a, **k)

        def counted_executemany(cur, *a, **k):
            self.statements += 1
            self.waits += cur._conn._pipeline is None
            return executemany(cur, *a, **k)

        def counted_fetch(pipe, *, flush):
            if flush and pipe.result_queue and not leaving[0]:
                self.waits += 1
            return fetch(pipe, flush=flush)

        def counted_sync(pipe):
            self.waits += 1
            return sync(pipe)

        def counted_exit(pipe):
            self.waits += 1
            inner = exit_(pipe)

            def outer():
                leaving[0] += 1
                try:
                    return (yield from inner)
                finally:
                    leaving[0] -= 1

            return outer()

        monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Cursor, "executemany", counted_executemany)
        monkeypatch.setattr(base, "_fetch_gen", counted_fetch)
        monkeypatch.setattr(base, "_sync_gen", counted_sync)
        monkeypatch.setattr(base, "_exit_gen", counted_exit)

    def during(self, fn) -> tuple[int, int]:
        s0, w0 = self.statements, self.waits
        fn()
        return self.statements - s0, self.waits - w0


@pytest.fixture
def city(pg_url):
    """A driver with a finished and a live booking in each of six lots, and a service on a fresh store."""
    clock = FrozenClock(T0)
    svc = parking_tui.open_service(pg_url, clock=clock, password_hasher=cheap_hasher())
    admin = make_user(svc, "admin", admin=True)
    alice = make_user(svc, "alice")
    lots = []
    for i in range(6):
        lot = svc.create_lot(admin, f"Lot {i}", "Main Street", 5, time_zone="UTC")
        slots = svc.add_slots(admin, lot.id, ["A1", "A2"])
        lots.append((lot, slots))
    yield svc, clock, admin, alice, lots
    svc.store.close()


def _book(svc, token, slot, start, plate):
    return svc.create_booking(token, slot.id, start, start + H, plate=plate)


def test_my_bookings_does_not_wait_once_per_lot(city, monkeypatch):
    svc, clock, admin, alice, lots = city
    (lot0, slots0) = lots[0]
    done = _book(svc, alice, slots0[0], T0 + H, "")
    svc.cancel_booking(alice, done.id)
    _book(svc, alice, slots0[1], T0 + 2 * H, "")
    counter = Counter(monkeypatch)
    one_lot = counter.during(lambda: svc.my_bookings(alice))
    for i, (_lot, slots) in enumerate(lots[1:], start=1):
        b = _book(svc, alice, slots[0], T0 + (2 * i + 3) * H, "")
        svc.cancel_booking(alice, b.id)
        _book(svc, alice, slots[1], T0 + (2 * i + 4) * H, "")
    statements, waits = counter.during(lambda: svc.my_bookings(alice))
    assert len(svc.my_bookings(alice)) == 12
    # Six lots instead of one: the lots come together (one more wait), and each live reservation's slot and its
    # bookings are read (two each) - not a wait for every lot.
    assert waits <= one_lot[1] + 1 + 2 * 5, (one_lot, (statements, waits))


def test_a_booking_costs_eight_statements_and_four_waits_at_most(city, monkeypatch):
    svc, clock, admin, alice, lots = city
    (_lot, slots) = lots[0]
    _book(svc, alice, slots[0], T0 + H, "")  # warm: the pool's connection, the block of booking ids
    counter = Counter(monkeypatch)
    statements, waits = counter.during(lambda: _book(svc, alice, slots[1], T0 + 3 * H, ""))
    # BEGIN, the session with its user's lock (one wait); the slot with its lot's lock, and with it one statement
    # reading the slot's and the driver's live bookings and the lot's started reservations (one wait); the code
    # (one wait); the INSERT, the audit line and the COMMIT (one wait). 13 statements and 9 waits at first, then
    # 10 and 7.
    assert statements <= 8, statements
    assert waits <= 4, waits


def test_a_booking_read_in_a_unit_is_read_after_its_lots_lock(pg_url):
    """The lock and the read travel as one statement; the read still sees what the unit that held the lock
    committed (a snapshot taken before the lock was granted would not)."""
    store = postgres.open_store(pg_url, connect_timeout=2)
    try:
        with store.unit_of_work() as u:
            lot_id = u.lots.add(LotRow(NEW, "North", "", 3, "UTC", created_at=T0))
            slot = u.slots.add(SlotRow(NEW, lot_id, "A1"))
            booking_id = u.bookings.add(
                BookingRow(NEW, slot, lot_id, "A1", "alice", T0, T0 + H, "reserved", "ABCD2345", created_at=T0)
            )
            u.commit()
        first_has_read = threading.Event()

        def first():
            with store.unit_of_work() as u:
                row = u.bookings.get(booking_id)
                first_has_read.set()
                time.sleep(0.5)
                u.bookings.update(replace(row, plate="LATE1"))
                u.commit()

        t = threading.Thread(target=first)
        t.start()
        first_has_read.wait(5)
        with store.unit_of_work() as u:
            assert u.bookings.get(booking_id).plate == "LATE1"  # waited for the first unit's lock, then read
        t.join()
    finally:
        store.close()


def test_available_slots_of_a_small_lot_costs_two_waits(city, monkeypatch):
    """The session (one wait), then the lot with its slots and live bookings (one wait), for a lot this process
    knows to be small: its slots were read before, or its row (capacity 5 here) was - by the list of lots."""
    svc, clock, admin, alice, lots = city
    (lot, slots) = lots[0]
    window = (T0 + H, T0 + 2 * H)
    _book(svc, alice, slots[0], T0 + H, "")
    from parking_tui.storage.postgres import store as pg_store

    pg_store._lot_slots.clear()  # as a fresh process: no lot's slots read yet (adding them read them)
    svc.list_lots(alice)
    counter = Counter(monkeypatch)
    for lot_i, _slots in lots:  # each lot's first look, known by its row only
        statements, waits = counter.during(lambda: svc.available_slots(alice, lot_i.id, *window))
        assert waits <= 2, (lot_i.id, statements, waits)
    statements, waits = counter.during(lambda: svc.available_slots(alice, lot.id, *window))
    assert [s.slot_number for s in svc.available_slots(alice, lot.id, *window)] == ["A2"]
    assert waits <= 2, (statements, waits)
    assert statements <= 6, (statements, waits)  # BEGIN, session, lot, slots, live bookings, COMMIT


def test_no_booking_waits_for_its_id_after_the_first(city, monkeypatch):
    """Ids come from a block taken from the sequence ahead; the next block is asked for before the block runs
    out, with a booking's COMMIT, so over more than two blocks no booking waits more than the others."""
    svc, clock, admin, alice, lots = city
    (_lot, slots) = lots[0]
    counter = Counter(monkeypatch)
    waits = [counter.during(lambda: _book(svc, alice, slots[k % 2], T0 + (k + 1) * H, ""))[1] for k in range(70)]
    assert max(waits[1:]) <= 4, waits
    ids = [b.id for b in svc.my_bookings(alice)]
    assert len(set(ids)) == 70
