"""Keys that arrive together (a laggy SSH link, a password manager's auto-type) land where they would one by one.

The pilot tests hand the app every key of a burst before it handles the first (``pilot.press`` waits after
each key, so it cannot show this). The tmux tests type into the real program in a real terminal, all keys in
one write.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from parking_tui.tui.screens.lots import LotBrowserScreen

from .helpers import wait_until

SIZE = (80, 24)


def burst(app, keys: list[str]) -> None:
    """Post every key to the app at once, as the terminal driver does for one read of many bytes."""
    for key in keys:
        character = {"tab": "\t", "enter": "\r"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


class TestBurstsInPilot:
    async def test_username_tab_password_enter_in_one_burst_signs_in(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            burst(app, [*"driver", "tab", *"driver1234", "enter"])
            signed_in = await wait_until(pilot, lambda: isinstance(app.screen, LotBrowserScreen))
            assert signed_in, f"username field holds {app.screen.query_one('#login-username', Input).value!r}"
            assert app.profile is not None and app.profile.username == "driver"
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()

    async def test_keys_wait_for_a_slow_step_before_them(self, app_factory, monkeypatch):
        """On a loaded machine (or while the store opens behind the sign-in screen) Enter on Username may take a
        good while to move the focus: the password typed after it still waits for that, not only half a second."""
        from textual import on

        from parking_tui.tui.app import ParkingApp
        from parking_tui.tui.screens.login import LoginScreen

        class SlowToMove(LoginScreen):
            @on(Input.Submitted, "#login-username")
            async def _username_entered(self) -> None:
                await asyncio.sleep(0.9)
                super()._username_entered()

        monkeypatch.setattr(ParkingApp, "get_default_screen", lambda app: SlowToMove())
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            burst(app, [*"driver", "enter", *"driver1234", "enter"])
            signed_in = await wait_until(pilot, lambda: isinstance(app.screen, LotBrowserScreen), timeout=15)
            assert signed_in, f"username field holds {app.screen.query_one('#login-username', Input).value!r}"
            await app.workers.wait_for_complete()
            await pilot.pause()

    async def test_fields_hold_what_was_typed_for_them(self, app_factory):
        app = app_factory()
        async with app.run_test(size=SIZE) as pilot:
            burst(app, [*"driver", "tab", *"secret"])
            screen = app.screen
            await wait_until(pilot, lambda: screen.query_one("#login-password", Input).value == "secret")
            assert screen.query_one("#login-username", Input).value == "driver"
            assert screen.query_one("#login-password", Input).value == "secret"

    async def test_fast_typing_on_the_lot_list_fills_the_filter(self, app_factory, driver_token):
        app = app_factory(driver_token)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, LotBrowserScreen)
            burst(app, list("spare"))
            box = app.screen.query_one("#lot-filter", Input)
            await wait_until(pilot, lambda: box.value == "spare")
            assert box.value == "spare"
            assert isinstance(app.screen, LotBrowserScreen)  # "p" did not open Profile


# ------------------------------------------------------------------------------------------ a real terminal

TMUX = shutil.which("tmux")


class Tmux:
    """A tmux server of the test's own (its own socket), one window, read with capture-pane."""

    def __init__(self, socket_path: Path) -> None:
        self.base = ["tmux", "-S", str(socket_path)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear within {timeout} s; the screen:\n{self.screen()}")


def start_program(tmp_path: Path, db_path: Path) -> Tmux:
    """The real program on the demo data, starting in a tmux window of 100x30 (not waited for)."""
    if not TMUX:
        pytest.skip("needs tmux (.ci/run installs it)")
    tmux = Tmux(tmp_path / "tmux.sock")
    command = f"{sys.executable} -m parking_tui --db {db_path} --demo"
    r = tmux.run("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command)
    assert r.returncode == 0, r.stderr
    return tmux


@pytest.fixture
def terminal(tmp_path: Path, svc, db_path: Path):
    """The real program on the demo data, in a tmux window of 100x30, its sign-in screen up."""
    tmux = start_program(tmp_path, db_path)
    try:
        tmux.wait_for("Username")
        time.sleep(0.3)
        yield tmux
    finally:
        tmux.run("kill-server")


@pytest.mark.slow
class TestBurstsInATerminal:
    def test_sign_in_typed_in_one_send_keys(self, terminal: Tmux):
        terminal.run("send-keys", "-t", "t", "driver", "Tab", "driver1234", "Enter")
        screen = terminal.wait_for("Choose a lot")
        assert "driverdriver1234" not in screen

    def test_sign_in_as_one_string_with_a_tab(self, terminal: Tmux):
        """A password manager's auto-type: one write holding a tab and a carriage return."""
        terminal.run("send-keys", "-t", "t", "-l", "driver\tdriver1234\r")
        terminal.wait_for("Choose a lot")
        terminal.run("send-keys", "-t", "t", "-l", "spare")
        screen = terminal.wait_for("spare", timeout=5)
        assert "Profile" not in screen.splitlines()[0]


@pytest.mark.slow
class TestKeysTypedWhileTheProgramStarts:
    """Keys sent before the program has the terminal in raw mode (an attendant typing ahead over a slow SSH
    link, a password manager firing as the window opens): the terminal turns Enter's carriage return into a
    line feed, and the sign-in must still go through."""

    def test_sign_in_typed_before_the_screen_is_up(self, tmp_path: Path, svc, db_path: Path):
        tmux = start_program(tmp_path, db_path)
        try:
            assert "Username" not in tmux.screen()  # typed ahead of the sign-in screen
            tmux.run("send-keys", "-t", "t", "driver", "Tab", "driver1234", "Enter")
            tmux.wait_for("Choose a lot")
        finally:
            tmux.run("kill-server")


class TestLettersOnTheLotList:
    async def test_every_letter_goes_to_the_filter_even_b_p_a(self, app_factory, admin_token):
        app = app_factory(admin_token)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.screen.query_one("#lot-list").has_focus
            await pilot.press(*"bahnpa")
            await pilot.pause()
            assert isinstance(app.screen, LotBrowserScreen)
            assert app.screen.query_one("#lot-filter", Input).value == "bahnpa"
            await pilot.press("escape", "escape", "f2")
            await pilot.pause()
            assert type(app.screen).__name__ == "MyBookingsScreen"
