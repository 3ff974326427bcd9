"""The seed's walkthrough over HTTP, step by step, with the seed's bodies, against a real server."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

import parking_tui

from .conftest import unique, window


def test_seed_walkthrough(server_factory):
    server = server_factory(env={"PARKING_TUI_LOCK_TIMEOUT": "0.5"})
    c = server.client()
    # register -> login -> profile
    r = c.post(
        "/api/auth/register/",
        json={"username": "user_1", "email": "user1@example.com", "password": "password123", "phone_number": "1234567890"},
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"username": "user_1", "email": "user1@example.com", "phone_number": "1234567890", "is_admin": False}

    r = c.post("/api/auth/login/", json={"username": "user_1", "password": "password123"})
    assert r.status_code == 200 and set(r.json()) == {"token"}
    user = server.client(r.json()["token"])
    r = user.get("/api/auth/profile/")
    assert r.status_code == 200
    assert r.json() == {"user": "user_1", "email": "user1@example.com", "phone_number": "1234567890", "is_admin": False}

    # the admin creates a lot, lists lots, adds a slot
    admin = server.client(server.admin())
    r = admin.post("/api/parking-lots/", json={"name": "Downtown Parking", "location": "Main Street", "total_slots": 50})
    assert r.status_code == 201, r.text
    lot = r.json()
    assert {k: lot[k] for k in ("name", "location", "total_slots")} == {
        "name": "Downtown Parking", "location": "Main Street", "total_slots": 50,
    }
    assert lot["time_zone"] == server.zone  # the machine's zone: no zone was given
    assert user.get("/api/parking-lots/").json() == [lot]
    r = admin.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": "A1"})
    assert r.status_code == 201, r.text
    slot = r.json()
    assert slot == {"id": slot["id"], "lot_id": lot["id"], "slot_number": "A1", "status": "available"}

    # available slots -> book with naive ISO times -> my bookings
    assert user.get("/api/slots/available/", params={"lot": lot["id"]}).json() == [slot]
    start, end = window(server, start_in=0, hours=2)
    assert user.get("/api/slots/available/", params={"lot": lot["id"], "start_time": start, "end_time": end}).json() == [slot]
    r = user.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": start, "end_time": end})
    assert r.status_code == 201, r.text
    booking = r.json()
    assert set(booking) == {
        "id", "slot_id", "slot_number", "lot_id", "username", "start_time", "end_time", "status",
        "confirmation_code", "plate", "attention",
    }
    zone = ZoneInfo(server.zone)
    # The naive time was read in the lot's zone and comes back in it, with its offset.
    assert datetime.fromisoformat(booking["start_time"]) == datetime.fromisoformat(start).replace(tzinfo=zone)
    assert booking["start_time"].startswith(start) and booking["start_time"][len(start):] in ("+01:00", "+02:00")
    assert datetime.fromisoformat(booking["end_time"]) == datetime.fromisoformat(end).replace(tzinfo=zone)
    assert (booking["slot_id"], booking["slot_number"], booking["lot_id"], booking["username"], booking["status"]) == (
        slot["id"], "A1", lot["id"], "user_1", "reserved",
    )
    assert booking["confirmation_code"] and booking["plate"] == "" and booking["attention"] == ""
    assert user.get("/api/slots/available/", params={"lot": lot["id"], "start_time": start, "end_time": end}).json() == []
    assert user.get("/api/booking/my/").json() == [booking]

    # check in -> check out
    r = user.put(f"/api/booking/{booking['id']}/check-in/")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "checked_in"
    assert admin.get("/api/slots/available/", params={"lot": lot["id"]}).json() == []
    r = user.put(f"/api/booking/{booking['id']}/check-out/")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert [(b["id"], b["status"]) for b in user.get("/api/booking/my/").json()] == [(booking["id"], "completed")]
    assert user.get("/api/slots/available/", params={"lot": lot["id"]}).json() == [slot]

    # the admin's views: reservations, slot marks
    r = admin.get("/api/reservations/", params={"lot": lot["id"], "status": "completed"})
    assert [b["confirmation_code"] for b in r.json()] == [booking["confirmation_code"]]
    assert admin.get("/api/reservations/", params={"q": booking["confirmation_code"][:4].lower()}).json()[0]["id"] == booking["id"]
    assert admin.get("/api/reservations/", params={"q": "nobody-has-this"}).json() == []
    r = admin.put(f"/api/slots/{slot['id']}/status/", json={"status": "out_of_service"})
    assert r.status_code == 200, r.text
    assert r.json() == {"slot": dict(slot, status="out_of_service"), "moved": [], "unplaced": []}
    assert user.get("/api/slots/available/", params={"lot": lot["id"]}).json() == []

    # logout ends the session
    assert user.post("/api/auth/logout/").status_code == 204
    assert user.get("/api/auth/profile/").status_code == 401


def test_cancel_and_extend(server):
    admin = server.client(server.admin())
    lot = admin.post("/api/parking-lots/", json={"name": unique("North "), "location": "North Road", "total_slots": 5}).json()
    slot = admin.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": "N1"}).json()
    httpx.post(server.api("auth/register/"), json={"username": "dora", "email": "d@example.com", "password": "dora-password"})
    dora = server.client(server.login("dora", "dora-password"))
    start, end = window(server, start_in=60, hours=1)
    # An id as text ("7"), as the seed's framework accepts it.
    r = dora.post("/api/booking/create/", json={"slot_id": str(slot["id"]), "start_time": start, "end_time": end})
    assert r.status_code == 201, r.text
    first = r.json()
    new_end = (datetime.fromisoformat(end) + timedelta(minutes=30)).isoformat()
    r = dora.put(f"/api/booking/{first['id']}/extend/", json={"end_time": new_end})
    assert r.status_code == 200, r.text
    assert r.json()["end_time"].startswith(new_end)
    r = dora.put(f"/api/booking/{first['id']}/cancel/")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert dora.put(f"/api/booking/{first['id']}/cancel/").status_code == 409


def test_paths_without_the_slash_are_answered_the_same(server):
    c = server.client(server.admin())
    for path in ("/api/parking-lots", "/api/auth/profile", "/api/booking/my", "/api/schema"):
        plain, slashed = c.get(path), c.get(path + "/")
        assert plain.status_code == slashed.status_code == 200, path
        assert plain.json() == slashed.json()
    r = c.post("/api/parking-lots", json={"name": "No Slash", "location": "Here", "total_slots": 2})
    assert r.status_code == 201 and r.json()["name"] == "No Slash"
    assert c.get("/api/nowhere").status_code == 404


def test_the_two_doors_share_sessions(server):
    """A token from the API works in the TUI's service, and signing out in one ends it in the other."""
    svc = parking_tui.open_service(server.db)
    token = svc.login(*("admin", "admin-password"))
    c = server.client(token)
    assert c.get("/api/auth/profile/").json()["user"] == "admin"
    svc.logout(token)
    assert c.get("/api/auth/profile/").status_code == 401

    api_token = server.admin()
    assert svc.profile(api_token).is_admin
    assert server.client(api_token).post("/api/auth/logout/").status_code == 204
    try:
        svc.profile(api_token)
    except parking_tui.domain.AuthenticationError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the TUI's service still accepts a token the API signed out")


def test_docs_page_and_schema(server):
    c = server.client()
    schema = c.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for path in (
        "/api/auth/register/", "/api/auth/login/", "/api/auth/logout/", "/api/auth/profile/", "/api/parking-lots/",
        "/api/parking-lots/{lot_id}/slots/", "/api/slots/available/", "/api/booking/create/", "/api/booking/my/",
        "/api/booking/{booking_id}/check-in/", "/api/booking/{booking_id}/check-out/",
        "/api/booking/{booking_id}/cancel/", "/api/booking/{booking_id}/extend/", "/api/reservations/",
        "/api/slots/{slot_id}/status/",
    ):
        assert path in paths, path
    page = c.get("/api/docs/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/booking/create/" in page.text
    # Self-contained: nothing is loaded from another host.
    assert "<script" not in page.text and "src=" not in page.text and "https://" not in page.text
