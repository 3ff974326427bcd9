"""Bookings: reserve a slot, look bookings up, and move one through its day (check in, check out, cancel,
extend). The rules they apply are :mod:`.booking_rules`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from . import booking_rules as br
from . import rules
from .context import Context, get_booking, get_lot, get_slot, policy_of
from .errors import Conflict, NotFound, ParkingError, ValidationError
from .models import Booking, BookingStatus, LotPolicy, User
from .ports import NEW, BookingQuery, BookingRow, UnitOfWork

#: ``change(uow, row, status, policy, now, user) -> new row`` for :meth:`Bookings.change`.
Change = Callable[[UnitOfWork, BookingRow, BookingStatus, LotPolicy, datetime, User], BookingRow]


class CommitThenRaise(Exception):
    """Raised inside a booking change: keep ``rows`` (written with the unit of work), then raise ``error``."""

    def __init__(
        self, error: ParkingError, rows: list[BookingRow], events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.rows = rows
        self.events = events


class Bookings:
    """The booking use cases over one :class:`~parking_tui.domain.context.Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_booking(
        self, token: str, slot_id: int, start_time: datetime | str, end_time: datetime | str, *, plate: str = ""
    ) -> Booking:
        ctx = self.ctx
        plate = rules.normalize_plate(plate)
        now = ctx.now()
        with ctx.store.unit_of_work() as uow:
            user = ctx.authenticate(uow, token, now)
            slot = get_slot(uow, slot_id)
            lot = get_lot(uow, slot.lot_id)
            policy = policy_of(lot)
            zone = ctx.zone(lot)
            start = rules.local_instant(start_time, zone, "start_time")
            end = rules.local_instant(end_time, zone, "end_time")
            rules.validate_window(start, end, now, policy)
            br.release_expired(ctx, uow, lot.id, now, policy)
            number = slot.slot_number
            br.slot_refusal(slot, start, end, now, "choose another slot", zone)
            clash = br.clash(uow.bookings.live(slot_id=slot.id), start, end, now, policy, slot=slot)
            if clash is not None:
                raise Conflict(
                    f"Slot {number} is already booked from {br.hm(clash.start_time, zone)} to "
                    f"{br.hm(clash.end_time, zone)}; choose another time or slot.",
                    field="slot_id",
                )
            br.check_hoarding(ctx, uow, user.username, start, end, now, plate=plate, policy=policy)
            row = BookingRow(
                id=NEW,
                slot_id=slot.id,
                lot_id=lot.id,
                slot_number=number,
                username=user.username,
                start_time=start,
                end_time=end,
                status=BookingStatus.RESERVED.value,
                confirmation_code=ctx.new_code(uow),
                plate=plate,
                created_at=now,
            )
            row = replace(row, id=uow.bookings.add(row))
            ctx.audit(
                uow, now, user.username, "create_booking", **br.event_of(row),
                start_time=rules.to_stamp(start), end_time=rules.to_stamp(end), after="reserved", plate=plate,
            )
            uow.commit()
        return br.booking_value(row, now, policy)

    def my_bookings(self, token: str) -> list[Booking]:
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.view() as view:
            user = ctx.authenticate(view, token, now)
            reader = br.BookingReader(view, now)
            out = [reader.booking(row) for row in view.bookings.query(BookingQuery(username=user.username))]
        out.sort(key=lambda b: (b.start_time, b.id), reverse=True)
        return out

    def get_booking(self, token: str, booking_id: int) -> Booking:
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.view() as view:
            user = ctx.authenticate(view, token, now)
            return br.BookingReader(view, now).booking(get_booking(view, user, booking_id))

    def find_booking(self, token: str, confirmation_code: str) -> Booking:
        ctx = self.ctx
        code = rules.normalize_code(confirmation_code)
        now = ctx.now()
        with ctx.store.view() as view:
            user = ctx.authenticate(view, token, now)
            row = view.bookings.by_code(code)
            if row is None or (row.username != user.username and not user.is_admin):
                raise NotFound(f"No booking with code {code}.", field="confirmation_code")
            return br.BookingReader(view, now).booking(row)

    def change(self, token: str, booking_id: int, change: Change, op: str) -> Booking:
        """Run ``change(uow, row, status, policy, now, user) -> new row`` on a booking; no-shows are released
        first. ``change`` may raise :class:`CommitThenRaise` to keep some rows and still refuse."""
        ctx = self.ctx
        now = ctx.now()
        error: ParkingError | None = None
        with ctx.store.unit_of_work() as uow:
            user = ctx.authenticate(uow, token, now)
            row = get_booking(uow, user, booking_id)
            policy = policy_of(uow.lots.get(row.lot_id))
            br.release_expired(ctx, uow, row.lot_id, now, policy)
            row = uow.bookings.get(row.id) or row  # the release may have moved or finished it
            slot = uow.slots.get(row.slot_id) if row.status == BookingStatus.RESERVED else None
            block = br.block_reason(slot, row, uow.bookings.live(slot_id=row.slot_id), now) if slot else ""
            status = br.status_at(row, now, policy, block)
            if status is BookingStatus.EXPIRED:
                # The release above is worth keeping: commit it, then report.
                error = Conflict(
                    f"Booking {row.confirmation_code} expired: nobody checked in within "
                    f"{policy.grace_minutes} minutes of the start. The slot has been released."
                )
            else:
                before = row
                try:
                    row = change(uow, row, status, policy, now, user)
                except CommitThenRaise as keep:
                    for r in keep.rows:
                        uow.bookings.update(r)
                    for event_op, details in keep.events:
                        ctx.audit(uow, now, user.username, event_op, **details)
                    error = keep.error
                    row = keep.rows[-1] if keep.rows else row
                else:
                    uow.bookings.update(row)
                    extra: dict[str, Any] = (
                        {"end_before": rules.to_stamp(before.end_time), "end_after": rules.to_stamp(row.end_time)}
                        if op == "extend" else {}
                    )
                    if row.slot_id != before.slot_id:
                        extra["slot_before"] = before.slot_number
                        extra["slot_after"] = row.slot_number
                    ctx.audit(
                        uow, now, user.username, op, **br.event_of(row), before=before.status, after=row.status,
                        **extra,
                    )
            uow.commit()
        if error is not None:
            raise error
        return br.booking_value(row, now, policy)

    def check_in(self, token: str, booking_id: int) -> Booking:
        ctx = self.ctx

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            zone = ctx.zone(uow.lots.get(row.lot_id))
            start, end = row.start_time, row.end_time
            rules.check_can_check_in(status, start, end, now, policy, zone)
            slot = uow.slots.get(row.slot_id)
            live = uow.bookings.live(slot_id=row.slot_id)
            block = br.block_reason(slot, row, live, now) if slot else ""
            begin = min(now, start)
            if not block and now < start and br.clash(live, begin, start, now, policy, slot=slot, exclude=row.id):
                # The early part is another driver's: another slot for the early arrival, else refuse.
                target = br.free_slot(uow, row, begin, end, now, policy)
                if target is None:
                    other = br.clash(live, begin, start, now, policy, slot=slot, exclude=row.id)
                    assert other is not None  # the same question as just above
                    until = max(other.end_time, now)
                    raise Conflict(
                        f"Slot {row.slot_number or '?'} is still booked by another driver until "
                        f"{rules.in_zone(until, zone):%H:%M}; check in from then."
                    )
                row = br.move(ctx, uow, row, target, "early arrival", now, user.username)
            elif block:
                target = br.free_slot(uow, row, begin, end, now, policy)
                if target is None:
                    attention = f"{block}, no free slot to move to"
                    changed = row.attention != attention
                    raise CommitThenRaise(
                        Conflict(
                            f"Slot {row.slot_number or '?'} cannot be used ({block}) and no other slot is "
                            "free; please see the attendant."
                        ),
                        [replace(row, attention=attention)] if changed else [],
                        [("attention", dict(br.event_of(row), reason=attention))] if changed else [],
                    )
                row = br.move(ctx, uow, row, target, block, now, user.username)
            for other in uow.bookings.live(slot_id=row.slot_id):
                if other.id != row.id and other.status == BookingStatus.CHECKED_IN:
                    raise Conflict(
                        f"Slot {row.slot_number or '?'} is still occupied by the previous car; please see "
                        "the attendant."
                    )
            return replace(row, status=BookingStatus.CHECKED_IN.value, checked_in_at=now, attention="")

        return self.change(token, booking_id, change, op="check_in")

    def check_out(self, token: str, booking_id: int) -> Booking:
        ctx = self.ctx

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_check_out(status)
            slot = uow.slots.get(row.slot_id)
            waiting = br.blocked_on(uow, slot, now) if slot is not None else set()
            done = replace(row, status=BookingStatus.COMPLETED.value, checked_out_at=now)
            if waiting and slot is not None:
                uow.bookings.update(done)
                br.lift(ctx, uow, slot, waiting, now, user.username)
            return done

        return self.change(token, booking_id, change, op="check_out")

    def cancel_booking(self, token: str, booking_id: int) -> Booking:
        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_cancel(status)
            return replace(row, status=BookingStatus.CANCELLED.value, cancelled_at=now)

        return self.change(token, booking_id, change, op="cancel")

    def extend_booking(self, token: str, booking_id: int, new_end: datetime | str) -> Booking:
        ctx = self.ctx

        def change(
            uow: UnitOfWork, row: BookingRow, status: BookingStatus, policy: LotPolicy, now: datetime, user: User
        ) -> BookingRow:
            rules.check_can_extend(status)
            zone = ctx.zone(uow.lots.get(row.lot_id))
            end = rules.local_instant(new_end, zone, "end_time")
            start, old_end = row.start_time, row.end_time
            if end <= old_end:
                raise ValidationError(
                    f"The new end must be after the current end ({br.hm(old_end, zone)}).", field="end_time"
                )
            rules.validate_window(start, end, now, policy, check_start=False)
            if end <= now:
                raise ValidationError("The new end is in the past.", field="end_time")
            slot = uow.slots.get(row.slot_id)
            if slot is not None:
                br.slot_refusal(slot, old_end, end, now, "this booking cannot be extended", zone)
            live = uow.bookings.live(slot_id=row.slot_id)
            clash = br.clash(live, old_end, end, now, policy, slot=slot, exclude=row.id)
            if clash is not None:
                number = row.slot_number or "?"
                if clash.start_time <= old_end:
                    msg = (
                        f"Slot {number} is booked by someone else from {br.hm(clash.start_time, zone)}, "
                        "right after yours; this booking cannot be extended."
                    )
                else:
                    msg = (
                        f"Slot {number} is booked by someone else from {br.hm(clash.start_time, zone)}; the "
                        f"latest you can extend to is {br.hm(clash.start_time, zone)}."
                    )
                raise Conflict(msg, field="end_time")
            br.check_hoarding(
                ctx, uow, row.username, old_end, end, now, plate=row.plate, policy=policy, exclude=row.id
            )
            return replace(row, end_time=end)

        return self.change(token, booking_id, change, op="extend")
