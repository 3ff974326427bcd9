"""Fixtures for the TUI tests.

* A service on a temp data file with a FIXED clock (``T0`` = Friday 27 Nov 2026, 09:00 in Europe/Berlin; the
  tests run in that zone) and a cheap argon2 hasher, holding the demo data (``parking_tui.cli.demo``): users
  ``admin``/``admin1234`` and ``driver``/``driver1234`` (plus alice, bruno, chen), three lots, a few bookings.
* Confirmation codes come from a seeded generator given to the service, so screens showing them never churn.
* The Input cursor does not blink (stable snapshots).
* ``async def`` tests (the Pilot tests) run under pytest-asyncio in auto mode, one event loop per test
  (pyproject.toml); the snapshot tests are plain functions, and ``snap_compare`` runs its own loop.

Fixtures: ``clock``, ``db_path``, ``open_svc`` (another service on the same file, as another process would
open it), ``svc``, ``admin_token``, ``driver_token``, ``app_factory`` and ``lots`` (demo lots by name).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from textual.widgets import Input

import parking_tui
from parking_tui.cli.demo import ensure_demo_data
from parking_tui.domain.models import Lot
from parking_tui.domain.service import CODE_ALPHABET, ParkingService
from parking_tui.tui.app import ParkingApp, make_app

from conftest import FrozenClock as SuiteClock, cheap_hasher  # noqa: F401  (the root conftest)

from .helpers import OffLoopService

ZONE = "Europe/Berlin"
#: 09:00 local (08:00 UTC) on Friday 27 November 2026.
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
PASSWORDS = {"admin": "admin1234", "driver": "driver1234"}


class FrozenClock(SuiteClock):
    """The suite's frozen clock (the root conftest's), standing at this folder's ``T0`` unless told otherwise."""

    def __init__(self, now: datetime = T0) -> None:
        super().__init__(now)


def seeded_codes(seed: int = 2026) -> Callable[[], str]:
    """Confirmation codes from a seeded generator (the same codes in every run), in the service's own shape."""
    rng = random.Random(seed)

    def make() -> str:
        raw = "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
        return f"{raw[:4]}-{raw[4:]}"

    return make


@pytest.fixture(autouse=True)
def local_zone(monkeypatch: pytest.MonkeyPatch):
    """Run every TUI test in Europe/Berlin, so the times on screen are the same on every machine."""
    monkeypatch.setenv("TZ", ZONE)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


#: Environment that changes how Textual renders. Snapshots must look the same whatever the caller's shell holds.
RENDERING_ENV = (
    "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TEXTUAL_THEME", "TEXTUAL_COLOR_SYSTEM", "TEXTUAL_ANIMATIONS",
    "TEXTUAL_DIM_FACTOR", "TEXTUAL_FPS", "TEXTUAL_FILTERS", "TEXTUAL_SMOOTH_SCROLL",
)


@pytest.fixture(autouse=True)
def plain_rendering_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``NO_COLOR``, ``TEXTUAL_THEME`` or the like from the caller. ``NO_COLOR`` is read when an app starts;
    the ``TEXTUAL_*`` settings were read when Textual was imported (by the snapshot plugin, before any fixture),
    so their values are put back to Textual's defaults here."""
    from textual import constants
    from textual.app import App

    for name in RENDERING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "COLOR_SYSTEM", "auto")
    monkeypatch.setattr(constants, "TEXTUAL_ANIMATIONS", "full")
    monkeypatch.setattr(App.theme, "_default", "textual-dark")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ from run to run."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def fixed_codes() -> Callable[[], str]:
    """One seeded code generator for every service the test opens (given to the service, not patched in)."""
    return seeded_codes()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parking.json"


@pytest.fixture
def open_svc(db_path: Path, clock: FrozenClock, fixed_codes: Callable[[], str]) -> Callable[..., ParkingService]:
    """Open another service on the test's data file, as a second process would."""

    def _open(**options) -> ParkingService:
        options.setdefault("password_hasher", cheap_hasher())
        options.setdefault("code_generator", fixed_codes)
        return parking_tui.open_service(db_path, clock=clock, **options)

    return _open


@pytest.fixture
def svc(open_svc) -> ParkingService:
    """The service the app runs on, holding the demo data."""
    service = open_svc()
    ensure_demo_data(service)
    return service


@pytest.fixture
def admin_token(svc: ParkingService) -> str:
    return svc.login("admin", PASSWORDS["admin"])


@pytest.fixture
def driver_token(svc: ParkingService) -> str:
    return svc.login("driver", PASSWORDS["driver"])


@pytest.fixture
def lots(svc: ParkingService, admin_token: str) -> dict[str, Lot]:
    return {lot.name: lot for lot in svc.list_lots(admin_token)}


@pytest.fixture
def app_factory(svc: ParkingService):
    """``app_factory(token=None, demo=False, kiosk=False)``: the real app (``make_app``) on ``svc``.

    With ``token`` the app starts signed in with that session, on the lot browser. The app's service is
    wrapped so that a service call on the event loop's thread fails the test (``helpers.OffLoopService``).
    """
    guards: list[OffLoopService] = []

    def _make(token: str | None = None, *, demo: bool = False, kiosk: bool = False) -> ParkingApp:
        guard = OffLoopService(svc)
        guards.append(guard)
        return make_app(guard, demo=demo, kiosk=kiosk, session_token=token)  # type: ignore[arg-type]

    yield _make
    for guard in guards:
        assert not guard.violations, f"service calls on the event loop's thread: {guard.violations}"
