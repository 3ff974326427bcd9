"""Sign-in refuses cheaply what cannot be an account: a username or password that is not text, a username that
no account could have, a password longer than any account's, and a username locked after failed sign-ins. Each
is refused in the same words before any password is verified, and leaves nothing in the audit log."""

from __future__ import annotations

import pytest

from parking_tui.domain import AuthenticationError, ParkingService

from .conftest import PASSWORD, cheap_hasher

WRONG = "Wrong username or password."


class CountingHasher:
    """The test's argon2 hasher, counting the passwords it verifies."""

    def __init__(self) -> None:
        self.inner = cheap_hasher()
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(stored, password)

    def check_needs_rehash(self, stored: str) -> bool:
        return self.inner.check_needs_rehash(stored)


@pytest.fixture
def counted(world, clock):
    hasher = CountingHasher()
    return ParkingService(world.svc.store, clock=clock, password_hasher=hasher), hasher


@pytest.mark.parametrize(
    ("username", "password"),
    [(123, PASSWORD), ("alice", 123), (None, None), ("no such name!", "x"), ("alice", "p" * 257)],
    ids=["number-name", "number-password", "none", "name-no-account-could-have", "password-too-long"],
)
def test_what_cannot_be_an_account_is_refused_in_the_same_words_without_verifying(world, counted, username, password):
    svc, hasher = counted
    before = len(world.svc.audit_log(world.admin, limit=10_000))
    with pytest.raises(AuthenticationError) as refused:
        svc.login(username, password)
    assert str(refused.value) == WRONG
    assert hasher.verified == 0
    assert len(world.svc.audit_log(world.admin, limit=10_000)) == before


def test_a_password_of_exactly_the_longest_length_signs_in(world, counted):
    svc, _ = counted
    longest = "p" * 256
    world.svc.register("dora", "dora@example.org", longest)
    assert svc.login("dora", longest)


def test_a_locked_username_is_refused_before_its_password_is_verified(world, counted):
    svc, hasher = counted
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            svc.login("alice", "wrong-password")
    verified = hasher.verified
    with pytest.raises(AuthenticationError, match="Too many failed sign-ins. Try again in 5 minutes."):
        svc.login("alice", PASSWORD)
    assert hasher.verified == verified
