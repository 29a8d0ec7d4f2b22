"""The audit trail: append-only in the database itself, filtered reads for admins only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gistcad.domain import Role
from gistcad.errors import AccessDenied
from gistcad.store import AccessScope, audit
from gistcad.store.audit import AuditFilter, audit_events
from gistcad.store.models import AuditEvent
from tests.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


def _seed(engine: Engine) -> None:
    with Session(engine) as s:
        audit.record(s, "alice", "login.ok", target_kind="user", target="alice")
        audit.record(s, "alice", "case.view", target_kind="patient", target="GIST-1")
        audit.record(s, "bob", "login.failed", detail={"reason": "password"})
        audit.record(s, "root", "export", target_kind="export", target="cohort table")
        s.commit()


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEvent).values(actor="nobody"),
        delete(AuditEvent),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(engine: Engine, statement) -> None:  # type: ignore[no-untyped-def]
    _seed(engine)
    with Session(engine) as s, pytest.raises(DBAPIError, match="append-only"):
        s.execute(statement)
        s.flush()
    with Session(engine) as s:
        assert s.scalar(select(AuditEvent.actor).where(AuditEvent.target == "GIST-1")) == "alice"
        assert len(s.scalars(select(AuditEvent)).all()) == 4


def test_raw_sql_is_refused_too(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("DELETE FROM audit_events WHERE actor = 'bob'"))


def test_filters_and_newest_first(engine: Engine) -> None:
    _seed(engine)
    admin = AccessScope.everything(user="root")
    with Session(engine) as s:
        every = audit_events(s, admin, AuditFilter())
        assert list(every["action"]) == ["export", "login.failed", "case.view", "login.ok"]
        logins = audit_events(s, admin, AuditFilter(action="login"))
        assert sorted(logins["action"]) == ["login.failed", "login.ok"]
        alice = audit_events(s, admin, AuditFilter(actor="alice", target="GIST-1"))
        assert list(alice["action"]) == ["case.view"]
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert audit_events(s, admin, AuditFilter(since=tomorrow)).empty
        assert len(audit_events(s, admin, AuditFilter(until=tomorrow))) == 4


def test_only_admins_read_the_trail(engine: Engine) -> None:
    _seed(engine)
    pi = AccessScope.centers(1, role=Role.PI, user="alice")
    with Session(engine) as s, pytest.raises(AccessDenied, match="may not view audit"):
        audit_events(s, pi, AuditFilter())


def test_unknown_actions_are_a_bug(engine: Engine) -> None:
    with Session(engine) as s, pytest.raises(ValueError, match="unknown audit action"):
        audit.record(s, "alice", "looked around")
