"""Operator tools are the store's (``parking_tui.storage.<store>.operations``), reached by the CLI by scheme."""

from __future__ import annotations

import os
import stat

import pytest

from parking_tui import open_service
from parking_tui.cli.main import main
from parking_tui.cli.config import ConfigError
from parking_tui.domain.ports import AuditFilter
from parking_tui.storage.tinydb import operations


@pytest.fixture
def shared_data(tmp_path, monkeypatch):
    """A group-shared install: every data file 0660."""
    for key in [k for k in os.environ if k.startswith("PARKING_TUI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "data" / "parking.json"
    svc = open_service(db, file_mode=0o660, backups=0)
    svc.register("ann", "ann@example.com", "correct-horse")
    svc.store.close()
    return db


def _modes(folder):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.glob("parking*.json")}


def test_restore_keeps_the_modes_the_data_files_have(shared_data, capsys):
    assert set(_modes(shared_data.parent).values()) == {0o660}
    assert main(["backup", "--db", str(shared_data)]) == 0
    snap = operations(shared_data).backups()[-1]
    assert main(["restore", snap, "--yes", "--db", str(shared_data)]) == 0
    assert set(_modes(shared_data.parent).values()) == {0o660}, "a restore must not take the group's access away"


def test_a_bad_file_mode_in_the_environment_stops_operator_commands(shared_data, monkeypatch):
    monkeypatch.setenv("PARKING_TUI_FILE_MODE", "rw-rw----")
    assert main(["backup", "--db", str(shared_data)]) == 2
    monkeypatch.delenv("PARKING_TUI_FILE_MODE")
    from parking_tui.cli import ops as ops_cli

    monkeypatch.setattr(ops_cli, "_MODE", [None])
    monkeypatch.setenv("PARKING_TUI_FILE_MODE", "999")
    with pytest.raises(ConfigError):
        ops_cli._file_mode()


def test_operations_read_the_audit_log_through_the_store(shared_data):
    ops = operations(shared_data, file_mode=0o660)
    events = ops.audit(AuditFilter(op="register"), 10)
    assert [(e.user, e.op) for e in events] == [("ann", "register")]
    assert ops.audit(AuditFilter(user="nobody"), 10) == []
    assert all(f.level == "info" for f in ops.doctor())


def test_the_cli_builds_no_store_itself():
    import inspect

    from parking_tui.cli import ops as ops_cli

    source = inspect.getsource(ops_cli)
    assert "TinyStore" not in source and "storage.store" not in source and "tinydb.store" not in source


def test_opening_does_not_change_the_process_umask(shared_data):
    from parking_tui.cli.main import _open
    from parking_tui.cli.config import Config

    before = os.umask(0o022)
    try:
        svc = _open(Config(db=shared_data, file_mode=0o660))
        svc.store.close()
        after = os.umask(0o022)
        assert after == 0o022
    finally:
        os.umask(before)
