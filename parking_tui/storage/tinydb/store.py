"""TinyDB-backed storage that stays correct with many processes on one data file.

Layout, beside the data file ``parking.json`` (every file is a TinyDB JSON document: ``{table: {id: record}}``):

==============================  ===========================================================================
``parking.json``                the root: ``meta`` (schema, version counter, id counters, restore epoch, the list
                                of data files) and ``lots``
``parking.users.json``          ``users``
``parking.auth.json``           ``sessions`` (token hashes) and ``logins`` (failed-login counters)
``parking.lot-<id>.json``       one lot's ``slots`` and its live (reserved / checked-in) ``bookings``
``parking.archive-<nnn>.json``  finished bookings, sharded by username so "my bookings" reads one file
``parking.holds-<nn>.json``      which lots hold each driver's live bookings (a superset), sharded by username
``parking.json.lock``           the cross-process lock (``flock``), held across every read-check-write
``parking.audit.jsonl``         the audit log: one JSON line per change, only ever appended
``parking.backups/``            snapshots: copies of the committed files with their SHA-256 (``SHA256SUMS``)
==============================  ===========================================================================

Every write goes through :meth:`TinyStore.transaction`: take the lock, re-read whatever changed on disk, let the
service read-check-write through TinyDB tables held in memory, then commit - every changed file is written to a
temporary file and fsynced first (a full disk fails here, with nothing changed), then renamed over the old one
in a safe order and the directory fsynced. The root goes first when it changed: it carries the id counters
(booking ids are handed to each process in blocks, so a booking touches the root only once in a block), so an id
is never handed out twice even if the machine dies half-way. A driver's holds are written before the lot file,
so they always list at least every lot where the driver has a live booking. A finished booking is written to the
archive before it is removed from its lot file; readers drop a live copy whose id is already archived, so a
repeated move is harmless.

Each process caches the parsed files and re-reads one only when its ``(inode, mtime, size)`` stamp changes.
Readers take no lock: files are only ever replaced whole. Every record is checked for its shape when a file is
read (``shapes``); every file but the root carries a ``_file`` tag with its own name and the restore epoch, and
the root lists the files that exist, so a missing, misplaced or stale file is an error, never an empty start.
A restore (see :meth:`TinyStore.restore`) sets a new epoch; a process that sees it drops everything cached.
"""

from __future__ import annotations

import bisect
import errno
import grp
import hashlib
import os
import pwd
from datetime import datetime, timedelta, timezone
import secrets
import shutil
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from ...domain.errors import StorageError
from . import shapes
from .shapes import ShapeError
from .lock import LockTimeout, ProcessLock

try:  # orjson is several times faster on big files; the standard library is the fallback
    import orjson

    def _dumps(data: Any) -> bytes:
        return orjson.dumps(data)

    def _loads(raw: bytes) -> Any:
        return orjson.loads(raw)

