"""Live views: poll the store's version in a thread worker and reload only when it changed.

The timer is re-armed only after a poll finished, so polls never pile up and input is never blocked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer

from ...domain.errors import ParkingError
from ..shell import shell_of

T = TypeVar("T")

POLL_SECONDS = 0.5


class Poller(Generic[T]):
    """Every ``interval`` seconds run ``probe()`` in a thread; when its result changed, run ``load()`` there
    too and hand the data to ``apply(data)`` on the UI thread. The calls go through the app's service seam,
    so a failure reaches its one handler (``quiet(error)``, when given, takes the domain errors a poll may
    skip, such as a validation error of a window that has begun)."""

    def __init__(
        self,
        owner: DOMNode,
        *,
        probe: Callable[[], Any],
        load: Callable[[], T],
        apply: Callable[[T], None],
        quiet: Callable[[ParkingError], object] | None = None,
        interval: float = POLL_SECONDS,
        name: str = "poll",
    ) -> None:
        self.owner = owner
        self.probe = probe
        self.load = load
        self.apply = apply
        self.quiet = quiet
        self.interval = interval
        self.name = name
        self.stamp: Any = None
        self._timer: Timer | None = None
        self._stopped = False
        self.polls = 0

    def start(self, *, now: bool = False, prime: bool = False) -> None:
        """Start polling. ``now``: load at once (the first data of a screen); ``prime``: read the stamp at
        once and load only when it changes later (the caller loads the data itself)."""
        self._stopped = False
        if now or prime:
            self._tick(prime=prime)
        else:
            self._arm()

    def reload(self) -> None:
        """Load now, whatever the stamp says (after a change made here, or ``r``)."""
        if self._stopped:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.stamp = None
        self._tick()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _arm(self, interval: float | None = None) -> None:
        if not self._stopped and self.owner.is_attached:
            if self._timer is not None:
                self._timer.stop()
            self._timer = self.owner.set_timer(interval or self.interval, self._tick, name=self.name)

    def _tick(self, prime: bool = False) -> None:
        self._timer = None
        if self._stopped or not self.owner.is_attached:
            return
        known = self.stamp

        def job() -> tuple[Any, list[T]]:
            stamp = self.probe()
            if prime or stamp == known:
                return stamp, []
            return stamp, [self.load()]

        shell_of(self.owner).call(
            self.owner, job, then=self._done, inline=self.quiet, always=self._after, group=self.name, exclusive=True
        )

    def _done(self, outcome: tuple[Any, list[T]]) -> None:
        self.polls += 1
        if self._stopped:
            return
        self._arm()
        stamp, loaded = outcome
        self.stamp = stamp
        for data in loaded:
            self.apply(data)

    def _after(self) -> None:
        # Runs first whatever the outcome: armed slow, as after a failure (a busy lock or a file being
        # replaced usually passes); a success re-arms at the normal pace in ``_done``.
        self._arm(self.interval * 4)


def store_stamp(svc: Any, lot_id: int | None = None) -> tuple:
    """What a live view compares: the store's version (any write by any process) and the minute (times such
    as "starts in 14m" and lapsing reservations move with the clock). Runs in a worker thread."""
    return (svc.version(lot_id), svc.now().replace(second=0, microsecond=0))


def updated_label(svc: Any) -> str:
    """``updated 09:41:07``: when the data on screen was read (the service's clock, local time)."""
    return f"updated {svc.now().astimezone():%H:%M:%S}"


def follow_store(owner: DOMNode, reload: Callable[[], None], *, name: str, lot_id: int | None = None) -> Poller[bool]:
    """Call ``reload()`` on the UI thread within ``POLL_SECONDS`` of any change to the store (or the minute).

    The version is read in a thread worker; ``reload`` reads the data itself (through the seam). While the
    owner's screen is covered by another, the reload waits: screens reload on resume anyway."""
    svc = shell_of(owner).svc

    def apply(_changed: bool) -> None:
        screen = owner if isinstance(owner, Screen) else owner.screen
        if screen.is_current:
            reload()

    poller: Poller[bool] = Poller(
        owner,
        probe=lambda: store_stamp(svc, lot_id),
        load=lambda: True,
        apply=apply,
        name=name,
    )
    poller.start(prime=True)
    return poller
