"""Settings from the environment and the config file, as the real program takes them.

* ``PARKING_TUI_KIOSK`` and ``PARKING_TUI_THEME`` reach the settings (``config show``) and the running program
  (a real terminal: tmux), and beat the config file;
* a ``[keys]`` remap in the config file works in the running program;
* a bad value in the config file or the environment exits with status 2, exactly, and one line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parking_tui.cli.demo import ensure_demo_data

from .conftest import cheap_hasher, clean_env, run_cli

TMUX = shutil.which("tmux")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_kiosk_and_theme_from_the_environment_beat_the_file(tmp_path: Path):
    conf = write(tmp_path / "c.toml", 'theme = "nord"\n[kiosk]\nenabled = false\n')
    r = run_cli("config", "show", env=clean_env(PARKING_TUI_CONFIG=str(conf)))
    assert r.returncode == 0, r.stderr
    assert "kiosk: off" in r.stdout and "theme: nord" in r.stdout
    r = run_cli(
        "config", "show",
        env=clean_env(PARKING_TUI_CONFIG=str(conf), PARKING_TUI_KIOSK="yes", PARKING_TUI_THEME="textual-light"),
    )
    assert r.returncode == 0, r.stderr
    assert "kiosk: on" in r.stdout and "theme: textual-light" in r.stdout
    conf_on = write(tmp_path / "on.toml", "[kiosk]\nenabled = true\n")
    r = run_cli("config", "show", env=clean_env(PARKING_TUI_CONFIG=str(conf_on), PARKING_TUI_KIOSK="0"))
    assert "kiosk: off" in r.stdout


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PARKING_TUI_KIOSK": "maybe"}, "PARKING_TUI_KIOSK"),
        ({"PARKING_TUI_THEME": "no-such-theme"}, "no-such-theme"),
        ({"PARKING_TUI_IDLE_SECONDS": "soon"}, "PARKING_TUI_IDLE_SECONDS"),
        ({"PARKING_TUI_FILE_MODE": "rwx"}, "PARKING_TUI_FILE_MODE"),
    ],
)
def test_a_bad_environment_value_exits_2_with_one_line(tmp_path: Path, env, needle):
    r = run_cli("--db", str(tmp_path / "p.json"), env=clean_env(**env))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert needle in r.stderr


@pytest.mark.parametrize(
    "text", ["db = \n", "idel_seconds = 5\n", "[kiosk]\nidle_seconds = 1\n", "theme = \"no-such-theme\"\n"]
)
def test_a_bad_config_file_exits_2(tmp_path: Path, text: str):
    conf = write(tmp_path / "bad.toml", text)
    for args in (["--db", str(tmp_path / "p.json")], ["config", "show"], ["serve", "--db", str(tmp_path / "p.json")]):
        r = run_cli(*args, env=clean_env(PARKING_TUI_CONFIG=str(conf)))
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------ a real terminal


class Tmux:
    def __init__(self, socket_path: Path) -> None:
        self.base = ["tmux", "-S", str(socket_path)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear within {timeout} s; the screen:\n{self.screen()}")

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "t", "-l", text)

    def key(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)


@pytest.fixture
def terminal(tmp_path: Path):
    """``terminal(env)``: the real program on demo data in a 100x30 tmux window, with ``env``."""
    if not TMUX:
        pytest.skip("needs tmux (.ci/run installs it)")
    db = tmp_path / "data" / "parking.json"
    import parking_tui

    ensure_demo_data(parking_tui.open_service(db, password_hasher=cheap_hasher()))
    tmux = Tmux(tmp_path / "tmux.sock")

    def start(**env: str) -> Tmux:
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        command = f"env {exports} {sys.executable} -m parking_tui --db {db}"
        r = tmux.run("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command)
        assert r.returncode == 0, r.stderr
        return tmux

    yield start
    tmux.run("kill-server")


def _sign_in(tmux: Tmux, username: str, password: str) -> None:
    tmux.wait_for("Username")
    tmux.type(username)
    tmux.key("Enter")
    tmux.type(password)
    tmux.key("Enter")


def test_kiosk_from_the_environment_in_a_real_terminal(terminal, tmp_path: Path):
    """PARKING_TUI_KIOSK=1: Ctrl+Q does not leave, and an admin's screen offers "Quit kiosk", which does."""
    xdg = tmp_path / "xdg"
    tmux = terminal(PARKING_TUI_KIOSK="1", XDG_CONFIG_HOME=str(xdg), HOME=str(tmp_path))
    tmux.wait_for("Username")
    tmux.key("C-q")
    time.sleep(1.0)
    assert "Username" in tmux.screen()  # still there: a kiosk ignores Ctrl+Q
    _sign_in(tmux, "admin", "admin1234")
    tmux.wait_for("Lots")
    tmux.key("F4")  # letters on the lot list go to its filter
    tmux.wait_for("Quit kiosk")
    tmux.key("F10")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.run("has-session", "-t", "t").returncode == 0:
        time.sleep(0.2)
    assert tmux.run("has-session", "-t", "t").returncode != 0, "the kiosk did not quit:\n" + tmux.screen()


def test_not_a_kiosk_without_the_environment(terminal, tmp_path: Path):
    tmux = terminal(XDG_CONFIG_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    tmux.wait_for("Username")
    tmux.key("C-q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.run("has-session", "-t", "t").returncode == 0:
        time.sleep(0.2)
    assert tmux.run("has-session", "-t", "t").returncode != 0, "Ctrl+Q did not quit:\n" + tmux.screen()


def test_a_keys_remap_in_the_config_file_works_in_a_real_terminal(terminal, tmp_path: Path):
    conf = write(tmp_path / "c.toml", '[keys]\nmy_bookings = "f2"\n')
    tmux = terminal(PARKING_TUI_CONFIG=str(conf), XDG_CONFIG_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    _sign_in(tmux, "driver", "driver1234")
    tmux.wait_for("Lots")
    tmux.key("F2")
    tmux.wait_for("My bookings")
