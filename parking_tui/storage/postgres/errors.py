"""Driver errors as the domain's: a refused duplicate or overlap is a ``Conflict`` (the same the TinyDB store
gives), anything else - server down, connection lost, timeout, deadlock - a ``StorageError`` a person can read."""

from __future__ import annotations

import psycopg
from psycopg import errors as pgerr
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from ...domain.errors import Conflict, ParkingError, StorageError

def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        p = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    user = p.get("user")
    host = p.get("host") or "localhost"
    port = p.get("port")
    return f"postgresql://{user + '@' if user else ''}{host}{':' + str(port) if port else ''}/{p.get('dbname', '')}"


_CONFLICTS = {
    "users_pkey": ("username", "That username is taken; choose another."),
    "users_username_key": ("username", "That username is taken; choose another."),
    "users_email_key": ("email", "That e-mail address is already used by another account."),
    "slots_lot_number_key": ("slot_number", "That slot number already exists in this lot."),
    "bookings_no_overlap": ("slot_id", "The slot is already booked for an overlapping time."),
    "bookings_live_code_key": ("confirmation_code", "That confirmation code is held by another live booking."),
}


def translate(exc: BaseException, where: str) -> ParkingError:
    """The domain error for a driver error (``where``: the database, for messages)."""
    if isinstance(exc, ParkingError):
        return exc
    if isinstance(exc, PoolTimeout):
        return StorageError(f"The database at {where} cannot be reached (no connection within the time allowed); try again.")
    if isinstance(exc, (pgerr.UniqueViolation, pgerr.ExclusionViolation)):
        name = getattr(exc.diag, "constraint_name", None) or ""
        field, message = _CONFLICTS.get(name, (None, "The change clashes with data already stored."))
        return Conflict(message, field=field)
    if isinstance(exc, pgerr.IntegrityError):
        detail = (exc.diag.message_primary or str(exc)).strip()
        return StorageError(f"The database refused the change: {detail}.")
    if isinstance(exc, (pgerr.SerializationFailure, pgerr.DeadlockDetected, pgerr.LockNotAvailable)):
        return StorageError("The database is busy with another change to the same data; try again.")
    if isinstance(exc, pgerr.QueryCanceled):
        return StorageError(f"The database at {where} took too long to answer; nothing was changed; try again.")
    if isinstance(exc, (psycopg.OperationalError, pgerr.AdminShutdown, pgerr.CannotConnectNow)):
        first = (str(exc).strip().splitlines() or ["connection lost"])[0]
        return StorageError(f"The database at {where} cannot be reached ({first}); try again.")
    if isinstance(exc, psycopg.Error):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return StorageError(f"The database at {where} failed: {first}")
    return StorageError(f"The database at {where} failed: {exc}")


