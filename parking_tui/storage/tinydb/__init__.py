"""Store 1: TinyDB JSON files on one host (the embedded default). See :mod:`parking_tui.domain.ports`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...domain.errors import NotFound, StorageError
from ...domain.ports import AuditEvent, AuditFilter, BackupCheck, Finding
from .store import SCHEMA, TinyStore, check_data_path
from .port import TinyDBStore, TinyUnitOfWork, audit_event, audit_matches

#: The ``open_service`` options this store takes (the rest go to the service).
OPTIONS = frozenset({"lock_timeout", "file_mode", "archive_buckets", "backups", "backup_interval", "time_zone"})


def open_store(target: str | os.PathLike[str], **options: Any) -> TinyDBStore:
    """Open (creating the folder and an empty data set if needed) the data file ``target``."""
    unknown = set(options) - OPTIONS
    if unknown:
        raise TypeError(f"the TinyDB store takes no option {', '.join(sorted(unknown))}")
    return TinyDBStore(TinyStore(target, **options))


def _mode_of(path: Path) -> int | None:
    """The mode the data file has now (what a restore keeps), if it exists."""
    try:
        return os.stat(path, follow_symlinks=False).st_mode & 0o777
    except OSError:
        return None


class TinyOperations:
    """Backup, verify, restore, doctor and the audit log of one data file, without reading the (maybe damaged)
    data. ``file_mode`` ``None``: backups and restores keep the mode the data file has (a group-shared 0660
    stays 0660); the doctor judges modes against 0600."""

    def __init__(self, target: str | os.PathLike[str], *, file_mode: int | None = None) -> None:
        self.path = Path(target).expanduser().absolute()
        check_data_path(self.path)
        self.file_mode = file_mode
        mode = file_mode if file_mode is not None else (_mode_of(self.path) or 0o600)
        self._files = TinyStore.for_restore(self.path, file_mode=mode)

    def describe(self) -> str:
        return str(self.path)

    @property
    def backup_dir(self) -> Path:
        return self._files.backup_dir

    def backups(self) -> list[str]:
        return [snap.name for snap in self._files.snapshots()]

    def backup(self) -> str:
        store = TinyStore(self.path, file_mode=self._files.file_mode)
        try:
            return str(store.snapshot())
        finally:
            store.close()

    def verify(self) -> list[BackupCheck]:
        out = []
        for snap in self._files.snapshots():
            problems = self._files.verify_snapshot(snap)
            serious = tuple(p for p in problems if not p.startswith("no SHA256SUMS"))
            if serious:
                out.append(BackupCheck(snap.name, "damaged", serious))
            elif problems:
                out.append(BackupCheck(snap.name, "unproven", tuple(problems)))
            else:
                out.append(BackupCheck(snap.name, "ok"))
        return out

    def check_backup(self, name: str) -> None:
        try:
            self._files.named_snapshot(name)
        except StorageError as exc:
            raise NotFound(str(exc)) from None

    def restore(self, name: str) -> str:
        self.check_backup(name)
        return self._files.restore(name).name

    def doctor(self) -> list[Finding]:
        from .doctor import diagnose

        # Judged against the configured mode, else the default: a file wider than intended is reported.
        mode = self.file_mode if self.file_mode is not None else 0o600
        return [Finding(f.level, f.what, f.fix) for f in diagnose(self.path, file_mode=mode)]  # type: ignore[arg-type]

    def audit(self, filters: AuditFilter, limit: int) -> list[AuditEvent]:
        out = [e for e in map(audit_event, self._files.read_audit()) if audit_matches(e, filters)]
        return out[-max(1, limit) :]


def operations(target: str | os.PathLike[str], **options: Any) -> TinyOperations:
    return TinyOperations(target, file_mode=options.get("file_mode"))


__all__ = [
    "OPTIONS",
    "SCHEMA",
    "TinyDBStore",
    "TinyOperations",
    "TinyStore",
    "TinyUnitOfWork",
    "open_store",
    "operations",
]
