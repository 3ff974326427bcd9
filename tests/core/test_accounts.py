"""Accounts and security: registration rules, sessions, lockout, hashing, roles."""

from __future__ import annotations

from datetime import timedelta

import argon2
import pytest

import parking_tui
from parking_tui.domain import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError
from parking_tui.domain import accounts

from .conftest import PASSWORD, data_files, make_user

# ------------------------------------------------------------------------------------------ register


def test_register_returns_user_and_profile(svc):
    user = svc.register("carol", "carol@example.com", PASSWORD, "+44 20 7946 0001")
    assert user.username == "carol"
    assert user.email == "carol@example.com"
    assert user.phone_number == "+44 20 7946 0001"
    assert user.is_admin is False
    token = svc.login("carol", PASSWORD)
    profile = svc.profile(token)
    assert profile.user == "carol"  # the username, as in the seed
    assert (profile.email, profile.phone_number, profile.is_admin) == (
        "carol@example.com",
        "+44 20 7946 0001",
        False,
    )


@pytest.mark.parametrize("length", [3, 32])
def test_username_length_accepted(svc, length):
    name = ("u" * length)
    assert svc.register(name, "x@example.com", PASSWORD).username == name


@pytest.mark.parametrize("name", ["ab", "a" * 33, "", "bad name", "bad/name", "émile", "a@b", "tab\tx", "semi;colon"])
def test_username_rejected(svc, name):
    with pytest.raises(ValidationError) as exc:
        svc.register(name, "x@example.com", PASSWORD)
    assert exc.value.field == "username"
    assert "3-32" in str(exc.value)


def test_username_allowed_punctuation(svc):
    assert svc.register("a_b.c-d9", "x@example.com", PASSWORD).username == "a_b.c-d9"


def test_username_not_text(svc):
    with pytest.raises(ValidationError):
        svc.register(123, "x@example.com", PASSWORD)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "email", ["", "plain", "no-at.example.com", "a@b", "a b@example.com", "a@@example.com", "@example.com", "a@.com"]
)
def test_email_rejected(svc, email):
    with pytest.raises(ValidationError) as exc:
        svc.register("carol", email, PASSWORD)
    assert exc.value.field == "email"


@pytest.mark.parametrize("email", ["a@example.com", "first.last+tag@sub.example.co.uk"])
def test_email_accepted(svc, email):
    assert svc.register("carol", email, PASSWORD).email == email


def test_password_seven_rejected_eight_accepted(svc):
    with pytest.raises(ValidationError) as exc:
        svc.register("carol", "c@example.com", "1234567")
    assert exc.value.field == "password"
    assert svc.register("carol", "c@example.com", "12345678").username == "carol"
    assert svc.login("carol", "12345678")


def test_bad_phone_rejected(svc):
    with pytest.raises(ValidationError) as exc:
        svc.register("carol", "c@example.com", PASSWORD, "call me maybe")
    assert exc.value.field == "phone_number"


def test_duplicate_username_conflict(svc):
    svc.register("carol", "c@example.com", PASSWORD)
    with pytest.raises(Conflict):
        svc.register("carol", "other@example.com", PASSWORD)
    with pytest.raises(Conflict):
        svc.create_admin("carol", "other@example.com", PASSWORD)


def test_create_admin(svc):
    user = svc.create_admin("boss", "boss@example.com", PASSWORD)
    assert user.is_admin is True
    assert svc.profile(svc.login("boss", PASSWORD)).is_admin is True


def test_create_admin_validates(svc):
    with pytest.raises(ValidationError):
        svc.create_admin("b", "boss@example.com", PASSWORD)
    with pytest.raises(ValidationError):
        svc.create_admin("boss", "boss@example.com", "short")


# --------------------------------------------------------------------------------------- login / out


def test_login_returns_distinct_random_tokens(svc):
    svc.register("carol", "c@example.com", PASSWORD)
    t1, t2 = svc.login("carol", PASSWORD), svc.login("carol", PASSWORD)
    assert isinstance(t1, str) and len(t1) >= 32
    assert t1 != t2
    assert svc.profile(t1).username == svc.profile(t2).username == "carol"


def test_wrong_password_and_unknown_user_same_message(svc):
    svc.register("carol", "c@example.com", PASSWORD)
    with pytest.raises(AuthenticationError) as wrong:
        svc.login("carol", "not-the-password")
    with pytest.raises(AuthenticationError) as unknown:
        svc.login("nobody", "not-the-password")
    assert str(wrong.value) == str(unknown.value)
    with pytest.raises(AuthenticationError) as malformed:
        svc.login("x", "whatever1")
    assert str(malformed.value) == str(wrong.value)


