"""Login, forced password change, lockout, idle timeout, logout and roles, in AppTest."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from gistcad.auth.manage import add_account, set_disabled
from gistcad.domain import Role
from gistcad.store import AccessScope
from gistcad.store.audit import ACTIONS
from gistcad.store.models import AuditEvent
from tests.app.conftest import APP
from tests.factories import seed_cohort

PASSWORDS = {"root": "admin-password-1", "alice": "pi-password-22", "carol": "clinic-pass-33"}


@pytest.fixture
def accounts(app_db: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Local login on; the seeded two-center cohort; an admin, a PI and a clinician of Alpha."""
    monkeypatch.setenv("GISTCAD_AUTH", "local")
    with Session(app_db) as s:
        seed_cohort(s, n=20)
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "root", Role.ADMIN, [], PASSWORDS["root"])
        add_account(s, operator, "alice", Role.PI, ["Alpha"], PASSWORDS["alice"])
        add_account(s, operator, "carol", Role.CLINICIAN, ["Alpha"], PASSWORDS["carol"])
        temporary = add_account(s, operator, "dave", Role.PI, ["Beta"])
        s.commit()
    assert temporary is not None
    return {**PASSWORDS, "dave": temporary}


def sign_in(name: str, password: str, at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.markdown, *at.caption, *at.error, *at.info)]
    return "\n".join(str(p) for p in parts)


def _menu(at: AppTest) -> set[str]:
    return {link.proto.label for link in at.get("page_link")}


def _actions(engine: Engine, actor: str) -> list[str]:
    with Session(engine) as s:
        stmt = select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)
        return list(s.scalars(stmt))


def test_nothing_but_the_login_form_before_signing_in(accounts: dict[str, str]) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.title[0].value == "gistcad — sign in"
    assert not at.metric and not at.dataframe
    assert not _menu(at)


def test_wrong_then_right_password(accounts: dict[str, str], app_db: Engine) -> None:
    at = sign_in("alice", "not-her-password")
    assert at.error[0].value == "Unknown user name or wrong password."
    at = sign_in("alice", accounts["alice"], at)
    assert at.title[0].value == "gistcad — GIST cohort explorer"
    assert "Signed in as **alice** (pi, your centers)" in _texts(at)
    assert at.metric[0].value == "10"  # Alpha's half of the 20 patients
    assert _actions(app_db, "alice") == ["login.failed", "login.ok"]


def test_lockout_after_five_failures(accounts: dict[str, str], app_db: Engine) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    for i in range(5):
        at = sign_in("carol", f"wrong-{i}", at)
    assert "locked for 15 more minute(s)" in at.error[0].value
    at = sign_in("carol", accounts["carol"], at)
    assert "locked" in at.error[0].value
    assert at.title[0].value == "gistcad — sign in"
    assert _actions(app_db, "carol")[-2:] == ["login.locked", "login.locked"]


def test_a_temporary_password_must_be_replaced_first(accounts: dict[str, str]) -> None:
    at = sign_in("dave", accounts["dave"])
    assert at.title[0].value == "Choose your password"
    assert not at.metric
    at.text_input(key="pw_old_forced").input(accounts["dave"])
    at.text_input(key="pw_new_forced").input("my-own-secret-7")
    at.text_input(key="pw_repeat_forced").input("my-own-secret-7")
    at.button(key="pw_submit_forced").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "gistcad — GIST cohort explorer"
    again = sign_in("dave", "my-own-secret-7")
    assert again.title[0].value == "gistcad — GIST cohort explorer"


