"""The PostgreSQL store's own promises, beyond the shared contract suite: the database's refusals come back as
``Conflict``, a server that goes away is a ``StorageError`` (never a driver exception, never a hang) and the same
store works again when it is back, units of work on one lot wait for each other and on different lots do not,
the change token moves on every host, the bulk loader keeps ids, and ``doctor`` checks what the invariants
rest on."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
import psycopg  # noqa: E402

from parking_tui.domain.errors import Conflict, StorageError  # noqa: E402
from parking_tui.domain.models import LotPolicy  # noqa: E402
from parking_tui.domain.ports import (  # noqa: E402
    NEW,
    AuditEvent,
    AuditFilter,
    BookingQuery,
    BookingRow,
    LotRow,
    NotSupported,
    SessionRow,
    SlotRow,
    UserRow,
)
from parking_tui.storage import postgres  # noqa: E402
from parking_tui.storage.postgres.bulk import bulk_load  # noqa: E402

T = datetime(2030, 6, 15, 10, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def booking(slot, lot, user="alice", start=T, end=T + H, status="reserved", code="ABCD2345", **kw) -> BookingRow:
    return BookingRow(NEW, slot, lot, "A1", user, start, end, status, code, **kw)


@pytest.fixture
def store(pg_url):
    s = postgres.open_store(pg_url, connect_timeout=2)
    yield s
    s.close()


@pytest.fixture
def lot(store):
    with store.unit_of_work() as u:
        u.users.add(UserRow("alice", "alice@example.com", "hash-a", created_at=T))
        u.users.add(UserRow("bob", "bob@example.com", "hash-b", created_at=T))
        lot_id = u.lots.add(LotRow(NEW, "North", "Main St", 3, "Europe/Berlin", LotPolicy(min_minutes=30), T))
        slots = [u.slots.add(SlotRow(NEW, lot_id, n)) for n in ("A1", "A2")]
        u.commit()
    return lot_id, slots


def test_rows_read_back_equal_rows_written(store, lot):
    lot_id, (a1, _) = lot
    row = booking(a1, lot_id, plate="AB123", attention="x", moved_from="A9", created_at=T, grace_from=T,
                  checked_in_at=T + timedelta(minutes=3), status="checked_in")
    with store.unit_of_work() as u:
        new_id = u.bookings.add(row)
        u.audit.append(AuditEvent(T, "alice", "kiosk-1", "check_in", {"booking_id": new_id, "code": "ABCD2345"}))
        u.commit()
    with store.view() as v:
        assert v.bookings.get(new_id) == replace(row, id=new_id)
        assert v.lots.get(lot_id).policy == LotPolicy(min_minutes=30)
        assert v.users.get("ALICE").username == "alice"
        assert v.users.by_email("Bob@Example.com").username == "bob"
        assert v.bookings.query(BookingQuery(text="AB12")) == [replace(row, id=new_id)]
        (event,) = v.audit.query(AuditFilter(booking_id=new_id), 10)
        assert event.terminal == "kiosk-1" and event.details["code"] == "ABCD2345"


@pytest.mark.parametrize(
    "write, field",
    [
        (lambda u, lot, s: u.users.add(UserRow("ALICE", "new@example.com", "h")), "username"),
        (lambda u, lot, s: u.users.add(UserRow("carol", "ALICE@example.com", "h")), "email"),
        (lambda u, lot, s: u.slots.add(SlotRow(NEW, lot, "A1")), "slot_number"),
        (lambda u, lot, s: u.bookings.add(booking(s[0], lot, "bob", T + H / 2, T + 2 * H, code="ZZZZ2345")), "slot_id"),
        (lambda u, lot, s: u.bookings.add(booking(s[1], lot, "bob")), "confirmation_code"),
    ],
)
def test_what_the_database_refuses_is_a_conflict_and_nothing_of_the_unit_is_kept(store, lot, write, field):
    lot_id, slots = lot
    with store.unit_of_work() as u:
        u.bookings.add(booking(slots[0], lot_id))
        u.commit()
    before = store.change_token(lot_id)
    with pytest.raises(Conflict) as info:
        with store.unit_of_work() as u:
            u.lots.update(replace(u.lots.get(lot_id), name="Renamed"))
            write(u, lot_id, slots)
            u.commit()
    assert info.value.field == field
    with store.view() as v:
        assert v.lots.get(lot_id).name == "North"
        assert len(v.bookings.live(lot_id=lot_id)) == 1
    assert store.change_token(lot_id) == before


def test_the_change_token_moves_on_another_host_at_commit(pg_url, store, lot):
    lot_id, slots = lot
    other = postgres.open_store(pg_url)  # another host's store on the same database
    try:
        before, before_all = other.change_token(lot_id), other.change_token()
        with store.unit_of_work() as u:
            u.bookings.add(booking(slots[0], lot_id))
            assert other.change_token(lot_id) == before  # not before the commit
            u.commit()
        assert other.change_token(lot_id) != before
        assert other.change_token() != before_all
        token = other.change_token(lot_id)
        with store.unit_of_work() as u:
            u.lots.add(LotRow(NEW, "South", "", 1, "UTC"))
            u.commit()
        assert other.change_token(lot_id) == token  # another lot's change
        assert other.change_token() != before_all
    finally:
        other.close()


def test_units_on_one_lot_wait_for_each_other_and_on_different_lots_do_not(store, lot):
    lot_id, slots = lot
    with store.unit_of_work() as u:
        other_lot = u.lots.add(LotRow(NEW, "South", "", 1, "UTC"))
        u.commit()
    order: list[str] = []
    first_has_read = threading.Event()

    def first():
        with store.unit_of_work() as u:
            u.bookings.live(lot_id=lot_id)
            first_has_read.set()
            time.sleep(0.6)
            u.bookings.add(booking(slots[0], lot_id))
            order.append("first commits")
            u.commit()

    t = threading.Thread(target=first)
    t.start()
    first_has_read.wait(5)
    started = time.monotonic()
    with store.unit_of_work() as u:
        u.lots.get(other_lot)  # another lot: no wait
        assert time.monotonic() - started < 0.4
        u.commit()
    with store.unit_of_work() as u:
        live = u.bookings.live(lot_id=lot_id)  # the same lot: waits, then sees the first unit's booking
        order.append("second reads")
        assert [b.slot_id for b in live] == [slots[0]]
    t.join()
    assert order == ["first commits", "second reads"]


def test_a_unit_of_work_left_without_commit_leaves_nothing(store, lot):
    lot_id, slots = lot
    with store.unit_of_work() as u:
        u.bookings.add(booking(slots[0], lot_id))
        u.audit.append(AuditEvent(T, "alice", "t", "create_booking", {}))
    with store.view() as v:
        assert v.bookings.live() == []
        assert v.audit.query(AuditFilter(), 10) == []


def test_bulk_load_keeps_ids_and_refuses_a_second_load_or_a_double_booking(pg_cluster):
    url = pg_cluster.fresh_db()
    s = postgres.open_store(url)
    try:
        users = [UserRow("alice", "a@example.com", "h")]
        lots = [LotRow(7, "North", "", 2, "UTC")]
        slots = [SlotRow(40, 7, "A1")]
        clash = [replace(booking(40, 7), id=100), replace(booking(40, 7, start=T + H / 2, end=T + 2 * H, code="Q"), id=101)]
        with pytest.raises(Conflict):
            bulk_load(s, users=users, lots=lots, slots=slots, bookings=clash)
        with s.view() as v:
            assert v.lots.all() == []
        counts = bulk_load(s, users=users, lots=lots, slots=slots, bookings=clash[:1])
        assert counts["bookings"] == 1
        with s.view() as v:
            assert v.bookings.get(100).slot_id == 40
        with s.unit_of_work() as u:
            assert u.slots.add(SlotRow(NEW, 7, "A2")) == 41  # the sequences continue after the loaded ids
            u.commit()
        with pytest.raises(StorageError, match="empty"):
            bulk_load(s, users=[UserRow("bob", "", "h")])
    finally:
        s.close()
        pg_cluster.drop(url)


def test_doctor_checks_what_the_invariants_rest_on(pg_cluster):
    pg_url = pg_cluster.fresh_db()  # this test damages the schema
    store = postgres.open_store(pg_url)
    with store.unit_of_work() as u:
        u.users.add(UserRow("alice", "alice@example.com", "hash-a", created_at=T))
        lot_id = u.lots.add(LotRow(NEW, "North", "Main St", 3, "Europe/Berlin"))
        u.slots.add(SlotRow(NEW, lot_id, "A1"))
        u.commit()
    store.close()
    ops = postgres.operations(pg_url)
    findings = ops.doctor()
    assert not [f for f in findings if f.level == "error"], findings
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_changed")
        c.execute("ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap")
    errors = [f.what for f in ops.doctor() if f.level == "error"]
    assert any("bookings_no_overlap" in e for e in errors)
    assert any("bookings_changed is disabled" in e for e in errors)
    with pytest.raises(NotSupported, match="pg_dump"):
        ops.backup()
    pg_cluster.drop(pg_url)


# ------------------------------------------------------------------------ the server going away and coming back


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own, to stop and start without disturbing the other tests."""
    from conftest import start_pg_server

    server = start_pg_server()
    try:
        yield server
    finally:
        server.destroy()


