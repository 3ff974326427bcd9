"""``parking-tui export`` / ``import`` move everything between the stores losslessly: a round trip TinyDB ->
PostgreSQL -> TinyDB on the benchmark's tiny data set (every kind of row, bookings in every state, in lot files
and archives) gives the same rows, line for line, and the service on the moved data answers as before. Neither
import has a path that depends on the size (one ``COPY`` a table; one write of each file), so the small data set
(20,000 bookings, 27 s here) proved nothing more than the tiny one (400, 4.5 s)."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

from parking_tui import open_service  # noqa: E402
from parking_tui.bench import PASSWORD, build_dataset  # noqa: E402
from parking_tui.cli.main import main  # noqa: E402

pytestmark = pytest.mark.slow


def _body(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[1:]  # the header names the source


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch, tmp_path):
    import os

    for key in [k for k in os.environ if k.startswith("PARKING_TUI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_round_trip_tinydb_postgres_tinydb_on_the_tiny_data_set(tmp_path, pg_url, capsys):
    ds = build_dataset(tmp_path / "a" / "parking.json", "tiny")
    # some audit events, a finished and a checked-in booking made through the service
    svc = open_service(ds.path, clock=lambda: ds.now)
    held = next(b for b in ds.live if b["status"] == "reserved")
    driver = held["username"]
    token = svc.login(driver, PASSWORD)
    mine = svc.my_bookings(token)
    svc.cancel_booking(token, held["id"])
    slot = ds.slots[-1]["id"]
    made = svc.create_booking(token, slot, ds.now + timedelta(days=2), ds.now + timedelta(days=2, hours=1), plate="ab 12 cd")
    svc.store.close()

    first, second, third = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    assert main(["export", "--to", str(first), "--db", str(ds.path)]) == 0
    assert main(["import", str(first), "--db", pg_url]) == 0
    assert main(["export", "--to", str(second), "--db", pg_url]) == 0
    assert main(["import", str(second), "--db", str(tmp_path / "c" / "parking.json")]) == 0
    assert main(["export", "--to", str(third), "--db", str(tmp_path / "c" / "parking.json")]) == 0
    out = capsys.readouterr().out
    assert f"{ds.counts['finished'] + ds.counts['live'] + 1} bookings" in out

    a, b, c = _body(first), _body(second), _body(third)
    kinds = {line.split('"kind": "', 1)[1].split('"', 1)[0] for line in a}
    assert kinds == {"user", "lot", "slot", "booking", "audit"}
    assert len(a) > ds.counts["finished"]
    assert a == b, "TinyDB -> PostgreSQL changed something"
    assert b == c, "PostgreSQL -> TinyDB changed something"

    # The service on PostgreSQL sees the same bookings, signs in with the moved hash, and keeps the ids going.
    pg = open_service(pg_url, clock=lambda: ds.now)
    try:
        token = pg.login(driver, PASSWORD)
        assert {x.id for x in pg.my_bookings(token)} == {x.id for x in mine} | {made.id}
        assert next(x for x in pg.my_bookings(token) if x.id == made.id).plate == "AB12CD"
        newer = pg.create_booking(token, slot, ds.now + timedelta(days=3), ds.now + timedelta(days=3, hours=1))
        assert newer.id > made.id
    finally:
        pg.store.close()


def test_import_refuses_a_store_that_holds_data_and_a_file_that_is_not_an_export(tmp_path, pg_url, capsys):
    svc = open_service(pg_url)
    svc.register("ann", "ann@example.com", "correct-horse")
    svc.store.close()
    dump = tmp_path / "x.jsonl"
    assert main(["export", "--to", str(dump), "--db", pg_url]) == 0
    assert main(["import", str(dump), "--db", pg_url]) == 1
    assert "already holds data" in capsys.readouterr().err
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    assert main(["import", str(junk), "--db", str(tmp_path / "new" / "parking.json")]) == 1
    err = capsys.readouterr().err
    assert "junk.jsonl" in err and "Traceback" not in err
