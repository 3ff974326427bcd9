"""The Textual application: the shell every screen runs in.

``make_app`` is the one factory: the CLI (through ``run_app``) and the tests build the app the same way.
The app holds the session (``token``, ``profile``); screens call the service through ``call_service`` so a
domain error becomes a notification and a storage failure a screen - never a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from ..domain.errors import AuthenticationError, ParkingError, StorageError
from ..domain.models import Profile
from ..domain.service import ParkingService
from .commands import ParkingCommands

T = TypeVar("T")

MIN_WIDTH = 80
MIN_HEIGHT = 24


class ParkingApp(App[int]):
    """Find a free slot, reserve it, check in and out."""

    TITLE = "parking-tui"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ParkingCommands}
    COMMAND_PALETTE_DISPLAY = "^p"

    BINDINGS = [
        Binding("b", "open_my_bookings", "Bookings", id="my_bookings", tooltip="Your bookings: check in, out, cancel"),
        Binding("p", "open_profile", "Profile", id="profile", tooltip="Your account details; sign out"),
        Binding("a", "open_admin", "Admin", id="admin", tooltip="Lots, reservations, check-in by code"),
        Binding("question_mark", "help", "Help", key_display="?", id="help", tooltip="The keys that work here"),
        Binding("escape", "back", "Back", id="back", tooltip="Go back to the previous screen"),
        Binding("ctrl+q", "quit", "Quit", key_display="^q", priority=True, id="quit", tooltip="Leave parking-tui"),
    ]

    def __init__(
        self, svc: ParkingService, *, demo: bool = False, kiosk: bool = False, session_token: str | None = None
    ) -> None:
        super().__init__()
        self._session_token = session_token
        self.svc = svc
        self.token: str | None = None
        self.profile: Profile | None = None
        self.demo = demo
        self.kiosk = kiosk
        self._too_small_dismissed: tuple[int, int] | None = None

    # ------------------------------------------------------------------------------ start and size

    def get_default_screen(self) -> Screen:
        from .screens.login import LoginScreen

        return LoginScreen()

    def on_mount(self) -> None:
        if self._session_token is not None:
            # Start inside an existing session (a token from an earlier sign-in).
            profile = self.call_service(self.svc.profile, self._session_token)
            if profile is not None:
                self.signed_in(self._session_token, profile)
        self._check_size()

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._check_size)

    def _check_size(self) -> None:
        from .screens.notices import TooSmallScreen

        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        showing = [s for s in self.screen_stack if isinstance(s, TooSmallScreen)]
        if showing:
            if small:
                showing[-1].update_size(width, height)
            elif self.screen is showing[-1]:
                self.pop_screen()
            return
        if small and self._too_small_dismissed != (width, height):
            self.push_screen(TooSmallScreen(width, height), self._too_small_closed)

    def _too_small_closed(self, _result: object = None) -> None:
        self._too_small_dismissed = tuple(self.size)  # type: ignore[assignment]

    # -------------------------------------------------------------------------------- the service

    def call_service(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run a service call. A ``ParkingError`` becomes an error notification and ``None`` is returned."""
        try:
            return fn(*args, **kwargs)
        except ParkingError as error:
            self.report_error(error)
            return None

    def report_error(self, error: ParkingError) -> None:
        """Show a domain error the way ``call_service`` does (for screens that catch errors themselves)."""
        if isinstance(error, StorageError):
            self.show_storage_error(error)
        elif isinstance(error, AuthenticationError) and self.token is not None:
            self.session_ended(str(error))
        else:
            self.notify(str(error), title="Not done", severity="error", markup=False)

    def show_storage_error(self, error: BaseException) -> None:
        from .screens.notices import StorageErrorScreen

        if not isinstance(self.screen, StorageErrorScreen):
            self.push_screen(StorageErrorScreen(str(error)))

    # -------------------------------------------------------------------------------- the session

    def signed_in(self, token: str, profile: Profile) -> None:
        """Called by the login screen: keep the session and show the lots."""
        from .screens.lots import LotBrowserScreen

        self.token = token
        self.profile = profile
        self.sub_title = f"{profile.username} ({'lot manager' if profile.is_admin else 'driver'})"
        self.push_screen(LotBrowserScreen())
        self.refresh_bindings()

    def _forget_session(self) -> None:
        self.token = None
        self.profile = None
        self.sub_title = ""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.refresh_bindings()

    def action_log_out(self) -> None:
        """Sign out (the session is revoked in the data file too) and return to the sign-in screen."""
        if self.token is not None:
            try:
                self.svc.logout(self.token)
            except StorageError as error:
                self.show_storage_error(error)
                return
            except ParkingError:
                pass  # already ended: signing out locally is all that is left
        self._forget_session()
        self.notify("You are signed out.", markup=False)

    log_out = action_log_out

    def session_ended(self, message: str) -> None:
        self._forget_session()
        self.notify(message, title="Signed out", severity="warning", markup=False)

    # -------------------------------------------------------------------------------- navigation

    def _screen_named(self, class_name: str) -> bool:
        return type(self.screen).__name__ == class_name

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_my_bookings", "open_profile"):
            return self.token is not None
        if action == "open_admin":
            return self.token is not None and self.profile is not None and self.profile.is_admin
        if action == "back":
            return not getattr(self.screen, "IS_ROOT", False) and len(self.screen_stack) > 1
        return True

    def _open(self, module: str, class_name: str) -> None:
        if self.token is None or self._screen_named(class_name):
            return
        try:
            screen_cls = getattr(importlib.import_module(f"{__package__}.screens.{module}"), class_name)
        except (ImportError, AttributeError):
            self.notify("That screen is not available yet.", severity="warning", markup=False)
            return
        self.push_screen(screen_cls())

    def action_open_my_bookings(self) -> None:
        self._open("my_bookings", "MyBookingsScreen")

    def action_open_profile(self) -> None:
        self._open("profile", "ProfileScreen")

    def action_open_admin(self) -> None:
        if self.profile is None or not self.profile.is_admin:
            return
        self._open("admin", "AdminScreen")

    def action_go_home(self) -> None:
        """Back to the lot browser (the first screen after sign-in)."""
        if self.token is None:
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_open_lot(self, lot_id: int) -> None:
        from .screens.slot_map import SlotMapScreen

        if self.token is not None:
            self.push_screen(SlotMapScreen(lot_id))

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_back(self) -> None:
        if getattr(self.screen, "IS_ROOT", False) or len(self.screen_stack) <= 1:
            return
        self.pop_screen()

    def unsaved_input(self) -> bool:
        """True when a screen on the stack says it holds input that quitting would lose."""
        for screen in self.screen_stack:
            check = getattr(screen, "has_unsaved_input", None)
            if callable(check) and check():
                return True
        return False

    async def action_quit(self) -> None:
        from .screens.notices import QuitScreen

        if isinstance(self.screen, QuitScreen):
            self.exit(0)
            return
        if self.unsaved_input():

            def answered(quit_now: bool | None) -> None:
                if quit_now:
                    self.exit(0)

            self.push_screen(QuitScreen(), answered)
            return
        self.exit(0)


def make_app(
    svc: ParkingService, *, demo: bool = False, kiosk: bool = False, session_token: str | None = None
) -> ParkingApp:
    """Build the app over a service (the CLI and the tests share this).

    ``session_token`` starts the app signed in with that session (tests use it to open a screen directly).
    """
    return ParkingApp(svc, demo=demo, kiosk=kiosk, session_token=session_token)


def run_app(svc: ParkingService, *, demo: bool = False, kiosk: bool = False) -> int:
    """Run the app in the terminal; return the exit status."""
    app = make_app(svc, demo=demo, kiosk=kiosk)
    result = app.run()
    return int(result or 0) if app.return_code in (0, None) else int(app.return_code or 1)
