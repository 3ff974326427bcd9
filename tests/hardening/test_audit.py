"""The audit log: every state change with when, who, from where, what (ids, before -> after); a booking traced
by its code; acknowledged writes logged even under SIGKILL; only ever appended; a torn last line harmless."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import parking_tui
from parking_tui.domain import AuthenticationError
from parking_tui.storage.tinydb.doctor import diagnose

from .conftest import PASSWORD, build_world, open_svc

pytestmark = pytest.mark.slow


def events(world, **filters) -> list[dict]:
    return world.svc.audit_log(world.admin, limit=10_000, **filters)


def test_every_state_change_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("PARKING_TUI_TERMINAL", "kiosk-7")
    world = build_world(tmp_path / "parking.json")
    svc, w = world.svc, world
    with pytest.raises(AuthenticationError):
        svc.login("alice", "wrong-password")
    b1 = w.book(w.alice, 0, start_min=0)
    svc.check_in(w.alice, b1.id)
    svc.check_out(w.alice, b1.id)
    b2 = w.book(w.bob, 1)
    svc.extend_booking(w.bob, b2.id, b2.end_time + timedelta(minutes=30))
    svc.cancel_booking(w.bob, b2.id)
    b3 = w.book(w.alice, 2, start_min=60)
    svc.set_slot_status(w.admin, w.slots[0].id, "out_of_service")
    svc.update_profile(w.alice, phone_number="+44 20 7946 0002")
    svc.set_admin(w.admin, "bob", True)
    svc.logout(w.bob)
    w.clock.advance(minutes=90)  # b3 was never claimed: the system expires it at the next write to the lot
    svc.set_slot_status(w.admin, w.slots[0].id, "available")

    log = events(world)
    by_op: dict[str, list[dict]] = {}
    for e in log:
        by_op.setdefault(e["op"], []).append(e)
        assert {"at", "user", "terminal", "op"} <= set(e), e
        assert e["terminal"] == "kiosk-7"
        datetime.fromisoformat(e["at"])
    expected = {
        "register", "create_admin", "login", "login_failed", "logout", "create_lot", "add_slots",
        "set_slot_status", "create_booking", "check_in", "check_out", "cancel", "extend", "expire",
        "update_profile", "set_admin",
    }
    assert expected <= set(by_op), expected - set(by_op)
    assert {e["target"] for e in by_op["register"]} == {"alice", "bob"}
    assert by_op["login_failed"][0]["user"] == "alice"
    assert by_op["create_lot"][0]["lot_id"] == world.lot.id and by_op["create_lot"][0]["name"] == "Central"
    assert by_op["add_slots"][0]["slots"] == {s.slot_number: s.id for s in world.slots}
    oos = by_op["set_slot_status"][0]
    assert (oos["slot_id"], oos["before"], oos["after"], oos["user"]) == (w.slots[0].id, "available", "out_of_service", "admin")
    created = by_op["create_booking"][0]
    assert (created["booking_id"], created["code"], created["user"], created["after"]) == (b1.id, b1.confirmation_code, "alice", "reserved")
    assert (by_op["check_in"][0]["before"], by_op["check_in"][0]["after"]) == ("reserved", "checked_in")
    assert (by_op["check_out"][0]["before"], by_op["check_out"][0]["after"]) == ("checked_in", "completed")
    assert (by_op["cancel"][0]["booking_id"], by_op["cancel"][0]["after"]) == (b2.id, "cancelled")
    ext = by_op["extend"][0]
    assert datetime.fromisoformat(ext["end_after"]) - datetime.fromisoformat(ext["end_before"]) == timedelta(minutes=30)
    expired = by_op["expire"][0]
    assert (expired["user"], expired["code"], expired["before"], expired["after"]) == ("system", b3.confirmation_code, "reserved", "expired")
    profile = by_op["update_profile"][0]
    assert profile["before"]["phone_number"] == "" and profile["after"]["phone_number"] == "+44 20 7946 0002"
    role = by_op["set_admin"][0]
    assert (role["target"], role["before"], role["after"]) == ("bob", False, True)
    assert by_op["logout"][0]["user"] == "bob"


def test_terminal_id_from_the_environment(monkeypatch):
    monkeypatch.setenv("PARKING_TUI_TERMINAL", "entrance-1")
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50022 10.0.0.2 22")
    assert parking_tui.terminal_id() == "entrance-1"
    monkeypatch.delenv("PARKING_TUI_TERMINAL")
    assert parking_tui.terminal_id() == "ssh:203.0.113.9"
    monkeypatch.delenv("SSH_CONNECTION")
    assert parking_tui.terminal_id() == "local" or parking_tui.terminal_id().startswith("tty:")


def test_a_booking_traced_by_its_code(world):
    b = world.book(world.alice, 0, start_min=0)
    world.book(world.bob, 1, start_min=0)  # another booking: not in the trace
    world.svc.check_in(world.admin, b.id)
    world.clock.advance(minutes=70)
    world.svc.check_out(world.alice, b.id)
    trace = events(world, code=b.confirmation_code.lower().replace("-", ""))
    assert [(e["op"], e["user"]) for e in trace] == [
        ("create_booking", "alice"),
        ("check_in", "admin"),
        ("check_out", "alice"),
    ]
    assert {e["booking_id"] for e in trace} == {b.id}


KILLED_WRITER = """
import parking_tui
from tests.hardening.conftest import FrozenClock, cheap_hasher, PASSWORD
svc = parking_tui.open_service({path!r}, clock=FrozenClock(), password_hasher=cheap_hasher())
token = svc.login("alice", PASSWORD)
n = 0
while True:
    n += 1
    svc.update_profile(token, phone_number=f"+1 555 {{n:07d}}")
    print(f"ack {{n}}", flush=True)
