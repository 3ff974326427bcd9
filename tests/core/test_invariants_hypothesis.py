"""Hypothesis: random sequences of operations by several users never break invariant 1.

Invariant 1 (DESIGN.md): no two live bookings (reserved / checked_in) of one slot overlap in time. The machine
also checks the per-driver rule (overlapping live bookings of one driver only for different plates, at most the
lot's ``max_cars_per_driver`` at once, one at a time without a plate) and that every booking the service
acknowledged is still there with its code, lot and window, including after re-opening the store from disk.

Three lots (three slots, one, two); times to the microsecond, and windows placed to touch an existing booking
exactly or to overlap it by 1 µs, 1 s or 59 s; plates (none, or one of three cars); an admin's marks (walk-in
``occupied`` and ``out_of_service``, with or without an end, cleared with ``available``) and retired slots, whose
reservations must move to a free slot of the same lot (same code, same window) or be reported unplaced with
``attention`` set; drivers trying to act on other drivers' bookings (always refused, nothing changes). A
``slow``-marked profile runs many more and longer examples.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import parking_tui
from parking_tui.domain import Conflict, ParkingError
from parking_tui.domain.models import LotPolicy

from .conftest import T0, FrozenClock, cheap_hasher, live_overlaps, make_user

DRIVERS = ("ann", "ben", "cid", "dee")
SLOTS = 6  # A1-A3 in lot 0, B1 in lot 1, C1-C2 in lot 2
LOT_OF = (0, 0, 0, 1, 2, 2)  # the lot of each slot index
PLATES = ("", "", "AB1", "CD2", "EF3")  # no plate is as likely as a car
CARS = LotPolicy().max_cars_per_driver
NEAR = [timedelta(0), timedelta(microseconds=1), timedelta(seconds=1), timedelta(seconds=59)]
TTL = timedelta(days=400)
_TEMPLATE: dict = {}
#: A RAM disk when there is one: fsync is free there, and the machine is about the rules, not the disk.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None


def _template() -> dict:
    """Build the starting data once; every example copies the files (sessions included)."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="parking-hyp-template-", dir=SCRATCH))
        svc = parking_tui.open_service(
            folder / "parking.json", clock=FrozenClock(T0), password_hasher=cheap_hasher(), session_ttl=TTL
        )
        tokens = {"admin": make_user(svc, "admin", admin=True)}
        for name in DRIVERS:
            tokens[name] = make_user(svc, name)
        slots = []
        for n, numbers in enumerate((["A1", "A2", "A3"], ["B1"], ["C1", "C2"])):
            lot = svc.create_lot(tokens["admin"], f"Lot {n}", "x", 10)
            slots += [s.id for s in svc.add_slots(tokens["admin"], lot.id, numbers)]
        _TEMPLATE.update(folder=folder, tokens=tokens, slots=slots)
    return _TEMPLATE


def _driver_rule_breaches(bookings):
    """Live bookings of one driver that overlap without distinct plates, and instants at which a driver holds
    more than ``CARS`` of them."""
    live = [b for b in bookings if b.status in ("reserved", "checked_in")]
    bad = [
        (a.id, b.id)
        for i, a in enumerate(live)
        for b in live[i + 1 :]
        if a.username == b.username
        and a.start_time < b.end_time
        and b.start_time < a.end_time
        and (not a.plate or not b.plate or a.plate == b.plate)
    ]
    for a in live:  # the most held at once is reached at some booking's start
        held = [b.id for b in live if b.username == a.username and b.start_time <= a.start_time < b.end_time]
        if len(held) > CARS:
            bad.append(tuple(held))
    return bad


class BookingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        tpl = _template()
        self.folder = Path(tempfile.mkdtemp(prefix="parking-hyp-", dir=SCRATCH))
        for p in tpl["folder"].glob("parking*.json"):
            shutil.copy2(p, self.folder / p.name)
        self.path = self.folder / "parking.json"
        self.clock = FrozenClock(T0)
        # Two services on one file: like two processes (each with its own cache).
        self.services = [self._open(), self._open()]
        self.tokens = tpl["tokens"]
        self.slots = tpl["slots"]
        self.acked: dict[int, str] = {}  # booking id -> owner
        self.windows: dict[int, tuple] = {}  # booking id -> (slot id, start, end) as acknowledged
        self.codes: dict[int, str] = {}  # booking id -> confirmation code (kept through every move)
        self.lot_of: dict[int, int] = {}  # booking id -> lot id (a move stays in the lot)
        self.plates: dict[int, str] = {}
        self.errors = 0

    def _open(self):
        return parking_tui.open_service(self.path, clock=self.clock, password_hasher=cheap_hasher(), session_ttl=TTL)

    def _svc(self, which: int):
        return self.services[which % 2]

    @rule(
        which=st.integers(0, 1),
        user=st.sampled_from(DRIVERS),
        slot=st.integers(0, SLOTS - 1),
        start=st.integers(-10, 8 * 60),
        minutes=st.integers(1, 6 * 60),
        plate=st.sampled_from(PLATES),
    )
    def book(self, which, user, slot, start, minutes, plate):
        begin = self.clock.now + timedelta(minutes=start)
        self._book(which, user, slot, begin, begin + timedelta(minutes=minutes), plate=plate)

    @rule(
        which=st.integers(0, 1),
        user=st.sampled_from(DRIVERS),
        slot=st.integers(0, SLOTS - 1),
        start_us=st.integers(-10 * 60 * 10**6, 8 * 3600 * 10**6),
        length_us=st.integers(1, 6 * 3600 * 10**6),
        plate=st.sampled_from(PLATES),
    )
    def book_precise(self, which, user, slot, start_us, length_us, plate):
        """Times to the microsecond."""
        begin = self.clock.now + timedelta(microseconds=start_us)
        self._book(which, user, slot, begin, begin + timedelta(microseconds=length_us), plate=plate)

    @rule(
        which=st.integers(0, 1),
        user=st.sampled_from(DRIVERS),
        pick=st.integers(0, 10_000),
        after=st.booleans(),
        near=st.sampled_from(NEAR),
        length_us=st.integers(1, 3 * 3600 * 10**6),
        same_slot=st.booleans(),
        slot=st.integers(0, SLOTS - 1),
        plate=st.sampled_from((*PLATES, "another car")),
        owner=st.booleans(),
    )
    def book_against(self, which, user, pick, after, near, length_us, same_slot, slot, plate, owner):
        """A window that touches an acknowledged booking exactly (``near`` 0) or overlaps it by 1 µs, 1 s or 59 s,
        after its end or before its start; on its slot (another driver's rule) or on any slot (the driver's);
        by any driver or by the booking's own (a second car, the same car twice, one car too many)."""
        if not self.windows:
            return
        ids = sorted(self.windows)
        booking_id = ids[pick % len(ids)]
        if owner:
            user = self.acked[booking_id]
        if plate == "another car":  # one this driver has not booked yet: a third car is then one too many
            plate = next((p for p in PLATES if p and p not in self._plates_of(user)), "")
        slot_id, start, end = self.windows[booking_id]
        length = timedelta(microseconds=length_us)
        begin = end - near if after else start + near - length
        target = slot_id if same_slot else self.slots[slot]
        b = self._book(which, user, None, begin, begin + length, slot_id=target, plate=plate)
        current = self._current(booking_id)
        if b is not None and current is not None and current.status in ("reserved", "checked_in"):
            if current.start_time < b.end_time and b.start_time < current.end_time:
                same_driver_ok = bool(plate) and bool(current.plate) and current.plate != b.plate
                assert current.slot_id != b.slot_id and (self.acked[booking_id] != user or same_driver_ok), (
                    f"booking {b.id} {b.start_time}-{b.end_time} overlaps live booking {booking_id} "
                    f"{current.start_time}-{current.end_time} of {self.acked[booking_id]}"
                )

    @rule(
        which=st.integers(0, 1),
        pick=st.integers(0, 10_000),
        length_us=st.integers(15 * 60 * 10**6, 3 * 3600 * 10**6),
        slot=st.integers(0, SLOTS - 1),
    )
    def another_car(self, which, pick, length_us, slot):
        """The driver of a booking with a plate books another car (a plate they have not used yet) from a minute
        before its start: twice on the same booking, three cars are parked at once (one too many)."""
        ids = sorted(i for i in self.windows if self.plates[i])
        if not ids:
            return
        booking_id = ids[pick % len(ids)]
        user, (_, start, _) = self.acked[booking_id], self.windows[booking_id]
        plate = next((p for p in PLATES if p and p not in self._plates_of(user)), None)
        if plate is not None:
            begin = max(start - timedelta(minutes=1), self.clock.now)
            self._book(which, user, slot, begin, begin + timedelta(microseconds=length_us), plate=plate)

    def _plates_of(self, user):
        return {self.plates[i] for i, owner in self.acked.items() if owner == user}

    def _current(self, booking_id):
        try:
            return self.services[0].get_booking(self.tokens["admin"], booking_id)
        except ParkingError:
            return None

    def _book(self, which, user, slot, begin, end, *, slot_id=None, plate=""):
        slot_id = self.slots[slot] if slot_id is None else slot_id
        try:
            b = self._svc(which).create_booking(self.tokens[user], slot_id, begin, end, plate=plate)
        except ParkingError:
            self.errors += 1
            return None
        assert b.status == "reserved" and b.id not in self.acked
        assert (b.start_time, b.end_time) == (begin, end)  # to the microsecond
        assert b.plate == plate and b.slot_id == slot_id
        self.acked[b.id] = user
        self.windows[b.id] = (slot_id, begin, end)
        self.codes[b.id] = b.confirmation_code
        self.lot_of[b.id] = b.lot_id
        self.plates[b.id] = plate
        return b

    @rule(
        which=st.integers(0, 1),
        pick=st.integers(0, 10_000),
        actor=st.sampled_from(DRIVERS),
        action=st.sampled_from(["cancel_booking", "check_in", "check_out", "extend_booking", "get_booking"]),
    )
    def meddle(self, which, pick, actor, action):
        """A driver acting on another driver's booking is refused and changes nothing."""
        others = sorted(i for i, owner in self.acked.items() if owner != actor)
        if not others:
            return
        booking_id = others[pick % len(others)]
        before = self._current(booking_id)
        args = (before.end_time + timedelta(hours=1),) if action == "extend_booking" and before else ()
        try:
            getattr(self._svc(which), action)(self.tokens[actor], booking_id, *args)
        except ParkingError:
            pass
        else:
            raise AssertionError(f"{actor} could {action} booking {booking_id} of {self.acked[booking_id]}")
        after = self._current(booking_id)
        assert (after.status, after.end_time) == (before.status, before.end_time)

    def _act(self, which, pick, as_admin, action, *args):
        if not self.acked:
            return
        ids = sorted(self.acked)
        booking_id = ids[pick % len(ids)]
        token = self.tokens["admin" if as_admin else self.acked[booking_id]]
        try:
            getattr(self._svc(which), action)(token, booking_id, *args)
        except ParkingError:
            self.errors += 1

    @rule(which=st.integers(0, 1), pick=st.integers(0, 10_000), as_admin=st.booleans())
    def cancel(self, which, pick, as_admin):
        self._act(which, pick, as_admin, "cancel_booking")

    @rule(which=st.integers(0, 1), pick=st.integers(0, 10_000), as_admin=st.booleans())
    def check_in(self, which, pick, as_admin):
        self._act(which, pick, as_admin, "check_in")

    @rule(which=st.integers(0, 1), pick=st.integers(0, 10_000))
    def check_out(self, which, pick):
        self._act(which, pick, False, "check_out")

    @rule(which=st.integers(0, 1), pick=st.integers(0, 10_000), minutes=st.integers(1, 5 * 60))
    def extend(self, which, pick, minutes):
        if not self.acked:
            return
        ids = sorted(self.acked)
        booking_id = ids[pick % len(ids)]
        owner = self.acked[booking_id]
        svc = self._svc(which)
        try:
            current = svc.get_booking(self.tokens[owner], booking_id)
            longer = svc.extend_booking(self.tokens[owner], booking_id, current.end_time + timedelta(minutes=minutes))
        except ParkingError:
            self.errors += 1
        else:
            assert longer.end_time == current.end_time + timedelta(minutes=minutes)
            self.windows[booking_id] = (longer.slot_id, longer.start_time, longer.end_time)

    @rule(
        which=st.integers(0, 1),
        slot=st.integers(0, SLOTS - 1),
        status=st.sampled_from(["available", "occupied", "out_of_service", "retired"]),
        until=st.one_of(st.none(), st.integers(1, 10 * 3600 * 10**6)),
    )
    def mark(self, which, slot, status, until, plain=False):
        """An admin's mark: the reservations it blocks move to a free slot of the lot, same code and window, or
        are reported unplaced with ``attention``; no reservation is moved that the mark does not block."""
        svc, admin, slot_id = self._svc(which), self.tokens["admin"], self.slots[slot]
        now = self.clock.now
        end = None if until is None or status in ("available", "retired") else now + timedelta(microseconds=until)
        before = {b.id: b for b in svc.list_reservations(admin)}
        try:
            if status == "retired":
                result = svc.retire_slot_mark(admin, slot_id)
            elif plain:
                svc.set_slot_status(admin, slot_id, status, until=end)
                return
            else:
                result = svc.mark_slot(admin, slot_id, status, until=end)
        except ParkingError:
            self.errors += 1
            return
        if status in ("occupied", "out_of_service", "retired"):
            block_end = end
            if status == "occupied" and end is None:
                block_end = now + LotPolicy().walk_in
            blocked = {
                b.id
                for b in before.values()
                if b.slot_id == slot_id
                and b.status == "reserved"
                and b.end_time > now
                and (block_end is None or b.start_time < block_end)
            }
            handled = {b.id for b in result.moved} | {b.id for b in result.unplaced}
            assert blocked <= handled, f"reservations blocked by the mark but neither moved nor reported: {blocked - handled}"
        for b in result.moved:
            was = before[b.id]
            assert b.slot_id != slot_id and was.slot_id == slot_id, f"booking {b.id} 'moved' from {was.slot_id} to {b.slot_id}"
            assert (b.lot_id, b.confirmation_code, b.start_time, b.end_time, b.status) == (
                was.lot_id, was.confirmation_code, was.start_time, was.end_time, "reserved"
            )
            self.windows[b.id] = (b.slot_id, b.start_time, b.end_time)
        for b in result.unplaced:
            assert b.attention, f"booking {b.id} could not be placed but carries no attention"

    @rule(slot=st.integers(0, SLOTS - 1), status=st.sampled_from(["available", "occupied", "out_of_service"]))
    def set_status(self, slot, status):
        self.mark(0, slot, status, None, plain=True)

    @rule(minutes=st.sampled_from([1, 5, 14, 15, 16, 30, 59, 60, 90, 180]))
    def advance(self, minutes):
        self.clock.advance(minutes=minutes)

    @rule(us=st.integers(1, 120 * 10**6))
    def advance_precise(self, us):
        self.clock.advance(microseconds=us)

    @rule()
    def reopen(self):
        self.services[1] = self._open()

    def _check(self, svc):
        everything = svc.list_reservations(self.tokens["admin"])
        assert live_overlaps(everything) == []
        assert _driver_rule_breaches(everything) == []
        assert set(self.acked) <= {b.id for b in everything}
        for b in everything:
            assert b.username == self.acked[b.id]
            assert (b.confirmation_code, b.lot_id, b.plate) == (self.codes[b.id], self.lot_of[b.id], self.plates[b.id])
            assert (b.start_time, b.end_time) == self.windows[b.id][1:], f"booking {b.id}'s window changed"

    @invariant()
    def no_overlap(self):
        self._check(self.services[0])

    def teardown(self):
        try:
            if self.acked or self.errors:
                self._check(self._open())  # from disk, as a fresh process
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


BookingMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookingInvariants = BookingMachine.TestCase


class ThoroughBookingMachine(BookingMachine):
    """The same machine, many more and longer runs (``-m slow``)."""


ThoroughBookingMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookingInvariantsThorough = pytest.mark.slow(ThoroughBookingMachine.TestCase)


def teardown_module(module):
    if _TEMPLATE:
        shutil.rmtree(_TEMPLATE["folder"], ignore_errors=True)
        _TEMPLATE.clear()


def test_machine_exercises_successes_and_refusals():
    """A fixed run of the machine: the rules do change state and do get refused (so the invariant is tested)."""
    m = BookingMachine()
    try:
        m.book(0, "ann", 0, 60, 60, "")
        m.book(1, "ben", 0, 90, 60, "")  # overlap: refused
        m.book(1, "ben", 0, 120, 60, "")  # back to back: fine
        m.book(0, "ann", 1, 90, 30, "")  # hoarding: refused
        assert len(m.acked) == 2 and m.errors == 2
        m.advance(60)
        m.check_in(0, 0, False)
        m.extend(1, 0, 30)  # into ben's booking: refused
        m.advance(60)
        m.check_out(1, 0)
        m.reopen()
        m.no_overlap()
        statuses = sorted(b.status for b in m.services[1].list_reservations(m.tokens["admin"]))
        assert statuses == ["completed", "reserved"]
        assert m.errors == 3
    finally:
        m.teardown()


