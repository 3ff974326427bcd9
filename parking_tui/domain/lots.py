"""Lots and slots: create and change lots, add slots, mark and retire slots (moving the bookings a mark
blocks), and the slots free now or for a window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from . import booking_rules as br
from . import rules
from .context import Context, get_lot, get_slot, lots_of, natural_key, policy_of
from .errors import Conflict, ValidationError
from .models import ADMIN_SLOT_STATUSES, Booking, BookingStatus, Lot, LotPolicy, Slot, SlotMark, SlotStatus
from .ports import NEW, LotRow, SlotRow, UnitOfWork


def check_policy(policy: object) -> LotPolicy:
    if not isinstance(policy, LotPolicy):
        raise ValidationError("policy must be a LotPolicy.", field="policy")
    return rules.validate_policy(policy)


class Lots:
    """The lot and slot use cases over one :class:`~parking_tui.domain.context.Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_lot(
        self,
        token: str,
        name: str,
        location: str,
        total_slots: int,
        *,
        time_zone: str | None = None,
        policy: LotPolicy | None = None,
    ) -> Lot:
        ctx = self.ctx
        name = rules.validate_text(name, "name")
        location = rules.validate_text(location, "location", max_len=120)
        total = rules.validate_total_slots(total_slots)
        zone = rules.validate_time_zone(time_zone) if time_zone is not None else ctx.time_zone
        if policy is not None:
            check_policy(policy)
        now = ctx.now()
        with ctx.store.unit_of_work() as uow:
            actor = ctx.admin(uow, token, now)
            if any(r.name.casefold() == name.casefold() for r in uow.lots.all()):
                raise Conflict(f"A lot named {name!r} already exists.", field="name")
            row = LotRow(NEW, name, location, total, zone, policy=policy, created_at=now)
            row = replace(row, id=uow.lots.add(row))
            ctx.audit(
                uow, now, actor.username, "create_lot", lot_id=row.id, name=name, total_slots=total, time_zone=zone
            )
            uow.commit()
        return ctx.lot_model(row)

    def update_lot(
        self,
        token: str,
        lot_id: int,
        *,
        name: str | None = None,
        location: str | None = None,
        total_slots: int | None = None,
        time_zone: str | None = None,
        policy: LotPolicy | None = None,
    ) -> Lot:
        ctx = self.ctx
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = rules.validate_text(name, "name")
        if location is not None:
            changes["location"] = rules.validate_text(location, "location", max_len=120)
        if total_slots is not None:
            changes["total_slots"] = rules.validate_total_slots(total_slots)
        if time_zone is not None:
            changes["time_zone"] = rules.validate_time_zone(time_zone)
        if policy is not None:
            changes["policy"] = check_policy(policy)
        now = ctx.now()

        def shown(value: Any) -> Any:  # audit details are JSON values
            return asdict(value) if isinstance(value, LotPolicy) else value

        with ctx.store.unit_of_work() as uow:
            actor = ctx.admin(uow, token, now)
            lot = get_lot(uow, lot_id)
            if "name" in changes and any(
                r.name.casefold() == changes["name"].casefold() and r.id != lot.id for r in uow.lots.all()
            ):
                raise Conflict(f"A lot named {changes['name']!r} already exists.", field="name")
            if "total_slots" in changes:
                in_use = sum(1 for s in uow.slots.in_lot(lot.id) if not s.retired)
                if changes["total_slots"] < in_use:
                    raise Conflict(
                        f"{lot.name} has {in_use} slots in use; retire slots before lowering its capacity "
                        f"to {changes['total_slots']}.",
                        field="total_slots",
                    )
            before = {k: shown(getattr(lot, k)) for k in changes}
            row = replace(lot, **changes)
            if not row.time_zone:
                row = replace(row, time_zone=ctx.zone(lot))
            uow.lots.update(row)
            ctx.audit(
                uow, now, actor.username, "update_lot", lot_id=lot.id, before=before,
                after={k: shown(v) for k, v in changes.items()},
            )
            uow.commit()
        return ctx.lot_model(row)

    def list_lots(self, token: str) -> list[Lot]:
        ctx = self.ctx
        with ctx.store.view() as view:
            ctx.authenticate(view, token, ctx.now())
            return sorted((ctx.lot_model(r) for r in view.lots.all()), key=lambda lot: (lot.name.casefold(), lot.id))

    def get_lot(self, token: str, lot_id: int) -> Lot:
        ctx = self.ctx
        with ctx.store.view() as view:
            ctx.authenticate(view, token, ctx.now())
            return ctx.lot_model(get_lot(view, lot_id))

    def add_slots(self, token: str, lot_id: int, slot_numbers: Iterable[str]) -> list[Slot]:
        ctx = self.ctx
        if isinstance(slot_numbers, (str, bytes)) or not isinstance(slot_numbers, Iterable):
            raise ValidationError("Give a list of slot numbers.", field="slot_number")
        numbers = [rules.validate_slot_number(n) for n in slot_numbers]
        if not numbers:
            raise ValidationError("Give at least one slot number.", field="slot_number")
        if len(set(numbers)) != len(numbers):
            raise Conflict("The same slot number is given twice.", field="slot_number")
        now = ctx.now()
        out: list[Slot] = []
        with ctx.store.unit_of_work() as uow:
            actor = ctx.admin(uow, token, now)
            lot = get_lot(uow, lot_id)
            current = uow.slots.in_lot(lot.id)
            existing = {s.slot_number for s in current}
            in_use = sum(1 for s in current if not s.retired)
            for number in numbers:
                if number in existing:
                    raise Conflict(f"Slot {number} already exists in {lot.name}.", field="slot_number")
            if in_use + len(numbers) > lot.total_slots:
                raise Conflict(
                    f"{lot.name} holds {lot.total_slots} slots and has {in_use}; "
                    f"{len(numbers)} more would exceed its capacity (raise it with Edit lot).",
                    field="slot_number",
                )
            for number in numbers:
                slot_id = uow.slots.add(SlotRow(NEW, lot.id, number, admin_status=SlotStatus.AVAILABLE.value))
                out.append(Slot(slot_id, lot.id, number, SlotStatus.AVAILABLE, admin_status=SlotStatus.AVAILABLE))
            ctx.audit(
                uow, now, actor.username, "add_slots", lot_id=lot.id, slots={s.slot_number: s.id for s in out},
            )
            uow.commit()
        return out

    def lot_slots(self, token: str, lot_id: int) -> list[Slot]:
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.view() as view:
            ctx.authenticate(view, token, now)
            lot = get_lot(view, lot_id)
            policy = policy_of(lot)
            slots, by_slot = br.lot_state(view, lot.id)
            out = [br.slot_value(s, by_slot.get(s.id, ()), now, policy) for s in slots]
        out.sort(key=lambda s: natural_key(s.slot_number))
        return out

    def available_slots(
        self,
        token: str,
        lot_id: int | None = None,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
    ) -> list[Slot]:
        ctx = self.ctx
        now = ctx.now()
        if (start_time is None) != (end_time is None):
            raise ValidationError("Give both a start and an end time, or neither.", field="end_time")
        out: list[Slot] = []
        with ctx.store.view() as view:
            ctx.authenticate(view, token, now)
            for lot in lots_of(view, lot_id):
                policy = policy_of(lot)
                window = None
                if start_time is not None:
                    zone = ctx.zone(lot)
                    window = (
                        rules.local_instant(start_time, zone, "start_time"),
                        rules.local_instant(end_time, zone, "end_time"),
                    )
                    rules.validate_window(window[0], window[1], now, policy)
                slots, by_slot = br.lot_state(view, lot.id)
                for s in slots:
                    if s.retired:
                        continue
                    live = by_slot.get(s.id, ())
                    if window is None:
                        slot = br.slot_value(s, live, now, policy)
                        if slot.status is SlotStatus.AVAILABLE:
                            out.append(slot)
                    elif not br.mark_block(s, window[0], window[1], now) and not br.clash(
                        live, window[0], window[1], now, policy, slot=s
                    ):
                        out.append(br.slot_value(s, live, now, policy))
        out.sort(key=lambda s: (s.lot_id, natural_key(s.slot_number)))
        return out

    def slot_schedule(self, token: str, slot_id: int) -> list[Booking]:
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.view() as view:
            user = ctx.authenticate(view, token, now)
            slot = get_slot(view, slot_id)
            reader = br.BookingReader(view, now)
            out = []
            for b in reader.live(slot.id):
                if b.slot_id != slot.id:
                    continue
                booking = reader.booking(b, hide_owner=not user.is_admin and b.username != user.username)
                if booking.is_live:
                    out.append(booking)
        out.sort(key=lambda b: b.start_time)
        return out

    def mark(
        self,
        token: str,
        slot_id: int,
        status: str,
        *,
        until: datetime | str | None = None,
        reason: str = "",
        commit: bool,
    ) -> SlotMark:
        """Mark (or, with ``status="retired"``, retire) a slot; with ``commit=False`` a preview: the same checks
        and moves, nothing written."""
        if status != "retired":
            try:
                wanted = SlotStatus(status)
            except ValueError:
                raise ValidationError(
                    "Status must be available, occupied or out_of_service.", field="status"
                ) from None
            if wanted not in ADMIN_SLOT_STATUSES:
                raise ValidationError("'reserved' comes from bookings; it cannot be set by hand.", field="status")
        reason = rules.validate_text(reason, "reason", required=False)
        now = self.ctx.now()
        with self.ctx.store.unit_of_work() as uow:
            result = self._mark_in(uow, token, slot_id, status, until, reason, now)
            if commit:
                uow.commit()
            # A preview leaves without commit(): nothing of it is written.
        return result

    def _mark_in(
        self,
        uow: UnitOfWork,
        token: str,
        slot_id: int,
        status: str,
        until: datetime | str | None,
        reason: str,
        now: datetime,
    ) -> SlotMark:
        ctx = self.ctx
        actor = ctx.admin(uow, token, now)
        slot = get_slot(uow, slot_id)
        lot = get_lot(uow, slot.lot_id)
        policy = policy_of(lot)
        zone = ctx.zone(lot)
        number = slot.slot_number
        if slot.retired:
            raise Conflict(f"Slot {number} is retired.", field="status")
        # Reservations the housekeeping moves off this slot were on it when the admin acted: the answer names
        # them with the mark's own moves.
        housekept = [
            after for before_row, after in br.release_expired(ctx, uow, lot.id, now, policy)
            if before_row.slot_id == slot.id
        ]
        live = uow.bookings.live(slot_id=slot.id)
        before_ids = br.blocked_on(uow, slot, now)
        before = slot.admin_status
        extra: dict[str, Any] = {}
        if status == "retired":
            slot = replace(slot, retired=True)
            op, after = "retire_slot", "retired"
        else:
            wanted = SlotStatus(status)
            until_at = rules.local_instant(until, zone, "until") if until is not None else None
            if wanted is SlotStatus.AVAILABLE:
                until_at = None
            elif until_at is not None and until_at <= now:
                raise ValidationError("The mark must end in the future.", field="until")
            if wanted is SlotStatus.OCCUPIED:
                if any(b.status == BookingStatus.CHECKED_IN for b in live):
                    raise Conflict(f"Slot {number} is already occupied by a checked-in booking.", field="status")
                until_at = until_at or now + policy.walk_in
            slot = replace(
                slot,
                admin_status=wanted.value,
                mark_until=until_at,
                mark_reason=reason if wanted is not SlotStatus.AVAILABLE else "",
            )
            op, after = "set_slot_status", wanted.value
            extra = {"until": rules.to_stamp(until_at) if until_at is not None else None, "reason": reason}
        uow.slots.update(slot)
        ctx.audit(
            uow, now, actor.username, op, slot_id=slot.id, lot_id=lot.id, slot_number=number,
            before=before, after=after, **extra,
        )
        moved: list[Booking] = [br.booking_value(row, now, policy) for row in housekept]
        unplaced: list[Booking] = []
        for b in sorted(live, key=lambda r: (r.start_time, r.id)):
            if b.status != BookingStatus.RESERVED:
                continue
            block = br.block_reason(slot, b, uow.bookings.live(slot_id=slot.id), now)
            if not block:
                continue
            row, did_move = br.place(ctx, uow, b, block, now, policy, actor.username)
            (moved if did_move else unplaced).append(
                br.booking_value(row, now, policy, block="" if did_move else block)
            )
        br.lift(ctx, uow, slot, before_ids, now, actor.username)
        after_live = uow.bookings.live(slot_id=slot.id)
        return SlotMark(br.slot_value(slot, after_live, now, policy), moved, unplaced)
