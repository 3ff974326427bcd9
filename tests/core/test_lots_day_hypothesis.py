"""Hypothesis: random days of a lot - arrivals (early, late, none), overstays, walk-in and out-of-service marks,
retired slots, cancellations - keep invariant 1, keep every booking's code, and never leave a booking ``expired``
whose slot was blocked.

"Blocked" is what the service itself reports: a live reservation with ``attention`` set. The machine observes
every booking after every step; a step moves the clock by less than the grace period (or is a long jump, after
which only invariant 1 and the codes are checked), so a reservation seen blocked cannot be a no-show by the next
observation.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import parking_tui
from parking_tui.domain import ParkingError

from .conftest import T0, FrozenClock, cheap_hasher, live_overlaps, make_user

DRIVERS = ("ann", "ben", "cid", "dee", "eve")
TTL = timedelta(days=400)
_TEMPLATE: dict = {}


def _template() -> dict:
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="parking-day-template-"))
        svc = parking_tui.open_service(
            folder / "parking.json", clock=FrozenClock(T0), password_hasher=cheap_hasher(), session_ttl=TTL
        )
        tokens = {"admin": make_user(svc, "admin", admin=True)}
        for name in DRIVERS:
            tokens[name] = make_user(svc, name)
        lot = svc.create_lot(tokens["admin"], "Lot", "x", 10, time_zone="UTC")
        slots = [s.id for s in svc.add_slots(tokens["admin"], lot.id, ["A1", "A2", "A3", "A4"])]
        _TEMPLATE.update(folder=folder, tokens=tokens, slots=slots)
    return _TEMPLATE


class LotDay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        tpl = _template()
        self.folder = Path(tempfile.mkdtemp(prefix="parking-day-"))
        for p in tpl["folder"].glob("parking*.json"):
            shutil.copy2(p, self.folder / p.name)
        self.clock = FrozenClock(T0)
        self.svc = parking_tui.open_service(
            self.folder / "parking.json", clock=self.clock, password_hasher=cheap_hasher(), session_ttl=TTL
        )
        self.tokens, self.slots = tpl["tokens"], tpl["slots"]
        self.owner: dict[int, str] = {}
        self.codes: dict[int, str] = {}
        self.seen: dict[int, tuple[str, str]] = {}  # booking id -> (status, attention) at the last observation
        self.long_jump = False
        self.counts = {"moved": 0, "blocked": 0, "expired": 0, "refused": 0}

    def _pick(self, pick: int) -> int | None:
        if not self.owner:
            return None
        ids = sorted(self.owner)
        return ids[pick % len(ids)]

    def _try(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ParkingError:
            self.counts["refused"] += 1
            return None

    @rule(
        user=st.sampled_from(DRIVERS),
        slot=st.integers(0, 3),
        start=st.integers(-5, 6 * 60),
        minutes=st.sampled_from([15, 30, 45, 60, 120, 240]),
        plate=st.sampled_from(["", "", "CAR1", "CAR2"]),
    )
    def book(self, user, slot, start, minutes, plate):
        begin = self.clock.now + timedelta(minutes=start)
        b = self._try(
            self.svc.create_booking, self.tokens[user], self.slots[slot], begin, begin + timedelta(minutes=minutes),
            plate=plate,
        )
        if b is not None:
            self.owner[b.id] = user
            self.codes[b.id] = b.confirmation_code

    @rule(pick=st.integers(0, 10_000), as_admin=st.booleans())
    def arrive(self, pick, as_admin):
        booking_id = self._pick(pick)
        if booking_id is not None:
            token = self.tokens["admin" if as_admin else self.owner[booking_id]]
            self._try(self.svc.check_in, token, booking_id)

    @rule(pick=st.integers(0, 10_000))
    def leave(self, pick):
        booking_id = self._pick(pick)
        if booking_id is not None:
            self._try(self.svc.check_out, self.tokens[self.owner[booking_id]], booking_id)

    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick):
        booking_id = self._pick(pick)
        if booking_id is not None:
            self._try(self.svc.cancel_booking, self.tokens[self.owner[booking_id]], booking_id)

    @rule(pick=st.integers(0, 10_000), minutes=st.sampled_from([15, 30, 90]))
    def extend(self, pick, minutes):
        booking_id = self._pick(pick)
        if booking_id is None:
            return
        token = self.tokens[self.owner[booking_id]]
        current = self._try(self.svc.get_booking, token, booking_id)
        if current is not None:
            self._try(self.svc.extend_booking, token, booking_id, current.end_time + timedelta(minutes=minutes))

    @rule(
        slot=st.integers(0, 3),
        status=st.sampled_from(["available", "available", "occupied", "out_of_service"]),
        hours=st.sampled_from([None, 1, 3]),
    )
    def mark(self, slot, status, hours):
        until = self.clock.now + timedelta(hours=hours) if hours and status != "available" else None
        result = self._try(self.svc.mark_slot, self.tokens["admin"], self.slots[slot], status, until=until)
        if result is not None:
            self.counts["moved"] += len(result.moved)
            for b in result.unplaced:
                assert b.attention and b.status == "reserved"

    @rule(slot=st.integers(2, 3))
    def retire(self, slot):
        self._try(self.svc.retire_slot, self.tokens["admin"], self.slots[slot])

    @rule(minutes=st.sampled_from([1, 5, 10, 14]))
    def tick(self, minutes):
        self.clock.advance(minutes=minutes)

    @rule(minutes=st.sampled_from([60, 240]))
    def jump(self, minutes):
        self.clock.advance(minutes=minutes)
        self.long_jump = True

    @invariant()
    def the_day_holds(self):
        everything = self.svc.list_reservations(self.tokens["admin"])
        assert live_overlaps(everything) == []
        now: dict[int, tuple[str, str]] = {}
        for b in everything:
            assert b.confirmation_code == self.codes[b.id]  # a move keeps the code
            assert b.username == self.owner[b.id]
            now[b.id] = (b.status.value, b.attention)
            if b.attention and b.status == "reserved":
                self.counts["blocked"] += 1
            before = self.seen.get(b.id)
            if b.status == "expired" and before is not None and before[0] == "reserved":
                self.counts["expired"] += 1
                if not self.long_jump:
                    assert not before[1], f"booking {b.id} expired while its slot was blocked ({before[1]})"
        assert set(self.owner) <= set(now)
        self.seen = now
        self.long_jump = False

    def teardown(self):
        shutil.rmtree(self.folder, ignore_errors=True)


LotDay.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLotDay = LotDay.TestCase


def teardown_module(module):
    if _TEMPLATE:
        shutil.rmtree(_TEMPLATE["folder"], ignore_errors=True)
        _TEMPLATE.clear()


def test_a_fixed_day_blocks_moves_and_holds():
    """One scripted day through the machine: the rules above really are reached (moves, a blocked hold)."""
    m = LotDay()
    try:
        m.book("ann", 0, 0, 60, "")
        m.arrive(0, False)  # ann parks in A1 until 11:00
        for i, user in enumerate(("ben", "cid", "dee", "eve")):
            m.book(user, i, 60, 60, "")  # ben in A1 from 11:00; the other slots full from 11:00 too
        m.the_day_holds()
        for _ in range(5):
            m.tick(14)  # 11:10 - ann overstays
            m.the_day_holds()
        m.arrive(1, False)  # ben cannot get in: A1 blocked, nothing free
        m.the_day_holds()
        ben = m.svc.get_booking(m.tokens["ben"], 2)
        assert ben.status == "reserved" and ben.attention.startswith("previous car still in A1")
        m.tick(14)
        m.tick(14)  # 11:38: past ben's grace period, still held
        m.the_day_holds()
        assert m.svc.get_booking(m.tokens["ben"], 2).status == "reserved"
        m.leave(0)
        m.arrive(1, False)
        assert m.svc.get_booking(m.tokens["ben"], 2).status == "checked_in"
        m.book("ann", 1, 60, 60, "")  # 12:38-13:38 in A2 (cid's, dee's and eve's were no-shows)
        m.mark(1, "out_of_service", None)
        moved = m.svc.get_booking(m.tokens["ann"], 6)
        assert (m.counts["moved"], moved.slot_number, moved.moved_from) == (1, "A1", "A2")  # first free in order
        m.the_day_holds()
        assert m.counts["expired"] == 3
    finally:
        m.teardown()
