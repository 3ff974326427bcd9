"""The account use cases pinned one by one: each refusal with its field and words, each audit event with its
details, each change seen by the next call. Written against the mutants of ``domain/accounts.py`` that the
other tests let through (``tools/mutation.sh accounts``; docs/testing.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parking_tui.domain import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError
from parking_tui.domain import accounts

from .conftest import PASSWORD, make_user

NEW = "battery-staple"


def _events(svc, admin: str, op: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("at", "terminal")} for e in svc.audit_log(admin, op=op)]


@pytest.fixture
def people(svc):
    admin = make_user(svc, "boss", admin=True)
    carol = make_user(svc, "carol")
    return svc, admin, carol


# ------------------------------------------------------------------------------------------ change_password


def test_change_password_takes_the_new_one_ends_the_other_sessions_and_keeps_this_one(people):
    svc, admin, carol = people
    other = svc.login("carol", PASSWORD)  # carol on a second terminal
    assert svc.change_password(carol, PASSWORD, NEW) is None
    assert svc.profile(carol).user == "carol"  # this session goes on
    with pytest.raises(AuthenticationError):
        svc.profile(other)  # the other one is over
    with pytest.raises(AuthenticationError):
        svc.login("carol", PASSWORD)
    assert svc.profile(svc.login("carol", NEW)).user == "carol"
    assert _events(svc, admin, "change_password") == [{"user": "carol", "op": "change_password", "sessions_ended": 1}]


@pytest.mark.parametrize("old", ["wrong-password", "", None, 12345678])
def test_change_password_with_a_wrong_current_password_is_refused_on_old_password(people, old):
    svc, admin, carol = people
    with pytest.raises(ValidationError) as caught:
        svc.change_password(carol, old, NEW)  # type: ignore[arg-type]
    assert caught.value.field == "old_password"
    assert str(caught.value) == "The current password is wrong."
    assert svc.login("carol", PASSWORD)  # unchanged
    assert _events(svc, admin, "change_password") == []


def test_change_password_to_the_same_one_is_refused_on_password(people):
    svc, admin, carol = people
    with pytest.raises(ValidationError) as caught:
        svc.change_password(carol, PASSWORD, PASSWORD)
    assert caught.value.field == "password"
    assert str(caught.value) == "The new password must differ from the current one."


def test_change_password_checks_the_new_password_first(people):
    svc, admin, carol = people
    with pytest.raises(ValidationError) as caught:
        svc.change_password(carol, "wrong-password", "short")
    assert caught.value.field == "password"
    with pytest.raises(AuthenticationError):
        svc.change_password("not-a-token", PASSWORD, NEW)


# ------------------------------------------------------------------------------------------ set_user_active


def test_disabling_an_account_ends_its_sessions_and_refuses_its_sign_in(people, clock):
    svc, admin, carol = people
    user = svc.set_user_active(admin, "carol", False)
    assert (user.username, user.active) == ("carol", False)
    with pytest.raises(AuthenticationError):
        svc.profile(carol)
    with pytest.raises(AuthenticationError) as caught:
        svc.login("carol", PASSWORD)
    assert str(caught.value) == "This account has been disabled; ask a lot manager."
    assert [u.active for u in svc.list_users(admin) if u.username == "carol"] == [False]
    user = svc.set_user_active(admin, "CAROL", True)  # usernames ignore case
    assert user.active is True
    assert svc.profile(svc.login("carol", PASSWORD)).user == "carol"
    assert _events(svc, admin, "set_user_active") == [
        {"user": "boss", "op": "set_user_active", "target": "carol", "before": True, "after": False},
        {"user": "boss", "op": "set_user_active", "target": "carol", "before": False, "after": True},
    ]


def test_enabling_an_account_ends_no_session(people):
    svc, admin, carol = people
    svc.set_user_active(admin, "carol", True)
    assert svc.profile(carol).user == "carol"


def test_set_user_active_refusals(people):
    svc, admin, carol = people
    with pytest.raises(ValidationError) as caught:
        svc.set_user_active(admin, "carol", "no")  # type: ignore[arg-type]
    assert (caught.value.field, str(caught.value)) == ("active", "active must be true or false.")
    with pytest.raises(NotFound) as caught:
        svc.set_user_active(admin, "nobody", False)
    assert (caught.value.field, str(caught.value)) == ("username", "No user 'nobody'.")
    with pytest.raises(Conflict) as caught:
        svc.set_user_active(admin, "boss", False)
    assert (caught.value.field, str(caught.value)) == ("username", "You cannot disable your own account.")
    assert svc.set_user_active(admin, "boss", True).active is True  # enabling yourself is harmless
    with pytest.raises(PermissionDenied):
        svc.set_user_active(carol, "boss", False)
    assert [e["after"] for e in _events(svc, admin, "set_user_active")] == [True]


# ------------------------------------------------------------------------------------------ set_admin


def test_set_admin_records_who_changed_whom(people):
    svc, admin, carol = people
    assert svc.set_admin(admin, "Carol", True).is_admin is True
    assert svc.profile(carol).is_admin is True
    assert svc.set_admin(admin, "carol", False).is_admin is False
    assert _events(svc, admin, "set_admin") == [
        {"user": "boss", "op": "set_admin", "target": "carol", "before": False, "after": True},
        {"user": "boss", "op": "set_admin", "target": "carol", "before": True, "after": False},
    ]


def test_set_admin_refusals(people):
    svc, admin, carol = people
    with pytest.raises(ValidationError) as caught:
        svc.set_admin(admin, "carol", 1)  # type: ignore[arg-type]
    assert str(caught.value) == "is_admin must be true or false."
    with pytest.raises(NotFound) as caught:
        svc.set_admin(admin, "nobody", True)
    assert (caught.value.field, str(caught.value)) == ("username", "No user 'nobody'.")
    with pytest.raises(Conflict) as caught:
        svc.set_admin(admin, "boss", False)
    assert str(caught.value) == "You cannot remove your own admin role."
    assert svc.set_admin(admin, "boss", True).is_admin is True
    assert [e["target"] for e in _events(svc, admin, "set_admin")] == ["boss"]


# ------------------------------------------------------------------------------------------ update_profile


def test_update_profile_changes_only_what_is_given_and_records_before_and_after(people):
    svc, admin, carol = people
    p = svc.update_profile(carol, phone_number="+49 30 1234567")
    assert (p.user, p.email, p.phone_number, p.is_admin) == ("carol", "carol@example.com", "+49 30 1234567", False)
    p = svc.update_profile(carol, email="Carol@Example.org")
    assert (p.email, p.phone_number) == ("Carol@Example.org", "+49 30 1234567")
    p = svc.update_profile(carol, email="CAROL@example.org")  # her own address in other case: not "taken"
    assert p.email == "CAROL@example.org"
    assert svc.profile(carol).email == "CAROL@example.org"
    events = _events(svc, admin, "update_profile")
    assert events[0] == {
        "user": "carol", "op": "update_profile",
        "before": {"email": "carol@example.com", "phone_number": ""},
        "after": {"email": "carol@example.com", "phone_number": "+49 30 1234567"},
    }
    assert events[1]["before"]["email"] == "carol@example.com" and events[1]["after"]["email"] == "Carol@Example.org"


def test_update_profile_refuses_an_address_of_another_account(people):
    svc, admin, carol = people
    with pytest.raises(Conflict) as caught:
        svc.update_profile(carol, email="BOSS@example.com")
    assert caught.value.field == "email"
    assert svc.profile(carol).email == "carol@example.com"


# ------------------------------------------------------------------------------------------ logout, sign-in states


def test_logout_is_audited_and_ends_only_that_session(people):
    svc, admin, carol = people
    second = svc.login("carol", PASSWORD)
    svc.logout(carol)
    with pytest.raises(AuthenticationError):
        svc.logout(carol)
    assert svc.profile(second).user == "carol"
    assert _events(svc, admin, "logout") == [{"user": "carol", "op": "logout"}]


def test_failed_sign_ins_of_made_up_names_are_bounded_oldest_first(people, clock, monkeypatch):
    svc, admin, carol = people
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 3)
    for i in range(3):
        with pytest.raises(AuthenticationError):
            svc.login(f"ghost{i}", "wrong-password")
        clock.advance(minutes=1)
    for _ in range(4):  # carol is locked out (5 failures in all) and stays so while the bound is applied
        with pytest.raises(AuthenticationError):
            svc.login("carol", "wrong-password")
    clock.advance(minutes=1)
    with pytest.raises(AuthenticationError):
        svc.login("carol", "wrong-password")
    with pytest.raises(AuthenticationError):
        svc.login("ghost9", "wrong-password")  # over the bound: the oldest states are forgotten
    with svc.store.unit_of_work() as uow:  # left without commit: read only
        kept = sorted(s.username for s in uow.login_states.all())
    assert "carol" in kept and "ghost9" in kept and "ghost0" not in kept and len(kept) <= 3, kept
    with pytest.raises(AuthenticationError) as caught:
        svc.login("carol", PASSWORD)
    assert "Too many failed sign-ins" in str(caught.value)


def test_stale_sign_in_states_are_forgotten_first(people, clock, monkeypatch):
    svc, admin, carol = people
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 2)
    with pytest.raises(AuthenticationError):
        svc.login("old", "wrong-password")
    clock.advance(accounts.FAILURE_WINDOW + timedelta(seconds=1))  # "old" no longer matters
    for name in ("new1", "new2"):
        with pytest.raises(AuthenticationError):
            svc.login(name, "wrong-password")
    with svc.store.unit_of_work() as uow:  # left without commit: read only
        kept = sorted(s.username for s in uow.login_states.all())
    assert kept == ["new1", "new2"]