@pytest.mark.parametrize("token", ["", "nonsense", None, 42, "x" * 600])
def test_bad_token_is_authentication_error(svc, token):
    with pytest.raises(AuthenticationError):
        svc.profile(token)


def test_logout_kills_the_session_only(svc):
    svc.register("carol", "c@example.com", PASSWORD)
    t1, t2 = svc.login("carol", PASSWORD), svc.login("carol", PASSWORD)
    svc.logout(t1)
    with pytest.raises(AuthenticationError):
        svc.profile(t1)
    with pytest.raises(AuthenticationError):
        svc.logout(t1)
    assert svc.profile(t2).username == "carol"


def test_session_expires_after_12_hours(svc, clock):
    svc.register("carol", "c@example.com", PASSWORD)
    token = svc.login("carol", PASSWORD)
    clock.advance(hours=12, seconds=-1)
    assert svc.profile(token).username == "carol"
    clock.advance(seconds=1)
    with pytest.raises(AuthenticationError) as exc:
        svc.profile(token)
    assert "expired" in str(exc.value)


def test_session_persists_across_processes(svc, open_svc):
    svc.register("carol", "c@example.com", PASSWORD)
    token = svc.login("carol", PASSWORD)
    other = open_svc()
    assert other.profile(token).username == "carol"
    other.logout(token)
    with pytest.raises(AuthenticationError):
        svc.profile(token)


def test_session_ttl_option(open_svc, clock):
    svc = open_svc(session_ttl=timedelta(minutes=10))
    svc.register("carol", "c@example.com", PASSWORD)
    token = svc.login("carol", PASSWORD)
    clock.advance(minutes=10)
    with pytest.raises(AuthenticationError):
        svc.profile(token)


# ---------------------------------------------------------------------------------------- lockout


def _fail(svc, username, n):
    for _ in range(n):
        with pytest.raises(AuthenticationError):
            svc.login(username, "wrong-password")


def test_five_failures_lock_for_five_minutes(svc, clock):
    svc.register("carol", "c@example.com", PASSWORD)
    _fail(svc, "carol", 4)
    assert svc.login("carol", PASSWORD)  # a success resets the counter
    _fail(svc, "carol", 4)
    with pytest.raises(AuthenticationError) as fifth:
        svc.login("carol", "wrong-password")
    assert "locked" in str(fifth.value)
    # Now even the right password is refused...
    with pytest.raises(AuthenticationError) as locked:
        svc.login("carol", PASSWORD)
    assert "Try again" in str(locked.value)
    clock.advance(minutes=5, seconds=-1)
    with pytest.raises(AuthenticationError):
        svc.login("carol", PASSWORD)
    # ...until five minutes have passed.
    clock.advance(seconds=1)
    assert svc.profile(svc.login("carol", PASSWORD)).username == "carol"


def test_unknown_username_also_locks(svc):
    _fail(svc, "ghost", 5)
    with pytest.raises(AuthenticationError) as exc:
        svc.login("ghost", "wrong-password")
    assert "Try again" in str(exc.value)


def test_lockout_persists_across_fresh_open(svc, open_svc, clock):
    svc.register("carol", "c@example.com", PASSWORD)
    _fail(svc, "carol", 3)
    other = open_svc()
    _fail(other, "carol", 2)  # the counter is shared: this makes five
    fresh = open_svc()
    with pytest.raises(AuthenticationError) as exc:
        fresh.login("carol", PASSWORD)
    assert "Try again" in str(exc.value)
    clock.advance(minutes=5)
    assert open_svc().login("carol", PASSWORD)


def test_lockout_does_not_touch_other_users(svc):
    svc.register("carol", "c@example.com", PASSWORD)
    svc.register("dave", "d@example.com", PASSWORD)
    _fail(svc, "carol", 5)
    assert svc.login("dave", PASSWORD)


# ---------------------------------------------------------------------------------- hashes on disk


def _all_bytes(db_path) -> bytes:
    files = data_files(db_path)
    assert files, "no data files written"
    return b"".join(p.read_bytes() for p in files)


def test_passwords_only_as_argon2id_hashes(svc, db_path):
    secret = "Sup3r-Secret-Passphrase"
    svc.register("carol", "c@example.com", secret)
    svc.create_admin("boss", "b@example.com", secret + "2")
    svc.login("carol", secret)
    users_file = db_path.with_name("parking.users.json")
    raw = users_file.read_text()
    assert raw.count("$argon2id$") == 2
    blob = _all_bytes(db_path)
    assert secret.encode() not in blob
    assert (secret + "2").encode() not in blob


