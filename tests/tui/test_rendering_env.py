"""Snapshots do not depend on the caller's environment: a snapshot test run with ``NO_COLOR``, ``TEXTUAL_THEME``
and ``TEXTUAL_COLOR_SYSTEM`` set (in a pytest of its own, so Textual is imported with them) still matches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_SNAPSHOT = "tests/tui/test_snapshots.py::TestSignInSnapshots::test_sign_in_demo"


def test_a_snapshot_matches_with_colour_and_theme_settings_in_the_environment():
    env = dict(os.environ, NO_COLOR="1", TEXTUAL_THEME="nord", TEXTUAL_COLOR_SYSTEM="standard", FORCE_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_SNAPSHOT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
