"""Helpers for the Pilot tests of the TUI."""

from __future__ import annotations

import threading
import time
from typing import Any

#: Methods of the service that touch no store: ``now()`` reads the injected clock.
NO_STORE = frozenset({"now"})


class OffLoopService:
    """Stands in for the service in the app: every method that reaches the store raises (and is recorded)
    when it is called on the event loop's thread, so a service call that would freeze the UI fails the test.

    The loop runs on the thread that created this wrapper (the test's thread)."""

    def __init__(self, svc: Any) -> None:
        self._svc = svc
        self.loop_thread = threading.get_ident()
        self.violations: list[str] = []
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._svc, name)
        if not callable(attr) or name.startswith("_") or name in NO_STORE:
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self.loop_thread:
                self.violations.append(name)
                raise AssertionError(f"svc.{name}() was called on the event loop's thread")
            self.calls.append(name)
            return attr(*args, **kwargs)

        return guarded


async def settle(pilot, timeout: float = 10.0) -> None:
    """Let every key still held by the app's key gate be handled, every service call (thread workers) finish
    and its outcome reach the screen: the app counts as settled after two quiet looks in a row (a call's
    outcome can start the next call, such as sign-in opening the lot list, which loads its lots)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    await pilot.pause()
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        await app.workers.wait_for_complete()
        await pilot.pause()
        busy = (
            getattr(app, "calls_pending", 0)
            or getattr(app, "_keys_held", None)
            or getattr(app, "_key_released", None) is not None
            or any(not w.is_finished for w in app.workers)
        )
        quiet = 0 if busy else quiet + 1
    await pilot.pause()


async def wait_until(pilot, condition, timeout: float = 10.0) -> bool:
    """Pause the pilot until ``condition()`` holds (True) or ``timeout`` seconds pass (what it holds then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()
