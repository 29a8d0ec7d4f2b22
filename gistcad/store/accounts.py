"""Dashboard accounts: the SQL side (rows, centers, throttling counters).

The password rules and hashing live in :mod:`gistcad.auth`; this module stores what they
decide. Only administrators (or the operator at the command line, whose scope is
unrestricted) may list or change accounts: every function that does checks the scope.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad.domain import ALL_CENTER_ROLES, Permission, Role
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store.models import Center, User
from gistcad.store.scope import AccessScope

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,79}$")

USER_COLUMNS = ["name", "role", "centers", "status", "last_login_at", "created_at"]

if TYPE_CHECKING:
    import pandas as pd


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; every time this project stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValidationError(
            f"user name {name!r} is not allowed: use 2-80 lower-case letters, digits and "
            "'.', '_', '@', '-', starting with a letter or digit (e.g. 'j.smith')"
        )
    return name


def _centers_by_name(session: Session, names: list[str]) -> list[Center]:
    known = {c.name: c for c in session.scalars(select(Center))}
    missing = [n for n in names if n not in known]
    if missing:
        listed = ", ".join(sorted(known)) or "none yet: import the center's data first"
        raise ValidationError(f"unknown center(s) {', '.join(missing)}; known centers: {listed}")
    return [known[n] for n in names]


class RoleCentersError(ValidationError):
    """A role was given centers it cannot have (admin, all-center roles) or none it needs.

    Attributes
    ----------
    role
        The role asked for.
    needs_centers
        True when the role needs at least one center, False when it takes none.
    """

    def __init__(self, role: Role, *, needs_centers: bool) -> None:
        if needs_centers:
            message = f"role {role.value} sees only the centers it is given, and none was given"
        else:
            message = f"role {role.value} sees every center, so it takes no list of centers"
        super().__init__(message)
        self.role = role
        self.needs_centers = needs_centers


def check_role_centers(role: Role, centers: list[str]) -> None:
    """Raise :class:`RoleCentersError` when ``centers`` do not suit ``role``."""
    if role in ALL_CENTER_ROLES and centers:
        raise RoleCentersError(role, needs_centers=False)
    if role not in ALL_CENTER_ROLES and not centers:
        raise RoleCentersError(role, needs_centers=True)


def add_user(
    session: Session,
    scope: AccessScope,
    name: str,
    role: Role,
    centers: list[str],
    password_hash: str,
    *,
    must_change_password: bool,
) -> User:
    scope.require(Permission.MANAGE_USERS)
    check_name(name)
    check_role_centers(role, centers)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValidationError(f"an account named {name!r} exists already")
    user = User(
        name=name,
        role=role,
        password_hash=password_hash,
        must_change_password=must_change_password,
        centers=_centers_by_name(session, centers),
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, name: str) -> User | None:
    """The account named ``name`` (for the login check; no scope: nothing is shown)."""
    return session.scalar(select(User).where(User.name == name))


def get_user(session: Session, scope: AccessScope, name: str) -> User:
    scope.require(Permission.MANAGE_USERS)
    user = find_user(session, name)
    if user is None:
        raise NotFoundError(f"no account named {name!r}")
    return user


def list_users(session: Session, scope: AccessScope) -> pd.DataFrame:
    scope.require(Permission.MANAGE_USERS)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for user in session.scalars(select(User).order_by(User.name)):
        rows.append(
            [
                user.name,
                user.role.value,
                ", ".join(sorted(c.name for c in user.centers)) or "all",
                account_status(user, now),
                as_utc(user.last_login_at),
                as_utc(user.created_at),
            ]
        )
    import pandas as pd

    return pd.DataFrame(rows, columns=USER_COLUMNS)


def account_status(user: User, now: dt.datetime) -> str:
    if user.disabled:
        return "disabled"
    locked = as_utc(user.locked_until)
    if locked is not None and locked > now:
        return f"locked until {locked:%Y-%m-%d %H:%M} UTC"
    if user.must_change_password:
        return "active (must set a new password)"
    return "active"


def count_active_admins(session: Session) -> int:
    stmt = select(func.count(User.id)).where(User.role == Role.ADMIN, User.disabled.is_(False))
    return int(session.scalar(stmt) or 0)


def scope_of(user: User) -> AccessScope:
    """The access scope of an account: its role, and its centers unless it sees all."""
    if user.role in ALL_CENTER_ROLES:
        return AccessScope(center_ids=None, role=user.role, user=user.name)
    return AccessScope(
        center_ids=frozenset(c.id for c in user.centers), role=user.role, user=user.name
    )


def center_ids_named(session: Session, names: list[str], *, strict: bool = True) -> frozenset[int]:
    """Center ids of ``names``; unknown names raise, or with ``strict=False`` are left out
    (an identity provider may name a center whose data are not imported yet)."""
    if strict:
        return frozenset(c.id for c in _centers_by_name(session, names))
    stmt = select(Center.id).where(Center.name.in_(names))
    return frozenset(session.scalars(stmt).all())