"""


def test_acknowledged_writes_are_in_the_log_after_sigkill(world, child):
    writer = child(KILLED_WRITER.format(path=str(world.path)))
    for _ in range(25):
        last = writer.expect("ack")
    writer.kill()
    acked = int(last.split()[1])
    phones = {
        e["after"]["phone_number"] for e in events(world, op="update_profile", username="alice")
    }
    assert {f"+1 555 {n:07d}" for n in range(1, acked + 1)} <= phones
    assert open_svc(world.path).profile(world.alice).phone_number >= f"+1 555 {acked:07d}"
    assert [f for f in diagnose(world.path, now=world.clock.now) if f.level == "error"] == []


def test_the_log_is_only_ever_appended(world):
    path = world.svc.store.files.audit_path
    seen = path.read_bytes()
    for i in range(12):
        b = world.book(world.alice, i % 3, start_min=60 + 120 * i)
        with pytest.raises(AuthenticationError):
            world.svc.login("bob", "wrong")
        world.svc.cancel_booking(world.alice, b.id)
        now = path.read_bytes()
        assert now.startswith(seen) and len(now) > len(seen)
        seen = now


def test_a_torn_last_line_is_skipped_and_reported_as_info(world):
    path = world.svc.store.files.audit_path
    count = len(events(world))
    with open(path, "ab") as fh:
        fh.write(b'{"at":"2030-06-15T10:00:00.000000+00:00","user":"ali')  # a crash mid-append
    assert len(events(world)) == count
    findings = diagnose(world.path, now=world.clock.now)
    torn = [f for f in findings if "cut short" in f.what]
    assert [f.level for f in torn] == ["info"]
    assert [f for f in findings if f.level != "info"] == []
    # The next write starts on a line of its own: its event is not glued to the fragment and lost.
    world.svc.set_slot_status(world.admin, world.slots[2].id, "occupied")
    after = events(world)
    assert len(after) == count + 1 and after[-1]["op"] == "set_slot_status"
    assert [f.level for f in diagnose(world.path, now=world.clock.now) if f.level != "info"] == []
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and json.loads(lines[-2])["op"] == "set_slot_status"
