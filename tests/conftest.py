"""Suite-wide hooks, and the helpers every folder shares.

``FrozenClock`` (a clock the test moves), ``cheap_hasher()`` (argon2id fast enough for tests), ``World`` and
``populate(svc, clock)`` (an admin and two drivers signed in, a lot with three slots, built through the service's
contract so it is the same on both stores), ``make_user``, ``T0`` and ``PASSWORD``: the folders' conftests import
them from here (``from conftest import FrozenClock``).

In CI (``PARKING_TUI_REQUIRE_TOOLS=1``, set by ``.ci/run`` on a machine where it could install them), a test that
skips because tmux, OpenSSH, Chromium or the PostgreSQL server is missing fails instead: a skipped test proves
nothing.

PostgreSQL: ``pg_server`` is one throwaway server for the whole run (``initdb`` + ``pg_ctl`` from the machine's
binaries on a temporary folder and a free loopback port, stopped and deleted at the end), or the server of
``PARKING_TUI_TEST_PG`` (a URL whose role may create databases) when that is set. ``pg_url`` is an empty database
with the current schema for one test (one database emptied between tests: creating one costs half a second, 
emptying it a few milliseconds); ``pg_cluster.fresh_db()`` a database of the test's own, for a test that changes
the schema itself. Without binaries or that variable, the tests using them skip with one reason.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import argon2
import pytest

TOOL_WORDS = ("tmux", "sshd", "openssh", "ssh-keygen", "chromium", "initdb")


#: Read once at start: fixtures clear every PARKING_TUI_* variable while a test runs.
REQUIRED = os.environ.get("PARKING_TUI_REQUIRE_TOOLS", "") == "1"
TEST_PG = os.environ.get("PARKING_TUI_TEST_PG", "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or not REQUIRED or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if any(word in reason.lower() for word in TOOL_WORDS):
        report.outcome = "failed"
        report.longrepr = f"a required tool is missing in CI (PARKING_TUI_REQUIRE_TOOLS=1): {reason}"


# ------------------------------------------------------------------------------ the test world, for every folder
# One FrozenClock, one cheap hasher and one World for the whole suite (the folders' conftests import them from
# here: ``from conftest import FrozenClock``; a child process of a test puts tests/ on its PYTHONPATH too).

#: A Saturday morning, far from any DST change in UTC.
T0 = datetime(2030, 6, 15, 10, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse"


def child_processes():
    """The ``multiprocessing`` context for a test's worker processes: ``forkserver``. Each worker is forked from
    one server process, started afresh (not forked from the test process: it inherits no open file, lock,
    connection or cache of the test) on the first use, and that has already imported the program; so a worker
    costs a fork instead of a new interpreter importing everything again (about 0.8 s each here, with ``spawn``).
    Workers are module-level functions, imported by name in the worker as ``spawn`` would."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    # Only modules that import cleanly anywhere: the server stops at the first that raises anything but
    # ImportError (a test module's importorskip would), and an ImportError just leaves the module to the worker.
    ctx.set_forkserver_preload(["argon2", "pytest", "parking_tui", "parking_tui.storage.tinydb", "psycopg"])
    return ctx


def cheap_hasher() -> argon2.PasswordHasher:
    """argon2id, but fast enough for hundreds of hashes in a test run."""
    return argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FrozenClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.now = self.now + (delta if delta is not None else timedelta(**kwargs))
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@dataclass
class World:
    """A lot with three slots (A1-A3, capacity 10), an admin and two drivers, all signed in."""

    svc: Any
    clock: FrozenClock
    admin: str
    alice: str
    bob: str
    lot: Any
    slots: list[Any]
    path: Path | None = None
    """The data file, on the TinyDB store."""

    def window(self, start_min: int = 60, minutes: int = 60) -> tuple[datetime, datetime]:
        start = self.clock.now + timedelta(minutes=start_min)
        return start, start + timedelta(minutes=minutes)

    def book(self, token: str, slot_index: int = 0, start_min: int = 60, minutes: int = 60):
        return self.svc.create_booking(token, self.slots[slot_index].id, *self.window(start_min, minutes))


def make_user(svc, username: str, *, admin: bool = False) -> str:
    """A user (``username@example.com``, password :data:`PASSWORD`), signed in: the token."""
    if admin:
        svc.create_admin(username, f"{username}@example.com", PASSWORD)
    else:
        svc.register(username, f"{username}@example.com", PASSWORD)
    return svc.login(username, PASSWORD)


def populate(svc, clock: FrozenClock, *, time_zone: str | None = None, path: Path | None = None) -> World:
    """Build the world through the service's contract (so it is the same on every store)."""
    admin = make_user(svc, "admin", admin=True)
    alice, bob = make_user(svc, "alice"), make_user(svc, "bob")
    lot = svc.create_lot(admin, "Central", "Main Street 1", 10, time_zone=time_zone)
    slots = svc.add_slots(admin, lot.id, ["A1", "A2", "A3"])
    return World(svc, clock, admin, alice, bob, lot, list(slots), path)


