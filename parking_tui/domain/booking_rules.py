"""The booking rules of a lot's day, on the port's rows: a booking's status at an instant, what blocks a slot,
which bookings clash, and how a blocked reservation is moved or flagged.

The pure rules on plain values (windows, validation, the state machine) are :mod:`.rules`; these apply them to
rows read through a view, and the moves write through a unit of work (with their audit events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from . import rules
from .context import DEFAULT_POLICY, Context, natural_key, policy_of
from .errors import Conflict
from .models import Booking, BookingStatus, LotPolicy, Slot, SlotStatus
from .ports import FINISHED, BookingRow, LotRow, ReadView, SlotRow, UnitOfWork

MAX_INSTANT = datetime(9999, 1, 1, tzinfo=timezone.utc)
_INSTANT = timedelta(microseconds=1)


# ------------------------------------------------------------------------------------------ reading rows


def status_at(row: BookingRow, now: datetime, policy: LotPolicy, block: str = "") -> BookingStatus:
    """A booking's status at ``now``; ``block`` is why its slot cannot be used (a blocked reservation never
    expires; one still blocked when its end has passed was never usable and reads ``cancelled``)."""
    status = rules.effective_status(
        row.status, row.start_time, now, policy, blocked=bool(block), grace_from=row.grace_from
    )
    if block and status is BookingStatus.RESERVED and now >= row.end_time:
        return BookingStatus.CANCELLED
    return status


def booking_value(
    row: BookingRow, now: datetime, policy: LotPolicy, *, hide_owner: bool = False, block: str = ""
) -> Booking:
    status = status_at(row, now, policy, block)
    attention = ""
    if status is BookingStatus.RESERVED and block:
        attention = row.attention or block
    elif row.status in FINISHED:
        attention = row.attention
    if hide_owner:
        # Another driver's booking is only a busy window: no id, name, code, plate or check-in time.
        return Booking(
            id=0,
            slot_id=row.slot_id,
            username="",
            start_time=row.start_time,
            end_time=row.end_time,
            status=status,
            confirmation_code="",
            lot_id=row.lot_id,
            slot_number=row.slot_number,
            as_of=now,
        )
    return Booking(
        id=row.id,
        slot_id=row.slot_id,
        username=row.username,
        start_time=row.start_time,
        end_time=row.end_time,
        status=status,
        confirmation_code=row.confirmation_code,
        lot_id=row.lot_id,
        slot_number=row.slot_number,
        created_at=row.created_at,
        checked_in_at=row.checked_in_at,
        checked_out_at=row.checked_out_at,
        cancelled_at=row.cancelled_at,
        plate=row.plate,
        attention=attention,
        moved_from=row.moved_from,
        as_of=now,
    )


def mark_of(slot: SlotRow, now: datetime) -> SlotStatus:
    """The admin's mark still in force at ``now`` (a walk-in mark ends by itself)."""
    return rules.mark_in_force(slot.admin_status, slot.mark_until, now)


def mark_block(slot: SlotRow, start: datetime, end: datetime, now: datetime) -> str:
    """Why a mark or retirement keeps ``[start, end)`` from using the slot (``""``: it does not)."""
    if not slot.retired and slot.admin_status == SlotStatus.AVAILABLE:
        return ""  # no mark at all (the common case, asked for every slot of a lot)
    number = slot.slot_number
    if slot.retired:
        return f"{number} retired"
    mark = mark_of(slot, now)
    if mark is SlotStatus.AVAILABLE:
        return ""
    until = slot.mark_until or MAX_INSTANT
    if not rules.overlaps(start, end, now, until):
        return ""
    return f"{number} out of service" if mark is SlotStatus.OUT_OF_SERVICE else f"walk-in car in {number}"


def block_reason(slot: SlotRow, row: BookingRow, live: Iterable[BookingRow], now: datetime) -> str:
    """Why a reservation cannot use its slot now: the slot is retired or marked over its window, or a car that
    is still there (an overstay) holds part of its window."""
    start, end = row.start_time, row.end_time
    reason = mark_block(slot, start, end, now)
    if reason:
        return reason
    if row.attention and now >= end:
        # Held by a block to its end (``attention`` is cleared when the block lifts), on a slot still marked or
        # retired: it was never usable, so it is cancelled with the reason rather than finished as a no-show.
        reason = mark_block(slot, now, now + _INSTANT, now)
        if reason:
            return reason
    for other in live:
        if other.id == row.id or other.status != BookingStatus.CHECKED_IN:
            continue
        window = rules.blocking_window(
            BookingStatus.CHECKED_IN, other.start_time, other.end_time, now, other.checked_in_at
        )
        if window and rules.overlaps(start, end, window[0], window[1]) and now >= window[0]:
            return f"previous car still in {slot.slot_number}"
    return ""


