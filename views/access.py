"""The dashboard's door: who is asking, decided once per run before any page draws.

``app.py`` calls :func:`gate`, which returns the caller's access scope (or stops the run at
the login form). Three modes, from ``GISTCAD_AUTH``:

- ``none``: the single-user workstation on localhost, no login, every center; every page says
  so, and the app refuses to render when Streamlit listens on any other address.
- ``local``: accounts made with ``gistcad users``; login form, forced password change after
  a reset, logout, idle timeout, lockout after repeated failures (:mod:`gistcad.auth.login`).
- ``oidc``: the hospital's identity provider through ``st.login``; roles and centers from the
  provider's claims (:mod:`gistcad.auth.oidc`).

The account is read again on every run, so a disabled account or a changed role takes effect
at the user's next click.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NoReturn

import streamlit as st

from gistcad.auth.login import authenticate, change_password
from gistcad.auth.oidc import OidcConfig, identity_from_claims, parse_config
from gistcad.auth.sessions import (
    idle_notice,
    is_idle,
    oidc_scope,
    record_refused_sign_in,
    record_sign_in,
    record_sign_out,
)
from gistcad.config import AuthMode, Settings
from gistcad.errors import GistcadError
from gistcad.store import session_scope
from gistcad.store.accounts import find_user, scope_of
from gistcad.store.scope import AccessScope
from views.common import engine

USER_KEY = "gistcad_user"
LAST_SEEN_KEY = "gistcad_last_seen"
NOTICE_KEY = "gistcad_notice"
LOGIN_ERROR_KEY = "gistcad_login_error"
PASSWORD_RESULT_KEY = "gistcad_password_result"
OIDC_AUDITED_KEY = "gistcad_oidc_audited"
LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1", "")

#: Called before the door stops a run, so that the requested page stays in the address.
KeepAddress = Callable[[], None]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def gate(settings: Settings, keep_address: KeepAddress) -> AccessScope:
    """The caller's scope; shows the login form and stops the run when nobody is signed in.

    ``keep_address`` is called before such a stop, so that the page the browser asked for
    (e.g. ``/case?patient=...``) is still the page shown once the user has signed in.
    """
    if settings.auth is AuthMode.NONE:
        return _workstation()
    if settings.auth is AuthMode.LOCAL:
        return _local(settings, keep_address)
    return _oidc(settings, keep_address)


def _halt(keep_address: KeepAddress) -> NoReturn:
    """Stop this run at the door, keeping the requested page for after the sign-in."""
    keep_address()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def _workstation() -> AccessScope:
    address = str(st.get_option("server.address") or "")
    if address not in LOCAL_ADDRESSES:
        st.error(
            f"This dashboard runs without login, so it may only listen on localhost, not on "
            f"{address!r}. Start it with `gistcad serve --auth local` (or `--auth oidc`).",
            icon=":material/lock:",
        )
        st.stop()
    return AccessScope.everything()


def _sign_out(name: str, notice: str | None = None, *, idle: bool = False) -> None:
    with session_scope(engine()) as session:
        record_sign_out(session, name, idle=idle)
    for key in (USER_KEY, LAST_SEEN_KEY, OIDC_AUDITED_KEY):
        st.session_state.pop(key, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _idle(settings: Settings) -> bool:
    return is_idle(st.session_state.get(LAST_SEEN_KEY), now(), settings.login.idle_timeout)


def _local(settings: Settings, keep_address: KeepAddress) -> AccessScope:
    name = st.session_state.get(USER_KEY)
    if name and _idle(settings):
        _sign_out(name, idle_notice(settings.login.idle_timeout), idle=True)
        name = None
    if not name:
        _login_form(settings, keep_address)
    with session_scope(engine()) as session:
        user = find_user(session, name)
        scope = None if user is None or user.disabled else scope_of(user)
        must_change = bool(user and user.must_change_password)
    if scope is None:
        _sign_out(name, "Your account was disabled; ask an administrator.")
        return _local(settings, keep_address)  # nobody is signed in now: the login form
    st.session_state[LAST_SEEN_KEY] = now()
    if must_change:
        st.title("Choose your password")
        st.info(
            "Your password was set by an administrator: choose your own before going on.",
            icon=":material/key:",
        )
        _password_form(name, "forced")
        _halt(keep_address)
    _signed_in_sidebar(scope, can_change_password=True)
    _idle_watch(settings)
    return scope


def _attempt_login(settings: Settings) -> None:
    """The sign-in button's callback (it runs before the page, which then knows the user)."""
    name = str(st.session_state.get("login_name", ""))
    password = str(st.session_state.get("login_password", ""))
    st.session_state["login_password"] = ""  # no password stays in the session
    with session_scope(engine()) as session:
        outcome = authenticate(session, name, password, settings.login)
    if outcome.ok and outcome.scope is not None:
        st.session_state[USER_KEY] = outcome.scope.user
        st.session_state[LAST_SEEN_KEY] = now()
    else:
        st.session_state[LOGIN_ERROR_KEY] = outcome.message