def test_machine_exercises_plates_and_marks():
    """A fixed run through the rules for plates and marks: two cars of one driver at once (a third refused, the
    same plate twice refused), a mark that moves a reservation, one that cannot place it (``attention``), and the
    checks of the machine after each."""
    m = BookingMachine()
    try:
        m.book(0, "ann", 0, 60, 60, "AB1")
        m.book(1, "ann", 1, 60, 60, "CD2")  # a second car at the same time: allowed
        m.book(0, "ann", 2, 60, 60, "EF3")  # a third: over max_cars_per_driver
        m.book(1, "ann", 2, 90, 60, "AB1")  # the same car twice: refused
        m.book(0, "ann", 3, 90, 60, "")  # no plate while holding others: refused
        assert len(m.acked) == 2 and m.errors == 3
        first, second = sorted(m.acked)
        m.mark(0, 0, "out_of_service", None)  # A1 blocked: ann's first booking moves to A3 (A2 is taken)
        assert m.windows[first][0] == m.slots[2] and m.errors == 3
        m.book(1, "ben", 4, 60, 60, "")  # C1, lot 2
        third = max(m.acked)
        m.mark(1, 5, "occupied", 3 * 3600 * 10**6)  # C2 walk-in: nothing of C2 to move
        m.mark(0, 4, "out_of_service", None)  # C1 blocked, C2 taken by a walk-in: ben's booking is unplaced
        assert m.windows[third][0] == m.slots[4]
        assert m.services[0].get_booking(m.tokens["admin"], third).attention
        m.mark(1, 1, "retired", None)  # A2 retired: ann's second car has nowhere to go in lot 0 (A1 out, A3 taken)
        assert m.services[0].get_booking(m.tokens["admin"], second).attention
        m.mark(0, 0, "available", None)
        m.no_overlap()
        m.reopen()
        m.no_overlap()
    finally:
        m.teardown()
