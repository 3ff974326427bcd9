"""Attendants over SSH, end to end: a real ``sshd`` on a loopback port whose ``ForceCommand`` runs parking-tui.

The client is ``ssh -tt`` inside tmux (a real terminal); the test types as a person would and reads the screen
with ``capture-pane``. It signs in as the demo admin, opens a lot's map and watches it change when this test
process - another process on the same data file - books a slot. Then it kills the SSH client as a dropped
connection would, and checks that parking-tui is gone within seconds and holds no lock.

Skipped, with the reason, where ``sshd``, ``ssh``, ``ssh-keygen`` or ``tmux`` is missing or ``sshd`` cannot
start (``.ci/run`` installs them). Every wait is bounded; the servers it starts are stopped in ``finally``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest

import parking_tui
from parking_tui.cli.demo import ensure_demo_data

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


# ------------------------------------------------------------------------------- the documented set-up

ACCOUNT_TOOLS = ("useradd", "userdel", "groupadd", "groupdel", "runuser", "install")


def _root(*cmd: str) -> subprocess.CompletedProcess:
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr.strip()}"
    return done


def _command_for(account: str) -> str | None:
    """A ``parking-tui`` command line the account can run: this environment's script when the account can read
    it (as on a server, /opt/parking-tui), else the system's python3 over this checkout and its packages (a
    test machine whose interpreter lives under root's home). ``None`` when neither works."""
    import sysconfig

    candidates = [console_script()]
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system:
        packages = sysconfig.get_paths()["purelib"]
        root = Path(__file__).resolve().parents[2]
        candidates.append(f"env PYTHONPATH={root}:{packages} {system} -m parking_tui")
    for command in candidates:
        probe = subprocess.run(
            ["runuser", "-u", account, "--", "sh", "-c", f"{command} --help >/dev/null"],
            capture_output=True, text=True, timeout=60,
        )
        if probe.returncode == 0:
            return command
    return None


