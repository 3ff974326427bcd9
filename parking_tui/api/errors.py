"""Errors to JSON, in the style of the seed's framework, and the two ASGI guards in front of the routes.

* ``ParkingError.code`` -> status: ``invalid`` 400, ``unauthenticated`` 401, ``forbidden`` 403, ``not_found`` 404,
  ``conflict`` 409, ``storage`` 503 (with ``Retry-After``). A bad field is ``{"field": ["message"]}``, anything
  else ``{"detail": "message"}``.
* A body that is not JSON, or a field of the wrong JSON type, is a 400 too; a malformed id in the path is a 404
  (there is no such thing).
* Anything unexpected is a 500 ``{"detail": ...}`` with no traceback in it; the server log has the details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..domain.errors import ParkingError

log = logging.getLogger("parking_tui.api")

#: Bodies larger than this are refused with 413 before they are read in full.
MAX_BODY = 64 * 1024
#: Seconds a client should wait before trying again when the store is busy.
RETRY_AFTER = "2"

STATUS_OF_CODE = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "storage": 503,
}
BUSY = "The data store is busy or unavailable; nothing was changed. Try again in a moment."
NOT_SIGNED_IN = "Authentication credentials were not provided."


class ApiError(Exception):
    """An answer the door gives by itself (no token, no such route)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


def _auth_headers(status: int) -> dict[str, str]:
    return {"WWW-Authenticate": "Token"} if status == 401 else {}


def parking_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParkingError)
    status = STATUS_OF_CODE.get(exc.code, 400)
    if status == 503:
        log.warning("store unavailable: %s", exc)
        return json_response({"detail": BUSY}, 503, {"Retry-After": RETRY_AFTER})
    if status == 400 and exc.field:
        return json_response({exc.field: [str(exc)]}, 400)
    return json_response({"detail": str(exc)}, status, _auth_headers(status))


def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response({"detail": exc.detail}, exc.status, {**_auth_headers(exc.status), **exc.headers})


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = {404: "Not found.", 405: "Method not allowed."}.get(exc.status_code, str(exc.detail))
    return json_response({"detail": detail}, exc.status_code, dict(exc.headers or {}))


_MESSAGES = {
    "missing": "This field is required.",
    "int_type": "A whole number is required.",
    "int_parsing": "A whole number is required.",
    "int_from_float": "A whole number is required.",
    "string_type": "Text is required.",
    "bool_type": "true or false is required.",
}


def _message(err: dict[str, Any]) -> str:
    text = _MESSAGES.get(err.get("type", ""))
    if text is None:
        text = str(err.get("msg", "Invalid value."))
        text = text.removeprefix("Value error, ")
        if not text.endswith("."):
            text += "."
    return text


def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "json_invalid":
            return json_response({"detail": "JSON parse error: the body is not valid JSON."}, 400)
        if loc[:1] == ("path",):
            return json_response({"detail": "Not found."}, 404)
        if loc[:1] == ("body",) and len(loc) == 1:
            if kind == "missing":
                return json_response({"detail": "A JSON body is required."}, 400)
            return json_response({"detail": "The body must be a JSON object."}, 400)
        name = str(loc[1]) if len(loc) > 1 else "detail"
        fields.setdefault(name, []).append(_message(err))
    return json_response(fields or {"detail": "Invalid request."}, 400)


def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"detail": "Something went wrong on the server; nothing more is shown here."}, 500)


# ---------------------------------------------------------------------------------------------- guards

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guard:
    """Pure ASGI, in front of everything else:

    * a path without its trailing slash is answered as the path with it (the seed's clients use both; no
      redirect, which would turn a POST into a GET in some clients);
    * a body over ``MAX_BODY`` bytes is refused with 413, whether it says its length up front or not.
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/api") and not path.endswith("/"):
            scope = dict(scope, path=path + "/")
            raw = scope.get("raw_path")
            if raw is not None:
                scope["raw_path"] = raw + b"/"
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                break
        if length is not None and length > self.max_body:
            await _too_large(send, self.max_body)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") and not length:
            await self.app(scope, receive, send)
            return
        # Read the body here (it is small by now), counting, and hand it on in one piece.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _too_large(send, self.max_body)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"detail": f"The request body is larger than {limit // 1024} KB."})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