def slot_status(
    row: SlotRow, live: Sequence[BookingRow], now: datetime, policy: LotPolicy, mark: SlotStatus | None = None
) -> SlotStatus:
    """The slot's status at ``now``: its mark, else what its live bookings make it (the one slot-status rule)."""
    if not live and not row.retired and row.admin_status == SlotStatus.AVAILABLE:
        return SlotStatus.AVAILABLE  # the common case, without building anything
    windows = [
        (rules.effective_status(b.status, b.start_time, now, policy), b.start_time, b.end_time) for b in live
    ]
    if mark is None:
        mark = mark_of(row, now)
    return rules.slot_status_at(SlotStatus.OUT_OF_SERVICE if row.retired else mark, windows, now)


def slot_value(row: SlotRow, live: Sequence[BookingRow], now: datetime, policy: LotPolicy) -> Slot:
    if not live and not row.retired and row.admin_status == SlotStatus.AVAILABLE:
        # The common case (no mark, no live booking): what the general path gives, without its calls.
        return Slot(
            id=row.id, lot_id=row.lot_id, slot_number=row.slot_number, status=SlotStatus.AVAILABLE,
            admin_status=SlotStatus.AVAILABLE, mark_until=None, mark_reason="", retired=False,
        )
    mark = mark_of(row, now)
    return Slot(
        id=row.id,
        lot_id=row.lot_id,
        slot_number=row.slot_number,
        status=slot_status(row, live, now, policy, mark),
        admin_status=mark,
        mark_until=row.mark_until if mark is not SlotStatus.AVAILABLE else None,
        mark_reason=row.mark_reason if mark is not SlotStatus.AVAILABLE else "",
        retired=row.retired,
    )


def clash(
    live: Iterable[BookingRow],
    start: datetime,
    end: datetime,
    now: datetime,
    policy: LotPolicy,
    *,
    slot: SlotRow | None = None,
    exclude: int | None = None,
) -> BookingRow | None:
    """The first live booking whose blocking window overlaps ``[start, end)``. With the ``slot``'s row, a
    reservation held past its grace period because the slot is blocked still counts."""
    live = list(live)
    for b in live:
        if exclude is not None and b.id == exclude:
            continue
        status = rules.effective_status(b.status, b.start_time, now, policy, grace_from=b.grace_from)
        if status is BookingStatus.EXPIRED and slot is not None and block_reason(slot, b, live, now):
            status = BookingStatus.RESERVED if now < b.end_time else BookingStatus.CANCELLED
        window = rules.blocking_window(status, b.start_time, b.end_time, now, b.checked_in_at)
        if window and rules.overlaps(start, end, window[0], window[1]):
            return b
    return None


def hm(value: datetime, zone: str) -> str:
    """A time for a message, on the lot's clock."""
    return f"{rules.in_zone(value, zone):%d %b %H:%M}"


def lot_state(view: ReadView, lot_id: int) -> tuple[list[SlotRow], dict[int, list[BookingRow]]]:
    """A lot's slots, and its live bookings by slot."""
    slots = view.slots.in_lot(lot_id)
    by_slot: dict[int, list[BookingRow]] = {}
    for b in view.bookings.live(lot_id=lot_id):
        by_slot.setdefault(b.slot_id, []).append(b)
    return slots, by_slot


class BookingReader:
    """What one call knows about lots, slots and their live bookings (cached for the call), to show bookings."""

    def __init__(self, view: ReadView, now: datetime) -> None:
        self.view = view
        self.now = now
        self._lots: dict[int, LotRow | None] = {}
        self._slots: dict[int, SlotRow | None] = {}
        self._live: dict[int, list[BookingRow]] = {}

    def policy(self, lot_id: int) -> LotPolicy:
        if lot_id not in self._lots:
            self._lots[lot_id] = self.view.lots.get(lot_id)
        return policy_of(self._lots[lot_id])

    def preload(
        self, lot_id: int, slots: list[SlotRow] | None = None, live: list[BookingRow] | None = None
    ) -> None:
        """Read a lot's slots and live bookings in one go (for lists of many bookings); pass them when the
        caller has read them already."""
        for s in self.view.slots.in_lot(lot_id) if slots is None else slots:
            self._slots[s.id] = s
            self._live.setdefault(s.id, [])
        for b in self.view.bookings.live(lot_id=lot_id) if live is None else live:
            self._live.setdefault(b.slot_id, []).append(b)

    def slot(self, slot_id: int) -> SlotRow | None:
        if slot_id not in self._slots:
            self._slots[slot_id] = self.view.slots.get(slot_id)
        return self._slots[slot_id]

    def live(self, slot_id: int) -> list[BookingRow]:
        found = self._live.get(slot_id)
        if found is None:
            found = self._live[slot_id] = self.view.bookings.live(slot_id=slot_id)
        return found

    def block(self, row: BookingRow) -> str:
        """Why a reservation cannot be used as booked now (``""``: it can)."""
        if row.status != BookingStatus.RESERVED:
            return ""
        slot = self.slot(row.slot_id)
        if slot is None:
            return ""
        return block_reason(slot, row, self.live(row.slot_id), self.now)

    def booking(self, row: BookingRow, *, hide_owner: bool = False) -> Booking:
        return booking_value(row, self.now, self.policy(row.lot_id), hide_owner=hide_owner, block=self.block(row))


