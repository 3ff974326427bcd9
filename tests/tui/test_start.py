"""The sign-in screen is up before the store is open; the store opens behind it.

In a terminal the command line hands the app an opener instead of an open service (``make_app(opener=...)``):
the screen shows at once, a sign-in typed meanwhile waits in its worker for the store, and a store that cannot
be opened is said on the storage-failure screen (quitting from there ends with status 1).
"""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Input, Static

from parking_tui.domain.errors import StorageError
from parking_tui.tui.app import make_app
from parking_tui.tui.screens.login import LoginScreen
from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.notices import StorageErrorScreen

from .helpers import OffLoopService, wait_until

SIZE = (100, 30)


def sign_in_ready(app) -> bool:
    return isinstance(app.screen, LoginScreen) and app.focused is not None and app.focused.id == "login-username"


class TestOpenedBehindTheSignInScreen:
    async def test_the_screen_is_up_and_a_sign_in_waits_for_the_store(self, svc, driver_token):
        release = threading.Event()
        opened_on: list[str] = []

        def opener():
            release.wait(10)
            opened_on.append(threading.current_thread().name)
            return OffLoopService(svc)

        app = make_app(opener=opener)
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: sign_in_ready(app))
            assert not app.service_open  # the screen did not wait for the store
            await pilot.press(*"driver", "tab", *"driver1234", "enter")
            await pilot.pause(0.2)
            assert isinstance(app.screen, LoginScreen) and not app.service_open  # waiting, not refused
            assert str(app.screen.query_one("#login-error", Static).content) == "Signing in…"
            release.set()
            assert await wait_until(pilot, lambda: isinstance(app.screen, LotBrowserScreen))
            assert app.profile is not None and app.profile.username == "driver"
            assert opened_on and opened_on[0] != threading.main_thread().name
            await app.workers.wait_for_complete()
            await pilot.pause()

    async def test_a_store_that_cannot_be_opened_is_said_and_quit_ends_with_status_1(self):
        def opener():
            raise StorageError("/srv/parking is a folder; give the data file inside it.")

        app = make_app(opener=opener)
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: isinstance(app.screen, StorageErrorScreen))
            screen = app.screen
            assert "is a folder" in str(screen.query_one("#storage-error-message", Static).content)
            assert str(screen.query_one("#storage-error-advice", Static).content) == StorageErrorScreen.NOT_OPENED
            await pilot.press("escape")  # closed: a sign-in meets the same failure again, not a traceback
            assert await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
            login = app.screen
            login.query_one("#login-username", Input).value = "driver"
            login.query_one("#login-password", Input).value = "driver1234"
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, StorageErrorScreen))
            await pilot.press("q")
            await wait_until(pilot, lambda: app.return_value is not None)
        assert app.return_value == 1

    async def test_a_store_back_after_a_failed_open_is_opened_by_the_next_sign_in(self, svc):
        """A database that was down when the kiosk started: once it is back, the next sign-in opens it (a kiosk
        cannot be quit by a driver, so it must not stay broken until someone restarts it)."""
        tries: list[int] = []
        guarded = OffLoopService(svc)  # made on the test's thread, where the app's loop runs

        def opener():
            tries.append(1)
            if len(tries) == 1:
                raise StorageError("The database server is not answering.")
            return guarded

        app = make_app(opener=opener, kiosk=True)
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: isinstance(app.screen, StorageErrorScreen))
            await pilot.press("escape")
            assert await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
            login = app.screen
            login.query_one("#login-username", Input).value = "driver"
            login.query_one("#login-password", Input).value = "driver1234"
            await pilot.press("enter")
            ok = await wait_until(pilot, lambda: isinstance(app.screen, LotBrowserScreen))
            assert ok, (tries, app.screen, app.focused, str(login.query_one("#login-error", Static).content))
            assert len(tries) == 2 and app.service_open
            await app.workers.wait_for_complete()
            await pilot.pause()

    async def test_a_failure_after_the_store_opened_keeps_its_own_advice(self, svc):
        app = make_app(OffLoopService(svc))
        async with app.run_test(size=SIZE) as pilot:
            app.show_storage_error(StorageError("The disk is full."))
            await pilot.pause()
            advice = app.screen.query_one("#storage-error-advice", Static)
            assert str(advice.content) == StorageErrorScreen.NOT_WRITTEN


def test_the_app_takes_a_service_or_an_opener_not_both_nor_neither(svc):
    with pytest.raises(TypeError):
        make_app()
    with pytest.raises(TypeError):
        make_app(svc, opener=lambda: svc)