def test_tokens_stored_hashed(svc, db_path):
    svc.register("carol", "c@example.com", PASSWORD)
    tokens = [svc.login("carol", PASSWORD) for _ in range(3)]
    blob = _all_bytes(db_path)
    for token in tokens:
        assert token.encode() not in blob
    assert b"token_hash" in blob  # the sessions are there, only hashed


def test_default_hasher_at_least_library_defaults(tmp_path, clock):
    svc = parking_tui.open_service(tmp_path / "parking.json", clock=clock)
    svc.register("carol", "c@example.com", PASSWORD)
    stored = (tmp_path / "parking.users.json").read_text()
    start = stored.index("$argon2id$")
    stored_hash = stored[start : stored.index('"', start)]
    params = argon2.extract_parameters(stored_hash)
    lib = argon2.PasswordHasher()
    assert params.type is argon2.Type.ID
    assert params.time_cost >= lib.time_cost
    assert params.memory_cost >= lib.memory_cost
    assert params.parallelism >= lib.parallelism
    assert svc.login("carol", PASSWORD)


def test_weak_hash_is_upgraded_on_login(db_path, clock):
    """A hash made with weaker parameters is replaced on the next successful sign-in."""
    weak = parking_tui.open_service(db_path, clock=clock, password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    weak.register("carol", "c@example.com", PASSWORD)
    strong_hasher = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    strong = parking_tui.open_service(db_path, clock=clock, password_hasher=strong_hasher)
    strong.login("carol", PASSWORD)
    text = db_path.with_name("parking.users.json").read_text()
    assert "m=16,t=2,p=1" in text
    assert strong.login("carol", PASSWORD)


# ------------------------------------------------------------------------------- profile and roles


def test_update_profile(svc):
    token = make_user(svc, "carol")
    p = svc.update_profile(token, email="new@example.com")
    assert p.email == "new@example.com"
    assert p.phone_number == ""
    p = svc.update_profile(token, phone_number="+1 555 0100")
    assert (p.email, p.phone_number) == ("new@example.com", "+1 555 0100")
    assert svc.profile(token).email == "new@example.com"


def test_update_profile_errors(svc):
    token = make_user(svc, "carol")
    with pytest.raises(ValidationError):
        svc.update_profile(token, email="not-an-email")
    with pytest.raises(ValidationError):
        svc.update_profile(token, phone_number="abc")
    with pytest.raises(AuthenticationError):
        svc.update_profile("bogus", email="x@example.com")
    assert svc.profile(token).email == "carol@example.com"


def test_set_admin(svc):
    admin = make_user(svc, "boss", admin=True)
    carol = make_user(svc, "carol")
    with pytest.raises(PermissionDenied):
        svc.set_admin(carol, "carol", True)
    with pytest.raises(NotFound):
        svc.set_admin(admin, "nobody", True)
    with pytest.raises(Conflict):
        svc.set_admin(admin, "boss", False)  # nobody removes their own admin role
    with pytest.raises(ValidationError):
        svc.set_admin(admin, "carol", "yes")  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError):
        svc.set_admin("bogus", "carol", True)
    assert svc.profile(carol).is_admin is False
    assert svc.set_admin(admin, "carol", True).is_admin is True
    assert svc.profile(carol).is_admin is True  # the existing session sees the new role
    assert svc.set_admin(carol, "boss", False).is_admin is False  # the new admin demotes the old one
    assert svc.profile(admin).is_admin is False
    with pytest.raises(PermissionDenied):
        svc.set_admin(admin, "carol", False)


def test_list_users_admin_only(svc):
    admin = make_user(svc, "boss", admin=True)
    carol = make_user(svc, "carol")
    assert [u.username for u in svc.list_users(admin)] == ["boss", "carol"]
    with pytest.raises(PermissionDenied):
        svc.list_users(carol)


# ------------------------------------------------------------------------------------------ pinned one by one
# Each refusal with its field and words, each audit event with its details, each change seen by the next call:
# written against the mutants of domain/accounts.py the tests above let through (docs/testing.md).

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


# ------------------------------------------------------------------------------------------ edges, one by one