# ------------------------------------------------------------------------------------ refusing new time


def slot_refusal(slot: SlotRow, start: datetime, end: datetime, now: datetime, what: str, zone: str) -> None:
    """A retired slot, or a mark in force over the window, refuses new time (``what``: the verb's end)."""
    number = slot.slot_number
    if slot.retired:
        raise Conflict(f"Slot {number} is retired; {what}.", field="slot_id")
    if not mark_block(slot, start, end, now):
        return
    label = "out of service" if mark_of(slot, now) is SlotStatus.OUT_OF_SERVICE else "occupied"
    if slot.mark_until is not None:
        raise Conflict(f"Slot {number} is {label} until {hm(slot.mark_until, zone)}; {what}.", field="slot_id")
    raise Conflict(f"Slot {number} is {label}; {what}.", field="slot_id")


def check_hoarding(
    ctx: Context,
    view: ReadView,
    username: str,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    plate: str = "",
    policy: LotPolicy | None = None,
    exclude: int | None = None,
) -> None:
    """A driver may hold overlapping bookings only for different plates, up to the lot's
    ``max_cars_per_driver``; without a plate, one booking at a time."""
    limit = (policy or DEFAULT_POLICY).max_cars_per_driver
    overlapping: list[tuple[BookingRow, str]] = []
    lots: dict[int, LotRow | None] = {}
    for b in view.bookings.live(username=username):
        if exclude is not None and b.id == exclude:
            continue
        if b.lot_id not in lots:
            lots[b.lot_id] = view.lots.get(b.lot_id)
        lot = lots[b.lot_id]
        if clash([b], start, end, now, policy_of(lot)) is not None:
            overlapping.append((b, ctx.zone(lot)))
    if not overlapping:
        return
    b, zone = overlapping[0]
    held = (
        f"booking {b.confirmation_code} (slot {b.slot_number or '?'}) from "
        f"{hm(b.start_time, zone)} to {hm(b.end_time, zone)}"
    )
    if not plate or any(not o.plate for o, _ in overlapping):
        raise Conflict(
            f"You already hold {held}; one booking at a time unless each booking names its car's plate.",
            field="start_time",
        )
    for o, z in overlapping:
        if o.plate == plate:
            raise Conflict(
                f"Car {plate} already has booking {o.confirmation_code} from {hm(o.start_time, z)} "
                f"to {hm(o.end_time, z)}.",
                field="plate",
            )
    if len(overlapping) + 1 > limit:
        raise Conflict(
            f"You already hold {len(overlapping)} booking{'s' if len(overlapping) != 1 else ''} at that time; "
            f"this lot allows {limit} car{'s' if limit != 1 else ''} per driver.",
            field="start_time",
        )


# ------------------------------------------------------------------------------- blocks, moves, releases


def event_of(row: BookingRow) -> dict[str, object]:
    """The ids an audit event about a booking carries."""
    return {
        "booking_id": row.id,
        "code": row.confirmation_code,
        "owner": row.username,
        "lot_id": row.lot_id,
        "slot_id": row.slot_id,
    }


