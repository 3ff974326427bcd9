"""The command palette (ctrl+p): the screens and the main actions. Admin commands only for admins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from .shell import shell_of

if TYPE_CHECKING:
    from textual.screen import Screen

    from .shell import ParkingShell


class Command(NamedTuple):
    name: str
    help: str
    callback: Callable[[], object]


def parking_commands(app: ParkingShell, screen: Screen) -> Iterator[Command]:
    """What the palette offers on ``screen``: the screen's own commands first, then the app's."""
    own = getattr(screen, "palette_commands", None)
    if callable(own):
        yield from own()
    if app.token is None:
        return
    yield Command("Lots", "Every lot with its free slots (home)", app.action_go_home)
    yield Command("My bookings", "Check in, check out, cancel or extend your bookings", app.action_open_my_bookings)
    yield Command("Profile", "Your e-mail, phone and role", app.action_open_profile)
    yield Command("Sign out", "End your session and return to the sign-in screen", app.action_log_out)
    yield Command("Help", "The keys that work on this screen", app.action_help)
    if app.profile is not None and app.profile.is_admin:
        yield Command("Admin", "Lots, slots, reservations, check-in by code, occupancy", app.action_open_admin)


#: Textual's own commands that make sense here (after the app's): the rest (Maximize, Minimize, the keys
#: panel) only add noise to a list of what this app does.
GENERIC = ("Theme", "Screenshot", "Quit", "Quit kiosk")


def generic_commands(app: ParkingShell, screen: Screen) -> Iterator[Command]:
    for command in app.get_system_commands(screen):
        if command.title in GENERIC:
            yield Command(command.title, command.help, command.callback)


def all_commands(app: ParkingShell, screen: Screen) -> Iterator[Command]:
    """The screen's and the app's commands first, then the few generic ones."""
    yield from parking_commands(app, screen)
    yield from generic_commands(app, screen)


def highlight(matcher: Matcher, name: str) -> Content:
    """``name`` as plain text (never markup: names may hold user text) with the matched letters styled."""
    content = Content(name)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, name)
    for offset in offsets:
        if not name[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class ParkingCommands(Provider):
    """Screens and actions of parking-tui."""

    def _commands(self) -> list[Command]:
        return list(all_commands(shell_of(self.screen), self.screen))

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(Content(command.name), command.callback, text=command.name, help=escape(command.help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, command.name),
                    command.callback,
                    text=command.name,
                    help=escape(command.help),
                )
