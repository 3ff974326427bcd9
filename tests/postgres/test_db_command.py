"""``parking-tui db upgrade`` / ``db status`` on PostgreSQL: an empty database is initialised, an older schema is
upgraded step by step, a newer one is refused; every failure is one line, never a traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

from parking_tui.cli import db as db_cli  # noqa: E402
from parking_tui.domain.errors import StorageError  # noqa: E402
from parking_tui.storage.postgres import schema  # noqa: E402


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )


@pytest.fixture
def empty_url(pg_cluster):
    url = pg_cluster.empty_db()
    yield url
    pg_cluster.drop(url)


def test_status_and_upgrade_of_an_empty_database_through_the_command(empty_url):
    r = cli("db", "status", "--db", empty_url)
    assert r.returncode == 0 and "schema 0 of" in r.stdout and "empty" in r.stdout, r
    r = cli("db", "upgrade", "--db", empty_url)
    assert r.returncode == 0, r
    assert "applied 0001_initial" in r.stdout
    r = cli("db", "status", "--db", empty_url)
    assert r.returncode == 0 and f"schema {schema.latest()} of {schema.latest()}, current" in r.stdout, r
    r = cli("db", "upgrade", "--db", empty_url)
    assert r.returncode == 0 and "nothing to do" in r.stdout, r
    with psycopg.connect(empty_url) as c:
        assert c.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
            (v,) for v in range(1, schema.latest() + 1)
        ]


def test_an_unreachable_server_is_one_line(pg_cluster):
    url = pg_cluster.url("parking_tui_no_such_db_here")
    r = cli("db", "upgrade", "--db", url)
    assert r.returncode == 1
    assert r.stderr.startswith("parking-tui: The database at postgresql://") and "Traceback" not in r.stderr, r
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_older_schema_is_refused_until_upgraded_and_a_newer_one_always(empty_url, monkeypatch, capsys):
    with psycopg.connect(empty_url, autocommit=True) as c:
        schema.apply(c)
    # This parking-tui learns one more step: the database is now one schema behind.
    known = schema.migrations()
    step = schema.Migration(len(known) + 1, "test_step", "CREATE TABLE test_step (id int)")
    monkeypatch.setattr(schema, "migrations", lambda: [*known, step])
    with psycopg.connect(empty_url, autocommit=True) as c:
        with pytest.raises(StorageError, match=r"older than .*run `parking-tui db upgrade"):
            schema.check(c)
    args = argparse.Namespace(db_command="upgrade")
    assert db_cli.dispatch(args, empty_url, open_service=None) == 0
    assert f"applied {step.version:04d}_test_step" in capsys.readouterr().out
    with psycopg.connect(empty_url, autocommit=True) as c:
        assert schema.check(c) == step.version
        c.execute("SELECT count(*) FROM test_step")
    # ... and a parking-tui that does not know that step refuses the database, changing nothing.
    monkeypatch.setattr(schema, "migrations", lambda: known)
    with psycopg.connect(empty_url, autocommit=True) as c:
        with pytest.raises(StorageError, match="newer parking-tui"):
            schema.check(c)
        with pytest.raises(StorageError, match="newer parking-tui"):
            schema.apply(c)
    assert db_cli.dispatch(argparse.Namespace(db_command="status"), empty_url, open_service=None) == 1
    assert "newer than this parking-tui" in capsys.readouterr().out
