"""The request and answer bodies of the HTTP API, as typed models (they also make the OpenAPI document).

Request models only check JSON types; every rule (lengths, formats, windows) stays in the service, so the API
and the TUI answer the same input with the same message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel


def _text_only(value: Any) -> Any:
    """A time is an ISO-8601 string (``"2025-12-04T10:10:00"``), never a bare number of seconds."""
    if not isinstance(value, (str, datetime)):
        raise ValueError("Enter a date and time in ISO 8601, like 2025-12-04T10:10:00.")
    return value


def _whole(value: Any) -> Any:
    """A whole number, or its digits as text (``"5"``, as the seed's framework accepts); never ``true``."""
    if isinstance(value, bool):
        raise ValueError("A whole number is required.")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) <= 20:
        return int(value.strip())
    if not isinstance(value, int):
        raise ValueError("A whole number is required.")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole)]


def _slot_number(value: Any) -> Any:
    """The seed's clients may send a slot number as a JSON number (``5``); it is text (``A5``) here."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IsoTime = Annotated[
    datetime,
    BeforeValidator(_text_only),
    Field(
        description="ISO 8601. Without an offset it is read in the lot's time zone.",
        examples=["2025-12-04T10:10:00"],
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegisterIn(_In):
    username: str = Field(examples=["user_1"])
    email: str = Field(examples=["user1@example.com"])
    password: str = Field(examples=["password123"])
    phone_number: str | None = Field(default="", examples=["1234567890"])


class LoginIn(_In):
    username: str = Field(examples=["user_1"])
    password: str = Field(examples=["password123"])


class LotIn(_In):
    name: str = Field(examples=["Downtown Parking"])
    location: str = Field(examples=["Main Street"])
    total_slots: WholeNumber = Field(examples=[50])
    time_zone: str | None = Field(default=None, examples=["Europe/Berlin"], description="IANA zone name")


class SlotIn(_In):
    slot_number: Annotated[str, BeforeValidator(_slot_number)] = Field(examples=["A1"])


class BookingIn(_In):
    slot_id: WholeNumber = Field(examples=[1])
    start_time: IsoTime
    end_time: IsoTime
    plate: str | None = Field(default="", examples=["B-AB 1234"], description="vehicle registration")


class ExtendIn(_In):
    end_time: IsoTime


class SlotStatusIn(_In):
    status: str = Field(description="available, occupied or out_of_service", examples=["out_of_service"])
    until: IsoTime | None = None
    reason: str | None = Field(default="", examples=["barrier repair"])


# -------------------------------------------------------------------------------------------- answers


class UserOut(BaseModel):
    username: str
    email: str
    phone_number: str
    is_admin: bool


class TokenOut(BaseModel):
    token: str


class ProfileOut(BaseModel):
    user: str = Field(description="the username")
    email: str
    phone_number: str
    is_admin: bool


class LotOut(BaseModel):
    id: int
    name: str
    location: str
    total_slots: int
    time_zone: str


class SlotOut(BaseModel):
    id: int
    lot_id: int
    slot_number: str
    status: str = Field(description="available, reserved, occupied or out_of_service")


class BookingOut(BaseModel):
    id: int
    slot_id: int
    slot_number: str
    lot_id: int
    username: str
    start_time: str = Field(description="ISO 8601 with the offset, in the lot's time zone")
    end_time: str = Field(description="ISO 8601 with the offset, in the lot's time zone")
    status: str = Field(description="reserved, checked_in, completed, cancelled or expired")
    confirmation_code: str
    plate: str
    attention: str = Field(description="empty, or a short reason a person must act on")


class SlotMarkOut(BaseModel):
    slot: SlotOut
    moved: list[BookingOut] = Field(description="bookings moved to another slot of the lot")
    unplaced: list[BookingOut] = Field(description="bookings that could not be moved; they need a person")


class DetailOut(BaseModel):
    detail: str


class FieldErrorsOut(RootModel[dict[str, list[str] | str]]):
    """``{"field": ["message"]}`` for a bad field, or ``{"detail": "message"}``."""
