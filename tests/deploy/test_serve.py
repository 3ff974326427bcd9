"""The browser demo: ``parking-tui serve`` (textual-serve) opened in headless Chromium, driven by Playwright
(pointed at Debian's ``chromium``, so no browser is downloaded).

The test signs in as the demo admin by typing into the page, checks that the lot browser arrived in the
browser (the app's output on the page's websocket) and that the sign-in is in the audit log as coming from
the web, and saves a screenshot (``$TEST_ARTIFACTS/serve-lot-browser.png`` when that is set). Skipped with
the reason where Chromium or textual-serve is absent.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import parking_tui
from parking_tui.cli import main as cli

from .conftest import ROOT, cheap_hasher, clean_env, console_script, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_serve_command_runs_this_program_on_the_same_settings(tmp_path: Path):
    db = tmp_path / "with space" / "parking.json"
    args = cli.build_parser().parse_args(
        ["serve", "--db", str(db), "--kiosk", "--idle", "30", "--file-mode", "660", "--demo"]
    )
    cfg = cli.settings(args)
    words = shlex.split(cli.serve_command(args, cfg))
    assert words[:3] == [sys.executable, "-m", "parking_tui"]
    assert words[words.index("--db") + 1] == str(db)
    assert words[words.index("--terminal") + 1] == "web"
    assert words[words.index("--idle") + 1] == "30" and "--kiosk" in words and "--demo" in words
    assert words[words.index("--file-mode") + 1] == "660"


def test_serve_without_textual_serve_says_how_to_install(tmp_path: Path):
    """With textual-serve missing, one line says what to install (no traceback)."""
    blocker = tmp_path / "blocker" / "textual_serve"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    r = run_cli("serve", "--db", str(tmp_path / "p.json"), env=clean_env(PYTHONPATH=str(blocker.parent)))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "pip install 'parking-tui[serve]'" in r.stderr


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_lot_browser_in_a_real_browser(tmp_path: Path):
    """Playwright drives Debian's chromium (``executable_path``: no browser download)."""
    pytest.importorskip("textual_serve", reason="textual-serve is not installed (pip install '.[serve]')")
    pytest.importorskip("aiohttp", reason="aiohttp (a textual-serve dependency) is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")

    db = tmp_path / "parking.json"
    from parking_tui.cli.demo import ensure_demo_data

    ensure_demo_data(parking_tui.open_service(db, password_hasher=cheap_hasher()))
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(
        [*console_script().split(), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db), "--demo"],
        cwd=ROOT,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    received: list[bytes] = []

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: received.append(payload if isinstance(payload, bytes) else payload.encode()))

    def wait_for_bytes(page, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in b"".join(received):
                return True
            page.wait_for_timeout(100)
        return needle in b"".join(received)

    shot = tmp_path / "serve-lot-browser.png"
    try:
        deadline = time.monotonic() + 20
        while not _listening(port):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "parking-tui serve did not listen within 20 s"
            time.sleep(0.2)

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 750})
                page.on("websocket", on_socket)
                page.goto(f"http://127.0.0.1:{port}/")
                assert wait_for_bytes(page, b"Username", timeout=30), "the sign-in screen never arrived"
                assert b"Choose a lot" not in b"".join(received)
                terminal = page.locator(".xterm-helper-textarea")
                terminal.wait_for(state="attached", timeout=10_000)
                terminal.focus()
                page.keyboard.type("admin")
                page.keyboard.press("Enter")
                page.wait_for_timeout(700)
                page.keyboard.type("admin1234")
                page.keyboard.press("Enter")
                assert wait_for_bytes(page, b"Choose a lot", timeout=30), "the lot browser never arrived"
                assert wait_for_bytes(page, b"Central Station P1", timeout=10)
                page.wait_for_timeout(1000)  # let the page paint what arrived
                page.screenshot(path=str(shot))
            finally:
                browser.close()

        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        artifacts = os.environ.get("TEST_ARTIFACTS")
        if artifacts:
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(artifacts) / shot.name)
        svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
        logins = [e for e in svc.store.files.read_audit() if e.get("op") == "login" and e.get("user") == "admin"]
        assert any(e.get("terminal") == "web" for e in logins), logins
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(timeout=10)
        log.close()


def _listeners(port: int) -> set[str]:
    """The local addresses listening on TCP ``port`` (from /proc/net/tcp and tcp6), as hex as the kernel shows."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian as /proc shows it


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_listens_on_127_0_0_1_by_default(tmp_path: Path):
    """Without --host, ``parking-tui serve`` accepts connections on the loopback address only."""
    pytest.importorskip("textual_serve", reason="textual-serve is not installed (pip install '.[serve]')")
    db = tmp_path / "parking.json"
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(
        [*console_script().split(), "serve", "--port", str(port), "--db", str(db)],
        cwd=ROOT, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _listeners(port):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "parking-tui serve did not listen within 30 s"
            time.sleep(0.2)
        time.sleep(0.5)  # every listening socket is open by now
        assert _listeners(port) == {LOOPBACK_V4}, _listeners(port)
        assert _listening(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
