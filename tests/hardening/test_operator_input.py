"""Odd paths given to the command: one clear line each, no hang, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def run(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    env.update(PYTHONPATH=str(ROOT), HOME=str(home), XDG_CONFIG_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "parking_tui", *args],
        capture_output=True, text=True, timeout=30, env=env, cwd=str(home), stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("config", ["/dev/zero", "/dev/null", "fifo", "folder"])
def test_a_config_that_is_not_a_file_is_one_line(tmp_path, config):
    if config == "fifo":
        os.mkfifo(tmp_path / "fifo")
    if config == "folder":
        (tmp_path / "folder").mkdir()
    target = config if config.startswith("/") else str(tmp_path / config)
    done = run("--config", target, "doctor", "--db", str(tmp_path / "d" / "parking.json"), home=tmp_path)
    if config == "/dev/null":
        return  # an empty file: a valid (empty) config
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and target in lines[0] and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", [[], ["doctor"], ["backup"], ["demo-data"]])
def test_db_naming_a_folder_is_one_line_and_creates_nothing(tmp_path, command):
    folder = tmp_path / "somedir"
    folder.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run(*command, "--db", str(folder), home=tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "folder" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(folder.iterdir()) == []