class PgCluster:
    """A PostgreSQL server the tests may create databases on: ``fresh_db()`` gives the URL of a new database
    with the current schema (copied from a template, so each costs a few milliseconds)."""

    TEMPLATE = "parking_tui_template"

    def __init__(self, admin_url: str, server=None) -> None:
        self.admin_url = admin_url
        self.server = server  # a ThrowawayServer, or None for PARKING_TUI_TEST_PG
        self._names = itertools.count(1)
        self.prefix = f"parking_tui_t{os.getpid()}_"

    def url(self, dbname: str) -> str:
        """The admin URL with another database name (a ``postgresql://`` URL, as ``open_service`` takes)."""
        from urllib.parse import quote

        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(self.admin_url).items()}
        params.pop("dbname", None)
        user = quote(params.pop("user", ""), safe="")
        password = quote(params.pop("password", ""), safe="")
        host = params.pop("host", "")
        port = params.pop("port", "")
        auth = (user + (":" + password if password else "") + "@") if user else ""
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return f"postgresql://{auth}{host}{':' + port if port else ''}/{dbname}" + ("?" + query if query else "")

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def prepare(self) -> None:
        import psycopg

        from parking_tui.storage.postgres import schema

        with self._admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.TEMPLATE}_{os.getpid()}")
            conn.execute(f"CREATE DATABASE {self.TEMPLATE}_{os.getpid()}")
        with psycopg.connect(self.url(f"{self.TEMPLATE}_{os.getpid()}"), autocommit=True) as conn:
            schema.apply(conn)

    def empty_db(self) -> str:
        name = f"{self.prefix}{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def fresh_db(self) -> str:
        name = f"{self.prefix}{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}_{os.getpid()}")
        return self.url(name)

    TABLES = "users, sessions, login_states, lots, slots, bookings, audit, lot_changes"

    def reusable_db(self) -> str:
        """The shared test database, emptied (ids start again at 1); a fresh one if it cannot be emptied."""
        import psycopg

        if getattr(self, "_reusable", None) is None:
            self._reusable = self.fresh_db()
        try:
            with psycopg.connect(self._reusable, autocommit=True, connect_timeout=10) as conn:
                # the audit table refuses TRUNCATE by trigger; a superuser's replica role fires no triggers
                conn.execute("SET lock_timeout = '5s'")
                conn.execute("SET session_replication_role = replica")
                conn.execute(f"TRUNCATE {self.TABLES} RESTART IDENTITY")
        except Exception:
            self._reusable = self.fresh_db()
        return self._reusable

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        try:
            with self._admin() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception:  # the server may be down on purpose; the whole cluster goes at the end anyway
            pass

    def finish(self) -> None:
        if self.server is not None:
            self.server.destroy()
            return
        try:
            with self._admin() as conn:
                names = [r[0] for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname = %s",
                    (self.prefix + "%", f"{self.TEMPLATE}_{os.getpid()}"),
                )]
                for name in names:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception:
            pass


def start_pg_server(*, fsync: bool = False):
    """A started ThrowawayServer, or ``pytest.skip`` with the one reason when the binaries are missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]' (the test extra includes it)")
    from parking_tui.storage.postgres.throwaway import ServerUnavailable, ThrowawayServer, find_bindir

    if find_bindir() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install the PostgreSQL server or set "
            "PARKING_TUI_TEST_PG to a database URL"
        )
    server = ThrowawayServer(fsync=fsync)
    try:
        server.start()
    except ServerUnavailable:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def pg_cluster():
    if TEST_PG:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("psycopg is not installed: pip install -e '.[postgres]' (the test extra includes it)")
        cluster = PgCluster(TEST_PG)
    else:
        server = start_pg_server()
        cluster = PgCluster(server.url("postgres"), server)
    try:
        cluster.prepare()
        yield cluster
    finally:
        cluster.finish()


@pytest.fixture
def pg_url(pg_cluster):
    """An empty database with the current schema, for this test alone (the schema itself must not be changed:
    use ``pg_cluster.fresh_db()`` for that)."""
    return pg_cluster.reusable_db()


@pytest.fixture(autouse=True)
def _process_state_unchanged():
    """Fail a test that leaves process-wide state changed for the tests after it: the environment (``TZ``,
    ``NO_COLOR``...), the C library's time zone (``time.tzset``), the working folder and the umask. (The TUI
    keeps no display zone of its own: every time is shown in its lot's zone.) Its name sorts
    first among the autouse fixtures, so it looks before any ``monkeypatch`` is applied and after all are undone."""
    import time

    def state() -> dict:
        umask = os.umask(0o022)
        os.umask(umask)
        return {
            "environment": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
            "C time zone": (time.tzname, time.timezone, time.altzone, time.daylight),
            "working folder": os.getcwd(),
            "umask": umask,
        }

    before = state()
    yield
    after = state()
    changed = [name for name in before if before[name] != after[name]]
    if before["environment"] != after["environment"]:
        keys = sorted(k for k in set(before["environment"]) | set(after["environment"])
                      if before["environment"].get(k) != after["environment"].get(k))
        changed[changed.index("environment")] = f"environment ({', '.join(keys)})"
    assert not changed, f"the test left process-wide state changed: {'; '.join(changed)}"
