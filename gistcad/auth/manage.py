"""Account management as the CLI and the admin page both do it: checked, audited.

Each function checks the caller's scope (only administrators, or the operator, manage
accounts), changes the account and appends the audit row in the caller's session.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gistcad.auth import passwords
from gistcad.auth.login import set_password
from gistcad.domain import Role
from gistcad.errors import ValidationError
from gistcad.store import audit
from gistcad.store.accounts import add_user, check_name, get_user
from gistcad.store.scope import AccessScope


def add_account(
    session: Session,
    scope: AccessScope,
    name: str,
    role: Role,
    centers: list[str],
    password: str | None = None,
) -> str | None:
    """Create an account; returns the temporary password when none was given."""
    check_name(name)  # before the password rules: a bad name is the first thing to hear
    temporary = passwords.temporary_password() if password is None else None
    if password is not None:
        passwords.check_rules(password, name)
    add_user(
        session,
        scope,
        name,
        role,
        centers,
        passwords.hash_password(password or temporary or ""),
        must_change_password=temporary is not None,
    )
    audit.record(
        session,
        scope.user,
        "user.add",
        target_kind="user",
        target=name,
        detail={"role": role.value, "centers": centers},
    )
    return temporary


def set_disabled(session: Session, scope: AccessScope, name: str, disabled: bool) -> None:
    """Disable an account (sign-in refused, signed-in sessions end) or enable it again."""
    user = get_user(session, scope, name)
    if disabled and user.name == scope.user:
        raise ValidationError("you cannot disable your own account")
    user.disabled = disabled
    if not disabled:
        user.failed_logins = 0
        user.locked_until = None
    action = "user.disable" if disabled else "user.enable"
    audit.record(session, scope.user, action, target_kind="user", target=name)


def reset_password(
    session: Session, scope: AccessScope, name: str, password: str | None = None
) -> str | None:
    """New password (temporary unless given), lifts a lockout; returns the temporary one."""
    user = get_user(session, scope, name)
    temporary = passwords.temporary_password() if password is None else None
    if password is not None:
        passwords.check_rules(password, name)
    set_password(user, password or temporary or "", must_change=temporary is not None)
    audit.record(session, scope.user, "user.reset", target_kind="user", target=name)
    return temporary