def test_a_stopped_server_is_a_storage_error_and_the_same_store_recovers(own_server):
    s = postgres.open_store(own_server.url(), connect_timeout=2)
    try:
        with s.unit_of_work() as u:
            u.users.add(UserRow("alice", "", "h"))
            lot_id = u.lots.add(LotRow(NEW, "North", "", 2, "UTC"))
            slot = u.slots.add(SlotRow(NEW, lot_id, "A1"))
            u.commit()
        unit = s.unit_of_work().__enter__()
        unit.bookings.add(booking(slot, lot_id))
        own_server.stop()  # fast shutdown: the open transaction is rolled back, the connections cut
        started = time.monotonic()
        with pytest.raises(StorageError, match="cannot be reached"):
            unit.commit()
        unit.__exit__(None, None, None)
        for call in (lambda: s.change_token(lot_id), lambda: s.view().__enter__()):
            with pytest.raises(StorageError, match="cannot be reached"):
                call()
        assert time.monotonic() - started < 15  # bounded by connect_timeout, never a hang
        own_server.start()
        with s.unit_of_work() as u:
            u.bookings.add(booking(slot, lot_id))
            u.commit()
        with s.view() as v:
            assert len(v.bookings.live()) == 1  # the cut unit's booking never landed; the new one did
    finally:
        s.close()
        if not own_server.running:
            own_server.start()


