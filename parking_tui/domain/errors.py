"""Errors the domain raises. Every one carries a short ``code`` and a message a person can read.

The TUI and the CLI show ``str(error)``; they never show a traceback.
"""

from __future__ import annotations


class ParkingError(Exception):
    """Base of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The input field the error is about (``"password"``, ``"end_time"``...), when there is one.
        self.field = field

    def __str__(self) -> str:
        return self.message


class ValidationError(ParkingError):
    """The input is malformed or breaks a rule (too long, in the past, ...)."""

    code = "invalid"


class AuthenticationError(ParkingError):
    """Wrong credentials, a locked account, or a missing/expired/revoked token."""

    code = "unauthenticated"


class PermissionDenied(ParkingError):
    """The user is known but may not do this (a driver calling an admin operation)."""

    code = "forbidden"


class NotFound(ParkingError):
    """No such lot, slot, booking or user - or one this user may not see."""

    code = "not_found"


class Conflict(ParkingError):
    """The request is well-formed but clashes with the current state (overlap, capacity, state machine)."""

    code = "conflict"


class StorageError(ParkingError):
    """The data files cannot be read or written: damaged file, disk full, lock busy, no permission.

    Raised with nothing written: the files are as they were before the operation.
    """

    code = "storage"
