"""A dashboard session: who signed in with which scope, when it went idle, and its audit rows.

The login page (``views/access.py``) keeps only the user's name and the time of their last
click; everything it decides with them lives here, as functions of a store session and plain
values, so that the rules are tested without a browser:

- :func:`oidc_scope`: the scope of a person the identity provider signed in;
- :func:`is_idle`: whether a signed-in user has been away longer than the idle timeout;
- :func:`record_sign_in`, :func:`record_refused_sign_in`, :func:`record_sign_out`: the audit
  rows (the local login check, :func:`gistcad.auth.login.authenticate`, writes its own).

Like every store function these take the caller's session and never commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gistcad.auth.oidc import OidcIdentity
from gistcad.domain import ALL_CENTER_ROLES
from gistcad.store import audit
from gistcad.store.accounts import center_ids_named
from gistcad.store.scope import AccessScope


def oidc_scope(session: Session, identity: OidcIdentity) -> AccessScope:
    """What the person the identity provider vouches for may see.

    Roles that see every center get an unrestricted scope; the others see the centers the
    rules gave them that exist in the store (a center whose data are not imported yet is
    left out rather than refused).
    """
    if identity.role in ALL_CENTER_ROLES:
        return AccessScope(center_ids=None, role=identity.role, user=identity.name)
    ids = center_ids_named(session, list(identity.centers), strict=False)
    return AccessScope(center_ids=ids, role=identity.role, user=identity.name)


def is_idle(last_seen: dt.datetime | None, now: dt.datetime, timeout: dt.timedelta) -> bool:
    """True when the last click (``last_seen``, None: none yet) is more than ``timeout`` ago."""
    return last_seen is not None and now - last_seen > timeout


def idle_notice(timeout: dt.timedelta) -> str:
    """What the login form tells a user who was signed out for being idle."""
    minutes = int(timeout.total_seconds() // 60)
    return f"You were signed out after {minutes} minutes without activity."


def record_sign_in(session: Session, name: str) -> None:
    """Audit a sign-in through the identity provider (action ``login.ok``)."""
    audit.record(session, name, "login.ok", target_kind="user", target=name)


def record_refused_sign_in(session: Session, name: str, claim: str) -> None:
    """Audit a person the identity provider signed in but whose ``claim`` gives no role."""
    audit.record(session, name, "login.no_role", detail={"claim": claim})


def record_sign_out(session: Session, name: str, *, idle: bool = False) -> None:
    """Audit a sign-out: by the user (``logout``) or after the idle timeout (``logout.idle``)."""
    action = "logout.idle" if idle else "logout"
    audit.record(session, name, action, target_kind="user", target=name)
