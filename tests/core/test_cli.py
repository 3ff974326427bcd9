"""The command line: demo data (idempotent), admin create, and one-line errors without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import PermissionDenied

from .conftest import cheap_hasher

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _counts(db: Path):
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
    admin = svc.login("admin", "admin1234")
    lots = svc.list_lots(admin)
    slots = sum(len(svc.lot_slots(admin, lot.id)) for lot in lots)
    users = [u.username for u in svc.list_users(admin)]
    bookings = len(svc.list_reservations(admin))
    return len(lots), slots, users, bookings


def test_demo_data_is_idempotent(tmp_path):
    db = tmp_path / "demo" / "parking.json"
    first = run_cli("demo-data", "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "Demo data written" in first.stdout
    counts = _counts(db)
    lots, slots, users, bookings = counts
    assert lots == 3
    assert 100 <= slots <= 140
    assert {"admin", "driver"} <= set(users)
    assert bookings >= 3
    second = run_cli("demo-data", "--db", str(db))
    assert second.returncode == 0, second.stderr
    assert "already present" in second.stdout
    assert _counts(db) == counts
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
    driver = svc.login("driver", "driver1234")
    assert svc.profile(driver).is_admin is False
    with pytest.raises(PermissionDenied):
        svc.list_reservations(driver)


def test_db_from_environment(tmp_path):
    db = tmp_path / "env.json"
    r = run_cli("demo-data", env={"PARKING_TUI_DB": str(db)})
    assert r.returncode == 0, r.stderr
    assert db.exists()


def test_admin_create_with_env_password(tmp_path):
    db = tmp_path / "parking.json"
    r = run_cli("admin", "create", "boss", "--email", "boss@example.com", "--db", str(db),
                env={"PARKING_TUI_ADMIN_PASSWORD": "boss-password"})
    assert r.returncode == 0, r.stderr
    assert "boss" in r.stdout
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
    assert svc.profile(svc.login("boss", "boss-password")).is_admin is True
    again = run_cli("admin", "create", "boss", "--email", "boss@example.com", "--db", str(db),
                    env={"PARKING_TUI_ADMIN_PASSWORD": "boss-password"})
    _assert_one_line_error(again)
    assert "taken" in again.stderr


def _assert_one_line_error(r: subprocess.CompletedProcess) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("parking-tui: ")


@pytest.mark.parametrize(
    ("username", "password", "needle"),
    [("x", "boss-password", "Username"), ("boss", "short", "Password")],
)
def test_admin_create_bad_input(tmp_path, username, password, needle):
    db = tmp_path / "parking.json"
    r = run_cli("admin", "create", username, "--email", "boss@example.com", "--db", str(db),
                env={"PARKING_TUI_ADMIN_PASSWORD": password})
    _assert_one_line_error(r)
    assert needle in r.stderr


def test_admin_create_without_terminal_or_env(tmp_path):
    r = run_cli("admin", "create", "boss", "--email", "boss@example.com", "--db", str(tmp_path / "p.json"))
    _assert_one_line_error(r)
    assert "PARKING_TUI_ADMIN_PASSWORD" in r.stderr


def test_damaged_data_file_one_line_and_untouched(tmp_path):
    db = tmp_path / "parking.json"
    assert run_cli("demo-data", "--db", str(db)).returncode == 0
    db.write_bytes(b'{"meta": {"1": ')
    for args in (("demo-data", "--db", str(db)), ("--db", str(db))):
        r = run_cli(*args)
        _assert_one_line_error(r)
        assert str(db) in r.stderr
    assert db.read_bytes() == b'{"meta": {"1": '


def test_help_on_every_command():
    for args in ((), ("demo-data",), ("admin",), ("admin", "create"), ("run",)):
        r = run_cli(*args, "--help")
        assert r.returncode == 0, (args, r.stderr)
        assert "usage:" in r.stdout


def test_main_in_process_returns_exit_code(tmp_path, capsys):
    from parking_tui.cli.main import main

    db = tmp_path / "parking.json"
    db.write_bytes(b"\x00\x00\x00")
    assert main(["demo-data", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "zero bytes" in err
