"""What every use case starts with (domain/context.py): who is signed in, the admin check, the lot looked up, and
the zone and policy of a lot that is gone, each refusal pinned to its exact words and field.

The refusals a person can meet through the service are asked through it (on both stores); the two a service
cannot build on its own (a session whose account is gone, or disabled without its sessions ended: another
process between the two reads) are asked of the context with a small view of plain rows.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from parking_tui.domain import AuthenticationError, NotFound, PermissionDenied, ValidationError
from parking_tui.domain.context import DEFAULT_POLICY, Context, hash_token, policy_of
from parking_tui.domain.models import LotPolicy
from parking_tui.domain.ports import LotRow, SessionRow, UserRow

from .conftest import PASSWORD, T0, cheap_hasher


def _refused(call, *args, error=AuthenticationError):
    with pytest.raises(error) as caught:
        call(*args)
    return str(caught.value), caught.value.field


# ------------------------------------------------------------------------------------------- the token


@pytest.mark.parametrize("token", ["", 513 * "x", None, 42, b"token"])
def test_a_missing_empty_or_oversized_token_is_not_signed_in(world, token):
    assert _refused(world.svc.profile, token) == ("You are not signed in.", None)


def test_a_token_of_512_characters_is_looked_up_and_one_of_513_is_not(world):
    # 512 is the longest token looked up: unknown, so the session "has ended"; one more is refused unread.
    assert _refused(world.svc.profile, 512 * "x") == ("Your session has ended; sign in again.", None)
    assert _refused(world.svc.profile, 513 * "x") == ("You are not signed in.", None)


def test_a_token_signed_out_has_ended(world):
    world.svc.logout(world.alice)
    assert _refused(world.svc.profile, world.alice) == ("Your session has ended; sign in again.", None)


def test_a_session_expires_at_its_end_to_the_microsecond(open_svc, clock):
    svc = open_svc(session_ttl=timedelta(hours=2))
    svc.register("carol", "carol@example.com", PASSWORD)
    token = svc.login("carol", PASSWORD)
    clock.set(T0 + timedelta(hours=2) - timedelta(microseconds=1))
    assert svc.profile(token).user == "carol"
    clock.set(T0 + timedelta(hours=2))
    assert _refused(svc.profile, token) == ("Your session has expired; sign in again.", None)


# ------------------------------------------------------------------------------ an account gone or disabled


def _context(time_zone: str = "UTC") -> Context:
    return Context(
        store=None,
        clock=lambda: T0,
        password_hasher=cheap_hasher(),
        session_ttl=timedelta(hours=12),
        terminal="test",
        time_zone=time_zone,
        code_generator=lambda: "AAAA-AAAA",
    )


def _view(token: str, user: UserRow | None) -> SimpleNamespace:
    """A read view holding one session of ``carol`` (for a day from T0) and ``user`` if given."""
    session = SessionRow(hash_token(token), "carol", T0, T0 + timedelta(days=1))
    return SimpleNamespace(
        sessions={session.token_hash: session},
        users={} if user is None else {user.username: user},
    )


def test_a_session_whose_account_is_gone_is_refused():
    ctx = _context()
    assert _refused(ctx.authenticate, _view("tok", None), "tok", T0) == ("Your account no longer exists.", None)


def test_a_session_of_a_disabled_account_is_refused():
    ctx = _context()
    carol = UserRow("carol", "carol@example.com", "hash", active=False)
    assert _refused(ctx.authenticate, _view("tok", carol), "tok", T0) == (
        "Your account has been disabled; ask a lot manager.",
        None,
    )
    user = ctx.authenticate(_view("tok", UserRow("carol", "carol@example.com", "hash")), "tok", T0)
    assert (user.username, user.active, user.is_admin) == ("carol", True, False)


# ------------------------------------------------------------------------------------- admin and the lot


def test_a_driver_asking_for_an_admin_view_is_told_who_may(world):
    assert _refused(world.svc.list_reservations, world.alice, error=PermissionDenied) == (
        "Only a lot manager (admin) can do that.",
        None,
    )


def test_a_lot_that_does_not_exist_is_named_with_its_id(world):
    assert _refused(world.svc.lot_slots, world.alice, 999, error=NotFound) == ("No lot with id 999.", "lot_id")
    assert _refused(world.svc.lot_summary, world.admin, 999, error=NotFound) == ("No lot with id 999.", "lot_id")


@pytest.mark.parametrize("lot_id", ["1", 1.0, True, None])
def test_a_lot_id_that_is_not_a_whole_number_is_refused_in_words(world, lot_id):
    assert _refused(world.svc.lot_slots, world.alice, lot_id, error=ValidationError) == (
        "Lot id must be a whole number.",
        "lot_id",
    )


# ------------------------------------------------------------------------ the zone and policy of a lot gone


def test_a_lot_that_is_gone_has_the_default_zone_and_policy():
    ctx = _context("Pacific/Auckland")
    assert ctx.zone(None) == "Pacific/Auckland"
    assert policy_of(None) is DEFAULT_POLICY


def test_a_lot_with_its_own_zone_and_policy_keeps_them():
    ctx = _context("Pacific/Auckland")
    own = LotPolicy(min_minutes=30)
    lot = LotRow(1, "North", "x", 5, "America/Los_Angeles", policy=own)
    assert (ctx.zone(lot), policy_of(lot)) == ("America/Los_Angeles", own)
    bare = LotRow(2, "South", "y", 5, "", policy=None)
    assert (ctx.zone(bare), policy_of(bare)) == ("Pacific/Auckland", DEFAULT_POLICY)