def release_expired(
    ctx: Context, uow: UnitOfWork, lot_id: int, now: datetime, policy: LotPolicy
) -> list[tuple[BookingRow, BookingRow]]:
    """Finish the lot's no-shows (reserved, past the grace period) as ``expired``; returns the blocked
    reservations it moved, each as (before, after).

    A reservation whose slot is blocked is not a no-show: it is moved to a free slot if one is there, else it
    keeps (or gets) its ``attention``; one still blocked after its end is cancelled, with the reason. Every
    no-show is released before any blocked reservation is placed, so none is moved onto the window of a no-show
    that is still on record (two live bookings of one slot overlapping, even for a moment)."""
    to_place: list[tuple[BookingRow, str]] = []
    for row in uow.bookings.reserved_starting_before(lot_id, now - policy.grace):
        slot = uow.slots.get(row.slot_id)
        block = block_reason(slot, row, uow.bookings.live(slot_id=row.slot_id), now) if slot else ""
        status = status_at(row, now, policy, block)
        if status is BookingStatus.EXPIRED:
            uow.bookings.update(replace(row, status=BookingStatus.EXPIRED.value))
            ctx.audit(uow, now, "system", "expire", **event_of(row), before="reserved", after="expired")
        elif status is BookingStatus.CANCELLED:
            reason = row.attention or f"{block}, no free slot to move to"
            uow.bookings.update(replace(row, status=BookingStatus.CANCELLED.value, cancelled_at=now, attention=reason))
            ctx.audit(
                uow, now, "system", "cancel", **event_of(row), before="reserved", after="cancelled", reason=reason
            )
        elif block:
            to_place.append((row, block))
    moved: list[tuple[BookingRow, BookingRow]] = []
    for row, block in to_place:
        placed, did_move = place(ctx, uow, row, block, now, policy, "system")
        if did_move:
            moved.append((row, placed))
    return moved


def free_slot(
    view: ReadView, row: BookingRow, start: datetime, end: datetime, now: datetime, policy: LotPolicy
) -> SlotRow | None:
    """A slot of the booking's lot free for ``[start, end)`` (not its own), first in natural order."""
    by_slot: dict[int, list[BookingRow]] = {}
    for b in view.bookings.live(lot_id=row.lot_id):
        by_slot.setdefault(b.slot_id, []).append(b)
    for s in sorted(view.slots.in_lot(row.lot_id), key=lambda s: natural_key(s.slot_number)):
        if s.id == row.slot_id or mark_block(s, start, end, now):
            continue
        if clash(by_slot.get(s.id, ()), start, end, now, policy, slot=s, exclude=row.id):
            continue
        return s
    return None


def move(
    ctx: Context, uow: UnitOfWork, row: BookingRow, target: SlotRow, reason: str, now: datetime, actor: str
) -> BookingRow:
    """Move a reservation to ``target`` (same lot, same window, same code); audit op ``reassign``."""
    moved = replace(
        row,
        slot_id=target.id,
        slot_number=target.slot_number,
        moved_from=row.slot_number,
        attention="",
        grace_from=max(now, row.start_time),
    )
    uow.bookings.update(moved)
    ctx.audit(
        uow, now, actor, "reassign", **event_of(moved), before=row.slot_number, after=target.slot_number,
        from_slot_id=row.slot_id, reason=reason,
    )
    return moved


def place(
    ctx: Context, uow: UnitOfWork, row: BookingRow, reason: str, now: datetime, policy: LotPolicy, actor: str
) -> tuple[BookingRow, bool]:
    """Move a blocked reservation to a free slot, or flag it with ``attention``. Returns (row, moved)."""
    target = free_slot(uow, row, row.start_time, row.end_time, now, policy)
    if target is not None:
        return move(ctx, uow, row, target, reason, now, actor), True
    attention = f"{reason}, no free slot to move to"
    slot = uow.slots.get(row.slot_id)
    until = slot.mark_until if slot is not None and mark_of(slot, now) is not SlotStatus.AVAILABLE else None
    if until is not None and row.grace_from != until:
        # When the mark ends by itself, the driver's grace period counts from then.
        row = replace(row, grace_from=until)
        uow.bookings.update(row)
    if row.attention != attention:
        row = replace(row, attention=attention)
        uow.bookings.update(row)
        ctx.audit(uow, now, actor, "attention", **event_of(row), reason=attention)
    return row, False


def blocked_on(view: ReadView, slot: SlotRow, now: datetime) -> set[int]:
    """Ids of the slot's reservations that cannot use it now."""
    live = view.bookings.live(slot_id=slot.id)
    return {b.id for b in live if b.status == BookingStatus.RESERVED and block_reason(slot, b, live, now)}


def lift(ctx: Context, uow: UnitOfWork, slot: SlotRow, before: set[int], now: datetime, actor: str) -> None:
    """A block on ``slot`` has ended: the reservations it held (``before``) lose ``attention`` and their grace
    period counts from now."""
    live = uow.bookings.live(slot_id=slot.id)
    for b in live:
        if b.id not in before or b.status != BookingStatus.RESERVED:
            continue
        if block_reason(slot, b, live, now):
            continue
        uow.bookings.update(replace(b, attention="", grace_from=now))
        if b.attention:
            ctx.audit(uow, now, actor, "attention", **event_of(b), reason="")
