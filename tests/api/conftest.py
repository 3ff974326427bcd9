"""A real API server for the tests: ``parking-tui api`` in a subprocess, on a free port, on a fresh data file.

Nothing of the caller's config or ``PARKING_TUI_*`` settings reaches it. The server runs on the real clock in
the zone the test names (``TZ``), so naive times mean the same thing to the test and to the server. An admin
``admin`` / ``admin-password`` exists before it starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import argon2
import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import parking_tui  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "admin-password")
ZONE = "Europe/Berlin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    db: Path
    proc: subprocess.Popen
    log: Path
    zone: str
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, path: str) -> str:
        return f"{self.url}/api/{path.lstrip('/')}"

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Token {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, follow_redirects=False, **kwargs)

    def login(self, username: str, password: str) -> str:
        if username not in self.tokens:
            r = httpx.post(self.api("auth/login/"), json={"username": username, "password": password}, timeout=30)
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def admin(self) -> str:
        return self.login(*ADMIN)

    def now(self) -> datetime:
        """The server's wall clock in its zone, naive (as the seed's clients write times), to the minute."""
        return datetime.now(ZoneInfo(self.zone)).replace(tzinfo=None, second=0, microsecond=0)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(
    tmp: Path,
    *,
    zone: str = ZONE,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    config: str | None = None,
    db: Path | None = None,
) -> Server:
    db = db or tmp / "parking.json"
    if not db.exists():
        svc = parking_tui.open_service(db, password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        svc.create_admin(*ADMIN[:1], "admin@example.com", ADMIN[1])
        svc.store.close()
    port = free_port()
    config_home = tmp / "xdg"
    config_home.mkdir(exist_ok=True)
    extra = {"TZ": zone, "XDG_CONFIG_HOME": str(config_home), **(env or {})}
    if config is not None:
        cfg = tmp / "config.toml"
        cfg.write_text(config)
        extra["PARKING_TUI_CONFIG"] = str(cfg)
    log = tmp / f"server-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "parking_tui", "api", "--db", str(db), "--port", str(port), *args],
            cwd=tmp,
            env=clean_env(**extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(url=f"http://127.0.0.1:{port}", db=db, proc=proc, log=log, zone=zone)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the API server exited with {proc.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(server.api("schema/"), timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"the API server did not answer within 30 s:\n{server.log_text()}")
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def no_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    for name in list(os.environ):
        if name.startswith("PARKING_TUI_"):
            monkeypatch.delenv(name)


def _stopped(servers: list[Server]) -> None:
    for server in servers:
        server.stop()
    for server in servers:
        # Never an unexpected error, even one the client did not see.
        assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(**kwargs)``: a server of the test's own (another zone, a config file, workers)."""
    started: list[Server] = []

    def _start(**kwargs) -> Server:
        sub = tmp_path / f"s{len(started)}"
        sub.mkdir()
        server = start_server(sub, **kwargs)
        started.append(server)
        return server

    yield _start
    _stopped(started)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests of a module, on a fresh data file (tests make lots and users of their own).
    Its lock timeout is short, so a held lock shows within a second."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        srv = start_server(tmp_path_factory.mktemp("api"), env={"PARKING_TUI_LOCK_TIMEOUT": "0.5"})
    yield srv
    _stopped([srv])


_names = iter(range(1, 10**6))


def unique(prefix: str) -> str:
    """A name no other test of the module uses."""
    return f"{prefix}{next(_names)}"


def window(server: Server, start_in: float = 0, hours: float = 2) -> tuple[str, str]:
    """A booking window as the seed writes it: naive ISO times, ``start_in`` minutes from now."""
    start = server.now() + timedelta(minutes=start_in)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()
