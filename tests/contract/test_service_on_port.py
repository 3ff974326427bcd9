"""The service on a store through the port (as it runs on PostgreSQL), here over the TinyDB store's repositories.

The whole service suite runs this way with ``pytest tests/core --via-port``; these run in every suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import parking_tui

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import open_via_port  # noqa: E402


@pytest.fixture
def via_port(monkeypatch):
    monkeypatch.setattr(parking_tui, "open_service", open_via_port)


def test_a_lots_day_moves_no_booking_onto_a_no_shows_window(via_port):
    """A blocked reservation is moved only after the no-shows are released: the store refuses two live bookings
    of one slot that overlap, even inside one unit of work (PostgreSQL's exclusion constraint does)."""
    from core.test_lots_day_hypothesis import test_a_fixed_day_blocks_moves_and_holds

    test_a_fixed_day_blocks_moves_and_holds()


def test_the_walkthrough_on_the_port(via_port, tmp_path):
    from core.test_walkthrough import test_rest_walkthrough
    from core.conftest import FrozenClock, cheap_hasher
    from datetime import datetime, timezone

    clock = FrozenClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    db = tmp_path / "data" / "parking.json"

    def open_svc(path=None, **options):
        options.setdefault("password_hasher", cheap_hasher())
        return parking_tui.open_service(path or db, clock=clock, **options)

    svc = open_svc()
    assert type(svc.store).__name__ == "RecordStore"
    test_rest_walkthrough(svc, clock, open_svc)


def test_the_walkthrough_on_postgresql(pg_url):
    from core.test_walkthrough import test_rest_walkthrough
    from core.conftest import FrozenClock, cheap_hasher
    from datetime import datetime, timezone

    clock = FrozenClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))

    def open_svc(path=None, **options):
        options.setdefault("password_hasher", cheap_hasher())
        return parking_tui.open_service(pg_url, clock=clock, **options)

    svc = open_svc()
    test_rest_walkthrough(svc, clock, open_svc)
