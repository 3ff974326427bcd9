"""Bulk loading: write a whole data set in the store's own format in one locked commit.

Used by the benchmark to build years of bookings in seconds (going through ``create_booking`` 200,000 times
would measure the loader, not the store). The records are the same dicts the service writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...domain.errors import StorageError
from .store import SCHEMA, TinyStore, _File

Record = dict[str, Any]


def bulk_load(
    store: TinyStore,
    *,
    users: Iterable[Record] = (),
    sessions: Iterable[Record] = (),
    lots: Iterable[Record] = (),
    slots: Iterable[Record] = (),
    bookings: Iterable[Record] = (),
) -> None:
    """Fill an EMPTY store. Records carry their own ``id`` (lots, slots, bookings); live bookings go to their lot
    file, finished ones to the archive shard of their username. Refuses a store that already holds lots."""
    with store.transaction() as tx:
        if tx.lots():
            raise StorageError("bulk_load needs an empty data file.")
    with store._locked():  # noqa: SLF001 - one commit, written the same way as any transaction
        root_data: dict[str, dict[str, Any]] = {"meta": {}, "lots": {}}
        files: dict[str, dict[str, dict[str, Any]]] = {}

        def file(name: str) -> dict[str, dict[str, Any]]:
            return files.setdefault(name, {})

        ids = {"lot": 0, "slot": 0, "booking": 0, "user": 0, "session": 0}
        holds_by_user: dict[str, Record] = {}
        for lot in lots:
            rec = {k: v for k, v in lot.items() if k != "id"}
            rec.setdefault("policy", {})
            root_data["lots"][str(lot["id"])] = rec
            ids["lot"] = max(ids["lot"], int(lot["id"]))
            file(store._lot_name(int(lot["id"]))).setdefault("slots", {})  # noqa: SLF001
        for slot in slots:
            f = file(store._lot_name(int(slot["lot_id"])))  # noqa: SLF001
            f.setdefault("slots", {})[str(slot["id"])] = {k: v for k, v in slot.items() if k != "id"}
            ids["slot"] = max(ids["slot"], int(slot["id"]))
        for b in bookings:
            rec = {k: v for k, v in b.items() if k != "id"}
            if b["status"] in ("reserved", "checked_in"):
                f = file(store._lot_name(int(b["lot_id"])))  # noqa: SLF001
                holds = file(store._holds_name(b["username"])).setdefault("holds", {})  # noqa: SLF001
                holder = holds_by_user.get(b["username"])
                if holder is None:
                    holder = holds_by_user[b["username"]] = {"username": b["username"], "lots": {}}
                    holds[str(len(holds_by_user))] = holder
                holder["lots"][str(b["id"])] = int(b["lot_id"])
            else:
                f = file(store._archive_name(store.archive_bucket(b["username"])))  # noqa: SLF001
            f.setdefault("bookings", {})[str(b["id"])] = rec
            ids["booking"] = max(ids["booking"], int(b["id"]))
        users_tab = file(store._users_name()).setdefault("users", {})  # noqa: SLF001
        for u in users:
            ids["user"] += 1
            users_tab[str(ids["user"])] = dict(u)
        auth = file(store._auth_name())  # noqa: SLF001
        sess_tab = auth.setdefault("sessions", {})
        auth.setdefault("logins", {})
        for s in sessions:
            ids["session"] += 1
            sess_tab[str(ids["session"])] = dict(s)
        current = store._meta(store._load(store.root_name, must_exist=True))  # noqa: SLF001
        root_data["meta"]["1"] = {
            "schema": SCHEMA,
            "version": int(current.get("version", 0)) + 1,
            "archive_buckets": int(current.get("archive_buckets", 64)),
            "ids": ids,
            "pending_archive": [],
            "files": sorted(files),
            "new_files": [],
        }
        out = [_File(store.root_name, None, root_data)]
        out += [_File(name, None, data) for name, data in files.items()]
        store._write_files(out)  # noqa: SLF001