def _login_form(settings: Settings, keep_address: KeepAddress) -> NoReturn:
    """Draw the login form and stop the run (signing in happens in the button's callback)."""
    with st.columns([1, 2, 1])[1]:  # a narrow form in the middle of the page
        st.title("gistcad — sign in")
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            st.info(notice, icon=":material/logout:")
        with st.form("login_form"):
            st.text_input("User name", key="login_name")
            st.text_input("Password", type="password", key="login_password")
            st.form_submit_button(
                "Sign in",
                type="primary",
                key="login_submit",
                on_click=_attempt_login,
                args=(settings,),
            )
        error = st.session_state.pop(LOGIN_ERROR_KEY, None)
        if error:
            st.error(error, icon=":material/lock:")
        st.caption(
            "Accounts are made by an administrator (`gistcad users add`). After "
            f"{settings.login.max_failures} failed attempts an account is locked for "
            f"{int(settings.login.lockout.total_seconds() // 60)} minutes."
        )
    _halt(keep_address)


def _attempt_password_change(name: str, key: str) -> None:
    """The change-password button's callback; clears the three fields whatever happens."""
    fields = [f"pw_old_{key}", f"pw_new_{key}", f"pw_repeat_{key}"]
    old, new, repeat = (str(st.session_state.get(f, "")) for f in fields)
    for field in fields:
        st.session_state[field] = ""
    try:
        with session_scope(engine()) as session:
            change_password(session, name, old, new, repeat)
    except GistcadError as exc:
        st.session_state[PASSWORD_RESULT_KEY] = (False, str(exc))
    else:
        st.session_state[PASSWORD_RESULT_KEY] = (True, "Password changed.")


def _password_form(name: str, key: str) -> None:
    with st.form(f"password_form_{key}"):
        st.text_input("Current password", type="password", key=f"pw_old_{key}")
        st.text_input("New password (10 characters or more)", type="password", key=f"pw_new_{key}")
        st.text_input("New password again", type="password", key=f"pw_repeat_{key}")
        st.form_submit_button(
            "Change password",
            key=f"pw_submit_{key}",
            on_click=_attempt_password_change,
            args=(name, key),
        )
    result = st.session_state.pop(PASSWORD_RESULT_KEY, None)
    if result is not None:
        ok, message = result
        if ok:
            st.success(message, icon=":material/check:")
        else:
            st.error(message, icon=":material/error:")


def _signed_in_sidebar(scope: AccessScope, *, can_change_password: bool) -> None:
    with st.sidebar:
        centers = "all centers" if scope.is_unrestricted else "your centers"
        st.caption(f"Signed in as **{scope.user}** ({scope.role.value}, {centers})")
        st.button(
            "Sign out",
            key="logout_button",
            icon=":material/logout:",
            on_click=_sign_out_clicked,
            args=(scope.user, can_change_password),
        )
        if can_change_password:
            with st.popover("Change password", icon=":material/key:"):
                _password_form(scope.user, "sidebar")


def _sign_out_clicked(name: str, local: bool) -> None:
    """The sign-out button's callback: runs before the next run, which shows the login."""
    _sign_out(name, "You are signed out.")
    if not local:
        st.logout()


def _idle_watch(settings: Settings) -> None:
    """Sign an idle user out even if they never click again (checked every minute)."""

    @st.fragment(run_every=dt.timedelta(minutes=1))
    def watch() -> None:
        if _idle(settings):
            st.rerun(scope="app")

    watch()


def _oidc_config() -> OidcConfig:
    try:
        return parse_config(st.secrets.to_dict())
    except (FileNotFoundError, GistcadError) as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
        raise


def _oidc(settings: Settings, keep_address: KeepAddress) -> AccessScope:
    config = _oidc_config()
    if not st.user.is_logged_in:
        _oidc_sign_in(config)
        _halt(keep_address)
    claims: dict[str, Any] = st.user.to_dict()
    identity = identity_from_claims(claims, config)
    name = identity.name if identity else str(claims.get(config.name_claim, "unknown"))
    if identity is not None and _idle(settings):
        _sign_out(name, idle_notice(settings.login.idle_timeout), idle=True)
        st.logout()
    if identity is None:
        if not st.session_state.get(OIDC_AUDITED_KEY):
            with session_scope(engine()) as session:
                record_refused_sign_in(session, name, config.claim)
            st.session_state[OIDC_AUDITED_KEY] = True
        st.error(
            "You are signed in, but your account has no gistcad role. Ask an administrator "
            f"to add you to one of the groups of the claim {config.claim!r}.",
            icon=":material/lock:",
        )
        if st.button("Sign out", key="oidc_no_role_logout"):
            st.logout()
        st.stop()
    with session_scope(engine()) as session:
        if not st.session_state.get(OIDC_AUDITED_KEY):
            record_sign_in(session, name)
        scope = oidc_scope(session, identity)
    st.session_state[OIDC_AUDITED_KEY] = True
    st.session_state[LAST_SEEN_KEY] = now()
    _signed_in_sidebar(scope, can_change_password=False)
    _idle_watch(settings)
    return scope


def _oidc_sign_in(config: OidcConfig) -> None:
    st.title("gistcad — sign in")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/logout:")
    st.button(
        "Sign in with your hospital account",
        type="primary",
        key="oidc_login",
        on_click=st.login,
        args=(config.provider,) if config.provider else (),
    )


def workstation_banner(scope: AccessScope, settings: Settings) -> None:
    """Every page says when it runs without login."""
    if settings.auth is AuthMode.NONE:
        st.caption(
            ":material/computer: Single-user workstation: no login, every center visible; "
            "served on this computer only (localhost)."
        )
