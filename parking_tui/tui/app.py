"""The Textual application: the shell every screen runs in.

``make_app`` is the one factory: the CLI (through ``run_app``) and the tests build the app the same way.
The app holds the session (``token``, ``profile``); every service call runs in a worker through the seam of
``shell.ParkingShell`` (one handler for every outcome: a domain error becomes a message, a storage failure a
screen - never a traceback).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import deque
from datetime import datetime
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Button, Input, Tabs

from ..domain.errors import ParkingError, StorageError, ValidationError
from .commands import ParkingCommands
from .shell import ParkingScreen, ParkingShell, Place
from .sizes import MIN_HEIGHT, MIN_WIDTH

if TYPE_CHECKING:
    from ..domain.models import Lot, Profile, Slot
    from ..domain.service import ParkingService

T = TypeVar("T")

#: Kiosk: sign out after this many seconds without a key press or click (the config file may change it).
DEFAULT_IDLE_SECONDS = 60.0
#: How often the kiosk looks at the idle time.
IDLE_CHECK_SECONDS = 1.0
#: Keys in a burst: the longest a key waits for the one before it to be handled, and how often it looks.
KEY_SETTLE_LIMIT = 2.0
KEY_SETTLE_POLL = 0.002
#: After a hang-up (the SSH connection dropped) the process is gone at the latest this much later.
HANGUP_GRACE_SECONDS = 3.0

#: A high-contrast theme: white on black, yellow focus. The kiosk uses it unless a theme is configured.
KIOSK_THEME = Theme(
    name="parking-kiosk",
    primary="#FFD700",
    secondary="#00BFFF",
    accent="#FFD700",
    warning="#FFB000",
    error="#FF5F5F",
    success="#00E676",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1C1C1C",
    dark=True,
    text_alpha=1.0,
)


class ParkingApp(ParkingShell):
    """Find a free slot, reserve it, check in and out."""

    TITLE = "parking-tui"
    #: The kiosk's stylesheet is read only in kiosk mode (parsing CSS is most of the sign-in screen's start).
    CSS_PATH = ["app.tcss"]
    KIOSK_CSS_PATH = ["app.tcss", "kiosk.tcss"]
    #: One provider: the app's commands in order, then the generic ones that make sense (see ``commands``).
    COMMANDS = {ParkingCommands}
    COMMAND_PALETTE_DISPLAY = "^p"

    BINDINGS = [
        # The footer shows the screen's own keys, Help and Back (it fits 80 columns); these are in help (?),
        # the palette, and on the lot list's footer as F2-F4.
        Binding(
            "b",
            "open_my_bookings",
            "Bookings",
            show=False,
            id="my_bookings",
            tooltip="Your bookings: check in, out, cancel",
        ),
        Binding("p", "open_profile", "Profile", show=False, id="profile", tooltip="Your account details; sign out"),
        Binding("a", "open_admin", "Admin", show=False, id="admin", tooltip="Lots, reservations, check-in by code"),
        Binding("question_mark", "help", "Help", key_display="?", id="help", tooltip="The keys that work here"),
        Binding("escape", "back", "Back", id="back", tooltip="Go back to the previous screen"),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            key_display="^q",
            show=False,
            priority=True,
            id="quit",
            tooltip="Leave parking-tui",
        ),
        Binding("f10", "quit_kiosk", "Quit kiosk", id="quit_kiosk", tooltip="Admin: close this kiosk terminal"),
        # Kiosk: up and down move between fields and buttons, so Tab is never needed (see ``check_action``).
        Binding("down", "kiosk_focus('next')", show=False, priority=True, id="kiosk.down"),
        Binding("up", "kiosk_focus('previous')", show=False, priority=True, id="kiosk.up"),
        # Everywhere: on a button, left and right move along its row of buttons.
        Binding("right", "focus_button('next')", show=False, priority=True, id="buttons.right"),
        Binding("left", "focus_button('previous')", show=False, priority=True, id="buttons.left"),
    ]

    def __init__(
        self,
        svc: ParkingService | None = None,
        *,
        opener: Callable[[], ParkingService] | None = None,
        demo: bool = False,
        kiosk: bool = False,
        session_token: str | None = None,
        idle_timeout: float = DEFAULT_IDLE_SECONDS,
        idle_clock: Callable[[], float] | None = None,
        theme: str | None = None,
        keymap: Mapping[str, str] | None = None,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__(css_path=list(self.KIOSK_CSS_PATH) if kiosk else None)
        #: Where Admin's CSV export offers to write (``None``: the working directory).
        self.export_dir = export_dir
        self._session_token = session_token
        if (svc is None) == (opener is None):
            raise TypeError("give the app a service, or an opener to open one once the first screen is up")
        if svc is not None:
            self.svc = svc
        #: Opens the service once the sign-in screen is up (see ``ParkingShell.svc``).
        self._opener = opener
        self.token: str | None = None
        self.profile: Profile | None = None
        self.demo = demo
        self.kiosk = kiosk
        self._too_small_dismissed: tuple[int, int] | None = None
        #: Kiosk: seconds without input before the session ends and the sign-in screen is cleared.
        self.idle_timeout = float(idle_timeout)
        #: Where the idle time is measured (seconds); tests swap in a clock they move by hand.
        self.idle_clock: Callable[[], float] = idle_clock or time.monotonic
        self.last_activity = self.idle_clock()
        #: The kiosk ignores every way out but these: an admin's "Quit kiosk" and a hang-up.
        self._exit_allowed = not kiosk
        self._hangup_handler = False
        #: Keys that arrived while the app was still busy with the key before (see ``on_event``).
        self._keys_held: deque[events.Key | events.Paste] = deque()
        self._key_released: events.Key | events.Paste | None = None
        self._key_gate: asyncio.Task[None] | None = None
        self.register_theme(KIOSK_THEME)
        if theme:
            self.theme = theme
        elif kiosk:
            self.theme = KIOSK_THEME.name
        if keymap:
            self.set_keymap(dict(keymap))
        if kiosk:
            self.add_class("kiosk")

    # ------------------------------------------------------------------------------ start and size

    def get_default_screen(self) -> Screen:
        from .screens.login import LoginScreen

        return LoginScreen()

    def on_mount(self) -> None:
        if self._opener is not None:
            # After the first screen is painted: opening in a thread while it is still being built would slow it.
            self.call_after_refresh(self.open_service_later, self._opener)
        if self.kiosk:
            self.set_interval(IDLE_CHECK_SECONDS, self.check_idle_timeout, name="kiosk-idle")
        if self._hangup_handler:
            try:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hung_up)
            except (NotImplementedError, RuntimeError, ValueError, AttributeError):
                pass  # no SIGHUP here (Windows) or not the main thread: the default action applies
        if self._session_token is not None:
            # Start inside an existing session (a token from an earlier sign-in).
            token = self._session_token
            self.call(self, lambda: self.svc.profile(token), then=lambda profile: self.signed_in(token, profile))
        self._check_size()

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._check_size)

    def _check_size(self) -> None:
        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if not small and len(self.screen_stack) <= 1:
            return  # big enough, and no notice to take down (the first screen's start does not need the module)
        from .screens.notices import TooSmallScreen

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
        self._too_small_dismissed = (self.size.width, self.size.height)

    # -------------------------------------------------------------------------------- the service

    def show_storage_error(self, error: BaseException) -> None:
        from .screens.notices import StorageErrorScreen

        if not isinstance(self.screen, StorageErrorScreen):
            self.push_screen(StorageErrorScreen(str(error), opened=self.service_open))

    # -------------------------------------------------------------------------------- the session

    def signed_in(self, token: str, profile: Profile) -> None:
        """Called by the login screen: keep the session and show the lots."""
        from .screens.lots import LotBrowserScreen

        self.token = token
        self.profile = profile
        self.clear_notifications()  # nothing said to the previous person lingers for this one
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
        token = self.token
        if token is None:
            self._signed_out()
            return

        def revoke() -> None:
            try:
                self.svc.logout(token)
            except StorageError:
                raise  # the storage-failure screen; the session stays open here
            except ParkingError:
                pass  # already ended: signing out locally is all that is left

        self.call(self, revoke, then=lambda _none: self._signed_out(), group="log-out", exclusive=True)

    def _signed_out(self) -> None:
        self._forget_session()
        self.notify("You are signed out.", markup=False)

    log_out = action_log_out

    def session_ended(self, message: str) -> None:
        self._forget_session()
        self.notify(message, title="Signed out", severity="warning", markup=False)

    # -------------------------------------------------------------------------------- navigation

    def _place(self) -> Place | None:
        """Where the person is (a dialog over a screen counts as that screen)."""
        for screen in reversed(self.screen_stack):
            if not isinstance(screen, ModalScreen):
                return screen.PLACE if isinstance(screen, ParkingScreen) else None
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        here = {"open_my_bookings": Place.MY_BOOKINGS, "open_profile": Place.PROFILE, "open_admin": Place.ADMIN}
        place = self._place()
        if action in here and place is here[action]:
            return False  # already there: no footer key for it
        if action in here and place is Place.LOTS:
            return False  # on the lot list letters go to the filter: these screens are on F2-F4 there
        if action in ("open_my_bookings", "open_profile"):
            return self.token is not None
        if action == "open_admin":
            return self.is_admin
        if action == "back":
            return not getattr(self.screen, "IS_ROOT", False) and len(self.screen_stack) > 1
        if action in ("quit", "help_quit"):
            return not self.kiosk
        if action == "quit_kiosk":
            return self.kiosk and self.is_admin and place is Place.ADMIN
        if action == "kiosk_focus":
            # Only where the focused widget has no use for the arrow (lists and the slot grid keep theirs).
            return self.kiosk and isinstance(self.focused, (Button, Input, Tabs))
        if action == "focus_button":
            # On a button that has neighbours in its row (in the kiosk: on any button).
            return self.kiosk and isinstance(self.focused, Button) or len(self._button_row()) > 1
        return True

    def _open(self, place: Place, make: Callable[[], Screen]) -> None:
        if self.token is None or self._place() is place:
            return
        self.push_screen(make())

    def action_open_my_bookings(self) -> None:
        from .screens.my_bookings import MyBookingsScreen

        self._open(Place.MY_BOOKINGS, MyBookingsScreen)

    def action_open_profile(self) -> None:
        from .screens.profile import ProfileScreen

        self._open(Place.PROFILE, ProfileScreen)

    def action_open_admin(self) -> None:
        from .screens.admin import AdminScreen

        if self.is_admin:
            self._open(Place.ADMIN, AdminScreen)

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

    def open_booking(self, lot: Lot, slot: Slot, window: tuple[datetime, datetime]) -> None:
        from .screens.booking import BookingScreen

        if self.token is not None:
            self.push_screen(BookingScreen(lot, slot, window))

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

    # -------------------------------------------------------------------------------- kiosk

    async def on_event(self, event: events.Event) -> None:
        if isinstance(
            event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp, events.Paste)
        ):
            self.last_activity = self.idle_clock()
        if isinstance(event, events.Key) and event.key == "ctrl+j" and not event.is_forwarded:
            # Keys typed while the program starts (a slow SSH link, a password manager) reach the terminal before
            # it is in raw mode, which turns Enter's carriage return into a line feed: read it as Enter.
            event = events.Key("enter", "\r")
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self._closing or not self._screen_stack:
                return  # closing: no screen left to take a key
            if event is self._key_released:
                self._key_released = None
            elif self._keys_held or self._key_released is not None or not self._keys_settled():
                # Keys in one burst (a laggy link, a password manager): wait until the key before has done
                # its work (Tab moved the focus, a letter opened the filter) so this one lands where it should.
                self._keys_held.append(event)
                if self._key_gate is None or self._key_gate.done():
                    self._key_gate = asyncio.create_task(self._release_held_keys())
                return
        await super().on_event(event)

    def _keys_settled(self) -> bool:
        """True when every widget of the screen has handled all it was sent (and no key bubbled back here)."""
        try:
            nodes = list(self.screen.walk_children(with_self=True))
        except Exception:  # no screen yet, or closing
            return True
        for node in nodes:
            if node.message_queue_size or getattr(node, "_pending_message", None) is not None:
                return False
            if isinstance(node, ParkingScreen) and node.handling:
                return False  # a handler of the screen is still awaiting something (it may move the focus next)
        waiting = getattr(self._message_queue, "values", ())
        return not any(isinstance(m, events.Event) and m.is_forwarded for m in waiting)

    async def _release_held_keys(self) -> None:
        """Hand the held keys back one at a time, each once the app has settled after the one before."""
        while self._keys_held and not self._closing:
            deadline = time.monotonic() + KEY_SETTLE_LIMIT
            await asyncio.sleep(0)
            while not self._keys_settled() and time.monotonic() < deadline:
                await asyncio.sleep(KEY_SETTLE_POLL)
            if self._key_released is not None:
                continue  # the one handed back before has not arrived yet
            event = self._keys_held.popleft()
            self._key_released = event
            if not self.post_message(event):
                self._key_released = None
                self._keys_held.clear()
                return

    def check_idle_timeout(self) -> bool:
        """Kiosk: after ``idle_timeout`` seconds without input, end the session and clear the sign-in screen.

        Runs every second on a timer (tests call it after moving ``idle_clock``). True when it reset."""
        if not self.kiosk:
            return False
        now = self.idle_clock()
        if now - self.last_activity < self.idle_timeout:
            return False
        self.last_activity = now
        if self._at_rest():
            return False
        self.reset_kiosk()
        return True

    def _at_rest(self) -> bool:
        """Nobody signed in, the sign-in screen alone and empty: nothing for the idle timeout to clear."""
        if self.token is not None or len(self.screen_stack) > 1:
            return False
        from textual.widgets import Input

        return not any(i.value for i in self.screen_stack[0].query(Input))

    def reset_kiosk(self) -> None:
        """End the session (revoked in the data file too), close every screen, empty every field."""
        from textual.widgets import Input, Static

        token = self.token
        had_session = token is not None
        if token is not None:

            def revoke() -> None:
                try:
                    self.svc.logout(token)
                except ParkingError:
                    pass  # expired, or the file is busy: the session is forgotten here all the same

            self.call(self, revoke, group="kiosk-revoke")
        self._forget_session()
        login = self.screen_stack[0]
        self.workers.cancel_node(login)  # a sign-in still checking a password must not land afterwards
        set_busy = getattr(login, "set_busy", None)
        if callable(set_busy):
            set_busy(False)
        for field in login.query(Input):
            field.value = ""
        for message in login.query(".field-error, .form-error").results(Static):
            message.update("")
            message.remove_class("-shown", "-busy")
        show_sign_in = getattr(login, "show_sign_in", None)
        if callable(show_sign_in):
            show_sign_in()
        self.clear_notifications()
        if had_session:
            self.notify("Signed out after a while without use.", title="Kiosk", markup=False)
        else:
            self.notify("The form was cleared after a while without use.", title="Kiosk", markup=False)

    def action_kiosk_focus(self, direction: str) -> None:
        if direction == "next":
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def _button_row(self) -> list[Widget]:
        """The focused button and the buttons beside it (its row), in order."""
        focused = self.focused
        if not isinstance(focused, Button) or focused.parent is None:
            return []
        return [w for w in focused.parent.children if isinstance(w, Button) and w.focusable]

    def action_focus_button(self, direction: str) -> None:
        """Left/right on a button: the next or previous button of its row (the kiosk, at a row's end: the next
        field or button, as down and up do)."""
        row = self._button_row()
        focused = self.focused
        if focused not in row:
            return
        index = row.index(focused) + (1 if direction == "next" else -1)
        if 0 <= index < len(row):
            row[index].focus()
        elif self.kiosk:
            self.action_kiosk_focus(direction)

    def action_quit_kiosk(self) -> None:
        """An admin closes the kiosk (the only way out of kiosk mode)."""
        if not (self.kiosk and self.is_admin):
            return
        self._exit_allowed = True
        self.exit(0)

    def action_help_quit(self) -> None:
        if not self.kiosk:
            super().action_help_quit()

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        if not self._exit_allowed:
            self.notify("This terminal stays open; a lot manager can close it from Admin.", markup=False)
            return
        super().exit(result, return_code, message)

    def hung_up(self) -> None:
        """The terminal went away (SIGHUP: the SSH connection dropped): leave now, holding no lock.

        A write in progress in a service worker has that long to finish (the store's commit is atomic either
        way); should closing hang on the dead terminal, the process ends anyway after ``HANGUP_GRACE_SECONDS``."""
        self._exit_allowed = True
        watchdog = threading.Timer(HANGUP_GRACE_SECONDS, os._exit, args=(129,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(None, return_code=129)

    def save_screenshot_here(self) -> None:
        """Palette → Screenshot: an SVG of the screen in the export folder (or the working directory), and
        the full path said."""
        folder = Path(self.export_dir).expanduser() if self.export_dir is not None else Path.cwd()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = Path(self.save_screenshot(path=str(folder.absolute())))
        except OSError as error:
            self.notify(
                f"Could not save the screenshot in {folder}: {error.strerror or error}", severity="error", markup=False
            )
            return
        self.notify(f"Screenshot saved to {path}", title="Screenshot", markup=False, timeout=10)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if not self.kiosk:
            for command in super().get_system_commands(screen):
                if command.title == "Screenshot":
                    yield SystemCommand(
                        "Screenshot", "Save an SVG picture of this screen and say where", self.save_screenshot_here
                    )
                else:
                    yield command
            return
        # A kiosk offers no way out, no files written, and no theme changes left for the next driver.
        keep = {"Keys", "Maximize", "Minimize"} | ({"Theme"} if self.is_admin else set())
        for command in super().get_system_commands(screen):
            if command.title in keep:
                yield command
        if self.is_admin:
            yield SystemCommand("Quit kiosk", "Admin: close this kiosk terminal", self.action_quit_kiosk)


def make_app(
    svc: ParkingService | None = None,
    *,
    opener: Callable[[], ParkingService] | None = None,
    demo: bool = False,
    kiosk: bool = False,
    session_token: str | None = None,
    idle_timeout: float = DEFAULT_IDLE_SECONDS,
    idle_clock: Callable[[], float] | None = None,
    theme: str | None = None,
    keymap: Mapping[str, str] | None = None,
    export_dir: Path | None = None,
) -> ParkingApp:
    """Build the app over a service (the CLI and the tests share this).

    ``opener`` instead of ``svc``: the app opens the service itself, in a worker, once the sign-in screen is up
    (the command line does this in a terminal, so the screen is there before the store is read).
    ``session_token`` starts the app signed in with that session (tests use it to open a screen directly).
    ``idle_timeout``/``idle_clock``: the kiosk's idle sign-out; ``theme`` and ``keymap`` come from the config.
    """
    return ParkingApp(
        svc,
        opener=opener,
        demo=demo,
        kiosk=kiosk,
        session_token=session_token,
        idle_timeout=idle_timeout,
        idle_clock=idle_clock,
        theme=theme,
        keymap=keymap,
        export_dir=export_dir,
    )


def theme_problem(theme: str | None) -> str | None:
    """Why ``theme`` cannot be used (a name this app does not have), or ``None``."""
    from textual.theme import BUILTIN_THEMES

    names = set(BUILTIN_THEMES) | {KIOSK_THEME.name}
    if theme and theme not in names:
        return f"Unknown theme {theme!r}; choose one of: {', '.join(sorted(names))}."
    return None


def run_app(
    svc: ParkingService | None = None,
    *,
    opener: Callable[[], ParkingService] | None = None,
    demo: bool = False,
    kiosk: bool = False,
    idle_timeout: float = DEFAULT_IDLE_SECONDS,
    theme: str | None = None,
    keymap: Mapping[str, str] | None = None,
    export_dir: Path | None = None,
) -> int:
    """Run the app in the terminal; return the exit status. It ends by itself when the terminal hangs up."""
    problem = theme_problem(theme)
    if problem:
        raise ValidationError(problem, field="theme")
    app = make_app(
        svc,
        opener=opener,
        demo=demo,
        kiosk=kiosk,
        idle_timeout=idle_timeout,
        theme=theme,
        keymap=keymap,
        export_dir=export_dir,
    )
    app._hangup_handler = True
    result = app.run()
    if app.return_code == 129:
        return 129
    return int(result or 0) if app.return_code in (0, None) else int(app.return_code or 1)
