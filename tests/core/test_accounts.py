"""Accounts and security: registration rules, sessions, lockout, hashing, roles."""

from __future__ import annotations

from datetime import timedelta

import argon2
import pytest

import parking_tui
from parking_tui.domain import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError

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
