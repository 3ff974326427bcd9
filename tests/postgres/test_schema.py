"""The schema guards the invariants itself: rows written with plain SQL, past the service, are refused."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

from parking_tui.storage.postgres import schema  # noqa: E402
from parking_tui.storage.postgres.store import LIVE_OF_SLOT  # noqa: E402

T = "2030-06-15 10:00+00"


@pytest.fixture
def conn(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(
            "INSERT INTO users (username, email, password_hash) VALUES ('alice', 'alice@example.com', 'h'),"
            " ('bob', 'bob@example.com', 'h')"
        )
        c.execute("INSERT INTO lots (id, name, total_slots) VALUES (1, 'North', 3)")
        c.execute("INSERT INTO slots (id, lot_id, slot_number) VALUES (1, 1, 'A1'), (2, 1, 'A2')")
        yield c


def book(c, *, id, slot=1, user="alice", start="10:00", end="11:00", status="reserved", code=None):
    c.execute(
        "INSERT INTO bookings (id, slot_id, lot_id, slot_number, username, start_time, end_time, status,"
        " confirmation_code, checked_in_at) VALUES (%s, %s, 1, 'A1', %s, %s, %s, %s, %s, %s)",
        (id, slot, user, f"2030-06-15 {start}+00", f"2030-06-15 {end}+00", status, code or f"CODE{id:04d}",
         T if status == "checked_in" else None),
    )


def test_the_exclusion_constraint_refuses_an_overlapping_live_booking_inserted_with_sql(conn):
    book(conn, id=1, start="10:00", end="11:00")
    with pytest.raises(psycopg.errors.ExclusionViolation):
        book(conn, id=2, user="bob", start="10:30", end="11:30")
    with pytest.raises(psycopg.errors.ExclusionViolation):
        book(conn, id=3, user="bob", start="09:00", end="12:00", status="checked_in")
    # half-open windows: back to back is fine; so is another slot, or a finished booking
    book(conn, id=4, user="bob", start="11:00", end="12:00")
    book(conn, id=5, user="bob", slot=2, start="10:30", end="11:30")
    book(conn, id=6, user="bob", start="10:15", end="10:45", status="cancelled")
    # an update that makes a finished booking live again is refused the same way
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute("UPDATE bookings SET status = 'reserved' WHERE id = 6")
    (n,) = conn.execute("SELECT count(*) FROM bookings WHERE status IN ('reserved', 'checked_in')").fetchone()
    assert n == 3


def test_unique_keys_ignore_case(conn):
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO users (username, email, password_hash) VALUES ('ALICE', 'x@example.com', 'h')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO users (username, email, password_hash) VALUES ('carol', 'Bob@Example.COM', 'h')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO slots (lot_id, slot_number) VALUES (1, 'A1')")
    # two accounts without an e-mail are fine
    conn.execute("INSERT INTO users (username, password_hash) VALUES ('dave', 'h'), ('erin', 'h')")


def test_live_confirmation_codes_are_unique(conn):
    book(conn, id=1, code="ABCD2345")
    with pytest.raises(psycopg.errors.UniqueViolation):
        book(conn, id=2, slot=2, user="bob", code="ABCD2345")
    conn.execute("UPDATE bookings SET status = 'completed' WHERE id = 1")
    book(conn, id=3, slot=2, user="bob", code="ABCD2345")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE bookings SET status = 'lost' WHERE id = 1",
        "UPDATE bookings SET end_time = start_time WHERE id = 1",
        "UPDATE bookings SET status = 'checked_in' WHERE id = 1",  # no check-in time
        "UPDATE slots SET admin_status = 'reserved' WHERE id = 1",
        "UPDATE bookings SET lot_id = 2 WHERE id = 1",  # not the slot's lot
        "UPDATE bookings SET username = '' WHERE id = 1",
        "INSERT INTO lots (name, total_slots) VALUES ('x', -1)",
    ],
)
def test_check_constraints_and_foreign_keys(conn, sql):
    book(conn, id=1)
    with pytest.raises(psycopg.errors.IntegrityError):
        conn.execute(sql)


def test_the_audit_table_is_append_only(conn):
    conn.execute("""INSERT INTO audit (at, "user", op, details) VALUES (now(), 'alice', 'login', '{}')""")
    for sql in ("UPDATE audit SET op = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(sql)
    assert conn.execute("SELECT op FROM audit").fetchall() == [("login",)]


def test_a_change_to_a_lot_its_slots_or_bookings_bumps_its_counter(conn):
    def n(lot):
        row = conn.execute("SELECT n FROM lot_changes WHERE lot_id = %s", (lot,)).fetchone()
        return row[0] if row else 0

    before = n(1)
    book(conn, id=1)
    assert n(1) == before + 1
    conn.execute("UPDATE slots SET admin_status = 'out_of_service' WHERE id = 2")
    assert n(1) == before + 2
    conn.execute("UPDATE lots SET name = 'South' WHERE id = 1")
    assert n(1) == before + 3


def test_schema_versions(pg_cluster):
    url = pg_cluster.empty_db()
    try:
        with psycopg.connect(url, autocommit=True) as c:
            assert schema.current_version(c) == 0
            assert [m.version for m in schema.apply(c)] == list(range(1, schema.latest() + 1))
            assert schema.check(c) == schema.latest()
            assert schema.apply(c) == []  # nothing twice
            c.execute("INSERT INTO schema_version (version, name) VALUES (%s, 'future')", (schema.latest() + 1,))
            with pytest.raises(Exception, match="newer parking-tui"):
                schema.check(c)
            with pytest.raises(Exception, match="newer parking-tui"):
                schema.apply(c)
            c.execute("DELETE FROM schema_version")
            with pytest.raises(Exception, match=r"parking-tui db upgrade"):
                schema.check(c)
    finally:
        pg_cluster.drop(url)


def test_a_database_with_other_tables_is_not_taken_over(pg_cluster):
    url = pg_cluster.empty_db()
    try:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("CREATE TABLE invoices (id int)")
            with pytest.raises(Exception, match="database of its own"):
                schema.apply(c)
            assert schema.current_version(c) is None
    finally:
        pg_cluster.drop(url)


@pytest.mark.parametrize(
    ("query", "index", "rivals"),
    [
        # the store's own statement: the exclusion constraint's index serves it (schema 5 dropped bookings_live_slot)
        (LIVE_OF_SLOT.replace("%s", "1"), "bookings_no_overlap", ("bookings_slot",)),
        ("SELECT * FROM bookings WHERE status = ANY('{completed,cancelled,expired}')"
         " AND (end_time >= '2030-06-10' OR checked_out_at >= '2030-06-10') ORDER BY start_time, id",
         "bookings_end", ("bookings_finished_reach",)),
        ("SELECT * FROM bookings WHERE status = ANY('{completed,cancelled,expired}')"
         " AND (end_time >= '2030-06-10' OR checked_out_at >= '2030-06-10') ORDER BY start_time, id",
         "bookings_checked_out", ("bookings_finished_reach",)),
        ("SELECT lot_id, start_time, end_time, checked_in_at, checked_out_at FROM bookings"
         " WHERE status NOT IN ('reserved', 'checked_in')"
         " AND greatest(end_time, coalesce(checked_out_at, end_time)) >= '2030-06-10'",
         "bookings_finished_reach", ("bookings_end", "bookings_checked_out")),
        ("SELECT * FROM bookings WHERE status = 'checked_in' AND lot_id = ANY('{1,2}') AND start_time >= '2030-06-10'",
         "bookings_parked", ("bookings_live_lot", "bookings_lot", "bookings_live_user")),
    ],
)
def test_what_every_booking_and_the_summary_chart_ask_has_an_index(conn, query, index, rivals):
    """``rivals``: older indexes that serve the query less well; on a table of a few rows the planner may pick
    either, so they are dropped for the look (and the drop rolled back): the plan then shows the index made for
    the query if, and only if, it exists and fits."""
    book(conn, id=1)
    with conn.transaction():
        for rival in rivals:
            conn.execute(f"DROP INDEX {rival}")
        conn.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole otherwise
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query))
        raise psycopg.Rollback()
    assert index in plan, plan


def test_every_booking_written_keeps_up_no_index_the_exclusion_constraint_already_gives(conn):
    """Schema 5: the live bookings of a slot have no index of their own; the exclusion constraint's gist index
    (the same rows: live bookings, by slot) answers for them."""
    (names,) = conn.execute(
        "SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE tablename = 'bookings'"
    ).fetchone()
    assert "bookings_no_overlap" in names
    assert "bookings_live_slot" not in names, names