@pytest.fixture
def attendant_server(tmp_path: Path):
    """The server of README's "Attendants over SSH", built on this machine with the documented commands: a
    ``parking`` group, a setgid folder ``install -d -o root -g parking -m 2770``, the data written by root with
    ``--file-mode 660``, a system account in the group (``useradd --system --gid parking --create-home``) with
    its key in ``~/.ssh/authorized_keys``, and a ``Match User`` block whose ``ForceCommand`` runs parking-tui.
    The account and the group get names of the test's own and are deleted afterwards. Needs root."""
    missing = [name for name, path in TOOLS.items() if not path]
    missing += [name for name in ACCOUNT_TOOLS if not shutil.which(name)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (openssh-server, openssh-client, tmux, passwd; .ci/run installs them)")
    if os.geteuid() != 0:
        pytest.skip("creating the attendant account and its group needs root (.ci/run runs as root)")
    tag = f"{os.getpid() % 100000}"
    group, account = f"parkg{tag}", f"attd{tag}"
    base = Path(tempfile.mkdtemp(prefix="parking-attendants-", dir="/tmp"))
    os.chmod(base, 0o755)
    srv, home, work = base / "srv", base / "home", tmp_path / "sshd"
    work.mkdir(mode=0o700)
    made: list[tuple[str, ...]] = []
    proc = None
    try:
        _root("groupadd", "--system", group)
        made.append(("groupdel", group))
        _root("useradd", "--system", "--gid", group, "--create-home", "--home-dir", str(home), "--shell", "/bin/sh",
              account)
        made.insert(0, ("userdel", account))
        _root("install", "-d", "-o", "root", "-g", group, "-m", "2770", str(srv))
        command = _command_for(account)
        if command is None:
            pytest.skip(f"no python3 that the account {account} may run (the interpreter is unreadable to others)")
        db = srv / "parking.json"
        subprocess.run(
            ["sh", "-c", f"{console_script()} --db {db} --file-mode 660 demo-data"],
            check=True, capture_output=True, timeout=120, env=_env_without_parking(),
        )
        for name in ("host_key", "user_key"):
            _root("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name))
        _root("install", "-d", "-o", account, "-g", group, "-m", "700", str(home / ".ssh"))
        _root("install", "-o", account, "-g", group, "-m", "600", str(work / "user_key.pub"),
              str(home / ".ssh" / "authorized_keys"))
        port = free_port()
        config = work / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {work}/host_key",
                    f"PidFile {work}/sshd.pid",
                    "AuthorizedKeysFile .ssh/authorized_keys",
                    "PubkeyAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "UsePAM yes",
                    f"AllowUsers {account}",
                    "LogLevel VERBOSE",
                    # README's block, at the end of the file:
                    f"Match User {account}",
                    f"    ForceCommand {command} --db {db} --file-mode 660",
                    "    PermitTTY yes",
                    "    PasswordAuthentication no",
                    "    AllowTcpForwarding no",
                    "    AllowAgentForwarding no",
                    "    X11Forwarding no",
                    "    PermitTunnel no",
                    "",
                ]
            )
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"sshd rejects the documented block: {check.stderr.strip()[:300]}"
        log = work / "sshd.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
        assert wait_for(lambda: proc.poll() is None and _listening(port), timeout=10), log.read_text()[-300:]
        ssh = (
            f"ssh -tt -p {port} -i {work}/user_key -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {account}@127.0.0.1"
        )
        yield {"ssh": ssh, "db": db, "srv": srv, "account": account, "group": group, "log": log}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for pid in pids_with(str(base)):
            os.kill(pid, signal.SIGKILL)
        for cmd in made:
            subprocess.run(list(cmd), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _env_without_parking() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_the_documented_attendant_set_up_end_to_end(attendant_server, tmp_path: Path):
    """An attendant signs in over SSH to the account set up as README and docs/operations.md say: parking-tui
    runs as that non-root account, writes the shared data (its files get the group from the setgid folder and
    mode 660, so root's and the account's files stay usable by both), and the audit log names the session
    ``ssh:127.0.0.1``."""
    import grp
    import pwd

    srv: Path = attendant_server["srv"]
    db: Path = attendant_server["db"]
    uid = pwd.getpwnam(attendant_server["account"]).pw_uid
    gid = grp.getgrnam(attendant_server["group"]).gr_gid
    tmux = Tmux(tmp_path / "tmux.sock")
    try:
        tmux.start(attendant_server["ssh"])
        tmux.wait_for_text("Username", timeout=40)
        app_pids = wait_for(lambda: pids_with(str(db)), timeout=10)
        assert app_pids and all(_uid_of(pid) == uid for pid in app_pids), "parking-tui does not run as the account"
        tmux.type("admin")
        tmux.keys("Enter")
        time.sleep(0.5)
        tmux.type("admin1234")
        tmux.keys("Enter")
        tmux.wait_for_text("Central Station P1", timeout=30)  # signed in: a session was written

        events = [json.loads(line) for line in (srv / "parking.audit.jsonl").read_text().splitlines() if line.strip()]
        logins = [e for e in events if e.get("op") == "login" and e.get("user") == "admin"]
        assert logins, f"no login in the audit log: {events[-3:]}"
        assert logins[-1].get("terminal") == "ssh:127.0.0.1", logins[-1]

        st = os.stat(srv)
        assert st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o2770
        files = [p for p in srv.iterdir() if p.is_file()]
        by_account = [p.name for p in files if p.stat().st_uid == uid]
        assert by_account, "the account wrote no file (its sign-in is a write)"
        wrong = {p.name: (oct(stat.S_IMODE(p.stat().st_mode)), p.stat().st_gid) for p in files
                 if stat.S_IMODE(p.stat().st_mode) != 0o660 or p.stat().st_gid != gid}
        assert not wrong, f"files not mode 660 in group {attendant_server['group']}: {wrong}"
    finally:
        tmux.kill()
    # Root, as the local operator, still reads and writes what the account wrote.
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher(), lock_timeout=5)
    admin = svc.login("admin", "admin1234")
    assert svc.list_lots(admin)
