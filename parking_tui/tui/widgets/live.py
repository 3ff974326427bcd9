"""Live views: poll the store's version in a thread worker and reload only when it changed.

The timer is re-armed only after a poll finished, so polls never pile up and input is never blocked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import get_current_worker

from ...domain.errors import ParkingError

T = TypeVar("T")

POLL_SECONDS = 0.5


class Poller(Generic[T]):
    """Every ``interval`` seconds run ``probe()`` in a thread; when its result changed, run ``load()`` there
    too and hand the data to ``apply(data)`` on the UI thread. Errors go to ``failed(error)``."""

    def __init__(
        self,
        owner: DOMNode,
        *,
        probe: Callable[[], Any],
        load: Callable[[], T],
        apply: Callable[[T], None],
        failed: Callable[[ParkingError], None],
        interval: float = POLL_SECONDS,
        name: str = "poll",
    ) -> None:
        self.owner = owner
        self.probe = probe
        self.load = load
        self.apply = apply
        self.failed = failed
        self.interval = interval
        self.name = name
        self.stamp: Any = None
        self._timer: Timer | None = None
        self._stopped = False
        self.polls = 0

    def start(self, stamp: Any = None) -> None:
        """Start polling; ``stamp`` is the probe result the current data was loaded at (if known)."""
        self.stamp = stamp
        self._stopped = False
        self._arm()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _arm(self) -> None:
        if not self._stopped and self.owner.is_attached:
            self._timer = self.owner.set_timer(self.interval, self._tick, name=self.name)

    def _tick(self) -> None:
        self._timer = None
        if self._stopped:
            return
        self.owner.run_worker(self._work, thread=True, group=self.name, exclusive=True, exit_on_error=False)

    def _work(self) -> None:
        worker = get_current_worker()
        app = self.owner.app
        try:
            stamp = self.probe()
            data = self.load() if stamp != self.stamp else None
        except ParkingError as error:
            self._back(app, worker, self._failed, error)
            return
        except OSError as error:  # the data file went away under us: report it like the store would
            from ...domain.errors import StorageError

            self._back(app, worker, self._failed, StorageError(f"The data file cannot be read: {error}"))
            return
        self._back(app, worker, self._done, stamp, data)

    @staticmethod
    def _back(app, worker, fn, *args) -> None:
        if worker.is_cancelled:
            return
        try:
            app.call_from_thread(fn, *args)
        except RuntimeError:  # the app is shutting down
            pass

    def _done(self, stamp: Any, data: T | None) -> None:
        self.polls += 1
        if self._stopped:
            return
        if data is not None:
            self.stamp = stamp
            self.apply(data)
        self._arm()

    def _failed(self, error: ParkingError) -> None:
        if self._stopped:
            return
        self.failed(error)
        # Keep trying, slower: a busy lock or a file being replaced usually passes.
        if not self._stopped and self.owner.is_attached:
            self._timer = self.owner.set_timer(self.interval * 4, self._tick, name=self.name)


def store_stamp(svc: Any, lot_id: int | None = None) -> tuple:
    """What a live view compares: the store's version (any write by any process) and the minute (times such
    as "starts in 14m" and lapsing reservations move with the clock)."""
    return (svc.version(lot_id), svc.now().replace(second=0, microsecond=0))


def updated_label(svc: Any) -> str:
    """``updated 09:41:07``: when the data on screen was read (the service's clock, local time)."""
    return f"updated {svc.now().astimezone():%H:%M:%S}"


def follow_store(owner: DOMNode, reload: Callable[[], None], *, name: str, lot_id: int | None = None) -> Poller[bool]:
    """Call ``reload()`` on the UI thread within ``POLL_SECONDS`` of any change to the store (or the minute).

    The version is read in a thread worker; ``reload`` reads the data itself. While the owner's screen is
    covered by another, the reload waits: screens reload on resume anyway."""
    app = owner.app
    svc = app.svc  # type: ignore[attr-defined]

    def apply(_changed: bool) -> None:
        screen = owner if isinstance(owner, Screen) else owner.screen
        if screen.is_current:
            reload()

    poller: Poller[bool] = Poller(
        owner,
        probe=lambda: store_stamp(svc, lot_id),
        load=lambda: True,
        apply=apply,
        failed=app.report_error,  # type: ignore[attr-defined]
        name=name,
    )
    poller.start(store_stamp(svc, lot_id))
    return poller
