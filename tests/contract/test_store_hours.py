"""The Summary chart's hours as the store counts them (``BookingsReader.hours``) equal a plain recount.

The recount below walks every booking for every hour, straight from the port's definition; the stores count
with an index and a query instead. Random data sets: live and finished bookings of every status, cars that
left early, late or not yet, instants on hour boundaries and off them, windows that begin on the hour and half
an hour off it, a lot with no bookings and a lot the call does not ask about.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta, timezone

import pytest

from parking_tui.domain.ports import NEW, BookingRow, HourCounts, HourWindow, LotRow, SlotRow

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
HOURS = 72


def _instant(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """Often on a quarter hour (hour boundaries included), sometimes to the microsecond."""
    span = int((hi - lo).total_seconds())
    if rng.random() < 0.7:
        return lo + timedelta(minutes=15 * rng.randrange(span // 900 + 1))
    return lo + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))


def _data_set(store, seed: int) -> tuple[list[HourWindow], datetime, list[BookingRow]]:
    rng = random.Random(seed)
    now = T0 + timedelta(hours=50, minutes=rng.randrange(60), microseconds=rng.randrange(1_000_000))
    rows: list[BookingRow] = []
    with store.unit_of_work() as uow:
        lots = [uow.lots.add(LotRow(NEW, f"L{i}", "", 40, "UTC", created_at=T0)) for i in range(4)]
        slots = {lot: [uow.slots.add(SlotRow(NEW, lot, f"S{j}")) for j in range(12 + 3 * i)]
                 for i, lot in enumerate(lots)}
        code = 0
        for lot in lots[:2] + lots[3:]:  # lots[2] has no bookings
            free = list(slots[lot])
            rng.shuffle(free)
            for _ in range(rng.randrange(60, 120)):
                code += 1
                start = _instant(rng, T0 - 30 * H, T0 + 90 * H)
                end = start + rng.choice([timedelta(minutes=15), H, 2 * H, 90 * timedelta(minutes=1), 11 * H])
                live = bool(free) and rng.random() < 0.3
                if live:
                    slot = free.pop()
                    status = rng.choice(["reserved", "reserved", "checked_in"])
                else:
                    slot = rng.choice(slots[lot])
                    status = rng.choice(["completed", "completed", "cancelled", "expired"])
                came = left = None
                if status in ("checked_in", "completed"):
                    came = start + rng.choice([-10, 0, 5, 30]) * timedelta(minutes=1)
                    if status == "checked_in":
                        came = min(came, now - timedelta(seconds=rng.choice([0, 0.5, 30, 7200])))
                    else:
                        late = rng.choice([-40, -1, 0, 1, 20, 300]) * timedelta(minutes=1)
                        left = max(came + timedelta(minutes=1), end + late)
                        if rng.random() < 0.05:
                            left = None  # a finished stay with no check-out on record: counted until its end
                row = BookingRow(NEW, slot, lot, "S", f"u{code % 7}", start, end, status, f"C{code:06d}",
                                 created_at=T0, checked_in_at=came, checked_out_at=left)
                rows.append(dataclasses.replace(row, id=uow.bookings.add(row)))
        uow.commit()
    windows = [
        HourWindow(lots[0], T0, now - timedelta(minutes=15)),
        HourWindow(lots[1], T0 - timedelta(minutes=30), now - timedelta(minutes=5)),
        HourWindow(lots[2], T0 + timedelta(hours=1), now),
    ]  # lots[3] is not asked about
    return windows, now, rows


def _recount(window: HourWindow, hours: int, now: datetime, rows: list[BookingRow], slots: int) -> HourCounts:
    counts: dict[str, list[int]] = {k: [0] * hours for k in ("occupied", "reserved", "no_shows", "overstays")}
    for i in range(hours):
        begin, end = window.first + i * H, window.first + (i + 1) * H
        for r in rows:
            if r.lot_id != window.lot_id:
                continue
            if r.checked_in_at is not None:
                if r.checked_out_at is not None:
                    left = r.checked_out_at
                elif r.status in ("reserved", "checked_in"):
                    left = max(now, r.checked_in_at + timedelta(seconds=1))
                else:
                    left = r.end_time
                if r.checked_in_at < end and left > begin and left > r.checked_in_at:
                    counts["occupied"][i] += 1
                if left > r.end_time and begin <= r.end_time < end:
                    counts["overstays"][i] += 1
            elif r.status == "reserved" and r.start_time >= window.unclaimed_before:
                if r.start_time < end and r.end_time > begin:
                    counts["reserved"][i] += 1
            elif r.status in ("expired", "reserved"):
                if begin <= r.start_time < end:
                    counts["no_shows"][i] += 1
    return HourCounts(slots, *(tuple(counts[k]) for k in ("occupied", "reserved", "no_shows", "overstays")))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_hours_equal_a_plain_recount(store, seed):
    windows, now, rows = _data_set(store, seed)
    with store.view() as v:
        got = v.bookings.hours(windows, HOURS, now)
        slots = {w.lot_id: len(v.slots.in_lot(w.lot_id)) for w in windows}
    assert set(got) == {w.lot_id for w in windows}
    for w in windows:
        expected = _recount(w, HOURS, now, rows, slots[w.lot_id])
        assert got[w.lot_id] == expected, f"lot {w.lot_id} (seed {seed})"
    assert sum(map(sum, (got[windows[0].lot_id].occupied, got[windows[1].lot_id].reserved))) > 0
    assert all(not any(c) for c in (got[windows[2].lot_id].occupied, got[windows[2].lot_id].no_shows))


def test_no_windows_no_hours(store):
    with store.view() as v:
        assert v.bookings.hours([], 24, T0) == {}