except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    def _dumps(data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def _loads(raw: bytes) -> Any:
        return json.loads(raw)


SCHEMA = 2
"""1: parking-tui 0.1.0. 2: lots carry ``time_zone``; walk-in marks carry ``mark_until`` (see ``_upgrade``)."""
DEFAULT_WALK_IN_HOURS = 4
DEFAULT_ARCHIVE_BUCKETS = 256
HOLDS_BUCKETS = 64
ID_BLOCK = 32
SUMS = "SHA256SUMS"
DEFAULT_LOCK_TIMEOUT = 5.0
Record = dict[str, Any]
Stamp = tuple[int, int, int]
_UNSET: Any = object()


class _Memory(Storage):
    """A TinyDB storage over a dict we own; writes only mark the file dirty (the store commits)."""

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> dict[str, dict[str, Any]]:
        return self.data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data
        self.dirty = True


class _File:
    """One data file as parsed in this process, with the indexes built from it on demand."""

    __slots__ = ("name", "stamp", "db", "mem", "_indexes")

    def __init__(self, name: str, stamp: Stamp | None, data: dict[str, dict[str, Any]]) -> None:
        self.name = name
        self.stamp = stamp
        self.db = TinyDB(data, storage=_Memory)
        self.mem: _Memory = self.db.storage  # type: ignore[assignment]
        self._indexes: dict[str, Any] = {}

    def table(self, name: str) -> Table:
        return self.db.table(name, cache_size=0)

    def raw(self, table: str) -> dict[str, Record]:
        return self.mem.data.get(table, {})

    def index(self, key: str, build) -> Any:
        found = self._indexes.get(key)
        if found is None:
            found = self._indexes[key] = build(self)
        return found

    def changed(self) -> None:
        self._indexes.clear()


def _by_field(table: str, field: str):
    def build(f: _File) -> dict[Any, int]:
        return {rec[field]: int(doc_id) for doc_id, rec in f.raw(table).items()}

    return build


def _multi_by_field(table: str, field: str):
    def build(f: _File) -> dict[Any, list[int]]:
        out: dict[Any, list[int]] = {}
        for doc_id, rec in f.raw(table).items():
            out.setdefault(rec[field], []).append(int(doc_id))
        return out

    return build


def _new_memo(f: _File) -> dict[int, Any]:
    return {}


def check_data_path(path: Path) -> None:
    """The data file must be a regular file (or not exist yet); nothing is created otherwise."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"Cannot use {path} as the data file: {exc.strerror}.") from None
    if stat.S_ISDIR(st.st_mode):
        raise StorageError(
            f"{path} is a folder; give the data file inside it, e.g. --db {path / 'parking.json'}."
        )
    if stat.S_ISLNK(st.st_mode):
        raise StorageError(f"{path} is a symbolic link; parking-tui opens only the data file itself.")
    if not stat.S_ISREG(st.st_mode):
        raise StorageError(f"{path} is not a regular file; it cannot be the data file.")


class _TrustedOwners:
    """Accounts whose files the store uses: this account, root, and the members of the folder's group."""

    def __init__(self, gid: int) -> None:
        self.gid = gid
        self._members: set[str] | None = None

    def __call__(self, uid: int) -> bool:
        if uid in (os.getuid(), 0):
            return True
        try:
            account = pwd.getpwuid(uid)
        except KeyError:
            return False
        if account.pw_gid == self.gid:
            return True
        if self._members is None:
            try:
                self._members = set(grp.getgrgid(self.gid).gr_mem)
            except KeyError:
                self._members = set()
        return account.pw_name in self._members


def _name_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group_of(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def _foreign(path: Path, uid: int, gid: int, what: str) -> str:
    return (
        f"The data {what} {path} is owned by {_name_of(uid)}, who is not in the group {_group_of(gid)} of the "
        "data folder; parking-tui will not use it. Nothing was changed."
    )


def _read_nofollow(path: Path) -> bytes:
    """The whole file, never through a symbolic link (``OSError`` ELOOP for a link)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_all(fd: int, payload: bytes) -> None:
    """``os.write`` until every byte is written (a write may take fewer bytes than it was given)."""
    view = memoryview(payload)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "the disk took no bytes")
        view = view[n:]


def _put(table: Table, doc_id: int, record: Record) -> None:
    """Insert or replace the record under our own id (records are always written whole: a field the new record
    leaves out, as it leaves out every ``None``, is gone, not kept from the record before)."""

    def replace_whole(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(record)

    if str(doc_id) in table._read_table():  # noqa: SLF001 - a dict lookup; saves a second table rewrite
        table.update(replace_whole, doc_ids=[doc_id])
    else:
        table.insert(Document(record, doc_id=doc_id))


class TinyStore:
    """The only code that touches files. See the module docstring for the layout and the write protocol."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        file_mode: int = 0o600,
        archive_buckets: int = DEFAULT_ARCHIVE_BUCKETS,
        backups: int = 10,
        backup_interval: float = 900.0,
        time_zone: str = "UTC",
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        #: The zone given to lots of an older data set that had none (the upgrade to schema 2).
        self.time_zone = time_zone
        self.dir = self.path.parent
        self._dir_str = str(self.dir)
        name = self.path.name
        self.stem = name[:-5] if name.endswith(".json") else name
        self.file_mode = file_mode
        self.lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._files: dict[str, _File] = {}
        self._slot_lot: dict[int, int] = {}
        self._booking_lot: dict[int, int] = {}
        self._id_blocks: dict[str, list[int]] = {}
        #: The root's ``epoch`` as last read: a restore sets a new one, and every process that sees it change
        #: drops what it cached (parsed files, indexes, blocks of ids) before it reads or writes anything.
        self._epoch: Any = _UNSET
        self._closed = False
        #: How many snapshots to keep (0: none), and how often at most to take one after a write.
        self.backups = backups
        self.backup_interval = backup_interval
        self._check_target()
        try:
            if not os.path.lexists(self.dir):
                # A folder made for the data gets the files' mode (0660 -> 0770), whatever the umask; an
                # existing one is left as it is.
                self.dir.parent.mkdir(parents=True, exist_ok=True)
                self._make_dir(self.dir, exist_ok=True)
            else:
                self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the data folder {self.dir}: {exc.strerror}.") from None
        self._lock = ProcessLock(str(self.path) + ".lock", timeout=lock_timeout, mode=file_mode)
        self._check_owners()
        self._open(archive_buckets)

    def describe(self) -> str:
        """Where the data is, for a person (the port's ``Store.describe``)."""
        return str(self.path)

    def _check_target(self) -> None:
        check_data_path(self.path)

    # ------------------------------------------------------------------------------------ names

    @property
    def root_name(self) -> str:
        return self.path.name

    def _users_name(self) -> str:
        return f"{self.stem}.users.json"

    def _auth_name(self) -> str:
        return f"{self.stem}.auth.json"

    def _lot_name(self, lot_id: int) -> str:
        return f"{self.stem}.lot-{lot_id}.json"

    def _archive_name(self, bucket: int) -> str:
        return f"{self.stem}.archive-{bucket:03d}.json"

    def _holds_name(self, username: str) -> str:
        return f"{self.stem}.holds-{zlib.crc32(username.encode('utf-8')) % HOLDS_BUCKETS:02d}.json"

    @property
    def _journal(self) -> Path:
        """Present only while a restore is switching files: the list of files it puts in place and removes."""
        return self.dir / f"{self.stem}.restore-journal"

    @property
    def _staging(self) -> Path:
        return self.dir / f".{self.stem}.restore"

    def _is_data_name(self, name: str) -> bool:
        return name == self.root_name or (
            name.startswith(self.stem + ".") and name.endswith(".json") and "/" not in name and name == Path(name).name
        )

    def archive_bucket(self, username: str) -> int:
        return zlib.crc32(username.encode("utf-8")) % self._buckets

    def companion_files(self) -> list[Path]:
        """Every data file that belongs to this store (the root first), as found on disk."""
        found = sorted(p for p in self.dir.glob(f"{self.stem}.*.json") if p.name != self.path.name)
        return ([self.path] if self.path.exists() else []) + found

    # -------------------------------------------------------------------------------- opening

    def _open(self, archive_buckets: int) -> None:
        with self._locked():
            if not self._recover_restore():
                shutil.rmtree(self._staging, ignore_errors=True)  # a restore stopped before its switch
            if self.path.exists():
                self._settle()
            for stray in self.dir.glob(f".{self.stem}.*.tmp"):
                try:
                    stray.unlink()
                except OSError:
                    pass
            if not self.path.exists():
                others = [p for p in self.dir.glob(f"{self.stem}.*.json")]
                if others:
                    raise StorageError(
                        f"The data file {self.path} is missing but its companion files "
                        f"({others[0].name}, ...) are there. Restore {self.path.name} from a backup; "
                        "nothing was changed."
                    )
                root = _File(self.root_name, None, {})
                root.table("meta").insert(
                    Document(
                        {
                            "schema": SCHEMA,
                            "version": 0,
                            "archive_buckets": archive_buckets,
                            "ids": {},
                            "files": [],
                            "new_files": [],
                        },
                        doc_id=1,
                    )
                )
                self._write_files([root])
            root = self._load(self.root_name, must_exist=True)
            if int(self._meta(root).get("schema", SCHEMA)) < SCHEMA:
                root = self._upgrade(root)
            self._buckets = int(self._meta(root).get("archive_buckets", DEFAULT_ARCHIVE_BUCKETS))
            for listed in sorted(self._manifest(root) or ()):
                if not os.path.lexists(self.dir / listed):
                    raise self._missing(self.dir / listed)
            # Read the hot files now, so that a damaged one stops the program at start with a clear message
            # (archives are read when first needed and report the same way then).
            self._load(self._users_name())
            self._load(self._auth_name())
            for lot_id in root.raw("lots"):
                for slot_id in self._load(self._lot_name(int(lot_id))).raw("slots"):
                    self._slot_lot[int(slot_id)] = int(lot_id)  # so the first booking need not scan every lot

    def _upgrade(self, root: _File) -> _File:
        """Bring a data set written by an older parking-tui up to ``SCHEMA`` (call with the lock held).

        A snapshot of the files as found is taken first (whatever ``backups`` says), so the upgrade can be undone
        with ``parking-tui restore``. Schema 1 -> 2: every lot gets ``time_zone`` (this store's default zone:
        the config's, else the machine's - the zone the old version read times in); a walk-in (``occupied``)
        mark, which never ended before, ends ``walk_in_hours`` after it was set."""
        try:
            self._snapshot()
        except OSError as exc:
            raise StorageError(
                f"The data file {self.path} needs an upgrade, and the snapshot taken first failed "
                f"({exc.strerror or exc}). Nothing was changed."
            ) from None
        changed: list[_File] = []
        lots = root.raw("lots")
        for lot_id, lot in lots.items():
            if not lot.get("time_zone"):
                lot["time_zone"] = self.time_zone
            hours = int((lot.get("policy") or {}).get("walk_in_hours", DEFAULT_WALK_IN_HOURS))
            f = self._load(self._lot_name(int(lot_id)))
            touched = False
            for slot in f.raw("slots").values():
                if slot.get("admin_status") == "occupied" and not slot.get("mark_until"):
                    since = slot.get("admin_status_at")
                    start = datetime.fromisoformat(since) if since else datetime.now().astimezone()
                    end = (start + timedelta(hours=hours)).astimezone(timezone.utc)
                    slot["mark_until"] = end.isoformat(timespec="microseconds")
                    touched = True
            if touched:
                f.mem.dirty = True
                changed.append(f)
        meta = root.raw("meta")["1"]
        meta["schema"] = SCHEMA
        meta["version"] = int(meta.get("version", 0)) + 1
        root.mem.dirty = True
        self._write_files([root, *changed])
        for f in (root, *changed):
            f.changed()
        return self._load(self.root_name, must_exist=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire()
        except LockTimeout:
            raise StorageError(
                f"The data file {self.path.name} is busy: another parking-tui process has held its lock for "
                f"{self.lock_timeout:g} s. Nothing was changed; try again."
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._symlink(Path(self._lock.path)) from None
            raise StorageError(
                f"Cannot lock the data file {self.path} ({exc.strerror or exc}). Check that its folder "
                "exists and is writable by you."
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._mutex:
            self._files.clear()
            self._closed = True

    def _forget(self) -> None:
        """Drop everything cached from the files (after a restore replaced them)."""
        self._files.clear()
        self._slot_lot.clear()
        self._booking_lot.clear()
        self._id_blocks.clear()

    # -------------------------------------------------------------------------------- reading

    def _damaged(self, path: Path, what: str) -> StorageError:
        good = self.newest_good_snapshot(path.name)
        hint = (
            f"The newest good snapshot is {good}: restore it with `parking-tui restore {good.name}`."
            if good is not None
            else "Restore it from a backup or move it aside."
        )
        return StorageError(
            f"The data file {path} is damaged ({what}). It has been left exactly as it was; "
            f"parking-tui will not overwrite it. {hint}"
        )

    def newest_good_snapshot(self, name: str) -> Path | None:
        """The newest snapshot whose copy of ``name`` (and root) reads cleanly, if any."""
        for snap in reversed(self.snapshots()):
            try:
                if any("checksum" in p or "missing" in p for p in self.verify_snapshot(snap)):
                    continue
                for n in {name, self.root_name}:
                    self._parse_quiet(snap / n)  # a snapshot without the file holds no good copy of it
                return snap
            except (OSError, ValueError, AttributeError, TypeError):
                continue
        return None

    def _symlink(self, path: Path) -> StorageError:
        return StorageError(
            f"{path} is a symbolic link; parking-tui never follows links in its data folder (someone may have "
            "planted it to make you write elsewhere). Nothing was changed; remove the link."
        )

    def _check_owners(self) -> None:
        """Refuse a data folder, or a file in it, owned by an account outside the folder's group (or a link in
        place of a file): in a shared folder such a file can make this account read or write elsewhere."""
        try:
            folder = os.stat(self.dir)
        except OSError as exc:
            raise StorageError(f"Cannot use the data folder {self.dir}: {exc.strerror}.") from None
        trusted = _TrustedOwners(folder.st_gid)
        if not trusted(folder.st_uid):
            raise StorageError(_foreign(self.dir, folder.st_uid, folder.st_gid, "folder"))
        for path in [self.path, Path(self._lock.path), self.audit_path, *self.companion_files()]:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"Cannot use {path}: {exc.strerror}.") from None
            if stat.S_ISLNK(st.st_mode):
                raise self._symlink(path)
            if not trusted(st.st_uid):
                raise StorageError(_foreign(path, st.st_uid, folder.st_gid, "file"))

    def _epoch_now(self) -> Any:
        """The root's epoch as on disk now (the root is re-read if it changed: perhaps a restore)."""
        return self._meta(self._load(self.root_name, must_exist=True)).get("epoch")

    def _manifest(self, root: _File) -> set[str] | None:
        """The files the root lists as committed (``None``: data written before the root listed them)."""

        def build(f: _File) -> Any:
            meta = self._meta(f)
            if "files" not in meta:
                return ()
            return set(meta["files"]) - set(meta.get("new_files", ()))

        found = root.index("manifest", build)
        return None if found == () else found

    def _listed(self, name: str) -> bool:
        """Whether the root says ``name`` exists (a file created by the last commit may be missing yet: the
        commit was cut short before its rename)."""
        root = self._files.get(self.root_name) or self._load(self.root_name, must_exist=True)
        listed = self._manifest(root)
        return listed is not None and name in listed

    def _missing(self, path: Path) -> StorageError:
        good = self.newest_good_snapshot(path.name)
        hint = (
            f"The newest good snapshot is {good.name}: restore it with `parking-tui restore {good.name}`."
            if good is not None
            else "Put it back from a backup."
        )
        return StorageError(
            f"The data file {path} is missing, but the data lists it (its bookings, accounts or history would "
            f"be lost). Nothing was changed. {hint}"
        )

    def _parse_quiet(self, path: Path) -> None:
        data = _loads(_read_nofollow(path))
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise ValueError("not a dict")
        shapes.check(path.name, self.stem, data)

    def _load(self, name: str, *, must_exist: bool = False) -> _File:
        """The current parse of ``name``, re-read only if the file changed on disk."""
        cached = self._files.get(name)
        if cached is not None:
            # The fast path: one stat, and the parse we have is still current.
            try:
                st = os.stat(f"{self._dir_str}/{name}")
            except OSError:
                st = None
            if st is not None and cached.stamp == (st.st_ino, st.st_mtime_ns, st.st_size):
                return cached
        path = self.dir / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if must_exist:
                raise StorageError(f"The data file {path} is missing.") from None
            if name != self.root_name and self._listed(name):
                raise self._missing(path) from None
            if cached is not None and cached.stamp is None:
                return cached
            empty = _File(name, None, {})
            self._files[name] = empty
            return empty
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._symlink(path) from None
            raise StorageError(f"Cannot read the data file {path}: {exc.strerror}.") from None
        try:
            st = os.fstat(fd)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if cached is not None and cached.stamp == stamp:
                return cached
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            raw = b"".join(chunks)
        except OSError as exc:
            raise StorageError(f"Cannot read the data file {path}: {exc.strerror}.") from None
        finally:
            os.close(fd)
        data = self._parse(path, raw)
        if name != self.root_name:
            tag = data.get("_file", {}).get("1", {})
            if "epoch" in tag and tag["epoch"] != self._epoch_now():
                raise self._damaged(path, "it is a stale copy: from before the last restore")
        loaded = _File(name, stamp, data)
        if name == self.root_name:
            self._check_schema(path, loaded)
            epoch = self._meta(loaded).get("epoch")
            if self._epoch is not _UNSET and epoch != self._epoch:
                self._forget()  # a restore happened: nothing cached from before it may be used again
            self._epoch = epoch
        self._files[name] = loaded
        return loaded

    def _parse(self, path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
        if not raw.strip():
            raise self._damaged(path, "it is empty" if not raw else "it holds only blank space")
        if raw.strip(b"\x00") == b"":
            raise self._damaged(path, "it holds only zero bytes")
        try:
            data = _loads(raw)
        except ValueError:
            raise self._damaged(path, "not valid JSON: truncated or overwritten") from None
        if not isinstance(data, dict) or not all(
            isinstance(t, dict) and all(isinstance(r, dict) for r in t.values()) for t in data.values()
        ):
            raise self._damaged(path, "not a parking-tui data file")
        try:
            shapes.check(path.name, self.stem, data)
        except ShapeError as exc:
            raise self._damaged(path, str(exc)) from None
        return data

    def _meta(self, root: _File) -> Record:
        return root.raw("meta").get("1", {})

    def _check_schema(self, path: Path, root: _File) -> None:
        meta = self._meta(root)
        schema = meta.get("schema")
        if not isinstance(schema, int):
            raise self._damaged(path, "it has no schema version")
        if schema > SCHEMA:
            raise StorageError(
                f"The data file {path} was written by a newer parking-tui (schema {schema}; this one reads up "
                f"to {SCHEMA}). Upgrade parking-tui. The file has been left as it was."
            )

    def version(self, lot_id: int | None = None) -> tuple:
        """A cheap stamp (``stat`` calls only) that changes when the lots or the given lot's slots and live
        bookings change; without a lot, when any lot changes."""
        if lot_id is not None:
            names = [self.root_name, self._lot_name(lot_id)]
        else:
            root = self._files.get(self.root_name)
            lot_ids = sorted(int(k) for k in root.raw("lots")) if root is not None else []
            names = [self.root_name] + [self._lot_name(i) for i in lot_ids]
        out: list[Any] = []
        for name in names:
            try:
                st = os.stat(self.dir / name)
                out.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    @contextmanager
    def view(self) -> Iterator[_View]:
        """A read-only snapshot for one service call (no cross-process lock)."""
        with self._mutex:
            self._check_open()
            yield _View(self)

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """The one write path: lock, re-read, read-check-write in memory, commit durably or discard."""
        with self._mutex:
            self._check_open()
            self._prefetch()
            with self._locked():
                self._recover_restore()
                self._settle()
                tx = _Transaction(self)
                try:
                    yield tx
                except BaseException:
                    self._discard(tx)
                    raise
                try:
                    wrote, audit_fd = self._commit(tx)
                except BaseException:
                    self._discard(tx)
                    raise
                if wrote and self.backups > 0:
                    self._maybe_snapshot()
            # The renames and the audit lines are made durable after the lock is let go (the next writer
            # need not wait for it); the caller hears of success only after this. A writer that read our
            # files before this fsync syncs the same folder before it answers its own caller, so nothing
            # built on an unsynced rename is ever acknowledged without it.
            if audit_fd is not None or wrote:
                self._sync_after(audit_fd, wrote)

    def _prefetch(self) -> None:
        """Re-read, before taking the lock, the files this process has cached that changed on disk.

        Parsing is the slow part of a transaction; done here, other processes need not wait for it, and under
        the lock only what changed in the last moments is read again.
        """
        for name in list(self._files):
            if ".lot-" in name or ".archive-" in name or ".holds-" in name:
                continue  # many: read under the lock only when the transaction asks for them
            try:
                self._load(name)
            except StorageError:
                self._files.pop(name, None)  # the transaction will meet the problem and report it

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("The store is closed.")

    def _discard(self, tx: _Transaction) -> None:
        for name in list(tx._touched):  # noqa: SLF001
            f = self._files.get(name)
            if f is not None and f.mem.dirty:
                del self._files[name]
        self._slot_lot.clear()
        self._booking_lot.clear()
        tx.new_blocks.clear()

    # -------------------------------------------------------------------------------- writing

    def _commit(self, tx: _Transaction) -> tuple[bool, int | None]:
        """Write the transaction's files and its audit lines. Returns (whether files were written, the audit
        log's descriptor to fsync). The audit lines are appended after every temporary file is safely on disk
        and before the renames, so a full disk at either step leaves nothing changed."""
        dirty = [self._files[n] for n in tx._touched if n in self._files and self._files[n].mem.dirty]  # noqa: SLF001
        tx_id = secrets.token_hex(8)
        events = [dict(e, tx=tx_id) for e in tx.events]
        if not dirty:
            return False, (self._append_audit(events) if events else None)
        root = tx._file(self.root_name)  # noqa: SLF001
        meta = dict(self._meta(root))
        # The files that decide whether this transaction happened (the root and the holds are written first
        # and say nothing about it on their own): each is tagged with the transaction id.
        decisive = sorted(f.name for f in dirty if f is not root and ".holds-" not in f.name) or [self.root_name]
        root_decides = decisive == [self.root_name]
        if root_decides:
            meta["tx"] = tx_id
        listed = set(meta.get("files", ()))
        new = sorted(f.name for f in dirty if f is not root and f.stamp is None and f.name not in listed)
        if root in dirty or tx.moved or meta.get("pending_archive") or new or "files" not in meta or root_decides:
            meta["version"] = int(meta.get("version", 0)) + 1
            meta["pending_archive"] = list(tx.moved)
            if "files" not in meta:  # written before the root listed its files: list what is there
                listed = {p.name for p in self.companion_files() if p.name != self.root_name}
            # Files the previous commit created and listed: one cut short before its rename is not there.
            for n in meta.get("new_files", ()):
                if n not in new and not os.path.lexists(self.dir / n):
                    listed.discard(n)
            meta["files"] = sorted(listed | set(new))
            meta["new_files"] = new
            root.table("meta").update(meta, doc_ids=[1])
            root.changed()
            if root not in dirty:
                dirty.append(root)

        def order(f: _File) -> int:
            if f is root:
                return 0
            if ".archive-" in f.name:
                return 1
            if ".holds-" in f.name:
                return 2
            if ".lot-" in f.name:
                return 3
            return 4

        dirty.sort(key=order)
        audit: list[int | None] = [None]

        def append_audit() -> None:
            if events:
                # Say which transaction is under way before its audit lines exist: if this process dies before
                # its renames, the next writer finds the note and records that the transaction never happened.
                try:
                    self._lock.write_note(_dumps({"tx": tx_id, "files": decisive}))
                except OSError as exc:
                    reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
                    raise StorageError(
                        f"Could not write to the lock file of {self.path.name}: {reason}. Nothing was changed."
                    ) from None
                try:
                    size = os.stat(self.audit_path).st_size
                except OSError:
                    size = None
                try:
                    audit[0] = self._append_audit(events)
                except BaseException:
                    # Nothing will be renamed. If not a byte reached the log, the note has nothing to settle.
                    try:
                        if os.stat(self.audit_path).st_size == size:
                            self._lock.write_note(b"")
                    except OSError:
                        pass
                    raise

        self._write_files(dirty, sync_dir=False, before_rename=append_audit, tx_id=tx_id)
        if events:
            try:
                self._lock.write_note(b"")
            except OSError:
                pass  # the next writer finds the note, sees the files carry this id, and clears it
        self._id_blocks.update(tx.new_blocks)
        return True, audit[0]

    def _settle(self) -> None:
        """With the lock held: if the previous writer died between its audit lines and the end of its renames,
        find out from the files whether its transaction happened and, if not, say so in the audit log."""
        try:
            note = self._lock.read_note()
        except OSError:
            return
        if not note:
            return
        try:
            pending = _loads(note)
            tx_id, names = str(pending["tx"]), [n for n in pending["files"] if self._is_data_name(n)]
        except (ValueError, KeyError, TypeError):
            self._lock.write_note(b"")
            return
        if not self._tx_landed(tx_id, names):
            event = {"at": datetime.now().astimezone().isoformat(), "user": "system", "op": "rolled_back", "tx": tx_id}
            fd = self._append_audit([event])
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._lock.write_note(b"")

    def _tx_landed(self, tx_id: str, names: list[str]) -> bool:
        """Whether any of the transaction's deciding files carries its id (its rename happened)."""
        for name in names:
            try:
                data = _loads(_read_nofollow(self.dir / name))
            except (OSError, ValueError):
                continue
            # A file that holds no object where the tag should be (damaged since) does not carry the id; reading
            # it for real reports the damage.
            table = data.get("meta" if name == self.root_name else "_file") if isinstance(data, dict) else None
            tag = table.get("1") if isinstance(table, dict) else None
            if isinstance(tag, dict) and tag.get("tx") == tx_id:
                return True
        return False

    def pending_transaction(self) -> str | None:
        """The id of a transaction cut short after its audit lines whose outcome nobody has recorded yet, if it
        did not happen (read without the lock; for ``doctor``)."""
        try:
            note = _read_nofollow(Path(str(self.path) + ".lock"))[: 1 << 16]
            pending = _loads(note) if note else None
            if pending and not self._tx_landed(str(pending["tx"]), list(pending["files"])):
                return str(pending["tx"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    @property
    def audit_path(self) -> Path:
        return self.dir / f"{self.stem}.audit.jsonl"

    @property
    def backup_dir(self) -> Path:
        return self.dir / f"{self.stem}.backups"

    def _append_audit(self, events: list[Record]) -> int | None:
        """Append the transaction's events, one JSON line each (O_APPEND: never rewritten in place).

        Returns the open descriptor; the caller fsyncs it after letting go of the lock, before it answers."""
        payload = b"".join(_dumps(e) + b"\n" for e in events)
        try:
            fd = os.open(self.audit_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, self.file_mode)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    os.fchmod(fd, self.file_mode)
                elif os.pread(fd, 1, size - 1) != b"\n":
                    # A crash cut the last line short: start on a new line, or this event would be glued to
                    # the fragment and lost to every reader.
                    payload = b"\n" + payload
                _write_all(fd, payload)
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._symlink(self.audit_path) from None
            reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise StorageError(
                f"Could not write the audit log {self.audit_path}: {reason}. Nothing was changed; the data is "
                "as it was."
            ) from None
        return fd

    def read_audit(self) -> Iterator[Record]:
        """Every audit event, oldest first. A torn line (a crash mid-append) is skipped. The events of a
        transaction that never happened (its process died before its renames) carry ``committed: False``;
        the ``rolled_back`` lines that say so are not events and are left out."""
        events: list[Record] = []
        rolled_back: set[str] = set()
        try:
            fd = os.open(self.audit_path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                for line in fh:
                    try:
                        event = _loads(line)
                    except ValueError:
                        continue
                    if not isinstance(event, dict):
                        continue
                    if event.get("op") == "rolled_back":
                        rolled_back.add(str(event.get("tx")))
                    else:
                        events.append(event)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"Cannot read the audit log {self.audit_path}: {exc.strerror}.") from None
        pending = self.pending_transaction()
        if pending is not None:
            rolled_back.add(pending)
        for event in events:
            if rolled_back and str(event.get("tx")) in rolled_back:
                event = dict(event, committed=False)
            yield event

    def _maybe_snapshot(self) -> None:
        newest = self.snapshots()[-1:]
        if newest:
            try:
                age = time.time() - newest[0].stat().st_mtime
            except OSError:
                age = self.backup_interval
            if age < self.backup_interval:
                return
        try:
            self._snapshot()
        except (OSError, StorageError) as exc:
            # The write itself succeeded; the failed snapshot is recorded where an operator looks (the audit
            # log, and `doctor`), never silently skipped.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            event = {
                "at": datetime.now().astimezone().isoformat(),
                "user": "system",
                "op": "snapshot_failed",
                "reason": f"{reason} ({self.backup_dir})",
            }
            try:
                os.close(self._append_audit([event]))
            except (OSError, StorageError):
                pass

    def snapshots(self) -> list[Path]:
        """Snapshot folders, oldest first."""
        try:
            return sorted(
                p
                for p in self.backup_dir.iterdir()
                if not p.name.startswith(".") and p.is_dir() and not p.is_symlink()
            )
        except OSError:
            return []

    def _current_version(self) -> int:
        try:
            return int(self._meta(self._load(self.root_name, must_exist=True)).get("version", 0))
        except (StorageError, TypeError, ValueError):
            return 0  # a damaged or missing root: the snapshot is still taken, of the files as they are

    @property
    def dir_mode(self) -> int:
        """Folders the store makes: the file mode with search permission where it allows reading
        (0600 -> 0700, 0660 -> 0770)."""
        mode = self.file_mode & 0o777
        return mode | ((mode & 0o444) >> 2)

    def _make_dir(self, path: Path, *, exist_ok: bool) -> None:
        """A folder with exactly ``dir_mode`` (whatever the umask; a set-group-id bit is kept), never through
        a symbolic link."""
        try:
            os.mkdir(path, self.dir_mode)
        except FileExistsError:
            if not exist_ok:
                raise
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a folder (a symbolic link or a file is in its place)")
        wanted = self.dir_mode | (st.st_mode & stat.S_ISGID)
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != wanted:
            os.chmod(path, wanted)

    def _copy_file(self, src: Path, dst: Path) -> str:
        """Copy ``src`` into a new file ``dst`` with the configured mode; returns the SHA-256 of the bytes."""
        digest = hashlib.sha256()
        fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.file_mode)
            try:
                os.fchmod(fout, self.file_mode)
                while chunk := os.read(fin, 1 << 20):
                    digest.update(chunk)
                    _write_all(fout, chunk)
                os.fsync(fout)
            finally:
                os.close(fout)
        finally:
            os.close(fin)
        return digest.hexdigest()

    def _snapshot(self) -> Path:
        """Copy every committed data file into a new snapshot folder, with a ``SHA256SUMS`` that proves each
        copy intact (call with the lock held). Copies, not links: damage made in place to a data file (an
        editor, a sync tool) never reaches a snapshot."""
        version = self._current_version()
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-v{version:09d}"
        self._make_dir(self.backup_dir, exist_ok=True)
        # Several snapshots in one second of one version get -002, -003...: always a number above the highest
        # one there, so that the newest sorts last even after pruning removed the first of them.
        same = [p.name[len(name) :] for p in self.snapshots() if p.name.startswith(name)]
        if same:
            n = max((int(rest[1:]) for rest in same if rest[1:].isdigit()), default=1) + 1
            target = self.backup_dir / f"{name}-{n:03d}"
        else:
            target = self.backup_dir / name
        work = self.backup_dir / f".{target.name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        self._make_dir(work, exist_ok=False)
        try:
            sums = [f"{self._copy_file(f, work / f.name)}  {f.name}\n" for f in self.companion_files()]
            fd = os.open(work / SUMS, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.file_mode)
            try:
                os.fchmod(fd, self.file_mode)
                _write_all(fd, "".join(sums).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._fsync_path(work)
            os.replace(work, target)
            self._fsync_path(self.backup_dir)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        for old in self.snapshots()[: -self.backups] if self.backups > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def verify_snapshot(self, snap: Path) -> list[str]:
        """What is wrong with a snapshot (empty: every file is as it was taken and reads cleanly)."""
        problems: list[str] = []
        try:
            lines = (snap / SUMS).read_text().splitlines()
        except FileNotFoundError:
            lines = None
            problems.append(f"no {SUMS}: taken by an older parking-tui, its files cannot be proven intact")
        except (OSError, UnicodeDecodeError) as exc:
            return [f"{SUMS} cannot be read ({exc})"]
        listed: dict[str, str] = {}
        for line in lines or []:
            digest, _, fname = line.partition("  ")
            if not self._is_data_name(fname) or len(digest) != 64:
                problems.append(f"{SUMS} has a line that is not a checksum of a data file: {line[:60]!r}")
                continue
            listed[fname] = digest
        present = {p.name for p in snap.iterdir() if self._is_data_name(p.name)} if snap.is_dir() else set()
        for fname, digest in sorted(listed.items()):
            path = snap / fname
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError as exc:
                problems.append(f"{fname} is {'missing' if exc.errno == errno.ENOENT else exc.strerror}")
                continue
            h = hashlib.sha256()
            with os.fdopen(fd, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            if h.hexdigest() != digest:
                problems.append(f"{fname} has changed since the snapshot was taken (checksum differs)")
        if lines is not None:
            for extra in sorted(present - set(listed)):
                problems.append(f"{extra} is not part of the snapshot as taken")
        if self.root_name not in present:
            problems.append(f"{self.root_name} is missing")
        for fname in sorted(present):
            try:
                self._parse_quiet(snap / fname)
            except (OSError, ValueError, AttributeError, TypeError) as exc:
                problems.append(f"{fname} does not read cleanly ({exc})")
        return problems

    @classmethod
    def for_restore(cls, path: str | os.PathLike[str], *, file_mode: int = 0o600) -> TinyStore:
        """A store object for ``restore`` that does not read the (possibly damaged) current data."""
        store = cls.__new__(cls)
        store.path = Path(path).expanduser().absolute()
        store.dir = store.path.parent
        store._dir_str = str(store.dir)
        name = store.path.name
        store.stem = name[:-5] if name.endswith(".json") else name
        store.file_mode = file_mode
        store.lock_timeout = DEFAULT_LOCK_TIMEOUT
        store._mutex = threading.RLock()
        store._files, store._slot_lot, store._booking_lot, store._id_blocks = {}, {}, {}, {}
        store._epoch = _UNSET
        store._closed = False
        store.backups, store.backup_interval = 10, 900.0
        store._buckets = DEFAULT_ARCHIVE_BUCKETS
        store._lock = ProcessLock(str(store.path) + ".lock", timeout=store.lock_timeout, mode=store.file_mode)
        return store

    def snapshot(self) -> Path:
        """Take a snapshot now (``parking-tui backup``)."""
        with self._mutex, self._locked():
            try:
                return self._snapshot()
            except OSError as exc:
                reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
                raise StorageError(f"Cannot take a snapshot in {self.backup_dir}: {reason}.") from None

    def named_snapshot(self, name: str) -> Path:
        """The snapshot called ``name`` exactly as ``backup --list`` prints it; any other name (a path, ``..``,
        a folder elsewhere) is refused."""
        for snap in self.snapshots():
            if snap.name == str(name):
                return snap
        raise StorageError(
            f"No snapshot named {str(name)!r} in {self.backup_dir}; `parking-tui backup --list` shows the names "
            "that can be restored. Nothing was changed."
        )

    def restore(self, name: str) -> Path:
        """Replace the data files with a snapshot's, all or nothing. Returns the safety snapshot (the data as it
        was before, so a restore can itself be undone).

        Every file of the snapshot is read and checked first. The files are then staged in a folder beside the
        data, and one rename of a journal listing them is the switch: from then on the restore is finished
        (here, or by whoever opens the data next if this process dies), before that nothing has changed.
        The restored root gets a new ``epoch``, so other processes drop their caches and blocks of ids, and id
        counters that are never lower than any ever handed out (in the current data or any snapshot)."""
        snap = self.named_snapshot(name)
        with self._mutex, self._locked():
            self._recover_restore()
            damage = [p for p in self.verify_snapshot(snap) if not p.startswith(f"no {SUMS}")]
            if damage:
                raise StorageError(f"The snapshot {snap.name} is damaged: {damage[0]}. Nothing was changed.")
            parsed: dict[str, dict[str, Any]] = {}
            try:
                for p in sorted(snap.iterdir()):
                    if self._is_data_name(p.name) and p.is_file() and not p.is_symlink():
                        parsed[p.name] = self._parse(p, _read_nofollow(p))
            except OSError as exc:
                raise StorageError(f"Cannot read the snapshot {snap}: {exc.strerror}. Nothing was changed.") from None
            if self.root_name not in parsed:
                raise StorageError(f"The snapshot {snap} holds no {self.root_name}. Nothing was changed.")
            root = _File(self.root_name, None, parsed[self.root_name])
            self._check_schema(snap / self.root_name, root)
            meta = dict(self._meta(root))
            ids = {k: v for k, v in dict(meta.get("ids", {})).items() if isinstance(v, int)}
            version = int(meta.get("version", 0))
            for other in [self.path, *(s / self.root_name for s in self.snapshots())]:
                try:
                    m = _loads(_read_nofollow(other))["meta"]["1"]
                    for kind, value in m.get("ids", {}).items():
                        if isinstance(value, int) and value > ids.get(kind, 0):
                            ids[kind] = value
                    version = max(version, int(m.get("version", 0)))
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue  # a damaged copy tells us nothing
            epoch = secrets.token_hex(8)
            listed = sorted(n for n in parsed if n != self.root_name)
            meta.update(ids=ids, version=version + 1, epoch=epoch, files=listed, new_files=[])
            parsed[self.root_name]["meta"]["1"] = meta
            for n in listed:
                parsed[n]["_file"] = {"1": {"name": n, "epoch": epoch}}
            try:
                safety = self._snapshot()
            except OSError as exc:
                raise StorageError(
                    f"Cannot keep the current data as a snapshot in {self.backup_dir} ({exc.strerror}); "
                    "nothing was changed."
                ) from None
            remove = [p.name for p in self.companion_files() if p.name not in parsed]
            try:
                shutil.rmtree(self._staging, ignore_errors=True)
                self._make_dir(self._staging, exist_ok=False)
                for n, data in parsed.items():
                    self._write_new(self._staging / n, _dumps(data))
                self._fsync_path(self._staging)
                tmp = self.dir / f".{self.stem}.restore-journal.{secrets.token_hex(4)}.tmp"
                self._write_new(tmp, _dumps({"files": sorted(parsed), "remove": remove}))
            except OSError as exc:
                shutil.rmtree(self._staging, ignore_errors=True)
                reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
                raise StorageError(
                    f"Could not stage the restore in {self.dir}: {reason}. Nothing was changed."
                ) from None
            os.replace(tmp, self._journal)  # the switch: from here on the restore happens
            self._sync_dir()
            self._recover_restore()
            return safety

    def _recover_restore(self) -> bool:
        """Finish a restore whose switch was made (call with the lock held). Returns whether there was one.

        Idempotent: a file already moved into place is not in the staging folder any more."""
        try:
            plan = _loads(_read_nofollow(self._journal))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"An interrupted restore left {self._journal} and it cannot be read ({exc}). Move it aside and "
                "restore again."
            ) from None
        names = [n for n in plan.get("files", []) if isinstance(n, str) and self._is_data_name(n)]
        gone = [n for n in plan.get("remove", []) if isinstance(n, str) and self._is_data_name(n)]
        try:
            for n in names:
                try:
                    os.replace(self._staging / n, self.dir / n)
                except FileNotFoundError:
                    pass  # moved in place before an interruption
            for n in gone:
                try:
                    os.unlink(self.dir / n)
                except FileNotFoundError:
                    pass
            self._sync_dir()
            os.unlink(self._journal)
            shutil.rmtree(self._staging, ignore_errors=True)
        except OSError as exc:
            raise StorageError(
                f"Could not finish the restore recorded in {self._journal}: {exc.strerror}. It is finished the "
                "next time parking-tui opens the data."
            ) from None
        self._sync_dir()
        self._forget()
        return True

    def _write_new(self, path: Path, payload: bytes) -> None:
        """Create ``path`` (it must not exist), write all of ``payload`` and fsync it."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.file_mode)
        try:
            os.fchmod(fd, self.file_mode)
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _fsync_path(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _sync_after(self, audit_fd: int | None, wrote: bool) -> None:
        dfd = None
        try:
            dfd = os.open(self.dir, os.O_RDONLY) if wrote else None
            for fd in (audit_fd, dfd):
                if fd is not None:
                    os.fsync(fd)
        except OSError as exc:
            raise StorageError(
                f"The change was written but {self.dir} could not be synced to disk ({exc.strerror}); "
                "check the disk."
            ) from None
        finally:
            for fd in (audit_fd, dfd):
                if fd is not None:
                    os.close(fd)

    def _sync_dir(self) -> None:
        try:
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise StorageError(
                f"The change was written but {self.dir} could not be synced to disk ({exc.strerror}); "
                "check the disk."
            ) from None

    def _write_files(
        self,
        files: list[_File],
        *,
        sync_dir: bool = True,
        before_rename: Callable[[], None] | None = None,
        tx_id: str | None = None,
    ) -> None:
        """Write each file to a temporary file and fsync it, then rename them in order and fsync the folder."""
        staged: list[tuple[_File, Path, Stamp]] = []
        fds: list[int] = []
        try:
            root = next((f for f in files if f.name == self.root_name), None) or self._files.get(self.root_name)
            epoch = self._meta(root).get("epoch") if root is not None else None
            for f in files:
                if f.name != self.root_name:
                    tag = {"name": f.name, "epoch": epoch} | ({"tx": tx_id} if tx_id else {})
                    if f.mem.data.get("_file", {}).get("1") != tag:
                        f.mem.data["_file"] = {"1": tag}
                payload = _dumps(f.mem.data)
                tmp = self.dir / f".{f.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.file_mode)
                fds.append(fd)
                staged.append((f, tmp, (0, 0, 0)))
                os.fchmod(fd, self.file_mode)  # exactly the configured mode, whatever the umask
                _write_all(fd, payload)
            for i, fd in enumerate(fds):
                os.fsync(fd)
                st = os.fstat(fd)
                staged[i] = (staged[i][0], staged[i][1], (st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError as exc:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            fds = []
            for _, tmp, _ in staged:
                try:
                    tmp.unlink()
                except OSError:
                    pass
            reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise StorageError(
                f"Could not save to {self.dir}: {reason}. Nothing was changed; the data is as it was."
            ) from None
        for fd in fds:
            os.close(fd)
        if before_rename is not None:
            try:
                before_rename()
            except BaseException:
                for _, tmp, _ in staged:
                    try:
                        tmp.unlink()
                    except OSError:
                        pass
                raise
        # Renames are journalled in order (ext4 and other journalling file systems): the root, with the id
        # counters, is never behind a file that uses its ids. One fsync of the folder makes them all durable.
        for f, tmp, stamp in staged:
            os.replace(tmp, self.dir / f.name)
            f.stamp = stamp
            f.mem.dirty = False
            self._files[f.name] = f
        if sync_dir:
            self._sync_dir()


class _View:
    """Read access for one service call. Each file is checked against the disk once per view."""

    def __init__(self, store: TinyStore) -> None:
        self.s = store
        self._touched: dict[str, _File] = {}

    def _file(self, name: str, *, must_exist: bool = False) -> _File:
        f = self._touched.get(name)
        if f is None:
            f = self._touched[name] = self.s._load(name, must_exist=must_exist)  # noqa: SLF001
        return f

    # --- root
    def _root(self) -> _File:
        return self._file(self.s.root_name, must_exist=True)

    def lots(self) -> list[Record]:
        return [dict(r, id=int(k)) for k, r in self._root().raw("lots").items()]

    def get_lot(self, lot_id: int) -> Record | None:
        rec = self._root().raw("lots").get(str(lot_id))
        return None if rec is None else dict(rec, id=lot_id)

    # --- users and auth
    def _users(self) -> _File:
        return self._file(self.s._users_name())  # noqa: SLF001

    def _auth(self) -> _File:
        return self._file(self.s._auth_name())  # noqa: SLF001

    def users(self) -> Iterator[Record]:
        return iter([dict(r) for r in self._users().raw("users").values()])

    def get_user(self, username: str) -> Record | None:
        f = self._users()
        doc_id = f.index("users.username", _by_field("users", "username")).get(username)
        return None if doc_id is None else dict(f.raw("users")[str(doc_id)])

    def get_session(self, token_hash: str) -> Record | None:
        f = self._auth()
        doc_id = f.index("sessions.hash", _by_field("sessions", "token_hash")).get(token_hash)
        return None if doc_id is None else dict(f.raw("sessions")[str(doc_id)])

    def get_login_state(self, username: str) -> Record | None:
        f = self._auth()
        doc_id = f.index("logins.username", _by_field("logins", "username")).get(username)
        return None if doc_id is None else dict(f.raw("logins")[str(doc_id)])

    # --- lots, slots, live bookings
    def _lot(self, lot_id: int) -> _File:
        return self._file(self.s._lot_name(lot_id))  # noqa: SLF001

    def _lot_ids(self) -> list[int]:
        return [int(k) for k in self._root().raw("lots")]

    def slots(self, lot_id: int) -> list[Record]:
        return [dict(r, id=int(k)) for k, r in self._lot(lot_id).raw("slots").items()]

    def _refresh_slot_index(self) -> None:
        idx = self.s._slot_lot  # noqa: SLF001
        idx.clear()
        for lot_id in self._lot_ids():
            for k in self._lot(lot_id).raw("slots"):
                idx[int(k)] = lot_id

    def get_slot(self, slot_id: int) -> Record | None:
        for attempt in range(2):
            lot_id = self.s._slot_lot.get(slot_id)  # noqa: SLF001
            if lot_id is not None:
                rec = self._lot(lot_id).raw("slots").get(str(slot_id))
                if rec is not None:
                    return dict(rec, id=slot_id)
            if attempt == 0:
                self._refresh_slot_index()
        return None

    def _pending(self) -> set[int]:
        """Ids of bookings the last commit moved to the archive (a crash may have left a live copy)."""
        return {int(i) for i, _lot in self.s._meta(self._root()).get("pending_archive", ())}  # noqa: SLF001

    def row(self, f: _File, table: str, doc_id: int, make: Callable[[Record], Any], **extra: Any) -> Any:
        """``make(record)`` for one record of ``f``, kept with the file's parse until the file changes (the
        port's typed rows are built once per version of a file, not once per read)."""
        memo = f.index("rows." + table, _new_memo)
        found = memo.get(doc_id)
        if found is None:
            found = memo[doc_id] = make(dict(f.raw(table)[str(doc_id)], id=doc_id, **extra))
        return found

    def _holds(self, username: str) -> _File:
        return self._file(self.s._holds_name(username))  # noqa: SLF001

    def _held_lots(self, username: str) -> list[int]:
        f = self._holds(username)
        doc_id = f.index("holds.username", _by_field("holds", "username")).get(username)
        if doc_id is None:
            return []
        return sorted({int(v) for v in f.raw("holds")[str(doc_id)].get("lots", {}).values()})

    def _live_refs(
        self, *, lot_id: int | None = None, username: str | None = None, slot_id: int | None = None
    ) -> list[tuple[_File, int, int]]:
        """Where the live bookings matching the filters are: (lot file, booking id, lot id)."""
        out: list[tuple[_File, int, int]] = []
        if slot_id is not None:
            lot_of_slot = self.s._slot_lot.get(slot_id)  # noqa: SLF001
            if lot_of_slot is None:
                slot = self.get_slot(slot_id)
                if slot is None:
                    return []
                lot_of_slot = int(slot["lot_id"])
            f = self._lot(lot_of_slot)
            ids = f.index("bookings.slot_id", _multi_by_field("bookings", "slot_id")).get(slot_id, ())
            if username is not None:
                raw = f.raw("bookings")
                ids = [i for i in ids if raw[str(i)]["username"] == username]
            return self._drop_moved([(f, i, lot_of_slot) for i in ids])
        if lot_id is not None:
            lots = [lot_id]
        elif username is not None:
            known = set(self._lot_ids())
            lots = [i for i in self._held_lots(username) if i in known]
        else:
            lots = self._lot_ids()
        for lid in lots:
            f = self._lot(lid)
            if username is None:
                out.extend((f, int(k), lid) for k in f.raw("bookings"))
            else:
                ids = f.index("bookings.username", _multi_by_field("bookings", "username")).get(username, ())
                out.extend((f, i, lid) for i in ids)
        return self._drop_moved(out)

    def live_bookings(
        self, *, lot_id: int | None = None, username: str | None = None, slot_id: int | None = None
    ) -> list[Record]:
        refs = self._live_refs(lot_id=lot_id, username=username, slot_id=slot_id)
        return [dict(f.raw("bookings")[str(i)], id=i, lot_id=lid) for f, i, lid in refs]

    def live_rows(
        self,
        make: Callable[[Record], Any],
        *,
        lot_id: int | None = None,
        username: str | None = None,
        slot_id: int | None = None,
    ) -> list[Any]:
        """:meth:`live_bookings` as ``make``'s rows (see :meth:`row`)."""
        if lot_id is not None and username is None and slot_id is None and not self._pending():
            # A whole lot (the map, the overview, availability): one list kept with the lot file's parse.
            f = self._lot(lot_id)

            def build(f: _File) -> list[Any]:
                return [self.row(f, "bookings", int(k), make, lot_id=lot_id) for k in f.raw("bookings")]

            return list(f.index("rows.bookings.all", build))
        refs = self._live_refs(lot_id=lot_id, username=username, slot_id=slot_id)
        return [self.row(f, "bookings", i, make, lot_id=lid) for f, i, lid in refs]

    def lot_index(self, lot_id: int, key: str, build: Callable[[list[Any]], Any], make: Callable[[Record], Any]) -> Any:
        """``build`` over the lot's live rows (as :meth:`live_rows` gives them), kept with the lot file's parse."""
        if self._pending():
            return build(self.live_rows(make, lot_id=lot_id))
        return self._lot(lot_id).index(key, lambda f: build(self.live_rows(make, lot_id=lot_id)))

    def archive_indexes(self, key: str, build: Callable[[dict[str, Record]], Any]) -> list[Any]:
        """``build(records)`` for each archive file (its finished bookings by id), kept with the file's parse: an
        index the port builds once per version of each file instead of reading every record on every call."""
        out = []
        for b in range(self.s._buckets):  # noqa: SLF001
            f = self._file(self.s._archive_name(b))  # noqa: SLF001
            out.append(f.index(key, lambda f: build(f.raw("bookings"))))
        return out

    def _drop_moved(self, out: list[tuple[_File, int, int]]) -> list[tuple[_File, int, int]]:
        pending = self._pending()
        if not pending:
            return out
        return [
            ref for ref in out
            if ref[1] not in pending
            or not self._is_archived({"id": ref[1], "username": ref[0].raw("bookings")[str(ref[1])]["username"]})
        ]

    def _reserved_refs(self, lot_id: int, instant: datetime) -> list[tuple[_File, int, int]]:
        f = self._lot(lot_id)

        def build(f: _File) -> tuple[list[datetime], list[int]]:
            pairs = sorted(
                (datetime.fromisoformat(r["start_time"]), int(k))
                for k, r in f.raw("bookings").items()
                if r.get("status") == "reserved"
            )
            return [p[0] for p in pairs], [p[1] for p in pairs]

        starts, ids = f.index("bookings.reserved_starts", build)
        return self._drop_moved([(f, i, lot_id) for i in ids[: bisect.bisect_left(starts, instant)]])

    def reserved_starting_before(self, lot_id: int, instant: datetime) -> list[Record]:
        """The lot's reservations (not checked in) whose start is before ``instant`` - the candidates for
        expiry - found by bisecting an index of start times rather than reading every live booking."""
        return [dict(f.raw("bookings")[str(i)], id=i, lot_id=lid) for f, i, lid in self._reserved_refs(lot_id, instant)]

    def reserved_rows_starting_before(self, make: Callable[[Record], Any], lot_id: int, instant: datetime) -> list[Any]:
        return [self.row(f, "bookings", i, make, lot_id=lid) for f, i, lid in self._reserved_refs(lot_id, instant)]

    def _is_archived(self, rec: Record) -> bool:
        """A live copy left behind by an interrupted move to the archive (the archive wins)."""
        f = self._archive(rec["username"])
        return str(rec["id"]) in f.raw("bookings")

    def _archive(self, username: str) -> _File:
        return self._file(self.s._archive_name(self.s.archive_bucket(username)))  # noqa: SLF001

    def _refresh_booking_index(self) -> None:
        idx = self.s._booking_lot  # noqa: SLF001
        idx.clear()
        for lot_id in self._lot_ids():
            for k in self._lot(lot_id).raw("bookings"):
                idx[int(k)] = lot_id

    def get_booking(self, booking_id: int, *, username: str | None = None) -> Record | None:
        for attempt in range(2):
            lot_id = self.s._booking_lot.get(booking_id)  # noqa: SLF001
            if lot_id is not None:
                rec = self._lot(lot_id).raw("bookings").get(str(booking_id))
                if rec is not None:
                    full = dict(rec, id=booking_id, lot_id=lot_id)
                    if booking_id in self._pending():
                        archived = self._archive(full["username"]).raw("bookings").get(str(booking_id))
                        if archived is not None:
                            return dict(archived, id=booking_id)
                    return full
            if attempt == 0:
                self._refresh_booking_index()
        buckets = (
            [self.s.archive_bucket(username)] if username is not None else range(self.s._buckets)  # noqa: SLF001
        )
        for b in buckets:
            rec = self._file(self.s._archive_name(b)).raw("bookings").get(str(booking_id))  # noqa: SLF001
            if rec is not None:
                return dict(rec, id=booking_id)
        return None

    def booking_by_code(self, code: str, *, username: str | None = None) -> Record | None:
        for lot_id in self._lot_ids():
            f = self._lot(lot_id)
            doc_id = f.index("bookings.code", _by_field("bookings", "confirmation_code")).get(code)
            if doc_id is not None:
                return self.get_booking(doc_id)
        buckets = (
            [self.s.archive_bucket(username)] if username is not None else range(self.s._buckets)  # noqa: SLF001
        )
        for b in buckets:
            f = self._file(self.s._archive_name(b))  # noqa: SLF001
            doc_id = f.index("bookings.code", _by_field("bookings", "confirmation_code")).get(code)
            if doc_id is not None:
                return dict(f.raw("bookings")[str(doc_id)], id=doc_id)
        return None

    def code_in_use(self, code: str, *, lot_id: int | None = None) -> bool:
        """Whether a live booking holds this confirmation code (see :meth:`live_code_holder`)."""
        return self.live_code_holder(code, lot_id=lot_id) is not None

    def live_code_holder(self, code: str, *, lot_id: int | None = None) -> int | None:
        """The id of the live booking holding this confirmation code, if one does.

        The given lot is read fresh; the other lots as this process last read them (a code made elsewhere in
        the last moments and equal to a random new one is a 1-in-10^12 event; re-reading every lot on each
        booking would make every kiosk re-read every lot).
        """
        for lid in self._lot_ids():
            name = self.s._lot_name(lid)  # noqa: SLF001
            f = self._lot(lid) if lid == lot_id else (self.s._files.get(name) or self._lot(lid))  # noqa: SLF001
            doc_id: int | None = f.index("bookings.code", _by_field("bookings", "confirmation_code")).get(code)
            if doc_id is not None:
                return doc_id
        return None

    def archive_rows(self, make: Callable[[Record], Any], *, username: str | None = None) -> list[Any]:
        """The finished bookings (of ``username``, else everybody's) as ``make``'s rows (see :meth:`row`)."""
        if username is not None:
            f = self._archive(username)
            ids = f.index("bookings.username", _multi_by_field("bookings", "username")).get(username, ())
            return [self.row(f, "bookings", i, make) for i in ids]
        out: list[Any] = []
        for b in range(self.s._buckets):  # noqa: SLF001
            f = self._file(self.s._archive_name(b))  # noqa: SLF001

            def build(f: _File) -> list[Any]:
                return [self.row(f, "bookings", int(k), make) for k in f.raw("bookings")]

            out.extend(f.index("rows.bookings.all", build))
        return out

    def lot_rows(self, make: Callable[[Record], Any]) -> list[Any]:
        root = self._root()
        return [self.row(root, "lots", int(k), make) for k in root.raw("lots")]

    def lot_row(self, make: Callable[[Record], Any], lot_id: int) -> Any:
        root = self._root()
        return self.row(root, "lots", lot_id, make) if str(lot_id) in root.raw("lots") else None

    def slot_rows(self, make: Callable[[Record], Any], lot_id: int) -> list[Any]:
        f = self._lot(lot_id)

        def build(f: _File) -> list[Any]:
            return [self.row(f, "slots", int(k), make, lot_id=lot_id) for k in f.raw("slots")]

        return list(f.index("rows.slots.all", build))

    def slot_row(self, make: Callable[[Record], Any], slot_id: int) -> Any:
        for attempt in range(2):
            lot_id = self.s._slot_lot.get(slot_id)  # noqa: SLF001
            if lot_id is not None:
                f = self._lot(lot_id)
                if str(slot_id) in f.raw("slots"):
                    return self.row(f, "slots", slot_id, make, lot_id=lot_id)
            if attempt == 0:
                self._refresh_slot_index()
        return None

    def finished_bookings(self, *, username: str | None = None, lot_id: int | None = None) -> list[Record]:
        if username is not None:
            f = self._archive(username)
            ids = f.index("bookings.username", _multi_by_field("bookings", "username")).get(username, ())
            raw = f.raw("bookings")
            out = [dict(raw[str(i)], id=i) for i in ids]
        else:
            out = []
            for b in range(self.s._buckets):  # noqa: SLF001
                f = self._file(self.s._archive_name(b))  # noqa: SLF001
                out.extend(dict(r, id=int(k)) for k, r in f.raw("bookings").items())
        if lot_id is not None:
            out = [r for r in out if r.get("lot_id") == lot_id]
        return out


class _Transaction(_View):
    """Read and write access under the cross-process lock. Nothing reaches the disk before the commit."""

    def __init__(self, store: TinyStore) -> None:
        super().__init__(store)
        self.moved: list[list[int]] = []
        self.new_blocks: dict[str, list[int]] = {}
        self.events: list[Record] = []
        self._repair()

    def _repair(self) -> None:
        """Finish a move to the archive that a crash interrupted: drop the live copy of an archived booking."""
        for booking_id, lot_id in self.s._meta(self._root()).get("pending_archive", ()):  # noqa: SLF001
            lot = self._lot(int(lot_id))
            rec = lot.raw("bookings").get(str(booking_id))
            if rec is not None and self._is_archived(rec | {"id": int(booking_id)}):
                lot.changed()
                lot.table("bookings").remove(doc_ids=[int(booking_id)])

    def _write(self, name: str) -> _File:
        f = self._file(name)
        f.changed()
        return f

    def audit(self, event: Record) -> None:
        """Record an event for the audit log; appended only if the transaction commits."""
        self.events.append(event)

    def next_id(self, kind: str) -> int:
        if kind == "booking":
            return self._next_from_block(kind)
        return self._next_from_root(kind)

    def _next_from_block(self, kind: str) -> int:
        """Booking ids come in blocks of ``ID_BLOCK`` per process: the root is written once per block."""
        block = self.new_blocks.get(kind) or self.s._id_blocks.get(kind)  # noqa: SLF001
        if block is None or block[0] >= block[1]:
            first = self._next_from_root(kind, count=ID_BLOCK)
            block = [first, first + ID_BLOCK]
        value = block[0]
        self.new_blocks[kind] = [value + 1, block[1]]
        return value

    def _next_from_root(self, kind: str, count: int = 1) -> int:
        root = self._root()
        meta = dict(self.s._meta(root))  # noqa: SLF001
        ids = dict(meta.get("ids", {}))
        value = int(ids.get(kind, 0)) + 1
        if value + count - 1 > shapes.MAX_ID:
            raise StorageError(f"The {kind} id counter in {self.s.path} has reached its limit; nothing was changed.")
        ids[kind] = value + count - 1
        meta["ids"] = ids
        root.table("meta").update(meta, doc_ids=[1])
        return value

    def put_user(self, user: Record) -> None:
        f = self._write(self.s._users_name())  # noqa: SLF001
        current = f.index("users.username", _by_field("users", "username")).get(user["username"])
        doc_id = current if current is not None else self.next_id("user")
        f.changed()
        _put(f.table("users"), doc_id, user)

    def sessions(self) -> list[Record]:
        return [dict(r) for r in self._auth().raw("sessions").values()]

    def put_session(self, session: Record) -> None:
        f = self._write(self.s._auth_name())  # noqa: SLF001
        current = f.index("sessions.hash", _by_field("sessions", "token_hash")).get(session["token_hash"])
        doc_id = current if current is not None else self.next_id("session")
        f.changed()
        _put(f.table("sessions"), doc_id, session)

    def delete_session(self, token_hash: str) -> None:
        f = self._auth()
        doc_id = f.index("sessions.hash", _by_field("sessions", "token_hash")).get(token_hash)
        if doc_id is not None:
            f.changed()
            f.table("sessions").remove(doc_ids=[doc_id])

    def purge_sessions(self, now: datetime) -> int:
        """End the sessions that expired by ``now``; how many."""
        gone = [s["token_hash"] for s in self.sessions() if datetime.fromisoformat(s["expires_at"]) <= now]
        for token_hash in gone:
            self.delete_session(token_hash)
        return len(gone)

    def end_sessions(self, username: str, *, keep: str | None = None) -> int:
        """End every session of ``username`` but the one whose hash is ``keep``; how many."""
        gone = [s["token_hash"] for s in self.sessions() if s["username"] == username and s["token_hash"] != keep]
        for token_hash in gone:
            self.delete_session(token_hash)
        return len(gone)

    def login_states(self) -> list[Record]:
        return [dict(r) for r in self._auth().raw("logins").values()]

    def forget_login_states(self, usernames: list[str]) -> None:
        """Remove the failed-sign-in records of these usernames (in one step, however many)."""
        f = self._auth()
        index = f.index("logins.username", _by_field("logins", "username"))
        doc_ids = [index[u] for u in set(usernames) if u in index]
        if doc_ids:
            f.changed()
            f.table("logins").remove(doc_ids=doc_ids)

    def put_login_state(self, username: str, state: Record | None) -> None:
        f = self._auth()
        current = f.index("logins.username", _by_field("logins", "username")).get(username)
        if state is None:
            if current is not None:
                f.changed()
                f.table("logins").remove(doc_ids=[current])
            return
        doc_id = current if current is not None else self.next_id("login")
        f.changed()
        _put(f.table("logins"), doc_id, dict(state, username=username))

    def _hold(self, username: str, booking_id: int, lot_id: int | None) -> None:
        """Record (or, with ``lot_id=None``, forget) which lot holds one of the driver's live bookings."""
        f = self._holds(username)
        doc_id = f.index("holds.username", _by_field("holds", "username")).get(username)
        rec = dict(f.raw("holds")[str(doc_id)]) if doc_id is not None else {"username": username, "lots": {}}
        lots = dict(rec.get("lots", {}))
        if lot_id is None:
            if str(booking_id) not in lots:
                return
            lots.pop(str(booking_id))
        else:
            if lots.get(str(booking_id)) == lot_id:
                return
            lots[str(booking_id)] = lot_id
        f.changed()
        if doc_id is None:
            doc_id = zlib.crc32(username.encode("utf-8")) & 0x7FFFFFFF or 1
            while str(doc_id) in f.raw("holds"):
                doc_id += 1
        _put(f.table("holds"), doc_id, dict(rec, lots=lots))

    def put_lot(self, lot: Record) -> None:
        rec = {k: v for k, v in lot.items() if k != "id"}
        root = self._root()
        root.changed()
        _put(root.table("lots"), int(lot["id"]), rec)

    def put_slot(self, slot: Record) -> None:
        lot_id, slot_id = int(slot["lot_id"]), int(slot["id"])
        f = self._write(self.s._lot_name(lot_id))  # noqa: SLF001
        _put(f.table("slots"), slot_id, {k: v for k, v in slot.items() if k != "id"})
        self.s._slot_lot[slot_id] = lot_id  # noqa: SLF001

    def put_booking(self, booking: Record) -> None:
        booking_id, lot_id = int(booking["id"]), int(booking["lot_id"])
        rec = {k: v for k, v in booking.items() if k != "id"}
        lot = self._write(self.s._lot_name(lot_id))  # noqa: SLF001
        if booking["status"] in ("reserved", "checked_in"):
            self._hold(booking["username"], booking_id, lot_id)
            _put(lot.table("bookings"), booking_id, rec)
            self.s._booking_lot[booking_id] = lot_id  # noqa: SLF001
            return
        self._hold(booking["username"], booking_id, None)
        archive = self._archive(booking["username"])
        archive.changed()
        _put(archive.table("bookings"), booking_id, rec)
        if str(booking_id) in lot.raw("bookings"):
            lot.table("bookings").remove(doc_ids=[booking_id])
        self.moved.append([booking_id, lot_id])
        self.s._booking_lot.pop(booking_id, None)  # noqa: SLF001
