"""A very small Chrome DevTools Protocol client: headless Chromium driven over its debugging websocket.

Enough for one test: open a page, type, press Enter, collect what the page's own websockets receive, take a
screenshot. Uses aiohttp (textual-serve depends on it). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

#: As the machine notes say: headless, no sandbox (root), and no attempts to reach the outside network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """``async with Browser(chromium, profile_dir) as page:`` - a fresh headless Chromium and its first tab."""

    def __init__(self, executable: str, profile: Path, *, width: int = 1100, height: int = 750) -> None:
        self.executable = executable
        self.profile = profile
        self.size = (width, height)
        self.proc: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 0
        #: Payloads the page's websockets received (binary frames decoded), in order.
        self.frames: list[bytes] = []

    async def __aenter__(self) -> Browser:
        port = free_port()
        self.proc = subprocess.Popen(
            [
                self.executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        targets = await asyncio.to_thread(self._targets, port, 30.0)
        page = next(t for t in targets if t.get("type") == "page")
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.call("Network.enable")
        await self.call("Page.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.ws is not None:
                await self.ws.close()
            if self.http is not None:
                await self.http.close()
        finally:
            if self.proc is not None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)

    def _targets(self, port: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as reply:
                    targets = json.load(reply)
                if any(t.get("type") == "page" for t in targets):
                    return targets
            except OSError:
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium's debugging port did not answer")
            time.sleep(0.2)

    def _event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Network.webSocketFrameReceived":
            response = message["params"]["response"]
            data = response.get("payloadData", "")
            self.frames.append(base64.b64decode(data) if response.get("opcode") == 2 else data.encode())

    async def call(self, method: str, timeout: float = 20, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        self._next_id += 1
        ident = self._next_id
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method}")
            message = await asyncio.wait_for(self.ws.receive_json(), left)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    async def pump(self, seconds: float) -> None:
        """Take in the page's events for ``seconds``."""
        assert self.ws is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(self.ws.receive_json(), left)
            except asyncio.TimeoutError:
                return
            self._event(message)

    def received(self) -> bytes:
        return b"".join(self.frames)

    async def wait_for_bytes(self, needle: bytes, timeout: float) -> bool:
        """Until the page's websockets have received ``needle`` (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        while needle not in self.received():
            if time.monotonic() > deadline:
                return False
            await self.pump(0.25)
        return True

    async def goto(self, url: str) -> None:
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def type(self, text: str) -> None:
        await self.call("Input.insertText", text=text)

    async def enter(self) -> None:
        keys = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **keys)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **keys)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
