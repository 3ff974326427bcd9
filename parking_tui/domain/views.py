"""Read models (as cosmicpython's ``views.py``): what the lot browser, the admin's reservation list, the
summary and its chart, and the audit log show. They only read: one ``store.view()`` each, never a write."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import booking_rules as br
from . import rules
from .context import Context, get_lot, get_slot, lots_of, policy_of
from .errors import ValidationError
from .models import FINISHED_STATUSES, Booking, BookingStatus, Lot, LotHours, LotSummary, SlotStatus
from .ports import FINISHED, LIVE, AuditFilter, BookingQuery, BookingRow, HourWindow


class Views:
    """The read models over one :class:`~parking_tui.domain.context.Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def audit_log(
        self,
        token: str,
        *,
        username: str | None = None,
        op: str | None = None,
        code: str | None = None,
        booking_id: int | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        ctx = self.ctx
        wanted_code = rules.normalize_code(code) if code else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValidationError("limit must be a positive whole number.", field="limit")
        with ctx.store.view() as view:
            ctx.admin(view, token, ctx.now())
            events = view.audit.query(
                AuditFilter(user=username, op=op, code=wanted_code, booking_id=booking_id), limit
            )
        out: list[dict[str, Any]] = []
        for e in events:
            event = {"at": rules.to_stamp(e.at), "user": e.user, "terminal": e.terminal, "op": e.op, **e.details}
            if not e.committed:
                event["committed"] = False
            out.append(event)
        return out

    def list_reservations(
        self,
        token: str,
        lot_id: int | None = None,
        *,
        slot_id: int | None = None,
        status: str | None = None,
        since: datetime | None = None,
        include_finished: bool = True,
        q: str | None = None,
    ) -> list[Booking]:
        ctx = self.ctx
        needle = ""
        if q is not None:
            needle = rules.validate_text(q, "q", required=False, max_len=40).upper().replace(" ", "").replace("-", "")
        wanted = None
        if status is not None:
            try:
                wanted = BookingStatus(status)
            except ValueError:
                raise ValidationError("Unknown booking status.", field="status") from None
        now = ctx.now()
        with ctx.store.view() as view:
            ctx.admin(view, token, now)
            zone = ctx.time_zone
            if lot_id is not None:
                zone = ctx.zone(get_lot(view, lot_id))
            if slot_id is not None:
                lot_id = get_slot(view, slot_id).lot_id
                zone = ctx.zone(view.lots.get(lot_id))
            since_at = rules.local_instant(since, zone, "since") if since is not None else None
            reader = br.BookingReader(view, now)
            by_lot: dict[int, list[BookingRow]] = {}
            for r in view.bookings.live(lot_id=lot_id):
                by_lot.setdefault(r.lot_id, []).append(r)
            for lid, live in by_lot.items():
                reader.preload(lid, live=live)
            finished = include_finished and (wanted is None or wanted in FINISHED_STATUSES)
            rows = view.bookings.query(
                BookingQuery(
                    lot_id=lot_id,
                    slot_id=slot_id,
                    statuses=None if finished else LIVE,
                    ends_at_or_after=since_at,
                    text=needle or None,
                )
            )
            out = []
            for row in rows:
                b = reader.booking(row)
                if wanted is not None and b.status is not wanted:
                    continue
                out.append(b)
        out.sort(key=lambda b: (b.start_time, b.id))
        return out

    def lot_overview(self, token: str) -> list[tuple[Lot, int, int]]:
        ctx = self.ctx
        now = ctx.now()
        out = []
        with ctx.store.view() as view:
            ctx.authenticate(view, token, now)
            for lot in view.lots.all():
                policy = policy_of(lot)
                slots, by_slot = br.lot_state(view, lot.id)
                in_use = [s for s in slots if not s.retired]
                free = sum(
                    1 for s in in_use if br.slot_status(s, by_slot.get(s.id, ()), now, policy) is SlotStatus.AVAILABLE
                )
                out.append((ctx.lot_model(lot), free, len(in_use)))
        out.sort(key=lambda t: (t[0].name.casefold(), t[0].id))
        return out

    def lot_summary(self, token: str, lot_id: int | None = None) -> list[LotSummary]:
        ctx = self.ctx
        now = ctx.now()
        out = []
        with ctx.store.view() as view:
            ctx.admin(view, token, now)
            lots = lots_of(view, lot_id)
            days: dict[int, tuple[datetime, datetime]] = {}
            for lot in lots:
                day_start = rules.in_zone(now, ctx.zone(lot)).replace(hour=0, minute=0, second=0, microsecond=0)
                days[lot.id] = (day_start, day_start + timedelta(days=1))
            # The finished bookings are read once for all lots (only those that end today or later).
            finished_today: dict[int, list[BookingRow]] = {}
            earliest = min((d[0] for d in days.values()), default=now)
            for r in view.bookings.query(BookingQuery(lot_id=lot_id, statuses=FINISHED, ends_at_or_after=earliest)):
                day = days.get(r.lot_id)
                if day is not None and day[0] <= r.start_time < day[1]:
                    finished_today.setdefault(r.lot_id, []).append(r)
            reader = br.BookingReader(view, now)
            for lot in lots:
                policy = policy_of(lot)
                day_start, day_end = days[lot.id]
                slots, by_slot = br.lot_state(view, lot.id)
                live = [r for recs in by_slot.values() for r in recs]
                reader.preload(lot.id, slots, live)
                counts = {s: 0 for s in SlotStatus}
                for s in slots:
                    counts[br.slot_value(s, by_slot.get(s.id, ()), now, policy).status] += 1
                rows = finished_today.get(lot.id, []) + [r for r in live if day_start <= r.start_time < day_end]
                today = [reader.booking(r) for r in rows]
                overstaying = sum(1 for r in live if r.status == BookingStatus.CHECKED_IN and r.end_time < now)
                out.append(
                    LotSummary(
                        lot=ctx.lot_model(lot),
                        free_now=counts[SlotStatus.AVAILABLE],
                        reserved_now=counts[SlotStatus.RESERVED],
                        occupied_now=counts[SlotStatus.OCCUPIED],
                        out_of_service=counts[SlotStatus.OUT_OF_SERVICE],
                        bookings_today=len(today),
                        no_shows_today=sum(1 for b in today if b.status is BookingStatus.EXPIRED),
                        overstays_today=sum(1 for b in today if b.is_overstay),
                        overstaying_now=overstaying,
                    )
                )
        out.sort(key=lambda s: (s.lot.name.casefold(), s.lot.id))
        return out

    def occupancy_by_hour(self, token: str, days: int = 1, lot_id: int | None = None) -> list[LotHours]:
        ctx = self.ctx
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 31:
            raise ValidationError("days must be a whole number from 1 to 31.", field="days")
        now = ctx.now()
        with ctx.store.view() as view:
            ctx.admin(view, token, now)
            lots = lots_of(view, lot_id)
            firsts: dict[int, datetime] = {}  # each lot's first local midnight of the days shown
            for lot in lots:
                today = rules.in_zone(now, ctx.zone(lot)).replace(hour=0, minute=0, second=0, microsecond=0)
                firsts[lot.id] = today - timedelta(days=days - 1)
            # Counted by the store (a query over the hours' bookings, not a walk through the archive).
            counts = view.bookings.hours(
                [HourWindow(lot.id, firsts[lot.id], now - policy_of(lot).grace) for lot in lots], days * 24, now
            )
            out = []
            for lot in lots:
                c = counts[lot.id]
                out.append(
                    LotHours(
                        lot=ctx.lot_model(lot),
                        start=firsts[lot.id],
                        capacity=c.slots,
                        occupied=c.occupied,
                        reserved=c.reserved,
                        no_shows=c.no_shows,
                        overstays=c.overstays,
                    )
                )
        out.sort(key=lambda h: (h.lot.name.casefold(), h.lot.id))
        return out

