"""The pure domain layer: models, rules, errors and the service. Imports neither textual nor tinydb."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        AuthenticationError,
        Conflict,
        NotFound,
        ParkingError,
        PermissionDenied,
        StorageError,
        ValidationError,
    )
    from .models import Booking, BookingStatus, Lot, LotPolicy, LotSummary, Profile, Slot, SlotMark, SlotStatus, User
    from .service import ParkingService

#: Where each name of the package lives: a module is imported when one of its names is first asked for, so
#: importing ``domain.errors`` or ``domain.models`` (the sign-in screen) does not load the whole service.
_WHERE = {
    **dict.fromkeys(
        ["AuthenticationError", "Conflict", "NotFound", "ParkingError", "PermissionDenied", "StorageError"],
        "errors",
    ),
    "ValidationError": "errors",
    **dict.fromkeys(["Booking", "BookingStatus", "Lot", "LotPolicy", "LotSummary", "Profile"], "models"),
    **dict.fromkeys(["Slot", "SlotMark", "SlotStatus", "User"], "models"),
    "ParkingService": "service",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AuthenticationError",
    "Booking",
    "BookingStatus",
    "Conflict",
    "Lot",
    "LotPolicy",
    "LotSummary",
    "NotFound",
    "ParkingError",
    "ParkingService",
    "PermissionDenied",
    "Profile",
    "Slot",
    "SlotMark",
    "SlotStatus",
    "StorageError",
    "User",
    "ValidationError",
]
