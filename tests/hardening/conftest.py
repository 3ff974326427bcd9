"""Fixtures for the hardening tests: faults on real files and processes, hostile input, security, audit, backups.

* ``clock``: a frozen clock you advance; ``cheap_hasher()``: argon2id fast enough for tests.
* ``world``: a fresh data file with an admin, two drivers (all signed in) and a lot with three slots.
* ``files_bytes(folder)``: every file in a folder (recursively) as ``{relative name: bytes}`` - to prove that a
  failed operation changed nothing, byte for byte.
* ``child(code)``: a Python child process running ``code`` (always killed and reaped at the end of the test).
* ``tmpfs(size)``: a tmpfs mount of that size (needs root and ``mount``; the test is skipped otherwise).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import parking_tui
from parking_tui.domain import ParkingService

# The shared helpers live in the root conftest (tests/ is on sys.path, in a child process too: see Child).
from conftest import PASSWORD, T0, FrozenClock, World, cheap_hasher, make_user, populate  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0  # the longest any test waits for a child process


def open_svc(path: Path, clock=None, **options) -> ParkingService:
    options.setdefault("password_hasher", cheap_hasher())
    return parking_tui.open_service(path, clock=clock or FrozenClock(), **options)


def build_world(path: Path, clock: FrozenClock | None = None, **options) -> World:
    """The world on a fresh data file at ``path`` (``options`` go to ``open_service``)."""
    clock = clock or FrozenClock()
    return populate(open_svc(path, clock, **options), clock, path=path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder / "parking.json"


@pytest.fixture
def world(db_path: Path) -> World:
    return build_world(db_path)


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


class Child:
    """A child Python process; ``expect(word)`` waits (bounded) for a line holding ``word`` on its stdout."""

    def __init__(self, code: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )
        self.lines: list[str] = []

    def expect(self, word: str, timeout: float = WAIT) -> str:
        import time

        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if word in line:
                return line
        err = self.proc.stderr.read().decode() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"child never said {word!r}; said {self.lines!r}; stderr: {err[-2000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT)

    def wait(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def child():
    started: list[Child] = []

    def _start(code: str) -> Child:
        c = Child(code)
        started.append(c)
        return c

    yield _start
    for c in started:
        c.kill()
        for stream in (c.proc.stdout, c.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def tmpfs(tmp_path: Path):
    """``tmpfs(size) -> Path``: a fresh tmpfs of ``size`` (e.g. "512k"), unmounted at the end."""
    mounted: list[Path] = []

    def _mount(size: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("needs root and mount(8) for a real tmpfs")
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
            capture_output=True,
            timeout=WAIT,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(target)
        return target

    yield _mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=WAIT)
