"""A hang-up ends the app: run parking-tui (kiosk mode, which ignores Ctrl+Q) on a pseudo-terminal, close the
terminal and send SIGHUP as the kernel does when an SSH connection drops. It must exit by itself (status 129,
not killed by the signal) within a few seconds, and the data file must be free for the next writer."""

from __future__ import annotations

import fcntl
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
from parking_tui.demo import ensure_demo_data

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
