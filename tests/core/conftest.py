"""Fixtures for the core tests: a frozen clock you advance, a cheap argon2 hasher, a service on a temp file.

The service tests run on both stores: ``svc``, ``open_svc`` and ``world`` are parametrised by ``store_kind``
(``tinydb``: a temp data file; ``postgres``: a fresh database on the suite's throwaway server). A test that reads
the data files itself (it asks for ``db_path`` or ``tmp_path``) runs on TinyDB only.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import argon2
import pytest

import parking_tui
from parking_tui.domain import Lot, ParkingService, Slot

#: A Saturday morning, far from any DST change in UTC.
T0 = datetime(2030, 6, 15, 10, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse"


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


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


STORES = ("tinydb", "postgres")
_FILE_FIXTURES = {"db_path", "tmp_path", "tmp_path_factory", "world_template"}


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


@dataclass
class World:
    """A lot with three slots, an admin and two drivers, all signed in."""

    svc: ParkingService
    clock: FrozenClock
    admin: str
    alice: str
    bob: str
    lot: Lot
    slots: list[Slot]

    def window(self, start_min: int = 60, minutes: int = 60) -> tuple[datetime, datetime]:
        start = self.clock.now + timedelta(minutes=start_min)
        return start, start + timedelta(minutes=minutes)

    def book(self, token: str, slot_index: int = 0, start_min: int = 60, minutes: int = 60):
        start, end = self.window(start_min, minutes)
        return self.svc.create_booking(token, self.slots[slot_index].id, start, end)


def make_user(svc: ParkingService, username: str, *, admin: bool = False) -> str:
    if admin:
        svc.create_admin(username, f"{username}@example.com", PASSWORD)
    else:
        svc.register(username, f"{username}@example.com", PASSWORD)
    return svc.login(username, PASSWORD)


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> tuple[Path, dict]:
    """The world's files, built once (at ``T0``); each test gets a copy, sessions included."""
    folder = tmp_path_factory.mktemp("world-template")
    svc = parking_tui.open_service(folder / "parking.json", clock=FrozenClock(T0), password_hasher=cheap_hasher())
    admin = make_user(svc, "admin", admin=True)
    tokens = {"admin": admin, "alice": make_user(svc, "alice"), "bob": make_user(svc, "bob")}
    lot = svc.create_lot(admin, "Central", "Main Street 1", 10, time_zone="UTC")
    slots = svc.add_slots(admin, lot.id, ["A1", "A2", "A3"])
    return folder, {"tokens": tokens, "lot": lot, "slots": slots}


@pytest.fixture
def world(request: pytest.FixtureRequest, db_target: Path | str, open_svc, clock: FrozenClock) -> World:
    """A lot with three slots, an admin and two drivers, all signed in (at ``T0``)."""
    assert clock.now == T0
    if not isinstance(db_target, Path):  # PostgreSQL: built in the test's own database
        svc = open_svc()
        admin = make_user(svc, "admin", admin=True)
        alice, bob = make_user(svc, "alice"), make_user(svc, "bob")
        lot = svc.create_lot(admin, "Central", "Main Street 1", 10, time_zone="UTC")
        slots = svc.add_slots(admin, lot.id, ["A1", "A2", "A3"])
        return World(svc, clock, admin, alice, bob, lot, list(slots))
    folder, made = request.getfixturevalue("world_template")
    for p in folder.glob("parking*.json"):
        shutil.copy2(p, db_target.parent / p.name)
    t = made["tokens"]
    return World(open_svc(), clock, t["admin"], t["alice"], t["bob"], made["lot"], list(made["slots"]))


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
