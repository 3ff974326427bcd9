"""The README's shared folder (setgid 2770, file_mode 660) with real Unix accounts: a second member of the
group, and an account outside it. Each runs in a forked child that really changes its uid and gid.

* Snapshots made by one member can be added to by another; the backups folder follows ``file_mode``.
* Symbolic links planted by a member are never followed (the other account's files stay untouched), and a
  file or folder owned by an account outside the group is refused, in one line.
"""

from __future__ import annotations

import grp
import io
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from parking_tui import cli

from .conftest import build_world

GROUP, MEMBER, OUTSIDER = "parkshare", "parkmember", "parkoutsider"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create and become other accounts")


def _ensure_accounts() -> tuple[int, int, int]:
    if shutil.which("useradd") is None:
        pytest.skip("needs useradd")
    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
        gid = grp.getgrnam(GROUP).gr_gid
    for name, group in ((MEMBER, GROUP), (OUTSIDER, None)):
        try:
            pwd.getpwnam(name)
        except KeyError:
            extra = ["-G", group] if group else []
            subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", *extra, name], check=True, capture_output=True)
    return gid, pwd.getpwnam(MEMBER).pw_uid, pwd.getpwnam(OUTSIDER).pw_uid


@pytest.fixture
def shared():
    """A 2770 folder owned by root and the group, under a folder every account can reach."""
    gid, member, outsider = _ensure_accounts()
    base = Path(tempfile.mkdtemp(prefix="parking-shared-", dir="/tmp"))
    os.chmod(base, 0o755)
    folder = base / "data"
    folder.mkdir()
    os.chown(folder, 0, gid)
    os.chmod(folder, 0o2770)
    yield folder, gid, member, outsider
    shutil.rmtree(base, ignore_errors=True)


def as_account(uid: int, gid: int, argv: list[str], *, groups: list[int] | None = None) -> tuple[int, str]:
    """Run ``parking-tui ARGV`` in a forked child as ``uid``; returns (exit status, stdout and stderr)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the account, run the command, never return into pytest
        code = 70
        try:
            os.close(r)
            out = io.TextIOWrapper(os.fdopen(w, "wb"), write_through=True)
            sys.stdout = sys.stderr = out
            os.setgroups(groups if groups is not None else [gid])
            os.setgid(gid)
            os.setuid(uid)
            os.umask(0o022)
            for key in [k for k in os.environ if k.startswith("PARKING_TUI_")]:
                del os.environ[key]
            os.environ["HOME"] = os.environ["XDG_CONFIG_HOME"] = "/nonexistent"
            code = cli.main(argv)
        except BaseException:
            traceback.print_exc(file=sys.stdout)
        finally:
            try:
                sys.stdout.flush()
            finally:
                os._exit(code if isinstance(code, int) else 70)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


def test_a_second_member_can_take_snapshots_and_the_folder_follows_file_mode(shared, monkeypatch):
    folder, gid, member, _ = shared
    old = os.umask(0o077)  # the first member's umask is strict: the modes must still come from file_mode
    try:
        world = build_world(folder / "parking.json", file_mode=0o660)
        world.svc.store.snapshot()
    finally:
        os.umask(old)
    taken = len(world.svc.store.snapshots())
    backups = folder / "parking.backups"
    assert stat.S_IMODE(backups.stat().st_mode) & 0o777 == 0o770
    assert backups.stat().st_gid == gid
    code, out = as_account(member, gid, ["backup", "--db", str(folder / "parking.json"), "--file-mode", "660"])
    assert code == 0 and "Snapshot taken" in out and "Traceback" not in out, out
    assert len(world.svc.store.snapshots()) == taken + 1
    code, out = as_account(member, gid, ["backup", "--verify", "--db", str(folder / "parking.json"), "--file-mode", "660"])
    assert code == 0 and out.count("ok") == taken + 1, out


def test_backup_verify_finds_damage_made_in_place_and_restore_refuses_it(shared):
    folder, gid, member, _ = shared
    world = build_world(folder / "parking.json", file_mode=0o660)
    snap = world.svc.store.snapshot()
    with open(snap / "parking.users.json", "r+b") as fh:  # a bad sync tool writes into the snapshot
        fh.seek(5)
        fh.write(b"X")
    code, out = as_account(member, gid, ["backup", "--verify", "--db", str(folder / "parking.json")])
    assert code == 1 and f"DAMAGED {snap.name}" in out and "parking.users.json" in out, out
    before = (folder / "parking.users.json").read_bytes()
    code, out = as_account(member, gid, ["restore", snap.name, "--yes", "--db", str(folder / "parking.json")])
    assert code == 1 and "damaged" in out and len(out.strip().splitlines()) == 1, out
    assert (folder / "parking.users.json").read_bytes() == before


def test_a_snapshot_that_cannot_be_taken_is_one_line(shared):
    folder, gid, member, _ = shared
    world = build_world(folder / "parking.json", file_mode=0o660, backups=0)
    backups = folder / "parking.backups"
    backups.mkdir()
    os.chmod(backups, 0o700)  # as a member with a strict umask made it before this version
    code, out = as_account(member, gid, ["backup", "--db", str(folder / "parking.json")])
    assert code == 1 and "Permission denied" in out and len(out.strip().splitlines()) == 1, out
    assert world.svc.store.snapshots() == []


def test_an_automatic_snapshot_that_fails_is_recorded_not_skipped_silently(db_path):
    world = build_world(db_path, backups=3, backup_interval=0)
    backups = db_path.parent / "parking.backups"
    shutil.rmtree(backups)
    backups.write_text("not a folder")  # whatever stands in the way
    booking = world.book(world.alice)  # the write itself succeeds
    assert booking.id in {b.id for b in world.svc.my_bookings(world.alice)}
    failed = [e for e in world.svc.store.read_audit() if e.get("op") == "snapshot_failed"]
    assert failed and "parking.backups" in failed[-1]["reason"]
