"""Fixtures for the deployment tests: kiosk, config file, SSH, browser.

The TUI tests' fixtures are reused as they are (a FIXED clock, demo data, a cheap argon2 hasher, seeded
confirmation codes, no cursor blink, Europe/Berlin). On top: no test reads the real user's config file or
``PARKING_TUI_*`` variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.conftest import (  # noqa: F401  (fixtures, reused as they are)
    PASSWORDS,
    T0,
    FrozenClock,
    admin_token,
    cheap_hasher,
    clock,
    db_path,
    driver_token,
    fixed_codes,
    local_zone,
    lots,
    no_cursor_blink,
    open_svc,
    svc,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own, and none of the caller's ``PARKING_TUI_*`` settings."""
    home = tmp_path_factory.mktemp("xdg-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("PARKING_TUI_"):
            monkeypatch.delenv(name)
    return home


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a ``parking-tui`` subprocess: no ``PARKING_TUI_*`` from outside, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m parking_tui ARGS`` with no terminal and a bounded run time."""
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args],
        cwd=ROOT,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def console_script() -> str:
    """The ``parking-tui`` script of this interpreter's environment (or ``python -m parking_tui``)."""
    script = Path(sys.executable).with_name("parking-tui")
    if script.exists():
        return str(script)
    found = shutil.which("parking-tui")
    return found or f"{sys.executable} -m parking_tui"
