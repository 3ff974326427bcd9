"""The app as screens see it: the session, the one seam for service calls, and the navigation they may ask for.

Every service call from the TUI goes through ``ParkingShell.call``: it runs in a thread worker (a database
behind the service never freezes the screen), and its outcome comes back as one message, ``CallFinished``,
to one handler on the UI thread. That handler hands a result to the caller's ``then``; a ``StorageError``
opens the storage-failure screen, an ended session signs out, any other ``ParkingError`` is shown inline by
the caller's ``inline`` (a form puts it under the field) or as a notification; anything else is a bug,
logged and said in one line - never a traceback.

``app.py`` builds on this class and knows every screen; screens know only this module (no circle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from textual import getters, on
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from ..domain.errors import AuthenticationError, ParkingError, StorageError

if TYPE_CHECKING:
    from ..domain.models import Lot, Profile, Slot
    from datetime import datetime
    from pathlib import Path

    from ..domain.service import ParkingService

T = TypeVar("T")
R = TypeVar("R")


class Place(Enum):
    """The screens a person can go to from anywhere (the app maps each to its screen class)."""

    LOTS = "lots"
    MAP = "map"
    MY_BOOKINGS = "my_bookings"
    PROFILE = "profile"
    ADMIN = "admin"


@dataclass(eq=False)
class ServiceCall(Generic[T]):
    """One call on its way: what to run, whose it is, and what to do with the outcome (on the UI thread)."""

    owner: DOMNode
    job: Callable[[], T]
    then: Callable[[T], object] | None = None
    inline: Callable[[ParkingError], object] | None = None
    always: Callable[[], object] | None = None
    worker: Worker[None] | None = field(default=None, repr=False)


class ParkingShell(App[Any]):
    """The session (``token``, ``profile``), the service seam, and the navigation a screen may ask for."""

    @dataclass
    class CallFinished(Message):
        """A service call ended: ``result`` or ``error`` (posted from the worker thread)."""

        call: ServiceCall[Any]
        result: Any = None
        error: BaseException | None = None

    token: str | None = None
    profile: Profile | None = None
    demo: bool = False
    kiosk: bool = False
    #: Where Admin's CSV export offers to write (``None``: the working directory).
    export_dir: Path | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_calls: set[ServiceCall[Any]] = set()
        self._service: ParkingService | None = None
        self._service_ready = threading.Event()
        self._service_error: BaseException | None = None
        self._service_opener: Callable[[], ParkingService] | None = None
        self._service_opening = threading.Lock()

    # ------------------------------------------------------------------------------ the service

    @property
    def svc(self) -> ParkingService:
        """The service. The app may start before it is open (``open_service_later``): the sign-in screen is
        up at once and the store opens in a worker; a call that needs it meanwhile waits for it (in its
        worker). If that open failed, each call that needs the service tries again (the database may be back),
        and a failure reaches the call as its error."""
        if self._service is None:
            self._service_ready.wait()
            if self._service is None:
                if self._service_opener is None:
                    raise self._service_error or StorageError("The data could not be opened.")
                self._open_with(self._service_opener)
        assert self._service is not None
        return self._service

    @svc.setter
    def svc(self, service: ParkingService) -> None:
        self._service = service
        self._service_ready.set()

    @property
    def service_open(self) -> bool:
        """True once the service is there (false while it opens, and after it failed to)."""
        return self._service is not None

    def open_service_later(self, opener: Callable[[], ParkingService]) -> None:
        """Open the service with ``opener`` in a worker, once the first screen is up (see ``svc``)."""
        self._service_opener = opener

        def open_now() -> None:
            try:
                self._open_with(opener)
            finally:
                self._service_ready.set()

        self.call(self, open_now, group="open-service")

    def _open_with(self, opener: Callable[[], ParkingService]) -> None:
        """Open the service (one opener at a time); a failure is kept and raised (to the one handler)."""
        with self._service_opening:
            if self._service is not None:
                return
            try:
                self._service = opener()
            except BaseException as error:
                self._service_error = error
                raise

    @property
    def calls_pending(self) -> int:
        """Calls started whose outcome has not been handled yet (a replaced, cancelled call does not count)."""
        self._open_calls = {c for c in self._open_calls if c.worker is None or not c.worker.is_cancelled}
        return len(self._open_calls)

    # ------------------------------------------------------------------------------ the one seam

    def call(
        self,
        owner: DOMNode,
        job: Callable[[], T],
        *,
        then: Callable[[T], object] | None = None,
        inline: Callable[[ParkingError], object] | None = None,
        always: Callable[[], object] | None = None,
        group: str = "service",
        exclusive: bool = False,
    ) -> Worker[None]:
        """Run ``job()`` (service calls, nothing that touches a widget) in a thread worker owned by ``owner``.

        On the UI thread afterwards: ``then(result)``, or the error to the one handler (``inline`` shows a
        domain error the caller can place, such as a field's message), after ``always()`` in both cases. Nothing
        is called back once the owner has left the screen or the worker was cancelled (``exclusive``: a
        newer call of the same group replaces an older one)."""
        call: ServiceCall[T] = ServiceCall(owner, job, then, inline, always)

        def run() -> None:
            try:
                result = job()
            except BaseException as error:  # handed to the one handler, on the UI thread
                self.post_message(self.CallFinished(call, error=error))
            else:
                self.post_message(self.CallFinished(call, result=result))

        self._open_calls.add(call)
        call.worker = owner.run_worker(run, thread=True, group=group, exclusive=exclusive, exit_on_error=False)
        return call.worker

    @on(CallFinished)
    def _call_finished(self, message: CallFinished) -> None:
        """The one handler: every service call's outcome arrives here."""
        call = message.call
        self._open_calls.discard(call)
        if (call.worker is not None and call.worker.is_cancelled) or not call.owner.is_attached:
            return  # its screen is gone, or a newer call replaced it
        if not self.is_running or not call.owner.is_running:
            return  # the app is closing: its screens' widgets are being taken down
        if call.always is not None:
            call.always()  # first: a busy form is free again before it shows the outcome
        error = message.error
        if error is None:
            if call.then is not None:
                call.then(message.result)
        elif isinstance(error, ParkingError):
            session_ended = isinstance(error, AuthenticationError) and self.token is not None
            if call.inline is not None and not isinstance(error, StorageError) and not session_ended:
                call.inline(error)
            else:
                self.report_error(error)
        elif isinstance(error, OSError):  # the data file went away under the store
            self.report_error(StorageError(f"The data file cannot be read: {error}"))
        else:
            self.log.error("service call failed", error)
            what = f"Something went wrong: {type(error).__name__}: {error}"
            self.notify(what, title="Not done", severity="error", markup=False)

    def report_error(self, error: ParkingError) -> None:
        """Show a domain error: storage failure screen, sign-out for an ended session, else a notification."""
        if isinstance(error, StorageError):
            self.show_storage_error(error)
        elif isinstance(error, AuthenticationError) and self.token is not None:
            self.session_ended(str(error))
        elif isinstance(error, AuthenticationError):
            pass  # nobody is signed in (a late call of a closed session's screen): nothing to tell the next person
        else:
            self.notify(str(error), title="Not done", severity="error", markup=False)

    # ------------------------------------------------------------- what app.py provides to screens

    def show_storage_error(self, error: BaseException) -> None:
        raise NotImplementedError

    def session_ended(self, message: str) -> None:
        raise NotImplementedError

    def signed_in(self, token: str, profile: Profile) -> None:
        raise NotImplementedError

    def action_log_out(self) -> None:
        raise NotImplementedError

    def action_go_home(self) -> None:
        raise NotImplementedError

    def action_open_lot(self, lot_id: int) -> None:
        raise NotImplementedError

    def action_open_my_bookings(self) -> None:
        raise NotImplementedError

    def action_open_profile(self) -> None:
        raise NotImplementedError

    def action_open_admin(self) -> None:
        raise NotImplementedError

    def action_help(self) -> None:
        raise NotImplementedError

    def open_booking(self, lot: Lot, slot: Slot, window: tuple[datetime, datetime]) -> None:
        raise NotImplementedError

    @property
    def session(self) -> str:
        """The session's token for a service call ("" when nobody is signed in: the service refuses it, and
        the refusal reaches the one handler like any other)."""
        return self.token or ""

    @property
    def is_admin(self) -> bool:
        return self.token is not None and self.profile is not None and self.profile.is_admin


def shell_of(node: DOMNode) -> ParkingShell:
    """The app ``node`` runs in, typed (for helpers that take any node)."""
    app = node.app
    if not isinstance(app, ParkingShell):
        raise TypeError(f"{node!r} does not run in the parking app")
    return app


class ShellNode:
    """The seam for screens and widgets: ``self.call(job, then=...)``. Each class that mixes it in also says
    ``app = getters.app(ParkingShell)``, so ``self.app`` is typed (no casts, no ignores)."""

    def call(
        self,
        job: Callable[[], T],
        *,
        then: Callable[[T], object] | None = None,
        inline: Callable[[ParkingError], object] | None = None,
        always: Callable[[], object] | None = None,
        group: str = "service",
        exclusive: bool = False,
    ) -> Worker[None]:
        """``ParkingShell.call`` owned by this screen or widget."""
        assert isinstance(self, DOMNode)
        return shell_of(self).call(self, job, then=then, inline=inline, always=always, group=group, exclusive=exclusive)


class ParkingScreen(ShellNode, Screen[R]):
    """A screen of this app. ``PLACE``: which of the places it is (the app hides the key that leads here)."""

    PLACE: ClassVar[Place | None] = None
    app = getters.app(ParkingShell)
    #: Messages whose handlers have started and not returned (an async handler may be awaiting): the app
    #: holds the next key of a burst until this is 0 (see ``ParkingApp._keys_settled``).
    handling: int = 0

    async def _on_message(self, message: Message) -> None:
        self.handling += 1
        try:
            await super()._on_message(message)
        finally:
            self.handling -= 1


class ParkingModal(ShellNode, ModalScreen[R]):
    """A dialog of this app."""

    app = getters.app(ParkingShell)
