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

from parking_tui.cli import main as cli

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


def as_account(uid: int, gid: int, argv, *, groups: list[int] | None = None) -> tuple[int, str]:
    """Run ``parking-tui ARGV`` (or a function) in a forked child as ``uid``; returns (exit status, output)."""
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
            for key in [k for k in os.environ if k.startswith("PARKING_TUI_") and k != "PARKING_TUI_ADMIN_PASSWORD"]:
                del os.environ[key]
            os.environ["HOME"] = os.environ["XDG_CONFIG_HOME"] = "/nonexistent"
            code = argv() if callable(argv) else cli.main(argv)
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
        world.svc.store.files.snapshot()
    finally:
        os.umask(old)
    taken = len(world.svc.store.files.snapshots())
    backups = folder / "parking.backups"
    assert stat.S_IMODE(backups.stat().st_mode) & 0o777 == 0o770
    assert backups.stat().st_gid == gid
    code, out = as_account(member, gid, ["backup", "--db", str(folder / "parking.json"), "--file-mode", "660"])
    assert code == 0 and "Snapshot taken" in out and "Traceback" not in out, out
    assert len(world.svc.store.files.snapshots()) == taken + 1
    code, out = as_account(member, gid, ["backup", "--verify", "--db", str(folder / "parking.json"), "--file-mode", "660"])
    assert code == 0 and out.count("ok") == taken + 1, out


def test_backup_verify_finds_damage_made_in_place_and_restore_refuses_it(shared):
    folder, gid, member, _ = shared
    world = build_world(folder / "parking.json", file_mode=0o660)
    snap = world.svc.store.files.snapshot()
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
    assert world.svc.store.files.snapshots() == []


def test_an_automatic_snapshot_that_fails_is_recorded_not_skipped_silently(db_path):
    world = build_world(db_path, backups=3, backup_interval=0)
    backups = db_path.parent / "parking.backups"
    shutil.rmtree(backups)
    backups.write_text("not a folder")  # whatever stands in the way
    booking = world.book(world.alice)  # the write itself succeeds
    assert booking.id in {b.id for b in world.svc.my_bookings(world.alice)}
    failed = [e for e in world.svc.store.files.read_audit() if e.get("op") == "snapshot_failed"]
    assert failed and "parking.backups" in failed[-1]["reason"]


def _home_of_operator(base: Path) -> tuple[Path, Path]:
    """Two files of the operator's own (root's), outside the data folder: what a planted link points at."""
    home = base / "operator-home"
    home.mkdir(mode=0o700)
    (home / "notes.txt").write_text("mine\n")
    (home / "keys").write_text("secret\n")
    os.chmod(home / "notes.txt", 0o600)
    os.chmod(home / "keys", 0o600)
    return home / "notes.txt", home / "keys"


def test_links_planted_by_a_member_are_never_followed(shared, monkeypatch):
    folder, gid, member, _ = shared
    build_world(folder / "parking.json", file_mode=0o660)
    notes, keys = _home_of_operator(folder.parent)
    before = {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in (notes, keys)}
    lock, audit = folder / "parking.json.lock", folder / "parking.audit.jsonl"

    def plant() -> int:
        for link, target in ((lock, keys), (audit, notes)):
            os.unlink(link)
            os.symlink(target, link)
        return 0

    assert as_account(member, gid, plant)[0] == 0
    assert lock.is_symlink() and audit.is_symlink()
    monkeypatch.setenv("PARKING_TUI_ADMIN_PASSWORD", "correct-horse-2")
    code, out = as_account(0, 0, ["admin", "create", "boss", "--email", "boss@example.com", "--db", str(folder / "parking.json"), "--file-mode", "660"], groups=[0, gid])
    assert code == 1 and "symbolic link" in out and len(out.strip().splitlines()) == 1, out
    assert {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in (notes, keys)} == before
    from parking_tui.storage.tinydb.doctor import diagnose

    found = [f.what for f in diagnose(folder / "parking.json", file_mode=0o660) if f.level == "error"]
    assert any("lock" in w and "symbolic link" in w for w in found), found
    assert any("audit" in w and "symbolic link" in w for w in found), found


def test_a_data_file_replaced_by_a_link_is_refused(shared):
    folder, gid, member, _ = shared
    world = build_world(folder / "parking.json", file_mode=0o660)
    users = folder / "parking.users.json"
    elsewhere = folder.parent / "copy.json"
    shutil.copy(users, elsewhere)

    def plant() -> int:
        os.unlink(users)
        os.symlink(elsewhere, users)
        return 0

    assert as_account(member, gid, plant)[0] == 0
    code, out = as_account(member, gid, ["doctor", "--db", str(folder / "parking.json")])
    assert code == 1 and "symbolic link" in out, out
    with pytest.raises(Exception, match="symbolic link"):
        world.svc.login("alice", "correct-horse")


@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_folder_or_file_owned_outside_the_group_is_refused_in_one_line(shared, what, monkeypatch):
    monkeypatch.setenv("PARKING_TUI_ADMIN_PASSWORD", "correct-horse-2")
    folder, gid, member, outsider = shared
    build_world(folder / "parking.json", file_mode=0o660)
    target = folder if what == "folder" else folder / "parking.users.json"
    os.chown(target, outsider, gid)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    code, out = as_account(member, gid, ["admin", "create", "boss", "--email", "b@example.com", "--db", str(folder / "parking.json")])
    assert code == 1 and OUTSIDER in out and GROUP in out and len(out.strip().splitlines()) == 1, out
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    code, out = as_account(member, gid, ["doctor", "--db", str(folder / "parking.json")])
    assert code == 1 and OUTSIDER in out, out


def test_the_csv_export_gets_the_data_mode_and_follows_no_planted_link(tmp_path):
    from parking_tui.tui.screens.admin_export import write_reservations_csv

    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    out = tmp_path / "reservations.csv"
    (tmp_path / ".reservations.csv.tmp").symlink_to(target)  # the old, predictable temporary name
    old = os.umask(0o022)
    try:
        write_reservations_csv(out, [], mode=0o660)
    finally:
        os.umask(old)
    assert target.read_text() == "keep me\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o660
    assert out.read_text().startswith("id,")
    assert [p.name for p in tmp_path.glob(".reservations.csv.*.tmp")] == []


def test_doctor_reports_a_damaged_snapshot_and_failed_automatic_ones(db_path):
    from parking_tui.storage.tinydb.doctor import diagnose

    world = build_world(db_path, backups=3, backup_interval=0)
    snap = world.svc.store.files.snapshots()[-1]
    with open(snap / "parking.json", "r+b") as fh:
        fh.write(b" ")
    backups = db_path.parent / "parking.backups"
    os.rename(backups, db_path.parent / "elsewhere")
    backups.write_text("in the way")
    world.book(world.alice)
    backups.unlink()
    os.rename(db_path.parent / "elsewhere", backups)
    found = [f.what for f in diagnose(db_path) if f.level != "info"]
    assert any(snap.name in w and "damaged" in w for w in found), found
    assert any("automatic snapshot" in w for w in found), found
