"""The login check on both databases: success, failures, lockout, disabled accounts, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.auth.login import WRONG_CREDENTIALS, authenticate, change_password
from gistcad.auth.manage import add_account, reset_password, set_disabled
from gistcad.config import LoginPolicy
from gistcad.domain import Role
from gistcad.errors import AccessDenied, ValidationError
from gistcad.store import AccessScope
from gistcad.store.accounts import RoleCentersError
from gistcad.store.models import AuditEvent, User
from tests.conftest import BACKENDS
from tests.factories import add_center

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)

POLICY = LoginPolicy(max_failures=3, lockout=dt.timedelta(minutes=10))
T0 = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
PASSWORD = "tumour-board-42"


@pytest.fixture
def accounts(engine: Engine) -> Engine:
    with Session(engine) as s:
        add_center(s, "Alpha")
        add_center(s, "Beta")
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], PASSWORD)
        add_account(s, operator, "root", Role.ADMIN, [], "admin-password-1")
        s.commit()
    return engine


def _login(engine: Engine, name: str, password: str, at: dt.datetime = T0):  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        outcome = authenticate(s, name, password, POLICY, now=at)
        s.commit()
    return outcome


def _actions(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.action).order_by(AuditEvent.id))
        return [(a, b) for a, b in rows if not b.startswith("user.")]


def test_success_gives_the_accounts_scope(accounts: Engine) -> None:
    outcome = _login(accounts, " Alice ", PASSWORD)
    assert outcome.ok and outcome.scope is not None
    assert outcome.scope.user == "alice" and outcome.scope.role is Role.PI
    with Session(accounts) as s:
        alpha = s.scalar(select(User).where(User.name == "alice")).centers[0].id  # type: ignore[union-attr]
    assert outcome.scope.center_ids == frozenset({alpha})
    admin = _login(accounts, "root", "admin-password-1")
    assert admin.scope is not None and admin.scope.is_unrestricted
    assert _actions(accounts) == [("alice", "login.ok"), ("root", "login.ok")]


def test_wrong_password_and_unknown_user_read_the_same(accounts: Engine) -> None:
    wrong = _login(accounts, "alice", "not-the-password")
    unknown = _login(accounts, "mallory", "not-the-password")
    assert not wrong.ok and not unknown.ok
    assert wrong.message == unknown.message == WRONG_CREDENTIALS
    assert _actions(accounts) == [("alice", "login.failed"), ("mallory", "login.failed")]


def test_lockout_after_repeated_failures_then_expiry(accounts: Engine) -> None:
    for i in range(POLICY.max_failures - 1):
        assert _login(accounts, "alice", f"bad-{i}", T0).message == WRONG_CREDENTIALS
    locked = _login(accounts, "alice", "bad-last", T0)
    assert "locked for 10 more minute(s)" in locked.message
    # while locked even the right password is refused, and is not even checked
    still = _login(accounts, "alice", PASSWORD, T0 + dt.timedelta(minutes=9))
    assert not still.ok and "locked" in still.message
    later = _login(accounts, "alice", PASSWORD, T0 + dt.timedelta(minutes=11))
    assert later.ok
    actions = [a for _, a in _actions(accounts)]
    assert actions == ["login.failed", "login.failed", "login.locked", "login.locked", "login.ok"]
    with Session(accounts) as s:
        alice = s.scalar(select(User).where(User.name == "alice"))
        assert alice is not None and alice.failed_logins == 0 and alice.locked_until is None


def test_a_reset_lifts_the_lock_and_forces_a_new_password(accounts: Engine) -> None:
    for i in range(POLICY.max_failures):
        _login(accounts, "alice", f"bad-{i}")
    with Session(accounts) as s:
        temporary = reset_password(s, AccessScope.everything(), "alice")
        s.commit()
    assert temporary is not None
    outcome = _login(accounts, "alice", temporary, T0 + dt.timedelta(minutes=1))
    assert outcome.ok and outcome.must_change_password
    with Session(accounts) as s:
        with pytest.raises(ValidationError, match="current password is wrong"):
            change_password(s, "alice", "wrong", "a-new-secret-9", "a-new-secret-9")
        with pytest.raises(ValidationError, match="differ"):
            change_password(s, "alice", temporary, "a-new-secret-9", "a-new-secret-8")
        change_password(s, "alice", temporary, "a-new-secret-9", "a-new-secret-9")
        s.commit()
    again = _login(accounts, "alice", "a-new-secret-9", T0 + dt.timedelta(minutes=2))
    assert again.ok and not again.must_change_password


def test_disabled_accounts_are_refused_only_after_the_right_password(accounts: Engine) -> None:
    with Session(accounts) as s:
        set_disabled(s, AccessScope.everything(), "alice", True)
        s.commit()
    assert _login(accounts, "alice", "wrong-password").message == WRONG_CREDENTIALS
    assert "disabled" in _login(accounts, "alice", PASSWORD).message
    with Session(accounts) as s:
        set_disabled(s, AccessScope.everything(), "alice", False)
        s.commit()
    assert _login(accounts, "alice", PASSWORD).ok


def test_only_admins_manage_accounts(accounts: Engine) -> None:
    pi = _login(accounts, "alice", PASSWORD).scope
    assert pi is not None
    with Session(accounts) as s, pytest.raises(AccessDenied, match="may not manage users"):
        add_account(s, pi, "eve", Role.ADMIN, [])
    with Session(accounts) as s, pytest.raises(ValidationError, match="unknown center"):
        add_account(s, AccessScope.everything(), "bob", Role.CLINICIAN, ["Gamma"])
    with Session(accounts) as s, pytest.raises(RoleCentersError, match="takes no list") as info:
        add_account(s, AccessScope.everything(), "bob", Role.ADMIN, ["Alpha"])
    assert isinstance(info.value, ValidationError) and not info.value.needs_centers
    assert "--centers" not in str(info.value)  # the store names no option of the CLI
    with Session(accounts) as s, pytest.raises(RoleCentersError, match="none was given") as info:
        add_account(s, AccessScope.everything(), "bob", Role.PI, [])
    assert info.value.needs_centers
    with Session(accounts) as s, pytest.raises(ValidationError, match="exists already"):
        add_account(s, AccessScope.everything(), "alice", Role.PI, ["Beta"])
    with Session(accounts) as s, pytest.raises(ValidationError, match="is not allowed"):
        add_account(s, AccessScope.everything(), "Bad Name", Role.PI, ["Beta"])
