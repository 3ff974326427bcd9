"""A real lot's day over HTTP: lot time zones, plates, slot marks that move bookings, attention, extend."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from .conftest import unique


def _driver(server) -> httpx.Client:
    name = unique("day")
    r = httpx.post(server.api("auth/register/"), json={"username": name, "email": f"{name}@example.com", "password": "day-password"})
    assert r.status_code == 201, r.text
    return server.client(server.login(name, "day-password"))


def _lot(admin, numbers=("A1",), **extra) -> tuple[dict, list[dict]]:
    r = admin.post("/api/parking-lots/", json={"name": unique("Day "), "location": "Somewhere", "total_slots": 10, **extra})
    assert r.status_code == 201, r.text
    lot = r.json()
    slots = [admin.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": n}).json() for n in numbers]
    return lot, slots


def _local_now(zone: str) -> datetime:
    return datetime.now(ZoneInfo(zone)).replace(tzinfo=None, second=0, microsecond=0)


def test_naive_times_are_read_in_the_lots_zone_whatever_the_servers(server):
    admin = server.client(server.admin())
    lot, (slot,) = _lot(admin, time_zone="America/New_York")
    assert lot["time_zone"] == "America/New_York" != server.zone
    start = _local_now("America/New_York") + timedelta(hours=2)
    end = start + timedelta(hours=1)
    r = _driver(server).post(
        "/api/booking/create/", json={"slot_id": slot["id"], "start_time": start.isoformat(), "end_time": end.isoformat()}
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["start_time"].startswith(start.isoformat()) and b["start_time"][-6:] in ("-05:00", "-04:00")
    assert datetime.fromisoformat(b["start_time"]) == start.replace(tzinfo=ZoneInfo("America/New_York"))
    # An offset given is kept: the same instant, shown on the lot's clocks.
    r = admin.get("/api/slots/available/", params={"lot": lot["id"], "start_time": b["start_time"], "end_time": b["end_time"]})
    assert r.status_code == 200 and r.json() == []
    r = admin.post("/api/parking-lots/", json={"name": unique("Nowhere "), "location": "x", "total_slots": 1, "time_zone": "Mars/Olympus"})
    assert r.status_code == 400 and list(r.json()) == ["time_zone"]


def test_plates_are_kept_and_found(server):
    admin = server.client(server.admin())
    lot, (a1, a2) = _lot(admin, ("P1", "P2"))
    driver = _driver(server)
    start = _local_now(server.zone) + timedelta(hours=1)
    window = {"start_time": start.isoformat(), "end_time": (start + timedelta(hours=1)).isoformat()}
    r = driver.post("/api/booking/create/", json={"slot_id": a1["id"], "plate": "b-ab 1234", **window})
    assert r.status_code == 201, r.text
    assert r.json()["plate"] == "BAB1234"
    # A second car of the same driver, at the same time, with another plate.
    r2 = driver.post("/api/booking/create/", json={"slot_id": a2["id"], "plate": "M XY 99", **window})
    assert r2.status_code == 201, r2.text
    found = admin.get("/api/reservations/", params={"lot": lot["id"], "q": "ab 12"}).json()
    assert [b["id"] for b in found] == [r.json()["id"]]
    r = driver.post("/api/booking/create/", json={"slot_id": a1["id"], "plate": "??", **window})
    assert r.status_code == 400 and list(r.json()) == ["plate"]


def test_a_mark_moves_bookings_and_says_which_could_not_be_placed(server):
    admin = server.client(server.admin())
    lot, (m1, m2) = _lot(admin, ("M1", "M2"))
    first, second = _driver(server), _driver(server)
    start = _local_now(server.zone) + timedelta(hours=3)
    window = {"start_time": start.isoformat(), "end_time": (start + timedelta(hours=1)).isoformat()}
    b1 = first.post("/api/booking/create/", json={"slot_id": m1["id"], **window}).json()
    b2 = second.post("/api/booking/create/", json={"slot_id": m2["id"], **window}).json()

    # M1 out of service: its booking moves to... nowhere free (M2 is taken for that window).
    r = admin.put(f"/api/slots/{m1['id']}/status/", json={"status": "out_of_service", "reason": "barrier repair"})
    assert r.status_code == 200, r.text
    mark = r.json()
    assert mark["slot"]["status"] == "out_of_service"
    assert mark["moved"] == []
    assert [b["id"] for b in mark["unplaced"]] == [b1["id"]]
    assert mark["unplaced"][0]["attention"]
    mine = first.get("/api/booking/my/").json()
    assert mine[0]["attention"] and mine[0]["status"] == "reserved"

    # Cleared, then M2 blocked while M1 is free: M2's booking moves to M1, same code.
    assert admin.put(f"/api/slots/{m1['id']}/status/", json={"status": "available"}).status_code == 200
    assert second.put(f"/api/booking/{b2['id']}/cancel/").status_code == 200
    b3 = second.post("/api/booking/create/", json={"slot_id": m2["id"], **{
        "start_time": (start + timedelta(hours=2)).isoformat(), "end_time": (start + timedelta(hours=3)).isoformat()}}).json()
    until = (start + timedelta(hours=6)).isoformat()
    r = admin.put(f"/api/slots/{m2['id']}/status/", json={"status": "out_of_service", "until": until})
    assert r.status_code == 200, r.text
    moved = r.json()["moved"]
    assert [(b["id"], b["slot_number"], b["confirmation_code"]) for b in moved] == [
        (b3["id"], "M1", b3["confirmation_code"])
    ]
    r = admin.put(f"/api/slots/{m2['id']}/status/", json={"status": "reserved"})
    assert r.status_code == 400 and list(r.json()) == ["status"]


def test_extend_obeys_the_next_booking(server):
    admin = server.client(server.admin())
    lot, (x1,) = _lot(admin, ("X1",))
    first, second = _driver(server), _driver(server)
    start = _local_now(server.zone) + timedelta(hours=1)
    mid, end = start + timedelta(hours=1), start + timedelta(hours=2)
    b1 = first.post("/api/booking/create/", json={"slot_id": x1["id"], "start_time": start.isoformat(), "end_time": mid.isoformat()}).json()
    second.post("/api/booking/create/", json={"slot_id": x1["id"], "start_time": mid.isoformat(), "end_time": end.isoformat()})
    r = first.put(f"/api/booking/{b1['id']}/extend/", json={"end_time": end.isoformat()})
    assert r.status_code == 409 and set(r.json()) == {"detail"}
    r = first.put(f"/api/booking/{b1['id']}/extend/", json={"end_time": start.isoformat()})
    assert r.status_code == 400 and list(r.json()) == ["end_time"]
    r = second.put(f"/api/booking/{b1['id']}/extend/", json={"end_time": end.isoformat()})
    assert r.status_code == 404
