"""Suite-wide hooks.

In CI (``PARKING_TUI_REQUIRE_TOOLS=1``, set by ``.ci/run`` on a machine where it could install them), a test that
skips because tmux, OpenSSH or Chromium is missing fails instead: a skipped test proves nothing.
"""

from __future__ import annotations

import os

import pytest

TOOL_WORDS = ("tmux", "sshd", "openssh", "ssh-keygen", "chromium")


#: Read once at start: fixtures clear every PARKING_TUI_* variable while a test runs.
REQUIRED = os.environ.get("PARKING_TUI_REQUIRE_TOOLS", "") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or not REQUIRED or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if any(word in reason.lower() for word in TOOL_WORDS):
        report.outcome = "failed"
        report.longrepr = f"a required tool is missing in CI (PARKING_TUI_REQUIRE_TOOLS=1): {reason}"
