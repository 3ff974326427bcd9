"""The seed's HTTP API over ``ParkingService``: parse, call the service, map the result to JSON.

No business rule lives here. Every route is a plain ``def``: FastAPI runs it in its thread pool, so the
synchronous service never blocks the event loop. One service serves every request of the process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Path as PathParam, Query, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from .. import __version__
from ..domain import rules
from ..domain.errors import ParkingError
from ..domain.models import Booking, Lot, Slot
from ..domain.service import ParkingService
from . import errors as err
from .docs import docs_page
from .schemas import (
    BookingIn,
    BookingOut,
    DetailOut,
    ExtendIn,
    FieldErrorsOut,
    LoginIn,
    LotIn,
    LotOut,
    ProfileOut,
    RegisterIn,
    SlotIn,
    SlotMarkOut,
    SlotOut,
    SlotStatusIn,
    TokenOut,
    UserOut,
)

DESCRIPTION = """\
The parking-tui HTTP API: the same service and the same data as the terminal app.

Sign in with `POST /api/auth/login/`, then send `Authorization: Token <token>` with every request.
Times without an offset are read in the lot's time zone; answers give times with their offset.
Errors: 400 `{"field": ["message"]}` or `{"detail": "..."}`, 401, 403, 404, 409, 413, 503 (with Retry-After).
"""

_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="`Token <token>`, the token from `POST /api/auth/login/`.",
    auto_error=False,
)


MAX_ID = 2**53


# -------------------------------------------------------------------------------------------- answers

def lot_json(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "name": lot.name,
        "location": lot.location,
        "total_slots": lot.total_slots,
        "time_zone": lot.time_zone,
    }


def slot_json(slot: Slot) -> dict[str, Any]:
    return {"id": slot.id, "lot_id": slot.lot_id, "slot_number": slot.slot_number, "status": str(slot.status)}


class Zones:
    """Bookings on their lot's clocks: each lot's zone is looked up once per request, only when needed."""

    def __init__(self, svc: ParkingService, token: str) -> None:
        self.svc = svc
        self.token = token
        self._by_lot: dict[int, str] = {}

    def of(self, lot_id: int) -> str:
        zone = self._by_lot.get(lot_id)
        if zone is None:
            zone = self._by_lot[lot_id] = self.svc.get_lot(self.token, lot_id).time_zone
        return zone

    def booking(self, b: Booking) -> dict[str, Any]:
        zone = self.of(b.lot_id)
        return {
            "id": b.id,
            "slot_id": b.slot_id,
            "slot_number": b.slot_number,
            "lot_id": b.lot_id,
            "username": b.username,
            "start_time": rules.in_zone(b.start_time, zone).isoformat(),
            "end_time": rules.in_zone(b.end_time, zone).isoformat(),
            "status": str(b.status),
            "confirmation_code": b.confirmation_code,
            "plate": b.plate,
            "attention": b.attention,
        }

    def bookings(self, items: Iterable[Booking]) -> list[dict[str, Any]]:
        return [self.booking(b) for b in items]


# ------------------------------------------------------------------------------------------ the app

def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "a bad field (`{\"field\": [\"message\"]}`) or a bad body (`{\"detail\": ...}`)",
        401: "no token, or a token that is not (or no longer) valid",
        403: "a driver on an admin path",
        404: "no such lot, slot or booking (or one that is not yours)",
        409: "clashes with the current state (overlap, capacity, state of the booking)",
        413: "the body is over 64 KB",
        503: "the data store is busy or unavailable; retry after Retry-After seconds",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 413, 503):
        out[status] = {"model": FieldErrorsOut if status == 400 else DetailOut, "description": text[status]}
    return out


def create_app(svc: ParkingService, *, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The ASGI app over one service. ``cors_origins``: browser origins allowed to call it (none by default)."""
    app = FastAPI(
        title="parking-tui",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/schema/",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.svc = svc
    app.add_exception_handler(ParkingError, err.parking_error)
    app.add_exception_handler(err.ApiError, err.api_error)
    app.add_exception_handler(RequestValidationError, err.validation_error)
    app.add_exception_handler(StarletteHTTPException, err.http_error)
    app.add_exception_handler(Exception, err.unexpected_error)

    async def token(authorization: str | None = Security(_token_header)) -> str:
        """``Authorization: Token <token>`` -> the token (the service checks it)."""
        if not authorization:
            raise err.ApiError(401, err.NOT_SIGNED_IN)
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "token" or not value or " " in value:
            raise err.ApiError(401, "Invalid token header: send `Authorization: Token <token>`.")
        return value

    Token = Depends(token)
    api = "/api"
    # An id that cannot exist is a 404, as for any other id that does not exist.
    LotId = PathParam(ge=1, le=MAX_ID, description="a lot's id")
    SlotId = PathParam(ge=1, le=MAX_ID, description="a slot's id")
    BookingId = PathParam(ge=1, le=MAX_ID, description="a booking's id")

    # ---------------------------------------------------------------------------------- accounts

    @app.post(f"{api}/auth/register/", status_code=201, response_model=UserOut, responses=_errors(400, 409),
              tags=["accounts"], summary="Create a driver account")
    def register(body: RegisterIn) -> Response:
        user = svc.register(body.username, body.email, body.password, body.phone_number or "")
        return err.json_response(
            {"username": user.username, "email": user.email, "phone_number": user.phone_number,
             "is_admin": user.is_admin},
            201,
        )

    @app.post(f"{api}/auth/login/", response_model=TokenOut, responses=_errors(400, 401), tags=["accounts"],
              summary="Sign in: a token for the Authorization header")
    def login(body: LoginIn) -> Response:
        return err.json_response({"token": svc.login(body.username, body.password)})

    @app.post(f"{api}/auth/logout/", status_code=204, responses=_errors(401), tags=["accounts"],
              summary="End this session (in every door)")
    def logout(tok: str = Token) -> Response:
        svc.logout(tok)
        return Response(status_code=204)

    @app.get(f"{api}/auth/profile/", response_model=ProfileOut, responses=_errors(401), tags=["accounts"],
             summary="Who is signed in")
    def profile(tok: str = Token) -> Response:
        p = svc.profile(tok)
        return err.json_response(
            {"user": p.user, "email": p.email, "phone_number": p.phone_number, "is_admin": p.is_admin}
        )

    # ------------------------------------------------------------------------------ lots and slots

    @app.post(f"{api}/parking-lots/", status_code=201, response_model=LotOut,
              responses=_errors(400, 401, 403, 409), tags=["lots"], summary="Create a lot (admin)")
    def create_lot(body: LotIn, tok: str = Token) -> Response:
        lot = svc.create_lot(tok, body.name, body.location, body.total_slots, time_zone=body.time_zone)
        return err.json_response(lot_json(lot), 201)

    @app.get(f"{api}/parking-lots/", response_model=list[LotOut], responses=_errors(401), tags=["lots"],
             summary="Every lot")
    def list_lots(tok: str = Token) -> Response:
        return err.json_response([lot_json(lot) for lot in svc.list_lots(tok)])

    @app.post(f"{api}/parking-lots/{{lot_id}}/slots/", status_code=201, response_model=SlotOut,
              responses=_errors(400, 401, 403, 404, 409), tags=["lots"], summary="Add a slot to a lot (admin)")
    def add_slot(body: SlotIn, tok: str = Token, lot_id: int = LotId) -> Response:
        return err.json_response(slot_json(svc.add_slot(tok, lot_id, body.slot_number)), 201)

    @app.get(f"{api}/slots/available/", response_model=list[SlotOut], responses=_errors(400, 401, 404),
             tags=["lots"], summary="Free slots: now, or for the whole window")
    def available(
        tok: str = Token,
        lot: int | None = Query(default=None, ge=1, le=MAX_ID, description="only this lot"),
        start_time: datetime | None = Query(default=None, description="window start (ISO 8601)"),
        end_time: datetime | None = Query(default=None, description="window end (ISO 8601)"),
    ) -> Response:
        slots = svc.available_slots(tok, lot, start_time, end_time)
        return err.json_response([slot_json(s) for s in slots])

    @app.put(f"{api}/slots/{{slot_id}}/status/", response_model=SlotMarkOut,
             responses=_errors(400, 401, 403, 404, 409), tags=["lots"],
             summary="Mark a slot available, occupied (walk-in) or out of service (admin)")
    def slot_status(body: SlotStatusIn, tok: str = Token, slot_id: int = SlotId) -> Response:
        mark = svc.mark_slot(tok, slot_id, body.status, until=body.until, reason=body.reason or "")
        zones = Zones(svc, tok)
        return err.json_response(
            {
                "slot": slot_json(mark.slot),
                "moved": zones.bookings(mark.moved),
                "unplaced": zones.bookings(mark.unplaced),
            }
        )

    # ------------------------------------------------------------------------------------ bookings

    @app.post(
        f"{api}/booking/create/",
        status_code=201,
        response_model=BookingOut,
        responses=_errors(400, 401, 404, 409),
        tags=["bookings"],
        summary="Book a slot for a window",
    )
    def create_booking(body: BookingIn, tok: str = Token) -> Response:
        booking = svc.create_booking(tok, body.slot_id, body.start_time, body.end_time, plate=body.plate or "")
        return err.json_response(Zones(svc, tok).booking(booking), 201)

    @app.get(
        f"{api}/booking/my/",
        response_model=list[BookingOut],
        responses=_errors(401),
        tags=["bookings"],
        summary="My bookings, newest first",
    )
    def my_bookings(tok: str = Token) -> Response:
        return err.json_response(Zones(svc, tok).bookings(svc.my_bookings(tok)))

    def _booking_action(name: str, method: Callable[[str, int], Booking], summary: str) -> None:
        def action(tok: str = Token, booking_id: int = BookingId) -> Response:
            return err.json_response(Zones(svc, tok).booking(method(tok, booking_id)))

        action.__name__ = name.replace("-", "_")
        app.put(
            f"{api}/booking/{{booking_id}}/{name}/",
            response_model=BookingOut,
            responses=_errors(401, 404, 409),
            tags=["bookings"],
            summary=summary,
        )(action)

    _booking_action("check-in", svc.check_in, "Check in (owner or admin)")
    _booking_action("check-out", svc.check_out, "Check out: the slot is free again (owner or admin)")
    _booking_action("cancel", svc.cancel_booking, "Cancel a reservation (owner or admin)")

    @app.put(
        f"{api}/booking/{{booking_id}}/extend/",
        response_model=BookingOut,
        responses=_errors(400, 401, 404, 409),
        tags=["bookings"],
        summary="Move the end later (owner or admin)",
    )
    def extend(body: ExtendIn, tok: str = Token, booking_id: int = BookingId) -> Response:
        return err.json_response(Zones(svc, tok).booking(svc.extend_booking(tok, booking_id, body.end_time)))

    @app.get(
        f"{api}/reservations/",
        response_model=list[BookingOut],
        responses=_errors(400, 401, 403, 404),
        tags=["bookings"],
        summary="Every reservation, filtered (admin)",
    )
    def reservations(
        tok: str = Token,
        lot: int | None = Query(default=None, ge=1, le=MAX_ID, description="only this lot"),
        status: str | None = Query(default=None, description="reserved, checked_in, completed, cancelled, expired"),
        q: str | None = Query(default=None, max_length=64, description="part of a code, username, slot or plate"),
    ) -> Response:
        found = svc.list_reservations(tok, lot, status=status, q=q or None)
        return err.json_response(Zones(svc, tok).bookings(found))

    # ---------------------------------------------------------------------------------- the docs

    page: list[str] = []

    @app.get(f"{api}/docs/", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not page:
            page.append(docs_page(app.openapi()))  # the document never changes while the process runs
        return HTMLResponse(page[0])

    app.add_middleware(err.Guard)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
