"""Every error status of the API, against a real server: the status, the JSON shape, never a traceback."""

from __future__ import annotations

import fcntl
import os
import socket
import time

import httpx
import pytest

from .conftest import unique, window


@pytest.fixture(scope="module")
def world(server):
    """An admin, a driver, a lot with two slots and one booking of the driver's."""
    admin = server.client(server.admin())
    lot = admin.post("/api/parking-lots/", json={"name": unique("Errors "), "location": "Test Street", "total_slots": 3}).json()
    slots = [admin.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": n}).json() for n in ("E1", "E2")]
    name = unique("driver")
    r = httpx.post(server.api("auth/register/"), json={"username": name, "email": f"{name}@example.com", "password": "driver-password"})
    assert r.status_code == 201, r.text
    driver = server.client(server.login(name, "driver-password"))
    start, end = window(server, start_in=120, hours=1)
    booking = driver.post("/api/booking/create/", json={"slot_id": slots[0]["id"], "start_time": start, "end_time": end}).json()
    return {"admin": admin, "driver": driver, "lot": lot, "slots": slots, "booking": booking, "window": (start, end)}


def _no_traceback(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert "Traceback" not in r.text and 'File "' not in r.text


def test_401_without_a_token_and_with_a_bad_one(server, world):
    for headers in ({}, {"Authorization": "Token not-a-real-token"}, {"Authorization": "Bearer x"}, {"Authorization": "Token"}):
        r = httpx.get(server.api("booking/my/"), headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert set(r.json()) == {"detail"} and r.json()["detail"]
        assert r.headers["www-authenticate"] == "Token"
        _no_traceback(r)
    r = httpx.post(server.api("booking/create/"), json={"slot_id": 1, "start_time": "2030-01-01T10:00", "end_time": "2030-01-01T11:00"})
    assert r.status_code == 401


def test_403_for_a_driver_on_admin_paths(world):
    driver, lot, slot = world["driver"], world["lot"], world["slots"][1]
    for r in (
        driver.post("/api/parking-lots/", json={"name": unique("Mine "), "location": "x", "total_slots": 1}),
        driver.post(f"/api/parking-lots/{lot['id']}/slots/", json={"slot_number": "Z9"}),
        driver.get("/api/reservations/"),
        driver.put(f"/api/slots/{slot['id']}/status/", json={"status": "out_of_service"}),
    ):
        assert r.status_code == 403, r.text
        assert set(r.json()) == {"detail"}
        _no_traceback(r)


def test_400_bad_json_and_bad_or_missing_fields_name_the_field(world):
    admin, driver, slot = world["admin"], world["driver"], world["slots"][1]
    r = driver.post("/api/booking/create/", content=b'{"slot_id": 1, "start_time": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and set(r.json()) == {"detail"}, r.text
    r = driver.post("/api/booking/create/", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and set(r.json()) == {"detail"}, r.text

    start, end = world["window"]
    r = driver.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": start})
    assert r.status_code == 400 and r.json() == {"end_time": ["This field is required."]}
    r = driver.post("/api/booking/create/", json={"slot_id": "first", "start_time": start, "end_time": end})
    assert r.status_code == 400 and list(r.json()) == ["slot_id"] and isinstance(r.json()["slot_id"], list)
    r = driver.post("/api/booking/create/", json={"slot_id": True, "start_time": start, "end_time": end})
    assert r.status_code == 400 and r.json() == {"slot_id": ["A whole number is required."]}
    r = driver.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": "tomorrow", "end_time": end})
    assert r.status_code == 400 and list(r.json()) == ["start_time"]
    # A rule of the service, reported on its field.
    r = driver.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": end, "end_time": start})
    assert r.status_code == 400 and list(r.json()) == ["end_time"], r.text
    r = httpx.post(admin.base_url.join("/api/auth/register/"), json={"username": "x", "email": "x@example.com", "password": "long-enough"})
    assert r.status_code == 400 and list(r.json()) == ["username"]
    r = admin.post("/api/parking-lots/", json={"name": unique("Bad "), "location": "x", "total_slots": 0})
    assert r.status_code == 400 and list(r.json()) == ["total_slots"]
    r = admin.get("/api/slots/available/", params={"lot": "first"})
    assert r.status_code == 400 and list(r.json()) == ["lot"]
    r = admin.get("/api/reservations/", params={"lot": 0})
    assert r.status_code == 400 and list(r.json()) == ["lot"]
    r = admin.get("/api/reservations/", params={"status": "parked"})
    assert r.status_code == 400 and list(r.json()) == ["status"]
    for resp in (r,):
        _no_traceback(resp)


def test_404_for_what_does_not_exist_or_is_not_yours(server, world):
    admin = world["admin"]
    assert admin.put("/api/booking/999999/check-in/").status_code == 404
    assert admin.post("/api/parking-lots/999999/slots/", json={"slot_number": "A1"}).status_code == 404
    assert admin.get("/api/slots/available/", params={"lot": 999999}).status_code == 404
    assert admin.put("/api/booking/abc/check-in/").status_code == 404
    assert admin.get("/api/no-such-thing/").status_code == 404
    # Another driver's booking looks exactly like one that does not exist.
    name = unique("other")
    httpx.post(server.api("auth/register/"), json={"username": name, "email": f"{name}@example.com", "password": "other-password"})
    other = server.client(server.login(name, "other-password"))
    mine = other.put(f"/api/booking/{world['booking']['id']}/cancel/")
    missing = other.put("/api/booking/999999/cancel/")
    assert mine.status_code == missing.status_code == 404
    assert set(mine.json()) == {"detail"}


def test_409_for_an_overlap(world):
    admin, slot = world["admin"], world["slots"][0]
    start, end = world["window"]
    r = admin.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": start, "end_time": end})
    assert r.status_code == 409 and set(r.json()) == {"detail"}, r.text
    r = admin.post(f"/api/parking-lots/{world['lot']['id']}/slots/", json={"slot_number": "E1"})
    assert r.status_code == 409  # a duplicate slot number
    _no_traceback(r)


def test_413_for_a_body_over_64_kb(server, world):
    driver = world["driver"]
    big = {"slot_id": 1, "start_time": "x" * (65 * 1024), "end_time": "y"}
    r = driver.post("/api/booking/create/", json=big)
    assert r.status_code == 413 and set(r.json()) == {"detail"}
    # Without a Content-Length (chunked), counted as it arrives.
    def chunks():
        for _ in range(70):
            yield b" " * 1024

    r = driver.post("/api/booking/create/", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # Just under the limit is read (and refused for what it says, not for its size).
    r = driver.post("/api/booking/create/", content=b" " * (60 * 1024) + b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_503_with_retry_after_when_the_store_stays_locked(server, world):
    driver, slot = world["driver"], world["slots"][1]
    start, end = window(server, start_in=300, hours=1)
    fd = os.open(str(server.db) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another process in the middle of a long write would
        began = time.monotonic()
        r = driver.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": start, "end_time": end})
        assert r.status_code == 503, r.text
        assert time.monotonic() - began < 5  # the short lock timeout of the fixture, not a hang
        assert int(r.headers["retry-after"]) >= 1
        assert set(r.json()) == {"detail"} and str(server.db.parent) not in r.text
        _no_traceback(r)
        # Reads do not wait for the lock.
        assert driver.get("/api/booking/my/").status_code == 200
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    r = driver.post("/api/booking/create/", json={"slot_id": slot["id"], "start_time": start, "end_time": end})
    assert r.status_code == 201, r.text  # nothing was written the first time, and it works now


def test_sign_in_never_tells_whether_a_username_exists(server, world):
    real = httpx.post(server.api("auth/login/"), json={"username": "admin", "password": "wrong-password"})
    ghost = httpx.post(server.api("auth/login/"), json={"username": unique("ghost"), "password": "wrong-password"})
    assert real.status_code == ghost.status_code == 401
    assert real.json() == ghost.json()
    # The lockout reads the same for a name that exists and one that does not.
    name = unique("ghost")
    answers = [httpx.post(server.api("auth/login/"), json={"username": n, "password": "wrong-password"}).json()
               for n in (name,) * 5]
    assert answers[-1]["detail"].startswith("Too many failed sign-ins")
    assert name in answers[-1]["detail"]


def test_cors_is_off_unless_configured(server, server_factory):
    origin = {"Origin": "https://sign.example.com"}
    r = httpx.get(server.api("schema/"), headers=origin)
    assert "access-control-allow-origin" not in r.headers
    pre = httpx.options(server.api("parking-lots/"), headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers

    configured = server_factory(config='[api]\ncors_origins = ["https://sign.example.com"]\n')
    r = httpx.get(configured.api("schema/"), headers=origin)
    assert r.headers["access-control-allow-origin"] == "https://sign.example.com"
    r = httpx.get(configured.api("schema/"), headers={"Origin": "https://elsewhere.example.com"})
    assert "access-control-allow-origin" not in r.headers


def test_a_request_the_server_cannot_parse_gets_no_traceback(server):
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5) as s:
        s.sendall(b"POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00{]")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"Traceback" not in answer


def test_an_unexpected_error_is_a_500_without_a_traceback(tmp_path):
    """A bug in the service (not a ParkingError) still answers JSON, with nothing of the code in it."""
    import asyncio

    import parking_tui
    from parking_tui.api import create_app

    svc = parking_tui.open_service(tmp_path / "parking.json")

    def broken(token):
        raise RuntimeError("secret internals at /srv/parking/service.py line 42")

    svc.profile = broken

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(create_app(svc), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/api/auth/profile/", headers={"Authorization": "Token abc"})

    r = asyncio.run(ask())
    assert r.status_code == 500
    assert set(r.json()) == {"detail"}
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