def test_a_slot_read_in_a_unit_is_read_after_its_lots_lock(store, lot):
    """The lock and the read it guards travel in one round trip; the read still sees what the unit that held
    the lock committed (a snapshot taken before the lock was granted would not)."""
    lot_id, slots = lot
    first_has_read = threading.Event()

    def first():
        with store.unit_of_work() as u:
            row = u.slots.get(slots[0])
            first_has_read.set()
            time.sleep(0.5)
            u.slots.update(replace(row, admin_status="out_of_service", mark_reason="flooded"))
            u.commit()

    t = threading.Thread(target=first)
    t.start()
    first_has_read.wait(5)
    with store.unit_of_work() as u:
        row = u.slots.get(slots[0])  # waits for the first unit's lock, then reads
        assert (row.admin_status, row.mark_reason) == ("out_of_service", "flooded")
    t.join()


def test_a_connection_cut_while_it_waits_in_the_pool_is_replaced_without_an_error(pg_url, lot):
    """Connections are not checked on their way out of the pool (a round trip on every call); one found broken
    at its first statement is replaced, and what was sent is sent again on the new one."""
    s = postgres.open_store(pg_url, connect_timeout=2, pool_size=2)
    try:
        lot_id, slots = lot
        with s.view() as v:
            assert v.lots.get(lot_id).name == "North"
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'parking-tui' AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        time.sleep(0.2)
        with s.view() as v:
            assert v.lots.get(lot_id).name == "North"
        with s.unit_of_work() as u:
            u.bookings.add(booking(slots[0], lot_id))
            u.commit()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'parking-tui' AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        time.sleep(0.2)
        assert s.change_token(lot_id) is not None
        with s.unit_of_work() as u:
            assert [b.slot_id for b in u.bookings.live(lot_id=lot_id)] == [slots[0]]
    finally:
        s.close()


def test_statements_are_prepared_once_per_connection_and_kept(pg_url, lot):
    """Each statement is parsed and planned once per connection: ending views and units, committed or rolled
    back, keeps them (psycopg forgets every prepared statement when it sees a ROLLBACK: a view ends with COMMIT,
    a unit's rollback goes past it)."""
    s = postgres.open_store(pg_url, connect_timeout=2, pool_size=1)
    lot_id, slots = lot

    def prepared() -> set[tuple[str, str]]:
        with s.view() as v:
            return {(name, sql) for name, sql in v.all("SELECT name, statement FROM pg_prepared_statements", ())}

    try:
        for _ in range(2):
            with s.view() as v:
                v.slots.in_lot(lot_id)
                v.bookings.live(lot_id=lot_id)
            with s.unit_of_work() as u:
                u.slots.get(slots[0])
                u.bookings.live(slot_id=slots[0])
                u.commit()
        before = prepared()
        assert any("FROM slots WHERE lot_id" in sql for _, sql in before)
        for _ in range(3):
            with s.view() as v:
                v.slots.in_lot(lot_id)
                v.bookings.live(lot_id=lot_id)
            with s.unit_of_work() as u:
                u.slots.get(slots[0])
                u.bookings.live(slot_id=slots[0])
                u.commit()
            with s.unit_of_work() as u:  # left without commit: rolled back
                u.slots.get(slots[0])
        assert prepared() >= before  # the same names: nothing was dropped and prepared again
    finally:
        s.close()


