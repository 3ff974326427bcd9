"""Accounts and sign-in: register, sign in and out (with lockout), profiles, passwords, the admin role."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from . import rules
from .context import Context, hash_token, require_admin, user_value
from .errors import AuthenticationError, Conflict, NotFound, ParkingError, ValidationError
from .models import Profile, User
from .ports import LoginStateRow, ReadView, SessionRow, UnitOfWork, UserRow

SESSION_TTL = timedelta(hours=12)
LOCKOUT_THRESHOLD = 5
LOCKOUT_DURATION = timedelta(minutes=5)
FAILURE_WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
MAX_LOGIN_STATES = 1000  # failed-sign-in records kept at most (the oldest are forgotten first)
BAD_LOGIN = "Wrong username or password."


def check_username_free(view: ReadView, username: str) -> None:
    """Usernames are unique ignoring case: ``Bob`` and ``bob`` would be one person at the barrier."""
    if view.users.get(username) is not None:
        raise Conflict(f"The username {username!r} is taken; choose another.", field="username")


def check_email_free(view: ReadView, email: str, *, exclude: str | None = None) -> None:
    """E-mail addresses are unique ignoring case (one person, one account)."""
    other = view.users.by_email(email)
    if other is not None and other.username != exclude:
        raise Conflict(f"The e-mail address {email} is already used by another account.", field="email")


def check_lockout(state: LoginStateRow | None, now: datetime) -> None:
    if state is None or state.locked_until is None:
        return
    until = state.locked_until
    if until > now:
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        raise AuthenticationError(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def bound_login_states(uow: UnitOfWork, now: datetime) -> None:
    """Failed sign-ins are kept per username, made-up ones too (so a lockout says nothing about which accounts
    exist). Garbage input must not grow the data: forget states that no longer matter, and keep at most
    ``MAX_LOGIN_STATES``, dropping the oldest."""
    if uow.login_states.count() <= MAX_LOGIN_STATES:
        return
    states = uow.login_states.all()

    def latest(state: LoginStateRow) -> datetime:
        present = [t for t in (state.last_failure, state.locked_until) if t is not None]
        return max(present, default=datetime.min.replace(tzinfo=now.tzinfo))

    def stale(state: LoginStateRow) -> bool:
        locked, last = state.locked_until, state.last_failure
        return (locked is None or locked <= now) and (last is None or now - last >= FAILURE_WINDOW)

    keep = sorted((st for st in states if not stale(st)), key=latest)
    drop = [st.username for st in states if stale(st)]
    drop += [st.username for st in keep[: max(0, len(keep) - MAX_LOGIN_STATES)]]
    uow.login_states.forget(drop)


class Accounts:
    """The account use cases over one :class:`~parking_tui.domain.context.Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._dummy_hash: str | None = None

    def create_user(
        self, username: str, email: str, password: str, phone_number: str, *, is_admin: bool
    ) -> User:
        ctx = self.ctx
        username = rules.validate_username(username)
        email = rules.validate_email(email)
        password = rules.validate_password(password)
        phone = rules.validate_phone(phone_number)
        with ctx.store.view() as view:
            check_username_free(view, username)
            check_email_free(view, email)
        hashed = ctx.hasher.hash(password)  # slow on purpose: outside the lock
        now = ctx.now()
        row = UserRow(
            username=username, email=email, password_hash=hashed, phone_number=phone, is_admin=is_admin,
            created_at=now,
        )
        with ctx.store.unit_of_work() as uow:
            check_username_free(uow, username)
            check_email_free(uow, email)
            uow.users.add(row)
            ctx.audit(uow, now, username, "create_admin" if is_admin else "register", target=username)
            uow.commit()
        return user_value(row)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.ctx.hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def login(self, username: str, password: str) -> str:
        """Check the password and return a new session token. Five failures lock the username for 5 minutes."""
        ctx = self.ctx
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationError(BAD_LOGIN)
        username = username.strip()
        if not rules.USERNAME_RE.fullmatch(username) or len(password) > rules.MAX_PASSWORD:
            raise AuthenticationError(BAD_LOGIN)
        now = ctx.now()
        with ctx.store.view() as view:
            # Sign-in ignores case, as usernames are unique ignoring it.
            user = view.users.get(username)
            if user is not None:
                username = user.username
            check_lockout(view.login_states.get(username), now)
        stored = user.password_hash if user is not None else self._dummy()
        try:
            ok = ctx.hasher.verify(stored, password) and user is not None
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if ok and user is not None and not user.active:
            raise AuthenticationError("This account has been disabled; ask a lot manager.")
        token = secrets.token_urlsafe(32)
        failure: ParkingError | None = None
        # A rehash (old argon2 parameters) is computed here, never under the lock; inside the unit of work only
        # the hash is changed, on the user as it is then (an admin may have changed the account meanwhile).
        rehashed = ctx.hasher.hash(password) if ok and ctx.hasher.check_needs_rehash(stored) else None
        with ctx.store.unit_of_work() as uow:
            state = uow.login_states.get(username)
            check_lockout(state, now)
            if not ok:
                last = state.last_failure if state is not None else None
                recent = last is not None and now - last < FAILURE_WINDOW
                failures = (state.failures if state is not None and recent else 0) + 1
                if failures >= LOCKOUT_THRESHOLD:
                    uow.login_states.put(LoginStateRow(username, failures=0, locked_until=now + LOCKOUT_DURATION))
                    ctx.audit(uow, now, username, "login_locked", failures=failures)
                    failure = AuthenticationError(
                        f"Too many failed sign-ins: {username!r} is locked for "
                        f"{int(LOCKOUT_DURATION.total_seconds() // 60)} minutes."
                    )
                else:
                    uow.login_states.put(LoginStateRow(username, failures=failures, last_failure=now))
                    ctx.audit(uow, now, username, "login_failed", failures=failures)
                    failure = AuthenticationError(BAD_LOGIN)
                if state is None:
                    bound_login_states(uow, now)
            else:
                if state is not None:
                    uow.login_states.clear(username)
                uow.sessions.purge_expired(now)
                uow.sessions.add(
                    SessionRow(
                        token_hash=hash_token(token), username=username, created_at=now,
                        expires_at=now + ctx.session_ttl,
                    )
                )
                ctx.audit(uow, now, username, "login")
                current = uow.users.get(username) if rehashed is not None else None
                if current is not None and rehashed is not None and current.password_hash == stored:
                    uow.users.update(replace(current, password_hash=rehashed))
            uow.commit()
        if failure is not None:
            raise failure
        return token

    def logout(self, token: str) -> None:
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.unit_of_work() as uow:
            user = ctx.authenticate(uow, token, now)
            uow.sessions.delete(hash_token(token))
            ctx.audit(uow, now, user.username, "logout")
            uow.commit()

    def profile(self, token: str) -> Profile:
        with self.ctx.store.view() as view:
            user = self.ctx.authenticate(view, token, self.ctx.now())
        return Profile(user=user.username, email=user.email, phone_number=user.phone_number, is_admin=user.is_admin)

    def update_profile(self, token: str, *, email: str | None = None, phone_number: str | None = None) -> Profile:
        ctx = self.ctx
        new_email = rules.validate_email(email) if email is not None else None
        new_phone = rules.validate_phone(phone_number) if phone_number is not None else None
        now = ctx.now()
        with ctx.store.unit_of_work() as uow:
            user = ctx.authenticate(uow, token, now)
            row = uow.users.get(user.username)
            assert row is not None  # authenticate found it
            before = {"email": row.email, "phone_number": row.phone_number}
            if new_email is not None and new_email.casefold() != row.email.casefold():
                check_email_free(uow, new_email, exclude=row.username)
            if new_email is not None:
                row = replace(row, email=new_email)
            if new_phone is not None:
                row = replace(row, phone_number=new_phone)
            uow.users.update(row)
            after = {"email": row.email, "phone_number": row.phone_number}
            ctx.audit(uow, now, user.username, "update_profile", before=before, after=after)
            uow.commit()
        return Profile(user=row.username, email=row.email, phone_number=row.phone_number, is_admin=row.is_admin)

    def set_admin(self, token: str, username: str, is_admin: bool) -> User:
        ctx = self.ctx
        now = ctx.now()
        if not isinstance(is_admin, bool):
            raise ValidationError("is_admin must be true or false.")
        with ctx.store.unit_of_work() as uow:
            actor = ctx.admin(uow, token, now)
            row = uow.users.get(rules.validate_username(username))
            if row is None:
                raise NotFound(f"No user {username!r}.", field="username")
            if row.username == actor.username and not is_admin:
                raise Conflict("You cannot remove your own admin role.")
            before = row.is_admin
            row = replace(row, is_admin=is_admin)
            uow.users.update(row)
            ctx.audit(uow, now, actor.username, "set_admin", target=row.username, before=before, after=is_admin)
            uow.commit()
        return user_value(row)

    def change_password(self, token: str, old: str, new: str) -> None:
        ctx = self.ctx
        new = rules.validate_password(new)
        now = ctx.now()
        with ctx.store.view() as view:
            user = ctx.authenticate(view, token, now)
            found = view.users.get(user.username)
            stored = found.password_hash if found is not None else ""
        try:
            ok = isinstance(old, str) and ctx.hasher.verify(stored, old)
        except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
            ok = False
        if not ok:
            raise ValidationError("The current password is wrong.", field="old_password")
        if new == old:
            raise ValidationError("The new password must differ from the current one.", field="password")
        hashed = ctx.hasher.hash(new)
        with ctx.store.unit_of_work() as uow:
            user = ctx.authenticate(uow, token, now)
            row = uow.users.get(user.username)
            if row is None or row.password_hash != stored:
                raise Conflict("The password was changed meanwhile; try again.", field="old_password")
            uow.users.update(replace(row, password_hash=hashed, password_changed_at=now))
            ended = uow.sessions.delete_for(row.username, keep=hash_token(token))
            ctx.audit(uow, now, user.username, "change_password", sessions_ended=ended)
            uow.commit()

    def set_user_active(self, token: str, username: str, active: bool) -> User:
        ctx = self.ctx
        if not isinstance(active, bool):
            raise ValidationError("active must be true or false.", field="active")
        name = rules.validate_username(username)
        now = ctx.now()
        with ctx.store.unit_of_work() as uow:
            actor = ctx.admin(uow, token, now)
            row = uow.users.get(name)
            if row is None:
                raise NotFound(f"No user {name!r}.", field="username")
            if row.username == actor.username and not active:
                raise Conflict("You cannot disable your own account.", field="username")
            before = row.active
            row = replace(row, active=active)
            uow.users.update(row)
            if not active:
                uow.sessions.delete_for(row.username)
            ctx.audit(uow, now, actor.username, "set_user_active", target=row.username, before=before, after=active)
            uow.commit()
        return user_value(row)

    def list_users(self, token: str) -> list[User]:
        with self.ctx.store.view() as view:
            require_admin(self.ctx.authenticate(view, token, self.ctx.now()))
            return sorted((user_value(r) for r in view.users.all()), key=lambda u: u.username)
