"""A dashboard session without a browser: identity-provider scope, idle timeout, audit rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.auth.oidc import OidcIdentity, identity_from_claims, parse_config
from gistcad.auth.sessions import (
    idle_notice,
    is_idle,
    oidc_scope,
    record_refused_sign_in,
    record_sign_in,
    record_sign_out,
)
from gistcad.domain import Permission, Role
from gistcad.store.models import AuditEvent
from tests.conftest import BACKENDS
from tests.factories import add_center

T0 = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
SECRETS: dict[str, Any] = {
    "gistcad": {
        "oidc": {
            "claim": "groups",
            "rules": [
                {"group": "gist-admins", "role": "admin"},
                {"group": "pi-alpha", "role": "pi", "centers": ["Alpha"]},
                {"group": "pi-gamma", "role": "pi", "centers": ["Gamma"]},
            ],
        }
    }
}


@pytest.fixture
def centers(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        ids = {name: add_center(s, name).id for name in ("Alpha", "Beta")}
        s.commit()
    return ids


def _rows(engine: Engine) -> list[tuple[str, str, str | None, dict[str, Any] | None]]:
    with Session(engine) as s:
        stmt = select(
            AuditEvent.actor, AuditEvent.action, AuditEvent.target, AuditEvent.detail
        ).order_by(AuditEvent.id)
        return [(a, b, c, d) for a, b, c, d in s.execute(stmt)]


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_oidc_scope_of_a_pi_holds_the_ids_of_the_centers_that_exist(
    engine: Engine, centers: dict[str, int]
) -> None:
    config = parse_config(SECRETS)
    claims = {"email": "PI@H.org", "groups": ["pi-alpha", "pi-gamma"]}
    identity = identity_from_claims(claims, config)
    assert identity == OidcIdentity(name="pi@h.org", role=Role.PI, centers=("Alpha", "Gamma"))
    with Session(engine) as s:
        scope = oidc_scope(s, identity)
    # Gamma's data are not imported yet: left out, not refused
    assert scope.center_ids == frozenset({centers["Alpha"]})
    assert scope.role is Role.PI and scope.user == "pi@h.org"
    assert not scope.is_unrestricted
    assert not scope.can(Permission.MANAGE_USERS)


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_oidc_scope_of_an_admin_is_every_center(engine: Engine, centers: dict[str, int]) -> None:
    identity = OidcIdentity(name="root@h.org", role=Role.ADMIN, centers=())
    with Session(engine) as s:
        scope = oidc_scope(s, identity)
    assert scope.is_unrestricted and scope.center_ids is None
    assert scope.can(Permission.MANAGE_USERS) and scope.user == "root@h.org"


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_sign_in_and_out_rows(engine: Engine) -> None:
    with Session(engine) as s:
        record_sign_in(s, "pi@h.org")
        record_refused_sign_in(s, "x@h.org", "groups")
        record_sign_out(s, "pi@h.org")
        record_sign_out(s, "pi@h.org", idle=True)
        s.commit()
    assert _rows(engine) == [
        ("pi@h.org", "login.ok", "pi@h.org", None),
        ("x@h.org", "login.no_role", None, {"claim": "groups"}),
        ("pi@h.org", "logout", "pi@h.org", None),
        ("pi@h.org", "logout.idle", "pi@h.org", None),
    ]


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_the_rows_are_the_callers_to_commit(engine: Engine) -> None:
    with Session(engine) as s:
        record_sign_in(s, "pi@h.org")
        s.rollback()
    assert _rows(engine) == []


def test_idle_only_after_the_timeout() -> None:
    timeout = dt.timedelta(minutes=15)
    assert not is_idle(None, T0, timeout)  # no click yet
    assert not is_idle(T0, T0 + timeout, timeout)  # exactly the timeout: still active
    assert is_idle(T0, T0 + timeout + dt.timedelta(seconds=1), timeout)
    assert not is_idle(T0, T0 + dt.timedelta(minutes=14), timeout)


def test_idle_notice_names_the_minutes() -> None:
    notice = idle_notice(dt.timedelta(minutes=15))
    assert notice == "You were signed out after 15 minutes without activity."