def test_a_session_read_in_a_unit_brings_its_user_read_after_the_users_lock(store, lot):
    """One round trip gives the session and its user; in a unit the user's lock comes first (the same lock
    ``users.get`` takes, computed in the database from the session's username), so the user read is fresh."""
    from parking_tui.storage.postgres.store import _user_key

    with store.unit_of_work() as u:
        u.sessions.add(SessionRow("tok-hash", "alice", T, T + H))
        u.commit()
    first_has_read = threading.Event()

    def first():
        with store.unit_of_work() as u:
            u.sessions.get("tok-hash")
            row = u.users.get("alice")
            first_has_read.set()
            time.sleep(0.5)
            u.users.update(replace(row, phone_number="+44 1"))
            u.commit()

    t = threading.Thread(target=first)
    t.start()
    first_has_read.wait(5)
    with store.unit_of_work() as u:
        assert u.sessions.get("tok-hash").username == "alice"  # waits for the first unit's lock on alice
        assert u.users.get("ALICE").phone_number == "+44 1"
    t.join()
    with store.view() as v:  # the database computes the same lock key as the program
        (key,) = v.one("SELECT ('x' || substr(md5(lower(%s)), 1, 8))::bit(32)::int", ("Alice",))
    assert key == _user_key("alice")


def test_a_bookings_reads_sent_ahead_are_read_after_the_locks_and_never_stale(pg_url, lot):
    """A unit that reads a session and then a slot (a booking) gets the slot's and the driver's live bookings and
    the lot's started reservations in the same round trip. They are read after the lot's and the user's locks
    (they see what the unit that held them committed), a write to bookings in the unit drops them, and an
    instant later than the store's clock is read again, not answered from the rows read ahead."""
    lot_id, slots = lot
    clock = [T]
    store = postgres.open_store(pg_url, connect_timeout=2, clock=lambda: clock[0])
    try:
        with store.unit_of_work() as u:
            u.sessions.add(SessionRow("tok-a", "alice", T, T + 24 * H))
            u.commit()
        first_has_read = threading.Event()

        def first():
            with store.unit_of_work() as u:
                u.sessions.get("tok-a")
                u.slots.get(slots[0])
                first_has_read.set()
                time.sleep(0.5)
                u.bookings.add(booking(slots[0], lot_id, start=T - 2 * H, end=T + H, code="FIRST234"))
                u.commit()

        t = threading.Thread(target=first)
        t.start()
        first_has_read.wait(5)
        with store.unit_of_work() as u:
            u.sessions.get("tok-a")
            u.slots.get(slots[0])  # waits for the first unit's locks; what comes with it is read after them
            assert [b.confirmation_code for b in u.bookings.live(slot_id=slots[0])] == ["FIRST234"]
            assert [b.confirmation_code for b in u.bookings.live(username="alice")] == ["FIRST234"]
            assert [b.confirmation_code for b in u.bookings.reserved_starting_before(lot_id, T - H)] == ["FIRST234"]
        t.join()

        with store.unit_of_work() as u:
            u.sessions.get("tok-a")
            u.slots.get(slots[1])
            u.bookings.add(booking(slots[1], lot_id, start=T + 2 * H, end=T + 3 * H, code="SECOND23"))
            assert [b.confirmation_code for b in u.bookings.live(slot_id=slots[1])] == ["SECOND23"]
            assert [b.confirmation_code for b in u.bookings.live(username="alice")] == ["FIRST234", "SECOND23"]
            # after the clock: read again (the rows read ahead stop at the clock)
            assert [b.confirmation_code for b in u.bookings.reserved_starting_before(lot_id, T + 4 * H)] == [
                "FIRST234", "SECOND23"]
            u.commit()
        with store.unit_of_work() as u:
            u.sessions.get("tok-a")
            u.slots.get(slots[1])
            assert [b.confirmation_code for b in u.bookings.reserved_starting_before(lot_id, T + 4 * H)] == [
                "FIRST234", "SECOND23"]
            assert [b.confirmation_code for b in u.bookings.reserved_starting_before(lot_id, T)] == ["FIRST234"]
    finally:
        store.close()