def test_idle_timeout_signs_out(accounts: dict[str, str], app_db: Engine) -> None:
    at = sign_in("alice", accounts["alice"])
    at.session_state["gistcad_last_seen"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    at.run()
    assert at.title[0].value == "gistcad — sign in"
    assert "signed out after 15 minutes without activity" in _texts(at)
    assert _actions(app_db, "alice")[-1] == "logout.idle"


def test_activity_within_the_timeout_keeps_the_session(accounts: dict[str, str]) -> None:
    at = sign_in("alice", accounts["alice"])
    at.session_state["gistcad_last_seen"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14)
    at.run()
    assert at.title[0].value == "gistcad — GIST cohort explorer"


def test_logout(accounts: dict[str, str], app_db: Engine) -> None:
    at = sign_in("alice", accounts["alice"])
    at.button(key="logout_button").click().run()
    assert at.title[0].value == "gistcad — sign in"
    assert _actions(app_db, "alice")[-1] == "logout"


def test_a_disabled_account_is_signed_out_at_the_next_click(
    accounts: dict[str, str], app_db: Engine
) -> None:
    at = sign_in("alice", accounts["alice"])
    with Session(app_db) as s:
        set_disabled(s, AccessScope.everything(user="root"), "alice", True)
        s.commit()
    at.run()
    assert at.title[0].value == "gistcad — sign in"
    assert "disabled" in _texts(at)


def test_roles_decide_the_menu(accounts: dict[str, str]) -> None:
    clinician = _menu(sign_in("carol", accounts["carol"]))
    assert clinician == {"Home", "Cohort explorer", "Survival", "Treatment response", "Case view"}
    pi = _menu(sign_in("alice", accounts["alice"]))
    assert pi == clinician | {"Model performance", "Biomarkers", "Jobs"}
    admin = _menu(sign_in("root", accounts["root"]))
    assert admin == pi | {"Users and audit", "PACS and upload"}


def test_a_clinician_gets_no_bulk_export(accounts: dict[str, str]) -> None:
    at = sign_in("carol", accounts["carol"])
    at.switch_page("views/cohort.py").run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 10
    assert not [b for b in at.get("download_button") if "cohort" in str(b.proto.label)]
    assert "does not include patient-level exports" in _texts(at)
    pi = sign_in("alice", accounts["alice"])
    pi.switch_page("views/cohort.py").run()
    assert [b for b in pi.get("download_button") if "cohort" in str(b.proto.label)]


def test_opening_a_case_is_audited_once_per_visit(accounts: dict[str, str], app_db: Engine) -> None:
    at = sign_in("carol", accounts["carol"])
    at.query_params["patient"] = "P-000"
    at.switch_page("views/case.py").run()
    assert not at.exception, at.exception
    at.run()  # a redraw is not a new look
    with Session(app_db) as s:
        rows = s.execute(
            select(AuditEvent.target).where(
                AuditEvent.actor == "carol", AuditEvent.action == "case.view"
            )
        ).all()
    assert [r.target for r in rows] == ["P-000"]


def test_admin_page_creates_accounts_and_shows_the_trail(
    accounts: dict[str, str], app_db: Engine
) -> None:
    at = sign_in("root", accounts["root"])
    at.switch_page("views/admin.py").run()
    assert not at.exception, at.exception
    assert set(at.dataframe[0].value["Name"]) == {"root", "alice", "carol", "dave"}
    at.text_input(key="new_user_name").input("erin")
    at.selectbox(key="new_user_role").set_value("clinician")
    at.multiselect(key="new_user_centers").set_value(["Beta"])
    at.button(key="add_user_submit").click().run()
    assert not at.exception, at.exception
    assert any("Temporary password for **erin**" in s.value for s in at.success)
    trail = at.dataframe[-1].value
    assert {ACTIONS["login.ok"], ACTIONS["user.add"]} <= set(trail["What"])
    assert "erin" in set(trail["Which"])


def test_the_workstation_says_so_and_stays_on_localhost(app_db: Engine) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "Single-user workstation: no login" in _texts(at)
    at.switch_page("views/cohort.py").run()
    assert "Single-user workstation: no login" in _texts(at)
    st_config.set_option("server.address", "0.0.0.0")
    try:
        exposed = AppTest.from_file(APP, default_timeout=60)
        exposed.run()
    finally:
        st_config.set_option("server.address", None)
    assert "may only listen on localhost" in exposed.error[0].value
    assert not exposed.metric


OIDC_SECRETS = {
    "auth": {"cookie_secret": "test", "redirect_uri": "http://localhost:8501/oauth2callback"},
    "gistcad": {
        "oidc": {
            "claim": "groups",
            "rules": [
                {"group": "gist-admins", "role": "admin"},
                {"group": "pi-alpha", "role": "pi", "centers": ["Alpha"]},
            ],
        }
    },
}


def _oidc_app(user: dict[str, object]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(OIDC_SECRETS)
    at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def test_oidc_sign_in_maps_groups_to_role_and_centers(
    app_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISTCAD_AUTH", "oidc")
    with Session(app_db) as s:
        seed_cohort(s, n=20)
        s.commit()
    out = _oidc_app({"is_logged_in": False})
    assert out.button(key="oidc_login").proto.label == "Sign in with your hospital account"
    assert not out.metric
    pi = _oidc_app({"is_logged_in": True, "email": "pi@h.org", "groups": ["pi-alpha"]})
    assert pi.metric[0].value == "10"
    assert "Users and audit" not in _menu(pi)
    nobody = _oidc_app({"is_logged_in": True, "email": "x@h.org", "groups": ["other"]})
    assert "has no gistcad role" in nobody.error[0].value
    assert not nobody.metric
    assert _actions(app_db, "pi@h.org") == ["login.ok"]
    assert _actions(app_db, "x@h.org") == ["login.no_role"]


def test_no_password_stays_in_the_session(accounts: dict[str, str]) -> None:
    at = sign_in("alice", accounts["alice"])
    assert at.title[0].value == "gistcad — GIST cohort explorer"
    fields = ("login_name", "login_password")
    kept = [str(at.session_state[key]) for key in fields if key in at.session_state]
    assert accounts["alice"] not in kept