class _HookedHasher(argon2.PasswordHasher):
    """The tests' cheap argon2id, which runs ``before_return`` once, the next time it has hashed a password:
    the moment between a password change's check (outside the lock) and its write."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.before_return = None

    def hash(self, password, **kwargs):
        hashed = super().hash(password, **kwargs)
        hook, self.before_return = self.before_return, None
        if hook is not None:
            hook()
        return hashed


def test_change_password_refuses_when_the_stored_hash_changed_meanwhile(open_svc):
    hasher = _HookedHasher()
    svc = open_svc(password_hasher=hasher)
    svc.create_admin("boss", "boss@example.com", PASSWORD)
    admin = svc.login("boss", PASSWORD)
    svc.register("carol", "carol@example.com", PASSWORD)
    carol = svc.login("carol", PASSWORD)
    # Another process with stronger argon2 parameters signs carol in: it re-hashes her password (same password,
    # new hash) without ending her sessions. It does so after this change checked the old hash, before it writes.
    other = open_svc(password_hasher=argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))
    hasher.before_return = lambda: other.login("carol", PASSWORD)
    with pytest.raises(Conflict) as caught:
        svc.change_password(carol, PASSWORD, NEW)
    assert (str(caught.value), caught.value.field) == ("The password was changed meanwhile; try again.", "old_password")
    assert hasher.before_return is None  # the other sign-in did happen in between
    assert svc.profile(carol).user == "carol"  # this session is kept, and nothing was written
    assert _events(svc, admin, "change_password") == []
    with pytest.raises(AuthenticationError):
        svc.login("carol", NEW)
    assert svc.login("carol", PASSWORD)
    svc.change_password(carol, PASSWORD, NEW)  # tried again, on the hash as it is now: taken
    assert svc.login("carol", NEW)


def test_a_locked_sign_in_says_how_many_minutes_are_left_rounded_up(people, clock):
    svc, admin, carol = people
    for _ in range(accounts.LOCKOUT_THRESHOLD):
        with pytest.raises(AuthenticationError):
            svc.login("carol", "wrong-password")
    locked_at = clock.now  # locked for 5 minutes from here

    def refusal() -> str:
        with pytest.raises(AuthenticationError) as caught:
            svc.login("carol", PASSWORD)
        return str(caught.value)

    assert refusal() == "Too many failed sign-ins. Try again in 5 minutes."
    clock.set(locked_at + timedelta(minutes=1, seconds=30))  # 3 min 30 s left
    assert refusal() == "Too many failed sign-ins. Try again in 4 minutes."
    clock.set(locked_at + timedelta(minutes=3, seconds=59))  # 61 s left
    assert refusal() == "Too many failed sign-ins. Try again in 2 minutes."
    clock.set(locked_at + timedelta(minutes=4))  # 60 s left
    assert refusal() == "Too many failed sign-ins. Try again in 1 minute."
    clock.set(locked_at + timedelta(minutes=5) - timedelta(microseconds=1))
    assert refusal() == "Too many failed sign-ins. Try again in 1 minute."
    clock.set(locked_at + timedelta(minutes=5))
    assert svc.login("carol", PASSWORD)


def _fail_as(svc, *names):
    for name in names:
        with pytest.raises(AuthenticationError):
            svc.login(name, "wrong-password")


def _states(svc) -> list[str]:
    with svc.store.unit_of_work() as uow:  # left without commit: read only
        return sorted(s.username for s in uow.login_states.all())


def test_sign_in_states_exactly_at_the_bound_are_all_kept(people, clock, monkeypatch):
    svc, admin, carol = people
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 2)
    _fail_as(svc, "old")
    clock.advance(accounts.FAILURE_WINDOW + timedelta(minutes=1))  # "old" no longer matters, but
    _fail_as(svc, "new1")  # two states are not over a bound of two: nothing is forgotten
    assert _states(svc) == ["new1", "old"]


def test_a_lock_ending_exactly_now_is_forgotten_before_any_recent_failure(people, clock, monkeypatch):
    svc, admin, carol = people
    _fail_as(svc, *["carol"] * accounts.LOCKOUT_THRESHOLD)  # locked until now + 5 minutes
    lock_ends = clock.now + accounts.LOCKOUT_DURATION
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 2)
    clock.advance(minutes=1)
    _fail_as(svc, "ghost1")
    clock.set(lock_ends)
    _fail_as(svc, "ghost2")  # three states: carol's lock (over now), ghost1's older failure, ghost2's
    assert _states(svc) == ["ghost1", "ghost2"]


def test_a_failure_exactly_a_window_old_is_stale(people, clock, monkeypatch):
    svc, admin, carol = people
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 2)
    _fail_as(svc, "old1", "old2")
    clock.advance(accounts.FAILURE_WINDOW)
    _fail_as(svc, "new1")  # one over the bound, but both old failures are exactly a window old: both go
    assert _states(svc) == ["new1"]


def test_every_stale_state_is_forgotten_not_only_the_excess(people, clock, monkeypatch):
    svc, admin, carol = people
    monkeypatch.setattr(accounts, "MAX_LOGIN_STATES", 3)
    _fail_as(svc, "old1", "old2", "old3")
    clock.advance(accounts.FAILURE_WINDOW + timedelta(seconds=1))
    _fail_as(svc, "new1")  # one over the bound, three stale: all three go
    assert _states(svc) == ["new1"]
