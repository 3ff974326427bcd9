"""``parking-tui api``: its settings (config file, environment, flags) and one clear line when they are wrong."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from parking_tui.cli import main as cli
from parking_tui.cli.config import ConfigError, load

from .conftest import ROOT, clean_env


def settings_for(tmp_path: Path, config: str, *argv: str, env: dict[str, str] | None = None):
    path = tmp_path / "config.toml"
    path.write_text(config)
    args = cli.build_parser().parse_args(["api", "--config", str(path), *argv])
    return cli.settings(args) if env is None else _with_env(args, env)


def _with_env(args, env):
    import os

    old = dict(os.environ)
    os.environ.update(env)
    try:
        return cli.settings(args)
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_the_api_table_and_the_flags_over_it(tmp_path: Path):
    cfg = settings_for(
        tmp_path,
        'lock_timeout = 1.5\n[api]\nhost = "0.0.0.0"\nport = 9000\nworkers = 3\ncors_origins = ["https://sign.example.com"]\n',
    )
    assert (cfg.api_host, cfg.api_port, cfg.api_workers) == ("0.0.0.0", 9000, 3)
    assert cfg.api_cors_origins == ("https://sign.example.com",)
    assert cfg.lock_timeout == 1.5
    cfg = settings_for(tmp_path, '[api]\nport = 9000\n', "--port", "9100", "--workers", "2", "--host", "::1")
    assert (cfg.api_host, cfg.api_port, cfg.api_workers) == ("::1", 9100, 2)
    defaults = settings_for(tmp_path, "")
    assert (defaults.api_host, defaults.api_port, defaults.api_workers, defaults.api_cors_origins) == (
        "127.0.0.1", 8000, 1, (),
    )


def test_lock_timeout_from_the_file_and_the_environment(tmp_path: Path):
    assert settings_for(tmp_path, "lock_timeout = 2\n").service_options()["lock_timeout"] == 2.0
    cfg = settings_for(tmp_path, "lock_timeout = 2\n", env={"PARKING_TUI_LOCK_TIMEOUT": "0.5"})
    assert cfg.lock_timeout == 0.5


@pytest.mark.parametrize(
    "config, words",
    [
        ("[api]\nport = 70000\n", "api.port"),
        ('[api]\nport = "eighty"\n', "api.port"),
        ("[api]\nworkers = 0\n", "workers"),
        ("[api]\nthreads = 4\n", "api.threads"),
        ("[api]\ncors_origins = \"*\"\n", "cors_origins"),
        ("api = 5\n", "api must be a table"),
        ("lock_timeout = -1\n", "lock_timeout"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path: Path, config: str, words: str):
    path = tmp_path / "config.toml"
    path.write_text(config)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args],
        cwd=ROOT, env=clean_env(XDG_CONFIG_HOME=str(tmp_path)), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_bad_flags_and_a_taken_port_are_one_line(tmp_path: Path):
    db = str(tmp_path / "parking.json")
    r = _run("api", "--db", db, "--port", "0", tmp_path=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--port" in r.stderr
    r = _run("api", "--db", db, "--workers", "many", tmp_path=tmp_path)
    assert r.returncode == 2 and "--workers" in r.stderr and "Traceback" not in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _run("api", "--db", db, "--port", str(port), tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("parking-tui: cannot listen on 127.0.0.1:") and r.stderr.count("\n") == 1


def test_config_show_prints_the_api_settings(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[api]\nport = 9000\ncors_origins = ["https://a.example.com"]\n')
    r = _run("config", "show", "--config", str(cfg), tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "api: 127.0.0.1:9000, workers: 1, cors_origins: https://a.example.com" in r.stdout


def test_serve_moved_off_the_api_port():
    args = cli.build_parser().parse_args(["serve"])
    assert args.port == cli.SERVE_PORT != 8000


def test_a_damaged_data_file_stops_it_with_one_line(tmp_path: Path):
    db = tmp_path / "parking.json"
    db.write_text("{ this is not json")
    r = _run("api", "--db", str(db), "--port", "8999", tmp_path=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("parking-tui: ") and "Traceback" not in r.stderr
    assert db.read_text() == "{ this is not json"  # left exactly as found


def test_the_readmes_config_example_is_a_valid_config(tmp_path: Path):
    import re

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block, "the README's config example is missing"
    path = tmp_path / "config.toml"
    path.write_text(block.group(1))
    cfg = load(path)
    assert (cfg.api_host, cfg.api_port, cfg.api_workers) == ("127.0.0.1", 8000, 1)
    assert cfg.lock_timeout == 5
