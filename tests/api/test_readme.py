"""The README's curl walkthrough, run as written (only the address changed) against a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import parking_tui

from .conftest import ROOT, clean_env

MARK = "<!-- api-walkthrough"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    after = text[text.index(MARK):]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "the README's API walkthrough block is missing"
    return match.group(1)


def test_the_readme_walkthrough_runs_against_a_real_server(server_factory, tmp_path: Path):
    if shutil.which("curl") is None:  # pragma: no cover - curl is on every machine this runs on
        pytest.fail("curl is needed to run the README's examples")
    server = server_factory()
    script = readme_block()
    assert "API=http://127.0.0.1:8000/api" in script
    script = script.replace("API=http://127.0.0.1:8000/api", f"API={server.url}/api")
    env = clean_env(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        PARKING_TUI_DB=str(server.db),
        TZ=server.zone,
        XDG_CONFIG_HOME=str(tmp_path),
    )
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=120,
        cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    answers = [json.loads(line) for line in lines if line[:1] in "[{"]
    assert answers[0] == {"username": "user_1", "email": "user1@example.com", "phone_number": "1234567890", "is_admin": False}
    assert answers[1] == {"user": "user_1", "email": "user1@example.com", "phone_number": "1234567890", "is_admin": False}
    assert [lot["name"] for lot in answers[2]] == ["Downtown Parking"]
    assert [s["slot_number"] for s in answers[3]] == ["A1"]  # free for the window
    assert [b["status"] for b in answers[4]] == ["reserved"]  # my bookings
    assert answers[5]["status"] == "checked_in" and answers[6]["status"] == "completed"
    assert [b["status"] for b in answers[7]] == ["completed"]  # reservations
    assert answers[8]["slot"]["status"] == "out_of_service"
    assert lines[-1] == "204"
    # What the walkthrough did is in the data file, for the terminal app to see.
    svc = parking_tui.open_service(server.db)
    token = svc.login("manager", "manager-password")
    (booking,) = svc.list_reservations(token)
    assert (booking.username, booking.status, booking.slot_number) == ("user_1", "completed", "A1")
