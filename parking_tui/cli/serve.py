"""``parking-tui serve``: the app in a web browser (textual-serve), with the doors a public service needs.

textual-serve runs one app process per websocket. On its own it accepts a websocket from any page on the web
(any ``Origin``), lists its static folder, and starts as many processes as there are connections. Here:

* only same-origin websockets are accepted: the origin of ``--public-url`` (or ``http://HOST:PORT``; on a
  loopback address also the other loopback names), plus any ``--allow-origin`` (a proxy's address);
* no directory listings under ``/static/``;
* at most ``serve.max_sessions`` sessions at once (default 20); when all are in use the page says so (503);
* a session with no key press, click or resize for ``serve.idle_seconds`` (default 900) is ended.

This module imports textual-serve (and aiohttp); the command imports it only for ``serve``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("parking_tui.serve")

DEFAULT_MAX_SESSIONS = 20
DEFAULT_IDLE_SECONDS = 900.0
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")

FULL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - busy</title>
<meta http-equiv="refresh" content="30"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>All {n} sessions are in use</h1>
<p>{title} serves at most {n} browser sessions at once, and every one is taken. This page tries again every
30 seconds; a session that sits idle ends by itself.</p>
</body></html>
"""


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, without a default port."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_origins(public_url: str, extra: Iterable[str] = ()) -> set[str]:
    """The origins whose pages may open a session."""
    own = origin_of(public_url)
    out = {own} | {origin_of(o) for o in extra if o.strip()}
    parts = urlsplit(own)
    host = (parts.hostname or "").lower()
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        port = f":{parts.port}" if parts.port else ""
        out |= {f"{parts.scheme}://{name}{port}" for name in LOOPBACK}
    return out


class ParkingServer(Server):
    """textual-serve's server with an origin check, a session cap, idle sessions ended, no listings."""

    def __init__(
        self,
        command: str,
        *,
        allow_origins: Iterable[str] = (),
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(command, **kwargs)
        self.origins = allowed_origins(self.public_url, allow_origins)
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.sessions = 0

    async def _make_app(self) -> web.Application:
        import aiohttp_jinja2
        import jinja2

        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    def _full(self) -> bool:
        return self.sessions >= self.max_sessions

    def _full_page(self) -> web.Response:
        page = FULL_PAGE.format(title=html.escape(self.title), n=self.max_sessions)
        return web.Response(status=503, text=page, content_type="text/html", headers={"Retry-After": "30"})

    async def handle_index(self, request: web.Request) -> Any:  # type: ignore[override]
        if self._full():
            return self._full_page()
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        origin = request.headers.get("Origin")
        if origin is None or origin_of(origin) not in self.origins:
            log.warning("refused a websocket from origin %r", origin)
            return web.Response(
                status=403,
                text="This page may not open a parking-tui session (its origin is not allowed).\n",
            )
        if self._full():
            return self._full_page()
        self.sessions += 1
        try:
            return await self._session(request)
        finally:
            self.sessions -= 1

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 20)
        width = min(max(to_int(request.query.get("width", "80"), 80), 10), 1000)
        height = min(max(to_int(request.query.get("height", "24"), 24), 5), 1000)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._converse(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # one bad session never takes the server down
            log.warning("session ended: %s", error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket

    async def _converse(self, websocket: web.WebSocketResponse, app_service: AppService) -> None:
        """Pass the browser's messages to the app; end the session after ``idle_seconds`` without input."""
        last = [time.monotonic()]

        async def watch() -> None:
            while not websocket.closed:
                left = self.idle_seconds - (time.monotonic() - last[0])
                if left <= 0:
                    log.info("ending a session idle for %g s", self.idle_seconds)
                    await websocket.close(message=b"idle")
                    return
                await asyncio.sleep(min(left, 5.0))

        watcher = asyncio.create_task(watch())
        try:
            async for message in websocket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    envelope = message.json()
                    kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
                except (ValueError, TypeError, KeyError, IndexError):
                    continue  # not a message of the page's: ignored
                if kind == "stdin" and isinstance(data, str):
                    last[0] = time.monotonic()
                    await app_service.send_bytes(data.encode("utf-8"))
                elif kind == "resize" and isinstance(data, dict):
                    last[0] = time.monotonic()
                    width = min(max(to_int(str(data.get("width", 80)), 80), 10), 1000)
                    height = min(max(to_int(str(data.get("height", 24)), 24), 5), 1000)
                    await app_service.set_terminal_size(width, height)
                elif kind == "ping":
                    await websocket.send_json(["pong", data])
                elif kind == "blur":
                    await app_service.blur()
                elif kind == "focus":
                    await app_service.focus()
        finally:
            watcher.cancel()
