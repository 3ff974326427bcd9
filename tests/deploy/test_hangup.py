"""A hang-up ends the app: run parking-tui (kiosk mode, which ignores Ctrl+Q) on a pseudo-terminal, close the
terminal and send SIGHUP as the kernel does when an SSH connection drops. It must exit by itself (status 129,
not killed by the signal) within a few seconds, and the data file must be free for the next writer."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

import parking_tui
from parking_tui.cli.demo import ensure_demo_data

from .conftest import cheap_hasher, clean_env, console_script


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a POSIX pseudo-terminal")
def test_sighup_ends_the_app_cleanly(tmp_path: Path):
    db = tmp_path / "parking.json"
    ensure_demo_data(parking_tui.open_service(db, password_hasher=cheap_hasher()))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [*console_script().split(), "--db", str(db), "--kiosk"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env=clean_env(TERM="xterm-256color"),
    )
    os.close(slave)
    try:
        assert b"Username" in read_until(master, b"Username", timeout=20), "the app did not start"
        os.close(master)  # the terminal goes away...
        master = -1
        proc.send_signal(signal.SIGHUP)  # ...and the hang-up arrives
        started = time.monotonic()
        code = proc.wait(timeout=10)
        assert code == 129, f"exit status {code} (negative: killed by the signal, not a clean exit)"
        assert time.monotonic() - started < 5
        other = parking_tui.open_service(db, password_hasher=cheap_hasher(), lock_timeout=2)
        other.login("driver", "driver1234")  # a write: the lock is free
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


#: Put on the app's PYTHONPATH: every rename into the data folder announces itself in a marker file and takes
#: a moment, so that the hang-up can be sent while a commit is renaming its files.
SLOW_RENAMES = '''
import os, time
_replace = os.replace
_folder = os.environ["PARKING_TEST_FOLDER"]
_marker = os.environ["PARKING_TEST_MARKER"]

def replace(src, dst, *args, **kwargs):
    if str(dst).startswith(_folder) and str(dst).endswith(".json"):
        with open(_marker, "a") as out:
            out.write(str(dst) + "\\n")
        time.sleep(0.4)
    return _replace(src, dst, *args, **kwargs)

os.replace = replace
'''


def test_hang_up_in_the_middle_of_a_write_loses_nothing_and_leaves_no_half_written_file(tmp_path: Path):
    """A driver confirms a booking over a terminal that is then hung up (tmux's server goes away: SIGHUP) while
    the app is renaming that commit's files into place. The app must exit by itself; afterwards the folder holds
    no temporary file, opens cleanly, every booking acknowledged before is there, and the booking in flight is
    there whole (its audit line too) or not at all."""
    from .test_ssh import TOOLS, Tmux, pids_with, wait_for

    if not TOOLS["tmux"]:
        pytest.skip("needs tmux (.ci/run installs it)")
    folder = tmp_path / "data"
    db = folder / "parking.json"
    svc = parking_tui.open_service(db, password_hasher=cheap_hasher())
    ensure_demo_data(svc)
    before = {b.id: b for b in svc.list_reservations(svc.login("admin", "admin1234"))}
    assert before, "the demo data holds acknowledged bookings"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_RENAMES)
    marker = tmp_path / "renames.log"
    env = (
        f"env PYTHONPATH={hook} PARKING_TEST_FOLDER={folder} PARKING_TEST_MARKER={marker} "
        f"XDG_CONFIG_HOME={tmp_path / 'xdg'} TERM=xterm-256color"
    )
    tmux = Tmux(tmp_path / "tmux.sock")
    try:
        tmux.start(f"{env} {console_script()} --db {db}", width=100, height=30)
        tmux.wait_for_text("Username", timeout=30)
        tmux.type("driver")
        tmux.keys("Enter")
        time.sleep(0.5)
        tmux.type("driver1234")
        tmux.keys("Enter")
        tmux.wait_for_text("Central Station P1", timeout=30)
        signed_in = marker.read_text() if marker.exists() else ""
        tmux.keys("Enter")  # the first lot's map
        tmux.wait_for_text("Reserved", timeout=20)
        tmux.keys("Enter")  # the slot under the cursor: the booking form
        tmux.wait_for_text("Confirm", timeout=20)
        tmux.keys("C-s")  # confirm: the commit starts renaming its files
        renaming = wait_for(lambda: marker.exists() and len(marker.read_text()) > len(signed_in), timeout=20, step=0.02)
        assert renaming, f"the booking was not written:\n{tmux.screen()}"
        app = pids_with(str(db))
        assert app, "parking-tui is not running"
        tmux.kill()  # the terminal goes away in the middle of the renames: SIGHUP
        gone = wait_for(lambda: not pids_with(str(db)), timeout=8)
        assert gone, f"parking-tui still running after the hang-up: {pids_with(str(db))}"
    finally:
        tmux.kill()
        for pid in pids_with(str(db)):
            os.kill(pid, signal.SIGKILL)

    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], f"half-written files left behind: {leftovers}"
    after_svc = parking_tui.open_service(db, password_hasher=cheap_hasher(), lock_timeout=2)
    admin = after_svc.login("admin", "admin1234")  # a write: the lock is free
    after = {b.id: b for b in after_svc.list_reservations(admin)}
    for booking_id, booking in before.items():
        assert booking_id in after, f"acknowledged booking {booking.confirmation_code} lost"
        assert after[booking_id].start_time == booking.start_time and after[booking_id].end_time == booking.end_time
    new = [b for i, b in after.items() if i not in before]
    assert len(new) <= 1
    print(f"the booking in flight at the hang-up: {'kept, whole' if new else 'not made'}")
    events = [json.loads(line) for line in (folder / "parking.audit.jsonl").read_text().splitlines() if line.strip()]
    booked = [e for e in events if e.get("op") in ("create_booking", "book") and e.get("user") == "driver"]
    if new:
        assert new[0].username == "driver" and new[0].status == "reserved"
        assert any(e.get("booking_id") == new[0].id for e in booked), "the booking is there but its audit line is not"
    else:
        rolled_back = {e.get("tx") for e in events if e.get("op") == "rolled_back"}
        assert all(e.get("tx") in rolled_back for e in booked), "an audit line for a booking that is not there"
