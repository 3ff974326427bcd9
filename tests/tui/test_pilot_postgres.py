"""A pilot of many hosts: the app on one service, a booking made by another process (another host) with its own
service, both on one PostgreSQL database; the booking shows on the app's screen within a second."""

from __future__ import annotations

import time
import traceback
from datetime import datetime, timedelta

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

import parking_tui  # noqa: E402
from parking_tui.cli.demo import ensure_demo_data  # noqa: E402
from parking_tui.tui.app import make_app  # noqa: E402
from parking_tui.tui.screens.admin import AdminScreen  # noqa: E402

from conftest import child_processes  # noqa: E402

from .conftest import PASSWORDS, FrozenClock, cheap_hasher  # noqa: E402
from .test_live import FOLLOW_SECONDS, rows, seconds_until  # noqa: E402

CTX = child_processes()


def other_host(url, now_iso, token, lot_name, number, go, results):
    try:
        now = datetime.fromisoformat(now_iso)
        svc = parking_tui.open_service(url, clock=lambda: now, password_hasher=cheap_hasher())
        lot = next(x for x in svc.list_lots(token) if x.name == lot_name)
        slot = next(s for s in svc.lot_slots(token, lot.id) if s.slot_number == number)
        go.wait(60)
        b = svc.create_booking(token, slot.id, now, now + timedelta(hours=1))
        results.put(("ok", b.confirmation_code, time.time()))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0))


async def test_a_booking_on_another_host_shows_on_the_admin_screen_within_a_second(pg_url):
    clock = FrozenClock()
    svc = parking_tui.open_service(pg_url, clock=clock, password_hasher=cheap_hasher(), time_zone="Europe/Berlin")
    ensure_demo_data(svc)
    admin, driver = svc.login("admin", PASSWORDS["admin"]), svc.login("driver", PASSWORDS["driver"])
    go, results = CTX.Event(), CTX.Queue()
    proc = CTX.Process(target=other_host, args=(pg_url, clock.now.isoformat(), driver, "Central Station P1", "B1", go, results))
    proc.start()
    try:
        async with make_app(svc, session_token=admin).run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("f4")
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, AdminScreen)
            screen.set_focus(None)
            await pilot.press("2")
            await pilot.pause()
            before = len(rows(screen, "#res-table"))
            go.set()
            kind, code, _ = results.get(timeout=60)
            assert kind == "ok", code
            took = await seconds_until(pilot, lambda: len(rows(screen, "#res-table")) == before + 1)
            assert took <= FOLLOW_SECONDS + 0.5, f"took {took:.2f} s"
            assert code in " ".join(rows(screen, "#res-table"))
    finally:
        proc.join(30)
        svc.store.close()
