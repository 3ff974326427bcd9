"""The shape of every record, per kind of data file, checked whenever a file is read.

A hand-edited or damaged file must stop the program with one clear message naming the file and the record,
never a traceback deep in the service or a hang (a bucket count of 10^9, an id beyond what JSON numbers hold).
Only the fields the program relies on are checked; other fields are left alone, so newer records still read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: The largest id a counter may reach: ids stay exact in every JSON reader (2^53) with room for a block.
MAX_ID = 2**52
MAX_ARCHIVE_BUCKETS = 4096
LIVE = ("reserved", "checked_in")
FINISHED = ("completed", "cancelled", "expired")


class ShapeError(ValueError):
    """``str()`` says which record and field is wrong."""


def _int(value: Any, where: str, *, low: int = 0, high: int = MAX_ID) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ShapeError(f"{where} is {value!r}, not a whole number from {low} to {high}")


def _str(value: Any, where: str, *, empty: bool = True) -> None:
    if not isinstance(value, str) or (not empty and not value):
        raise ShapeError(f"{where} is {value!r}, not {'a' if empty else 'a non-empty'} text")


def _stamp(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise ShapeError(f"{where} is {value!r}, not a date and time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ShapeError(f"{where} is {value!r}, not a date and time") from None
    if parsed.tzinfo is None:
        raise ShapeError(f"{where} is {value!r}, a date and time without its offset")


def _opt(check, rec: dict, field: str, where: str, **kw: Any) -> None:
    if rec.get(field) is not None:
        check(rec[field], f"{where} field {field!r}", **kw)


def _table(data: dict, name: str, where: str) -> dict[str, dict]:
    table = data.get(name, {})
    for key in table:
        if not key.isdigit() or len(key) > 16:
            raise ShapeError(f"{where} table {name!r} has the key {key!r}, not a record id")
    return table


def _booking(rec: dict, where: str, statuses: tuple[str, ...]) -> None:
    _int(rec.get("slot_id"), f"{where} field 'slot_id'")
    _str(rec.get("username"), f"{where} field 'username'", empty=False)
    _str(rec.get("confirmation_code"), f"{where} field 'confirmation_code'")
    if rec.get("status") not in statuses:
        raise ShapeError(f"{where} field 'status' is {rec.get('status')!r}, not one of {', '.join(statuses)}")
    _stamp(rec.get("start_time"), f"{where} field 'start_time'")
    _stamp(rec.get("end_time"), f"{where} field 'end_time'")
    _opt(_int, rec, "lot_id", where)
    for field in ("plate", "attention", "moved_from"):
        _opt(_str, rec, field, where)
    for field in ("grace_from", "checked_in_at"):
        _opt(_stamp, rec, field, where)


def check_root(data: dict) -> None:
    meta = _table(data, "meta", "the root").get("1")
    if not isinstance(meta, dict):
        raise ShapeError("the root has no meta record")
    _int(meta.get("schema"), "meta field 'schema'", high=10**6)
    _opt(_int, meta, "version", "meta")
    _opt(_int, meta, "archive_buckets", "meta", low=1, high=MAX_ARCHIVE_BUCKETS)
    ids = meta.get("ids", {})
    if not isinstance(ids, dict):
        raise ShapeError("meta field 'ids' is not a table of counters")
    for kind, value in ids.items():
        _int(value, f"the {kind} id counter")
    pending = meta.get("pending_archive", [])
    if not isinstance(pending, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
        for p in pending
    ):
        raise ShapeError("meta field 'pending_archive' is not a list of [booking id, lot id]")
    for field in ("files", "new_files"):
        value = meta.get(field, [])
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise ShapeError(f"meta field {field!r} is not a list of file names")
    _opt(_str, meta, "epoch", "meta")
    for key, lot in _table(data, "lots", "the root").items():
        where = f"lot {key}"
        _str(lot.get("name"), f"{where} field 'name'")
        _int(lot.get("total_slots"), f"{where} field 'total_slots'", high=10**6)
        if lot.get("policy") is not None and not isinstance(lot["policy"], dict):
            raise ShapeError(f"{where} field 'policy' is not a table")
        _opt(_str, lot, "time_zone", where)


def check_users(data: dict) -> None:
    for key, user in _table(data, "users", "the accounts file").items():
        where = f"user record {key}"
        _str(user.get("username"), f"{where} field 'username'", empty=False)
        _str(user.get("password_hash"), f"{where} field 'password_hash'")
        _opt(_str, user, "email", where)
        for flag in ("is_admin", "active"):
            if flag in user and not isinstance(user[flag], bool):
                raise ShapeError(f"{where} field {flag!r} is {user[flag]!r}, not true or false")


def check_auth(data: dict) -> None:
    for key, s in _table(data, "sessions", "the sign-in file").items():
        where = f"session record {key}"
        _str(s.get("token_hash"), f"{where} field 'token_hash'", empty=False)
        _str(s.get("username"), f"{where} field 'username'", empty=False)
        _stamp(s.get("expires_at"), f"{where} field 'expires_at'")
    for key, state in _table(data, "logins", "the sign-in file").items():
        where = f"failed sign-in record {key}"
        _str(state.get("username"), f"{where} field 'username'")
        _opt(_int, state, "failures", where, high=10**6)
        for field in ("last_failure", "locked_until"):
            if state.get(field) is not None:
                _stamp(state[field], f"{where} field {field!r}")


def check_lot(data: dict) -> None:
    for key, slot in _table(data, "slots", "the lot file").items():
        where = f"slot {key}"
        _int(slot.get("lot_id"), f"{where} field 'lot_id'")
        _str(slot.get("slot_number"), f"{where} field 'slot_number'", empty=False)
        _opt(_str, slot, "status", where)
        _opt(_stamp, slot, "mark_until", where)
        if "retired" in slot and not isinstance(slot["retired"], bool):
            raise ShapeError(f"{where} field 'retired' is {slot['retired']!r}, not true or false")
    for key, booking in _table(data, "bookings", "the lot file").items():
        _booking(booking, f"booking {key}", LIVE)


def check_archive(data: dict) -> None:
    for key, booking in _table(data, "bookings", "the archive file").items():
        _booking(booking, f"booking {key}", FINISHED)


def check_holds(data: dict) -> None:
    for key, rec in _table(data, "holds", "the holds file").items():
        where = f"holds record {key}"
        _str(rec.get("username"), f"{where} field 'username'", empty=False)
        lots = rec.get("lots", {})
        if not isinstance(lots, dict):
            raise ShapeError(f"{where} field 'lots' is not a table")
        for booking_id, lot_id in lots.items():
            if not booking_id.isdigit():
                raise ShapeError(f"{where} lists booking {booking_id!r}, not a booking id")
            _int(lot_id, f"{where} lot of booking {booking_id}")


def check_file_tag(data: dict, name: str) -> None:
    tag = data.get("_file", {}).get("1")
    if tag is None:
        return
    if not isinstance(tag, dict) or tag.get("name") != name:
        got = tag.get("name") if isinstance(tag, dict) else tag
        raise ShapeError(f"it is a copy of {got!r}, not {name!r}")


def check(name: str, stem: str, data: dict) -> None:
    """Raise ``ShapeError`` if a record of the file ``name`` (of the store ``stem``) is not as written."""
    check_file_tag(data, name)
    rest = name[len(stem) + 1 :] if name.startswith(stem + ".") else ""
    if name == f"{stem}.json":
        check_root(data)
    elif rest == "users.json":
        check_users(data)
    elif rest == "auth.json":
        check_auth(data)
    elif rest.startswith("lot-"):
        check_lot(data)
    elif rest.startswith("archive-"):
        check_archive(data)
    elif rest.startswith("holds-"):
        check_holds(data)
