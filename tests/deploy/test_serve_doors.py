"""``parking-tui serve`` behind its doors, against the real aiohttp server (in-process) and real websockets:
same-origin sessions only, no directory listing, a cap on sessions with a clear page, idle sessions end.

The session command is a stand-in that waits for one byte (the app itself is tested elsewhere): what is under
test here is who may start a session, how many, and for how long."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from parking_tui.cli.serve import ParkingServer, allowed_origins, origin_of  # noqa: E402

COMMAND = "head -c 1 >/dev/null"


def make(**options) -> ParkingServer:
    options.setdefault("public_url", "http://127.0.0.1:8001")
    return ParkingServer(COMMAND, host="127.0.0.1", port=8001, title="parking-tui", **options)


def run(server: ParkingServer, scenario) -> None:
    async def main() -> None:
        app = await server._make_app()  # noqa: SLF001
        async with TestClient(TestServer(app)) as client:
            await scenario(client)
            for _ in range(100):  # let every session's process be reaped before the loop closes
                if server.sessions == 0:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)

    asyncio.run(main())


def test_origins():
    assert origin_of("HTTP://Example.COM:80/x") == "http://example.com"
    assert origin_of("https://p.example.com:8443/") == "https://p.example.com:8443"
    allowed = allowed_origins("http://127.0.0.1:8001", ["https://parking.example.com"])
    assert {"http://127.0.0.1:8001", "http://localhost:8001", "https://parking.example.com"} <= allowed
    assert "http://evil.example" not in allowed and "http://127.0.0.1:9999" not in allowed


def test_a_page_of_another_origin_cannot_open_a_session():
    server = make()

    async def scenario(client):
        for origin in ("http://evil.example", "null", "http://127.0.0.1:9999"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers={"Origin": origin})
            assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await client.ws_connect("/ws")  # no Origin at all
        assert server.sessions == 0
        ws = await client.ws_connect("/ws", headers={"Origin": "http://127.0.0.1:8001"})
        assert not ws.closed
        await ws.close()

    run(server, scenario)


def test_allow_origin_admits_a_proxy():
    server = make(allow_origins=["https://parking.example.com"])

    async def scenario(client):
        ws = await client.ws_connect("/ws", headers={"Origin": "https://parking.example.com"})
        assert not ws.closed
        await ws.close()

    run(server, scenario)


def test_no_directory_listing():
    server = make()

    async def scenario(client):
        for path in ("/static/", "/static", "/static/js/", "/static/css/"):
            got = await client.get(path)
            body = await got.text()
            assert got.status in (403, 404), (path, got.status)
            assert "Index of" not in body

    run(server, scenario)


def test_sessions_are_capped_with_a_clear_page():
    server = make(max_sessions=2)

    async def scenario(client):
        ok = {"Origin": "http://127.0.0.1:8001"}
        first = await client.ws_connect("/ws", headers=ok)
        second = await client.ws_connect("/ws", headers=ok)
        await asyncio.sleep(0.2)
        assert server.sessions == 2
        with pytest.raises(aiohttp.WSServerHandshakeError) as full:
            await client.ws_connect("/ws", headers=ok)
        assert full.value.status == 503
        page = await client.get("/")
        assert page.status == 503 and "All 2 sessions are in use" in await page.text()
        await first.close()
        for _ in range(50):
            if server.sessions < 2:
                break
            await asyncio.sleep(0.1)
        third = await client.ws_connect("/ws", headers=ok)  # a freed place is taken again
        await third.close()
        await second.close()

    run(server, scenario)


def test_an_idle_session_ends():
    server = make(idle_seconds=1.0)

    async def scenario(client):
        ws = await client.ws_connect("/ws", headers={"Origin": "http://127.0.0.1:8001"})
        started = time.monotonic()
        message = await asyncio.wait_for(ws.receive(), timeout=15)
        while message.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            message = await asyncio.wait_for(ws.receive(), timeout=15)
        assert time.monotonic() - started < 10
        for _ in range(50):
            if server.sessions == 0:
                break
            await asyncio.sleep(0.1)
        assert server.sessions == 0

    run(server, scenario)
