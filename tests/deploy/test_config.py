"""The config file: where it is, what it sets, what overrides it, and one clear line when it is wrong."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from parking_tui.cli import main as cli
from parking_tui.cli.config import DEFAULT_IDLE_SECONDS, ConfigError, load
from parking_tui.tui.app import make_app
from parking_tui.tui.screens.my_bookings import MyBookingsScreen

from .conftest import clean_env, run_cli

FULL = """
db = "{db}"
theme = "nord"
terminal = "entrance-1"
file_mode = 0o660
export_dir = "~/exports"

[kiosk]
enabled = true
idle_seconds = 90

[keys]
my_bookings = "f2"
"""


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_path_is_the_per_user_config_folder(isolated_config: Path):
    r = run_cli("config", "path", env=clean_env(XDG_CONFIG_HOME=str(isolated_config)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(isolated_config / "parking-tui" / "config.toml")


def test_config_path_follows_the_environment(tmp_path: Path):
    mine = tmp_path / "kiosk.toml"
    r = run_cli("config", "path", env=clean_env(PARKING_TUI_CONFIG=str(mine)))
    assert r.stdout.strip() == str(mine)


def test_every_key_is_read(tmp_path: Path, isolated_config: Path):
    db = tmp_path / "lot" / "parking.json"
    write_config(isolated_config / "parking-tui" / "config.toml", FULL.format(db=db))
    cfg = load(env={"XDG_CONFIG_HOME": str(isolated_config)})
    assert cfg.db == db
    assert cfg.theme == "nord" and cfg.terminal == "entrance-1"
    assert cfg.file_mode == 0o660
    assert cfg.kiosk is True and cfg.idle_seconds == 90
    assert cfg.keys == {"my_bookings": "f2"}
    assert cfg.export_dir == Path("~/exports").expanduser()
    assert cfg.service_options() == {"file_mode": 0o660, "terminal": "entrance-1"}


def test_no_file_means_defaults():
    cfg = load()
    assert cfg.source is None and cfg.db is None and cfg.kiosk is False
    assert cfg.idle_seconds == DEFAULT_IDLE_SECONDS


def test_environment_beats_file_and_flags_beat_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    conf = write_config(tmp_path / "c.toml", FULL.format(db=tmp_path / "file.json"))
    monkeypatch.setenv("PARKING_TUI_CONFIG", str(conf))
    monkeypatch.setenv("PARKING_TUI_DB", str(tmp_path / "env.json"))
    monkeypatch.setenv("PARKING_TUI_IDLE_SECONDS", "30")
    monkeypatch.setenv("PARKING_TUI_FILE_MODE", "640")
    monkeypatch.setenv("PARKING_TUI_TERMINAL", "env-terminal")
    parser = cli.build_parser()
    cfg = cli.settings(parser.parse_args([]))
    assert cfg.db == tmp_path / "env.json" and cfg.idle_seconds == 30
    assert cfg.file_mode == 0o640 and cfg.terminal == "env-terminal" and cfg.theme == "nord"
    cfg = cli.settings(
        parser.parse_args(["--db", str(tmp_path / "flag.json"), "--idle", "15", "--theme", "textual-light",
                           "--terminal", "flag-terminal", "--file-mode", "600"])
    )
    assert cfg.db == tmp_path / "flag.json" and cfg.idle_seconds == 15 and cfg.theme == "textual-light"
    assert cfg.terminal == "flag-terminal" and cfg.file_mode == 0o600
    assert cfg.kiosk is True  # from the file: nothing overrode it


def test_terminal_id_reaches_the_service(tmp_path: Path):
    parser = cli.build_parser()
    cfg = cli.settings(parser.parse_args(["--db", str(tmp_path / "p.json"), "--terminal", "entrance-1"]))
    svc = cli._open(cfg)
    assert svc.terminal == "entrance-1"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("db = \n", "not valid TOML"),
        ("idel_seconds = 5\n", "unknown key 'idel_seconds'"),
        ("[kiosk]\nidle_seconds = 1\n", "at least 5 seconds"),
        ("[kiosk]\nenabled = \"maybe\"\n", "expected true or false"),
        ("file_mode = \"rw-rw----\"\n", "not an octal mode"),
        ("file_mode = 0o066\n", "owner read and write"),
        ("[keys]\nquit = 3\n", "keys.quit must be a string"),
        ("theme = \"no-such-theme\"\n", "Unknown theme 'no-such-theme'"),
    ],
)
def test_bad_config_is_one_line_and_non_zero(tmp_path: Path, text: str, needle: str):
    conf = write_config(tmp_path / "bad.toml", text)
    r = run_cli("--db", str(tmp_path / "p.json"), env=clean_env(PARKING_TUI_CONFIG=str(conf)))
    assert r.returncode == 2, (r.returncode, r.stderr)  # exactly 2, as documented
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr


def test_a_named_config_file_must_exist(tmp_path: Path):
    r = run_cli("config", "show", "--config", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "does not exist" in r.stderr and r.stderr.count("\n") == 1


def test_config_show_prints_the_settings_in_effect(tmp_path: Path):
    conf = write_config(tmp_path / "c.toml", FULL.format(db=tmp_path / "p.json"))
    r = run_cli("config", "show", "--idle", "45", env=clean_env(PARKING_TUI_CONFIG=str(conf)))
    assert r.returncode == 0, r.stderr
    assert f"config file: {conf}" in r.stdout
    assert "kiosk: on, idle_seconds: 45" in r.stdout and "file_mode: 0o660" in r.stdout
    assert "keys.my_bookings: f2" in r.stdout


def test_file_mode_gives_the_group_the_data_files(tmp_path: Path):
    """With file_mode 660 the files are group-writable even under the usual umask 022."""
    conf = write_config(tmp_path / "c.toml", 'file_mode = "660"\n')
    db = tmp_path / "shared" / "parking.json"
    old = os.umask(0o022)
    try:
        r = run_cli("demo-data", "--db", str(db), env=clean_env(PARKING_TUI_CONFIG=str(conf)), timeout=120)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    files = [p for p in db.parent.iterdir() if p.is_file()]
    assert db in files and len(files) >= 3
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660, path


async def test_key_remaps_and_theme_reach_the_app(svc, driver_token):
    app = make_app(svc, session_token=driver_token, theme="nord", keymap={"my_bookings": "f2"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, MyBookingsScreen)


def test_config_error_type_is_one_line():
    with pytest.raises(ConfigError) as info:
        load(env={"PARKING_TUI_IDLE_SECONDS": "soon"})
    assert "\n" not in str(info.value)
