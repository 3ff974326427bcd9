"""Fixtures for the core tests: a frozen clock you advance, a cheap argon2 hasher, a service on a temp file.

The service tests run on both stores: ``svc``, ``open_svc`` and ``world`` are parametrised by ``store_kind``
(``tinydb``: a temp data file; ``postgres``: a fresh database on the suite's throwaway server). A test that reads
the data files itself (it asks for ``db_path`` or ``tmp_path``) runs on TinyDB only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
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


# Helpers of the domain's unit tests (``from .conftest import at, park, refused, stamp``).


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An instant on the world's day (the lot is in UTC)."""
    return T0.replace(hour=hh, minute=mm, second=ss)


def stamp(when: datetime) -> str:
    """An instant as the audit log writes it."""
    return when.isoformat(timespec="microseconds")


def refused(
    error: type[Exception], call: Callable[..., object], *args: object, **kwargs: object
) -> tuple[str | None, str]:
    """The field and the words of the ``error`` (exactly that class) that ``call`` raises."""
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is error
    return getattr(caught.value, "field", None), str(caught.value)


def park(world: World, name: str, slot_index: int, start: datetime, end: datetime) -> tuple[str, object]:
    """A new driver books the slot for ``[start, end)`` and checks in now: (token, booking)."""
    token = make_user(world.svc, name)
    booking = world.svc.create_booking(token, world.slots[slot_index].id, start, end)
    world.svc.check_in(token, booking.id)
    return token, booking


def overstay(world: World) -> tuple:
    """Alice parks on A1 for 10:00-11:00 (checked in, never checked out); Bob has A1 booked for 11:00-12:00.
    Returns (alice's booking, bob's booking)."""
    svc = world.svc
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10), at(11))
    svc.check_in(world.alice, alice.id)
    bob = svc.create_booking(world.bob, world.slots[0].id, at(11), at(12))
    return alice, bob


def held_on_a1_until_a3_frees(world: World):
    """Alice's reservation (10:10-14:00) is held on A1, marked out of service at 10:07 while A2 and A3 are out of
    service too; at 10:15 A3 comes free while she is held. Returns her booking; the clock stands at 10:15."""
    svc, clock = world.svc, world.clock
    alice = svc.create_booking(world.alice, world.slots[0].id, at(10, 10), at(14))
    svc.set_slot_status(world.admin, world.slots[1].id, "out_of_service")
    svc.set_slot_status(world.admin, world.slots[2].id, "out_of_service")
    clock.set(at(10, 7))
    held = svc.mark_slot(world.admin, world.slots[0].id, "out_of_service")
    assert held.moved == [] and [b.id for b in held.unplaced] == [alice.id]
    clock.set(at(10, 15))
    svc.set_slot_status(world.admin, world.slots[2].id, "available")
    return alice
