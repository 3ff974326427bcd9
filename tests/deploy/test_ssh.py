"""Attendants over SSH, end to end: a real ``sshd`` on a loopback port whose ``ForceCommand`` runs parking-tui.

The client is ``ssh -tt`` inside tmux (a real terminal); the test types as a person would and reads the screen
with ``capture-pane``. It signs in as the demo admin, opens a lot's map and watches it change when this test
process - another process on the same data file - books a slot. Then it kills the SSH client as a dropped
connection would, and checks that parking-tui is gone within seconds and holds no lock.

Skipped, with the reason, where ``sshd``, ``ssh``, ``ssh-keygen`` or ``tmux`` is missing or ``sshd`` cannot
start (``.ci/run`` installs them). Every wait is bounded; the servers it starts are stopped in ``finally``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

import parking_tui
from parking_tui.demo import ensure_demo_data

from .conftest import cheap_hasher, console_script

pytestmark = pytest.mark.slow

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
TOOLS = {"sshd": SSHD, "ssh": shutil.which("ssh"), "ssh-keygen": shutil.which("ssh-keygen"), "tmux": shutil.which("tmux")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The documented live refresh is within 1 s; the bound is a little above it (SSH, tmux and a loaded machine).
LIVE_BOUND = 1.5


def wait_for(predicate, timeout: float, step: float = 0.2):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def pids_with(needle: str) -> list[int]:
    """Processes whose command line contains ``needle`` (a path unique to this test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


class Tmux:
    """A tmux server of the test's own (its own socket): one window, read with capture-pane."""

    def __init__(self, socket_path: Path) -> None:
        self.base = ["tmux", "-S", str(socket_path)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        r = self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command)
        assert r.returncode == 0, r.stderr

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "t", "-l", text)

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").stdout.strip())

    def wait_for_text(self, text: str, timeout: float = 15) -> str:
        screen = wait_for(lambda: (lambda s: s if text in s else "")(self.screen()), timeout)
        assert screen, f"{text!r} did not appear within {timeout} s; the screen:\n{self.screen()}"
        return screen

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def sshd(tmp_path: Path):
    """A throwaway sshd on 127.0.0.1 whose ForceCommand runs parking-tui on a demo data file."""
    missing = [name for name, path in TOOLS.items() if not path]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (openssh-server, openssh-client, tmux; .ci/run installs them)")
    work = tmp_path / "ssh"
    work.mkdir()
    os.chmod(work, 0o700)
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True, timeout=30)
    (work / "authorized_keys").write_text((work / "user_key.pub").read_text())
    os.chmod(work / "authorized_keys", 0o600)

    db = tmp_path / "srv-parking" / "parking.json"
    setup = parking_tui.open_service(db, password_hasher=cheap_hasher())
    ensure_demo_data(setup)
    (work / "config.toml").write_text('terminal = "ssh-test"\n')

    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    force = f"env PARKING_TUI_CONFIG={work}/config.toml {console_script()} --db {db}"
    port = free_port()
    config = work / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {work}/host_key",
                f"PidFile {work}/sshd.pid",
                f"AuthorizedKeysFile {work}/authorized_keys",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                f"AllowUsers {user}",
                "X11Forwarding no",
                "AllowTcpForwarding no",
                "PermitTTY yes",
                f"ForceCommand {force}",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        pytest.skip(f"sshd rejects a test config here: {check.stderr.strip()[:200]}")
    log = open(work / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        up = wait_for(lambda: proc.poll() is None and _listening(port), timeout=10)
        if not up:
            pytest.skip(f"sshd did not start: {(work / 'sshd.log').read_text()[-300:]}")
        ssh = (
            f"ssh -tt -p {port} -i {work}/user_key -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {user}@127.0.0.1"
        )
        yield {"ssh": ssh, "db": db, "work": work, "svc": setup, "log": work / "sshd.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def reserved_count(screen: str) -> int | None:
    match = re.search(r"Reserved (\d+)", screen)
    return int(match.group(1)) if match else None


def test_attendant_over_ssh_sees_live_changes_and_a_hang_up_ends_the_app(sshd, tmp_path: Path):
    tmux = Tmux(tmp_path / "tmux.sock")
    db: Path = sshd["db"]
    try:
        tmux.start(sshd["ssh"])
        tmux.wait_for_text("Username", timeout=30)
        app_pids = wait_for(lambda: pids_with(str(db)), timeout=10)
        assert app_pids, "parking-tui is not running under sshd"

        # Sign in as the demo admin, as a person types it (Enter moves to the password field first).
        tmux.type("admin")
        tmux.keys("Enter")
        time.sleep(0.5)
        tmux.type("admin1234")
        tmux.keys("Enter")
        tmux.wait_for_text("Central Station P1", timeout=20)

        # Open the first lot's live map.
        tmux.keys("Enter")
        before_screen = tmux.wait_for_text("Reserved", timeout=15)
        before = reserved_count(before_screen)
        assert before is not None

        # Another process (this test) books a free slot of that lot for now.
        svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
        admin = svc.login("admin", "admin1234")
        lot_name = next(lot.name for lot in svc.list_lots(admin) if lot.name in before_screen)
        lot = next(lot for lot in svc.list_lots(admin) if lot.name == lot_name)
        svc.register("walkin", "walkin@example.com", "walkin-pass")
        token = svc.login("walkin", "walkin-pass")
        slot = svc.available_slots(token, lot.id)[0]
        now = svc.now()
        svc.create_booking(token, slot.id, now, now + timedelta(hours=1))
        booked = time.monotonic()

        changed = wait_for(lambda: reserved_count(tmux.screen()) == before + 1, timeout=10, step=0.05)
        took = time.monotonic() - booked
        assert changed, f"the map did not show the new booking:\n{tmux.screen()}"
        # Documented: a change shows within 1 s. Over SSH and tmux, allow a little more.
        print(f"live refresh over SSH: {took:.2f} s")
        assert took <= LIVE_BOUND, f"the map took {took:.2f} s to show the new booking (documented: within 1 s)"

        # The connection drops: the SSH client dies. parking-tui must go too, and leave no lock behind.
        client = tmux.pane_pid()
        os.kill(client, signal.SIGKILL)
        gone = wait_for(lambda: not pids_with(str(db)), timeout=8)
        assert gone, f"parking-tui still running after the hang-up: {pids_with(str(db))}"
        other = parking_tui.open_service(db, password_hasher=cheap_hasher(), lock_timeout=2)
        walkin = other.login("walkin", "walkin-pass")  # a write (session): needs the lock
        assert other.my_bookings(walkin)
        log = sshd["log"].read_text(errors="replace")
        assert "Accepted publickey" in log
    finally:
        tmux.kill()
        for pid in pids_with(str(db)):
            os.kill(pid, signal.SIGKILL)
