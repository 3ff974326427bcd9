"""A throwaway PostgreSQL server for the test suite and the benchmark: ``initdb`` + ``pg_ctl`` on a temporary
folder and a free loopback port, stopped and deleted at the end.

Only the machine's PostgreSQL binaries are needed (``initdb``, ``pg_ctl``, ``postgres``); they are looked up in
``PATH``, then in ``/usr/lib/postgresql/<newest>/bin`` (Debian) and ``/usr/pgsql-<newest>/bin`` (Red Hat). The
server refuses to run as root, so as root every command runs as the ``postgres`` account (``runuser``), and the
folder is handed to that account. Authentication is ``trust`` on 127.0.0.1 only: a test server, never a product.

This module imports no driver: it only runs programs.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"


class ServerUnavailable(RuntimeError):
    """The binaries are missing or the server would not start; ``str()`` says which."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (``PARKING_TUI_PG_BINDIR`` if set), or ``None``."""
    explicit = os.environ.get("PARKING_TUI_PG_BINDIR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(p: str) -> int:
        digits = "".join(ch for ch in Path(p).parent.name.split("-")[-1] if ch.isdigit())
        return int(digits or 0)

    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin"):
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=lambda p: version(p) if "*" in pattern else 0, reverse=True)]
    for folder in candidates:
        if all((folder / tool).is_file() and os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayServer:
    """``start()`` creates and starts the cluster; ``stop()`` stops it (``start()`` again restarts it on the
    same folder and port, which is how tests take the database away and bring it back); ``destroy()`` stops it
    and deletes the folder. ``url(db)`` is the connection URL of a database on it.

    ``fsync=False`` trades crash-safety of the *server's host* for speed (tests of a killed client, a stopped
    or restarted server do not need it); the benchmark keeps fsync on."""

    def __init__(self, *, bindir: Path | None = None, fsync: bool = True, base: str | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise ServerUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install the PostgreSQL server "
                "(apt-get install postgresql) or set PARKING_TUI_TEST_PG to a database URL"
            )
        self.bindir = found
        self.fsync = fsync
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise ServerUnavailable(
                    f"running as root and there is no {SUPERUSER!r} account to run the PostgreSQL server as"
                ) from None
            self.run_as = SUPERUSER
        self.root = Path(tempfile.mkdtemp(prefix="parking-pg-", dir=base))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.initialised = False
        self.running = False

    # -- commands ---------------------------------------------------------------------------------------------
    def _cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return cmd

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run(
            self._cmd(tool, *args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            log = ""
            try:
                log = " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:])
            except OSError:
                pass
            raise ServerUnavailable(f"{tool} failed ({proc.returncode}): {' | '.join(tail)} {log}".strip())

    def _init(self) -> None:
        self.sockets.mkdir()
        if self.run_as:
            ent = pwd.getpwnam(self.run_as)
            os.chmod(self.root, 0o700)
            for p in (self.root, self.sockets):
                os.chown(p, ent.pw_uid, ent.pw_gid)
        args = ["-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"]
        if not self.fsync:
            args.append("--no-sync")
        self._run("initdb", *args, timeout=180)
        self.initialised = True

    def start(self, timeout: float = 60) -> ThrowawayServer:
        if self.running:
            return self
        if not self.initialised:
            self._init()
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.sockets}",
            "-c max_connections=200",
            "-c shared_buffers=128MB",
            "-c fsync=" + ("on" if self.fsync else "off"),
            "-c synchronous_commit=" + ("on" if self.fsync else "off"),
            "-c full_page_writes=" + ("on" if self.fsync else "off"),
        ]
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(int(timeout)),
            "-o", " ".join(options), timeout=timeout + 10,
        )
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions and close connections; ``immediate``: as a
        crash)."""
        if not self.running:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60", timeout=90)
        self.running = False

    def destroy(self) -> None:
        try:
            if self.initialised and self.data.exists():
                try:
                    self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", timeout=60)
                except (ServerUnavailable, subprocess.TimeoutExpired):
                    pass  # already stopped
            self.running = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- use --------------------------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise ServerUnavailable(f"the PostgreSQL server on port {self.port} did not accept connections")

    def __enter__(self) -> ThrowawayServer:
        try:
            return self.start()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc: object) -> None:
        self.destroy()
