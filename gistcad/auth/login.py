"""The login check: password, disabled accounts, and lockout after repeated failures.

:func:`authenticate` never raises for a refused login: it returns a :class:`LoginOutcome`
whose message is safe to show (a wrong user name and a wrong password read the same), and
leaves the audit rows and counters in the caller's session, so that they are committed even
when the login fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gistcad.auth import passwords
from gistcad.config import LoginPolicy
from gistcad.errors import ValidationError
from gistcad.store import audit
from gistcad.store.accounts import as_utc, find_user, scope_of
from gistcad.store.models import User
from gistcad.store.scope import AccessScope

WRONG_CREDENTIALS = "Unknown user name or wrong password."


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    message: str
    scope: AccessScope | None = None
    must_change_password: bool = False


def authenticate(
    session: Session,
    name: str,
    password: str,
    policy: LoginPolicy,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Check ``name``/``password``; count failures and lock the account after too many."""
    now = now or dt.datetime.now(dt.UTC)
    name = name.strip().lower()
    user = find_user(session, name) if name else None
    if user is None:
        passwords.verify(None, password)  # same cost as a real check
        audit.record(session, name or "(empty)", "login.failed", detail={"reason": "unknown"})
        return LoginOutcome(False, WRONG_CREDENTIALS)
    locked = as_utc(user.locked_until)
    if locked is not None and locked > now:
        audit.record(session, name, "login.locked", target_kind="user", target=name)
        return LoginOutcome(False, _locked_message(locked, now))
    if not passwords.verify(user.password_hash, password):
        return _failure(session, user, policy, now)
    if user.disabled:
        audit.record(session, name, "login.disabled", target_kind="user", target=name)
        return LoginOutcome(False, "This account is disabled; ask an administrator.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record(session, name, "login.ok", target_kind="user", target=name)
    return LoginOutcome(True, f"Signed in as {name}.", scope_of(user), user.must_change_password)


def _failure(session: Session, user: User, policy: LoginPolicy, now: dt.datetime) -> LoginOutcome:
    user.failed_logins += 1
    if user.failed_logins < policy.max_failures:
        audit.record(
            session,
            user.name,
            "login.failed",
            target_kind="user",
            target=user.name,
            detail={"reason": "password", "failures": user.failed_logins},
        )
        return LoginOutcome(False, WRONG_CREDENTIALS)
    user.failed_logins = 0
    user.locked_until = now + policy.lockout
    audit.record(
        session,
        user.name,
        "login.locked",
        target_kind="user",
        target=user.name,
        detail={"reason": f"{policy.max_failures} failed logins", "until": f"{now:%H:%M}"},
    )
    return LoginOutcome(False, _locked_message(user.locked_until, now))


def _locked_message(until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, round((until - now).total_seconds() / 60))
    return (
        f"Too many failed sign-ins: this account is locked for {minutes} more minute(s) "
        f"(until {until:%H:%M} UTC). Try again then, or ask an administrator to reset it."
    )


def change_password(
    session: Session, name: str, old_password: str, new_password: str, repeat: str
) -> None:
    """A signed-in user replaces their password (the old one must be given again)."""
    user = find_user(session, name)
    if user is None or user.disabled:
        raise ValidationError("this account no longer exists or is disabled")
    if not passwords.verify(user.password_hash, old_password):
        raise ValidationError("the current password is wrong")
    if new_password != repeat:
        raise ValidationError("the two new passwords differ")
    if new_password == old_password:
        raise ValidationError("the new password must differ from the current one")
    passwords.check_rules(new_password, name)
    set_password(user, new_password, must_change=False)
    audit.record(session, name, "password.change", target_kind="user", target=name)


def set_password(user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = dt.datetime.now(dt.UTC)
    user.failed_logins = 0
    user.locked_until = None
