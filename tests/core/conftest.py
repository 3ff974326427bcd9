"""Fixtures for the core tests: a frozen clock you advance, a cheap argon2 hasher, a service on a temp file.

The service tests run on both stores: ``svc``, ``open_svc`` and ``world`` are parametrised by ``store_kind``
(``tinydb``: a temp data file; ``postgres``: a fresh database on the suite's throwaway server). A test that reads
the data files itself (it asks for ``db_path`` or ``tmp_path``) runs on TinyDB only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import ParkingService

from conftest import PASSWORD, T0, FrozenClock, World, cheap_hasher, make_user, populate  # noqa: F401  (the root conftest)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


STORES = ("tinydb", "postgres")
_FILE_FIXTURES = {"db_path", "tmp_path", "tmp_path_factory"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" not in metafunc.fixturenames:
        return
    try:
        own = set(inspect.signature(metafunc.function).parameters)
    except (TypeError, ValueError):
        own = set()
    kinds = ["tinydb"] if own & _FILE_FIXTURES else list(STORES)
    metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "tinydb")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parking.json"


@pytest.fixture
def db_target(store_kind: str, request: pytest.FixtureRequest) -> Path | str:
    """Where the test's service keeps its data: the temp data file, or a fresh PostgreSQL database."""
    if store_kind == "postgres":
        return request.getfixturevalue("pg_url")
    return request.getfixturevalue("db_path")


@pytest.fixture
def open_svc(db_target: Path | str, clock: FrozenClock) -> Callable[..., ParkingService]:
    """Open (or re-open, as a fresh process would) a service on the test's data."""
    opened: list[ParkingService] = []

    def _open(path: Path | None = None, **options) -> ParkingService:
        options.setdefault("password_hasher", cheap_hasher())
        svc = parking_tui.open_service(path or db_target, clock=clock, **options)
        opened.append(svc)
        return svc

    yield _open
    for svc in opened:
        close = getattr(svc.store, "close", None)
        if close is not None and not isinstance(db_target, Path):
            close()


@pytest.fixture
def svc(open_svc) -> ParkingService:
    return open_svc()


@pytest.fixture
def world(open_svc, clock: FrozenClock) -> World:
    """A lot with three slots (in UTC), an admin and two drivers, all signed in (at ``T0``), built through the
    service on the test's store."""
    assert clock.now == T0
    return populate(open_svc(), clock, time_zone="UTC")


def data_files(path: Path) -> list[Path]:
    """The data file and every companion beside it."""
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.stem) and p.is_file())


def live_overlaps(bookings) -> list[tuple]:
    """Pairs of live bookings of one slot whose half-open windows overlap (invariant 1)."""
    live = [b for b in bookings if b.status in ("reserved", "checked_in")]
    bad = []
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            if a.slot_id == b.slot_id and a.start_time < b.end_time and b.start_time < a.end_time:
                bad.append((a, b))
    return bad
