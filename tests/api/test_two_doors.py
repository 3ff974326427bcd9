"""The two doors share the data: a booking made over HTTP shows on the TUI's live slot map within a second, and
one made in the TUI's service is seen by the API at once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

import parking_tui
from parking_tui.domain.models import SlotStatus
from parking_tui.tui.app import make_app
from parking_tui.tui.screens.slot_map import SlotMapScreen

from .conftest import ADMIN, unique

SIZE = (100, 30)


def test_an_api_booking_shows_on_the_tui_map_within_a_second(server):
    admin = server.client(server.admin())
    lot = admin.post("/api/parking-lots/", json={"name": unique("Doors "), "location": "Gate 2", "total_slots": 4}).json()
    slots = [admin.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": n}).json() for n in ("D1", "D2", "D3")]
    name = unique("walker")
    httpx.post(server.api("auth/register/"), json={"username": name, "email": f"{name}@example.com", "password": "walker-password"})
    driver = server.client(server.login(name, "walker-password"))

    svc = parking_tui.open_service(server.db)  # the TUI's own service on the same data file, real clock
    token = svc.login(*ADMIN)

    async def run() -> float:
        app = make_app(svc, session_token=token)
        async with app.run_test(size=SIZE) as pilot:
            app.action_open_lot(lot["id"])
            await pilot.pause()
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, SlotMapScreen)

            def status_of(number: str) -> SlotStatus:
                return next(s.status for s in screen.grid.slots if s.slot_number == number)

            assert status_of("D2") is SlotStatus.AVAILABLE
            start = server.now()  # this minute: the slot is reserved from now
            r = driver.post(
                "/api/booking/create/",
                json={"slot_id": slots[1]["id"], "start_time": start.isoformat(),
                      "end_time": (start + timedelta(hours=1)).isoformat()},
            )
            assert r.status_code == 201, r.text
            booked = time.monotonic()
            while status_of("D2") is not SlotStatus.RESERVED and time.monotonic() - booked < 3:
                await pilot.pause(0.05)
            seen_after = time.monotonic() - booked
            assert status_of("D2") is SlotStatus.RESERVED
            assert status_of("D1") is SlotStatus.AVAILABLE
            return seen_after

    seen_after = asyncio.run(run())
    print(f"an API booking reached the TUI's map after {seen_after:.2f} s")
    assert seen_after < 1.0, f"the map showed the API's booking after {seen_after:.2f} s"

    # The other way round: the TUI's service books, the API sees it on the next request.
    now = svc.now()
    svc.create_booking(token, slots[2]["id"], now, now + timedelta(hours=1))
    free = {s["slot_number"] for s in driver.get("/api/slots/available/", params={"lot": lot["id"]}).json()}
    assert free == {"D1"}
