"""Users and audit: accounts (add, disable, enable, reset password) and the audit trail."""

import datetime as dt

import streamlit as st

from gistcad.auth.manage import add_account, reset_password, set_disabled
from gistcad.display import MISSING
from gistcad.domain import Permission, Role
from gistcad.errors import GistcadError
from gistcad.store import session_scope
from gistcad.store.accounts import RoleCentersError, list_users
from gistcad.store.audit import ACTIONS, AuditFilter, audit_events
from gistcad.store.queries import list_centers
from views.common import audited_csv, engine, scope, show_error, show_table

st.title("Users and audit")
st.caption("Administrators only: every change made here is itself recorded in the audit trail.")

users_tab, audit_tab = st.tabs(["Accounts", "Audit trail"])


def _show_password(name: str, temporary: str | None) -> None:
    if temporary is not None:
        st.success(
            f"Temporary password for **{name}** (shown once; they choose their own at the "
            f"first sign-in): `{temporary}`",
            icon=":material/key:",
        )


with users_tab:
    if not scope().can(Permission.MANAGE_USERS):
        st.info("Your role does not manage accounts.")
    else:
        try:
            with session_scope(engine()) as session:
                accounts = list_users(session, scope())
                centers = list_centers(session, scope())["center"].tolist()
        except GistcadError as exc:
            show_error(exc)
            st.stop()
        show_table(accounts, key="accounts_table")
        add_col, change_col = st.columns(2)
        with add_col.form("add_user_form", clear_on_submit=True):
            st.subheader("New account")
            name = st.text_input("User name", key="new_user_name")
            role = st.selectbox("Role", [r.value for r in Role], index=2, key="new_user_role")
            chosen = st.multiselect("Centers (not for admin)", centers, key="new_user_centers")
            if st.form_submit_button("Create account", key="add_user_submit"):
                try:
                    with session_scope(engine()) as session:
                        temporary = add_account(
                            session, scope(), name.strip().lower(), Role(role), chosen
                        )
                    _show_password(name, temporary)
                except RoleCentersError as exc:
                    fix = "choose its centers" if exc.needs_centers else "leave Centers empty"
                    st.error(f"{exc}: {fix}.", icon=":material/error:")
                except GistcadError as exc:
                    show_error(exc)
        with change_col.form("change_user_form"):
            st.subheader("Change an account")
            target = st.selectbox("Account", accounts["name"].tolist(), key="change_user")
            action = st.radio(
                "Action",
                ["reset password", "disable", "enable"],
                horizontal=True,
                key="change_action",
            )
            if st.form_submit_button("Apply", disabled=accounts.empty, key="change_user_submit"):
                try:
                    with session_scope(engine()) as session:
                        if action == "reset password":
                            _show_password(target, reset_password(session, scope(), target))
                        else:
                            set_disabled(session, scope(), target, action == "disable")
                    st.success(f"{target}: {action} done.", icon=":material/check:")
                except GistcadError as exc:
                    show_error(exc)

with audit_tab:
    cols = st.columns(4)
    actor = cols[0].text_input("User", key="audit_actor")
    prefixes = sorted({a.split(".")[0] for a in ACTIONS} | set(ACTIONS))
    action = cols[1].selectbox(
        "Action",
        ["(any)", *prefixes],
        format_func=lambda a: ACTIONS.get(a, f"every {a} event"),
        key="audit_action",
    )
    target = cols[2].text_input("Patient, model or account", key="audit_target")
    today = dt.datetime.now(dt.UTC).date()
    days = cols[3].date_input("Between", (today - dt.timedelta(days=30), today), key="audit_days")
    since = until = None
    if isinstance(days, tuple) and len(days) == 2:
        since = dt.datetime.combine(days[0], dt.time(), tzinfo=dt.UTC)
        until = dt.datetime.combine(days[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    flt = AuditFilter(
        actor=actor.strip() or None,
        action=None if action == "(any)" else action,
        target=target.strip() or None,
        since=since,
        until=until,
    )
    try:
        with session_scope(engine()) as session:
            events = audit_events(session, scope(), flt)
    except GistcadError as exc:
        show_error(exc)
        st.stop()
    st.caption(
        f"{len(events)} event(s), newest first (at most {flt.limit}); the trail is "
        "append-only: no one can change or delete its rows."
    )
    shown = events.assign(
        what=events["action"].map(ACTIONS),
        detail=[MISSING if d is None else str(d) for d in events["detail"]],
    ).drop(columns="action")
    show_table(shown, key="audit_table")
    st.download_button(
        "Download these events (CSV)",
        audited_csv("audit trail", shown, bulk=True),
        file_name="gistcad_audit.csv",
        mime="text/csv",
        key="audit_download",
        on_click="ignore",
        disabled=events.empty,
    )
