"""The pure domain layer: models, rules, errors and the service. Imports neither textual nor tinydb."""

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
