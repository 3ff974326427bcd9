"""What every store promises the service (parking_tui.domain.ports), tested through the port only."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from parking_tui.domain.errors import Conflict
from parking_tui.domain.models import LotPolicy
from parking_tui.domain.ports import (
    NEW,
    AuditEvent,
    AuditFilter,
    BookingQuery,
    BookingRow,
    LoginStateRow,
    LotRow,
    SessionRow,
    SlotRow,
    UserRow,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def _lot(uow, name="North", zone="Europe/Berlin", policy=None) -> int:
    return uow.lots.add(LotRow(NEW, name, "Main St", 10, zone, policy=policy, created_at=T0))


def _slot(uow, lot_id, number="A1") -> int:
    return uow.slots.add(SlotRow(NEW, lot_id, number))


def _booking(lot_id, slot_id, start=T0, end=T0 + H, *, user="ann", code="AAAA-0001", status="reserved", number="A1"):
    return BookingRow(NEW, slot_id, lot_id, number, user, start, end, status, code, created_at=T0)


@pytest.fixture
def lot_slot(store):
    with store.unit_of_work() as uow:
        lot_id = _lot(uow)
        slot_id = _slot(uow, lot_id)
        uow.commit()
    return lot_id, slot_id


# ------------------------------------------------------------------------------------------------ rows and ids


def test_rows_read_back_equal_with_the_ids_the_store_gave(store):
    policy = LotPolicy(grace_minutes=20)
    with store.unit_of_work() as uow:
        lot = LotRow(NEW, "North", "Main St", 10, "Europe/Berlin", policy=policy, created_at=T0)
        lot_id = uow.lots.add(lot)
        slot_ids = [uow.slots.add(SlotRow(NEW, lot_id, n)) for n in ("A1", "A2")]
        b = dataclasses.replace(_booking(lot_id, slot_ids[0]), plate="AB12CDE", checked_in_at=T0 - H)
        booking_id = uow.bookings.add(b)
        uow.commit()
    assert lot_id != NEW and len(set(slot_ids)) == 2 and booking_id != NEW
    with store.view() as v:
        assert v.lots.get(lot_id) == dataclasses.replace(lot, id=lot_id)
        assert v.lots.all() == [dataclasses.replace(lot, id=lot_id)]
        assert [s.slot_number for s in v.slots.in_lot(lot_id)] == ["A1", "A2"]
        assert v.slots.get(slot_ids[1]) == SlotRow(slot_ids[1], lot_id, "A2")
        got = v.bookings.get(booking_id)
        assert got == dataclasses.replace(b, id=booking_id)
        assert got.start_time.utcoffset() == timedelta(0)
        assert v.lots.get(lot_id + 1000) is None and v.slots.get(999_999) is None and v.bookings.get(999_999) is None
        assert v.slots.in_lot(lot_id + 1000) == []


def test_ids_are_never_handed_out_twice(store, reopen):
    with store.unit_of_work() as uow:
        a = _lot(uow, "A")
        uow.commit()
    with reopen().unit_of_work() as uow:
        b = _lot(uow, "B")
        uow.commit()
    with store.unit_of_work() as uow:
        c = _lot(uow, "C")
        uow.commit()
    assert len({a, b, c}) == 3


def test_users_are_found_ignoring_case_and_updated(store):
    row = UserRow("Ann", "Ann@Example.com", "hash", phone_number="+44", created_at=T0)
    with store.unit_of_work() as uow:
        uow.users.add(row)
        uow.users.add(UserRow("bob", "bob@example.com", "hash2", is_admin=True))
        uow.commit()
    with store.view() as v:
        assert v.users.get("ann") == row and v.users.get("ANN") == row
        assert v.users.by_email("ann@example.COM") == row
        assert v.users.get("nobody") is None and v.users.by_email("x@example.com") is None
        assert [u.username for u in v.users.all()] == ["Ann", "bob"]
    changed = dataclasses.replace(row, active=False, password_changed_at=T0 + H)
    with store.unit_of_work() as uow:
        uow.users.update(changed)
        uow.commit()
    with store.view() as v:
        assert v.users.get("Ann") == changed


# ------------------------------------------------------------------------------------------------- constraints


@pytest.mark.parametrize(
    "second, field",
    [
        (UserRow("ANN", "other@example.com", "h"), "username"),
        (UserRow("carl", "ANN@example.com", "h"), "email"),
    ],
)
def test_usernames_and_emails_are_unique_ignoring_case(store, second, field):
    with store.unit_of_work() as uow:
        uow.users.add(UserRow("ann", "ann@example.com", "h"))
        uow.commit()
    with pytest.raises(Conflict) as caught, store.unit_of_work() as uow:
        uow.users.add(second)
        uow.commit()
    assert caught.value.field == field
    with store.view() as v:
        assert [u.username for u in v.users.all()] == ["ann"]


def test_an_email_taken_by_another_user_is_a_conflict_on_update(store):
    with store.unit_of_work() as uow:
        uow.users.add(UserRow("ann", "ann@example.com", "h"))
        uow.users.add(UserRow("bob", "bob@example.com", "h"))
        uow.commit()
    with pytest.raises(Conflict), store.unit_of_work() as uow:
        uow.users.update(UserRow("bob", "Ann@example.com", "h"))
        uow.commit()
    with store.unit_of_work() as uow:  # keeping one's own address is no conflict
        uow.users.update(UserRow("bob", "BOB@example.com", "h2"))
        uow.commit()


def test_a_slot_number_is_unique_in_its_lot(store, lot_slot):
    lot_id, _ = lot_slot
    with pytest.raises(Conflict) as caught, store.unit_of_work() as uow:
        _slot(uow, lot_id, "A1")
        uow.commit()
    assert caught.value.field == "slot_number"
    with store.unit_of_work() as uow:
        other = _lot(uow, "South")
        _slot(uow, other, "A1")  # the same number in another lot is fine
        uow.commit()
    with store.view() as v:
        assert [s.slot_number for s in v.slots.in_lot(lot_id)] == ["A1"]


@pytest.mark.parametrize("start, end", [(T0, T0 + H), (T0 + H / 2, T0 + 2 * H), (T0 - H, T0 + timedelta(seconds=1))])
def test_overlapping_live_bookings_of_a_slot_are_a_conflict(store, lot_slot, start, end):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        uow.bookings.add(_booking(lot_id, slot_id))
        uow.commit()
    with pytest.raises(Conflict) as caught, store.unit_of_work() as uow:
        uow.bookings.add(_booking(lot_id, slot_id, start, end, user="bob", code="BBBB-0002"))
        uow.commit()
    assert caught.value.field == "slot_id"
    with store.view() as v:
        assert len(v.bookings.live(slot_id=slot_id)) == 1


def test_touching_windows_and_finished_bookings_do_not_conflict(store, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        first = uow.bookings.add(_booking(lot_id, slot_id))
        uow.bookings.add(_booking(lot_id, slot_id, T0 + H, T0 + 2 * H, user="bob", code="BBBB-0002"))
        uow.bookings.add(_booking(lot_id, slot_id, T0, T0 + H, user="cat", code="CCCC-0003", status="cancelled"))
        uow.commit()
    with store.unit_of_work() as uow:  # a booking cancelled frees its window
        uow.bookings.update(dataclasses.replace(uow.bookings.get(first), status="cancelled"))
        uow.bookings.add(_booking(lot_id, slot_id, T0, T0 + H, user="dan", code="DDDD-0004"))
        uow.commit()
    with store.view() as v:
        assert [b.username for b in v.bookings.live(slot_id=slot_id)] == ["dan", "bob"]


def test_moving_a_booking_onto_a_taken_window_is_a_conflict(store, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        other_slot = _slot(uow, lot_id, "A2")
        uow.bookings.add(_booking(lot_id, slot_id))
        moving = uow.bookings.add(_booking(lot_id, other_slot, user="bob", code="BBBB-0002", number="A2"))
        uow.commit()
    with pytest.raises(Conflict), store.unit_of_work() as uow:
        row = uow.bookings.get(moving)
        uow.bookings.update(dataclasses.replace(row, slot_id=slot_id, slot_number="A1"))
        uow.commit()
    with store.view() as v:
        assert v.bookings.get(moving).slot_id == other_slot


def test_a_live_confirmation_code_is_unique(store, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        other_slot = _slot(uow, lot_id, "A2")
        uow.bookings.add(_booking(lot_id, slot_id))
        uow.commit()
    with pytest.raises(Conflict) as caught, store.unit_of_work() as uow:
        uow.bookings.add(_booking(lot_id, other_slot, user="bob", number="A2"))
        uow.commit()
    assert caught.value.field == "confirmation_code"

    with pytest.raises(Conflict) as caught, store.unit_of_work() as uow:
        mine = uow.bookings.add(_booking(lot_id, other_slot, user="bob", number="A2", code="BBBB-0001"))
        uow.bookings.update(dataclasses.replace(uow.bookings.get(mine), confirmation_code="AAAA-0001"))
        uow.commit()
    assert caught.value.field == "confirmation_code"


# ---------------------------------------------------------------------------------------- units of work


def test_an_exception_rolls_everything_back_audit_included(store, lot_slot):
    lot_id, slot_id = lot_slot
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.bookings.add(_booking(lot_id, slot_id))
        uow.audit.append(AuditEvent(T0, "ann", "tty", "create_booking", {"code": "AAAA-0001"}))
        uow.users.add(UserRow("ann", "ann@example.com", "h"))
        raise RuntimeError("boom")
    with store.view() as v:
        assert v.bookings.live() == [] and v.users.get("ann") is None
        assert v.audit.query(AuditFilter(), 10) == []


def test_leaving_without_commit_rolls_back_and_a_unit_sees_its_own_writes(store, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        booking_id = uow.bookings.add(_booking(lot_id, slot_id))
        assert uow.bookings.get(booking_id).username == "ann"
        assert [b.id for b in uow.bookings.live(lot_id=lot_id)] == [booking_id]
    with store.view() as v:
        assert v.bookings.get(booking_id) is None and v.bookings.live(lot_id=lot_id) == []


def test_a_commit_is_seen_by_another_handle(store, reopen, lot_slot):
    lot_id, slot_id = lot_slot
    other = reopen()
    with store.unit_of_work() as uow:
        booking_id = uow.bookings.add(_booking(lot_id, slot_id))
        uow.commit()
    with other.view() as v:
        assert v.bookings.get(booking_id).confirmation_code == "AAAA-0001"


def test_change_token_moves_on_a_write_to_the_lot(store, reopen, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        other_lot = _lot(uow, "South")
        uow.commit()
    watcher = reopen()
    before, before_all, before_other = (
        watcher.change_token(lot_id), watcher.change_token(), watcher.change_token(other_lot)
    )
    assert watcher.change_token(lot_id) == before  # stable while nothing changes
    with store.unit_of_work() as uow:
        uow.bookings.add(_booking(lot_id, slot_id))
        uow.commit()
    assert watcher.change_token(lot_id) != before
    assert watcher.change_token() != before_all
    after = watcher.change_token(lot_id)
    with store.unit_of_work() as uow:
        slot = uow.slots.get(slot_id)
        uow.slots.update(dataclasses.replace(slot, admin_status="out_of_service", mark_reason="paint"))
        uow.commit()
    assert watcher.change_token(lot_id) != after
    del before_other  # another lot's token may move too: a spurious refresh is allowed


# --------------------------------------------------------------------------------------------- bookings reads


def test_live_finished_and_queries(store, lot_slot):
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        a2 = _slot(uow, lot_id, "A2")
        later = uow.bookings.add(_booking(lot_id, slot_id, T0 + 2 * H, T0 + 3 * H, code="AAAA-0002"))
        early = uow.bookings.add(_booking(lot_id, a2, T0, T0 + H, user="bob", code="BBBB-0001", number="A2"))
        done = uow.bookings.add(_booking(lot_id, slot_id, T0 - 3 * H, T0 - 2 * H, code="AAAA-0003"))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.bookings.update(dataclasses.replace(uow.bookings.get(done), status="completed", checked_out_at=T0))
        plated = dataclasses.replace(uow.bookings.get(early), plate="XY99 ZZZ")
        uow.bookings.update(plated)
        uow.commit()
    with store.view() as v:
        assert [b.id for b in v.bookings.live(lot_id=lot_id)] == [early, later]
        assert [b.id for b in v.bookings.live(username="ann")] == [later]
        assert [b.id for b in v.bookings.live(slot_id=a2)] == [early]
        assert v.bookings.get(done).status == "completed"
        assert v.bookings.by_code("AAAA-0003").id == done
        assert v.bookings.by_code("ZZZZ-9999") is None
        assert v.bookings.code_in_use("AAAA-0002") and not v.bookings.code_in_use("AAAA-0003")
        assert [b.id for b in v.bookings.query(BookingQuery(lot_id=lot_id))] == [done, early, later]
        assert [b.id for b in v.bookings.query(BookingQuery(username="ann"))] == [done, later]
        assert [b.id for b in v.bookings.query(BookingQuery(statuses=frozenset({"completed"})))] == [done]
        assert [b.id for b in v.bookings.query(BookingQuery(ends_at_or_after=T0 + H))] == [early, later]
        assert [b.id for b in v.bookings.query(BookingQuery(text="XY99ZZZ"))] == [early]
        assert [b.id for b in v.bookings.query(BookingQuery(slot_id=slot_id), limit=1)] == [done]
        assert [b.id for b in v.bookings.reserved_starting_before(lot_id, T0 + H)] == [early]


def test_a_car_that_overstayed_into_an_instant_is_still_running_then(store, lot_slot):
    """``ends_at_or_after`` keeps a booking that ended before the instant but whose car left after it."""
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        stayed = uow.bookings.add(_booking(lot_id, slot_id, T0 - 2 * H, T0 - H))
        uow.commit()
    with store.unit_of_work() as uow:
        row = uow.bookings.get(stayed)
        uow.bookings.update(
            dataclasses.replace(row, status="completed", checked_in_at=T0 - 2 * H, checked_out_at=T0 + H / 2)
        )
        uow.commit()
    with store.view() as v:
        assert [b.id for b in v.bookings.query(BookingQuery(ends_at_or_after=T0))] == [stayed]
        assert [b.id for b in v.bookings.query(BookingQuery(ends_at_or_after=T0 - H))] == [stayed]
        assert v.bookings.query(BookingQuery(ends_at_or_after=T0 + H)) == []


# ------------------------------------------------------------------------------------- sessions and sign-ins


def test_sessions_end_and_expire(store):
    with store.unit_of_work() as uow:
        for i, (user, expires) in enumerate([("ann", T0), ("ann", T0 + H), ("ann", T0 + 2 * H), ("bob", T0 - H)]):
            uow.sessions.add(SessionRow(f"h{i}", user, T0 - 2 * H, expires))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.sessions.purge_expired(T0) == 2
        assert uow.sessions.delete_for("ann", keep="h2") == 1
        uow.sessions.delete("nothing-such")
        uow.commit()
    with store.view() as v:
        assert v.sessions.get("h2") == SessionRow("h2", "ann", T0 - 2 * H, T0 + 2 * H)
        assert [v.sessions.get(h) for h in ("h0", "h1", "h3")] == [None, None, None]


def test_login_states(store):
    with store.unit_of_work() as uow:
        uow.login_states.put(LoginStateRow("ann", 2, last_failure=T0))
        uow.login_states.put(LoginStateRow("ghost", 5, locked_until=T0 + H))
        uow.login_states.put(LoginStateRow("ann", 3, last_failure=T0 + H))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.login_states.get("ann") == LoginStateRow("ann", 3, last_failure=T0 + H)
        assert uow.login_states.count() == 2
        uow.login_states.forget(["ghost", "never"])
        uow.login_states.clear("ann")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.login_states.all() == [] and uow.login_states.get("ann") is None


def test_a_row_written_again_without_a_field_reads_back_without_it(store, reopen, lot_slot):
    """A field set to ``None`` (or left at its default) on a later write is gone, not kept from the row before:
    a lock that replaces a failure count has no last failure, a mark set again without an end has none."""
    lot_id, slot_id = lot_slot
    with store.unit_of_work() as uow:
        uow.login_states.put(LoginStateRow("ann", 4, last_failure=T0))
        slot = uow.slots.get(slot_id)
        marked = dataclasses.replace(slot, admin_status="out_of_service", mark_until=T0 + H, mark_reason="paint")
        uow.slots.update(marked)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.login_states.put(LoginStateRow("ann", 0, locked_until=T0 + H))
        uow.slots.update(dataclasses.replace(uow.slots.get(slot_id), mark_until=None, mark_reason=""))
        uow.commit()
    for handle in (store, reopen()):
        with handle.view() as v:
            assert v.login_states.get("ann") == LoginStateRow("ann", 0, locked_until=T0 + H)
            assert v.slots.get(slot_id) == SlotRow(slot_id, lot_id, "A1", admin_status="out_of_service")


# ----------------------------------------------------------------------------------------------------- audit


def test_audit_is_written_with_the_commit_and_queried_by_filters_and_limit(store):
    events = [
        AuditEvent(T0, "ann", "tty1", "create_booking", {"booking_id": 1, "code": "AAAA-0001", "owner": "ann"}),
        AuditEvent(T0 + H, "admin", "tty2", "check_in", {"booking_id": 1, "code": "AAAA-0001", "owner": "ann"}),
        AuditEvent(T0 + 2 * H, "bob", "tty3", "create_booking", {"booking_id": 2, "code": "BBBB-0002", "owner": "bob"}),
        AuditEvent(T0 + 3 * H, "bob", "tty3", "login", {}),
    ]
    with store.unit_of_work() as uow:
        for e in events:
            uow.audit.append(e)
        uow.commit()
    with store.view() as v:
        q = v.audit.query
        assert q(AuditFilter(), 10) == events
        assert q(AuditFilter(), 2) == events[2:]
        assert q(AuditFilter(user="ann"), 10) == events[:2]  # by her, or about her booking
        assert q(AuditFilter(op="create_booking"), 10) == [events[0], events[2]]
        assert q(AuditFilter(code="AAAA-0001"), 10) == events[:2]
        assert q(AuditFilter(booking_id=2), 10) == [events[2]]
        assert q(AuditFilter(since=T0 + H, until=T0 + 3 * H), 10) == events[1:3]
        assert q(AuditFilter(user="bob", op="login"), 10) == [events[3]]


def test_a_finding_is_printed_as_one_line_and_its_fix_below():
    """A store's doctor reports findings through the port; each prints as the operator reads it."""
    from parking_tui.domain.ports import Finding

    assert str(Finding("warning", "parking.json is mode 644")) == "WARNING parking.json is mode 644"
    assert str(Finding("error", "parking.lot-1.json is damaged", fix="parking-tui restore NAME")) == (
        "ERROR   parking.lot-1.json is damaged\n        fix: parking-tui restore NAME"
    )
