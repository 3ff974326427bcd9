"""Security: sessions expire and die at logout, lockout outlives the process, argon2 no weaker than the library's
defaults, file permissions, and no secret in the audit log, an error message or a log line."""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta

import argon2
import pytest

import parking_tui
from parking_tui.domain import AuthenticationError, ParkingError, ParkingService
from parking_tui.domain.service import LOCKOUT_THRESHOLD, SESSION_TTL

from .conftest import PASSWORD, FrozenClock, build_world, open_svc


def test_tokens_expire_and_die_at_logout(world):
    token = world.svc.login("alice", PASSWORD)
    world.clock.advance(seconds=SESSION_TTL.total_seconds() - 1)
    assert world.svc.profile(token).username == "alice"
    world.clock.advance(seconds=1)
    with pytest.raises(AuthenticationError, match="expired"):
        world.svc.profile(token)
    fresh = world.svc.login("alice", PASSWORD)
    world.svc.logout(fresh)
    with pytest.raises(AuthenticationError):
        world.svc.my_bookings(fresh)
    with pytest.raises(AuthenticationError):  # in another process too
        open_svc(world.path, world.clock).my_bookings(fresh)


def test_lockout_survives_a_restart(world):
    for _ in range(LOCKOUT_THRESHOLD):
        with pytest.raises(AuthenticationError):
            world.svc.login("bob", "not-the-password")
    world.svc.store.close()
    restarted = open_svc(world.path, world.clock)
    with pytest.raises(AuthenticationError, match="Try again in"):
        restarted.login("bob", PASSWORD)  # the right password, but locked
    world.clock.advance(minutes=6)
    assert open_svc(world.path, world.clock).login("bob", PASSWORD)


def test_default_argon2_parameters_are_at_least_the_librarys(tmp_path):
    library = argon2.PasswordHasher()
    svc = parking_tui.open_service(tmp_path / "parking.json", clock=FrozenClock())  # the real default hasher
    hasher = svc._hasher  # noqa: SLF001
    assert hasher.time_cost >= library.time_cost
    assert hasher.memory_cost >= library.memory_cost
    assert hasher.parallelism >= library.parallelism
    assert hasher.hash_len >= library.hash_len and hasher.salt_len >= library.salt_len
    assert hasher.type is argon2.Type.ID
    svc.register("carol", "carol@example.com", PASSWORD)
    stored = next(svc.store.files.view().__enter__().users())["password_hash"]
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) >= (
        library.time_cost,
        library.memory_cost,
        library.parallelism,
    )
    assert params.memory_cost >= library.memory_cost and params.parallelism >= library.parallelism


def _modes(folder) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("mode", [None, 0o660])
def test_data_lock_and_audit_files_follow_the_file_mode(tmp_path, mode):
    old_umask = os.umask(0o022)  # the common default; a group-shared 0660 must not come out 0640
    try:
        options = {} if mode is None else {"file_mode": mode}
        world = build_world(tmp_path / "parking.json", **options)
        world.book(world.alice)
        world.svc.cancel_booking(world.alice, world.svc.my_bookings(world.alice)[0].id)  # an archive file too
    finally:
        os.umask(old_umask)
    modes = _modes(tmp_path)
    expected = 0o600 if mode is None else mode
    names = set(modes)
    assert {"parking.json", "parking.json.lock", "parking.audit.jsonl", "parking.users.json"} <= names
    assert any(".archive-" in n for n in names) and any(".lot-" in n for n in names)
    assert modes == {n: expected for n in names}, {n: oct(m) for n, m in modes.items()}


def test_no_secret_in_audit_errors_or_logs(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secret_password = "Sup3r-Secret-Pa55word"
    world = build_world(tmp_path / "parking.json")
    svc: ParkingService = world.svc
    svc.register("dora", "dora@example.com", secret_password)
    token = svc.login("dora", secret_password)
    messages: list[str] = []

    def attempt(fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except ParkingError as exc:
            while exc is not None:
                messages.extend([str(exc), repr(exc), repr(exc.args)])
                exc = exc.__cause__ or exc.__context__
        else:
            messages.append("")

    attempt(svc.register, "dora", "dora@example.com", secret_password)  # taken
    attempt(svc.register, "dora2", "dora2@example.com", secret_password[:5])  # too short
    attempt(svc.login, "dora", secret_password + "x")
    attempt(svc.login, "nobody", secret_password)
    attempt(svc.set_slot_status, token, world.slots[0].id, "occupied")  # not an admin
    attempt(svc.create_booking, token, 999, *world.window())
    b = svc.create_booking(token, world.slots[1].id, *world.window())
    attempt(svc.check_out, token, b.id)
    attempt(svc.update_profile, token, email="no at sign")
    svc.update_profile(token, phone_number="+44 20 7946 0001")
    svc.logout(token)
    attempt(svc.profile, token)
    attempt(svc.logout, token)
    attempt(svc.create_lot, token + "x", "Lot", "Here", 3)
    for _ in range(LOCKOUT_THRESHOLD + 1):
        attempt(svc.login, "dora", "wrong-" + secret_password)
    assert len(messages) > 20
    stored_hash = next(u for u in svc.store.files.view().__enter__().users() if u["username"] == "dora")["password_hash"]
    import hashlib

    secrets = {
        "password": secret_password,
        "token": token,
        "token hash": hashlib.sha256(token.encode()).hexdigest(),
        "password hash": stored_hash,
        "hash digest": stored_hash.rsplit("$", 1)[1],
    }
    audit = svc.store.files.audit_path.read_text()
    assert audit.count("\n") >= 10
    captured = capsys.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err
    for what, value in secrets.items():
        assert value not in audit, f"{what} in the audit log"
        assert not any(value in m for m in messages), f"{what} in an error message"
        assert value not in logs, f"{what} in the log output"
