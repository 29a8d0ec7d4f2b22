"""The audit trail: append rows, and read them back (administrators only).

Every audited action (logins, case views, exports, imports, predictions, training runs,
account changes) goes through :func:`record`. Rows are never updated or deleted: this module
has no such function, and the database refuses UPDATE and DELETE on the table (triggers
added by migration ``0003_access_control``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.domain import Permission
from gistcad.store.frames import frame
from gistcad.store.models import AuditEvent
from gistcad.store.scope import AccessScope

if TYPE_CHECKING:
    import pandas as pd

#: The actions the trail knows, with what a reader of the trail sees.
ACTIONS: dict[str, str] = {
    "login.ok": "signed in",
    "login.failed": "failed sign-in (wrong password or unknown account)",
    "login.locked": "sign-in refused: account locked after failed attempts",
    "login.disabled": "sign-in refused: account disabled",
    "login.no_role": "sign-in refused: the identity provider gave no gistcad role",
    "logout": "signed out",
    "logout.idle": "signed out after the idle timeout",
    "password.change": "changed own password",
    "case.view": "opened a case",
    "export": "downloaded an export",
    "import": "imported data",
    "predict": "predicted patients with a model",
    "train": "trained a model",
    "job.submit": "started a background job",
    "job.cancel": "cancelled a background job",
    "response.assess": "measured lesions and assessed treatment response",
    "outline.save": "saved a semi-automatic tumour outline",
    "response.override": "overrode a lesion measurement or a response category",
    "user.add": "created an account",
    "user.disable": "disabled an account",
    "user.enable": "enabled an account",
    "user.reset": "reset an account's password",
    "access.denied": "was refused access",
}

AUDIT_COLUMNS = ["at", "actor", "action", "target_kind", "target", "detail"]


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    target_kind: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row (written when the caller's session commits)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        actor=actor[:120],
        action=action,
        target_kind=target_kind,
        target=None if target is None else str(target)[:200],
        detail=detail,
    )
    session.add(event)
    session.flush()
    return event


def seen_recently(
    session: Session, actor: str, action: str, target: str, within: dt.timedelta
) -> bool:
    """Whether ``actor`` already has an ``action`` row on ``target`` in the last ``within``."""
    since = dt.datetime.now(dt.UTC) - within
    stmt = (
        select(AuditEvent.id)
        .where(
            AuditEvent.actor == actor,
            AuditEvent.action == action,
            AuditEvent.target == target,
            AuditEvent.at >= since,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows to read; every field optional."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 1000


def audit_events(session: Session, scope: AccessScope, flt: AuditFilter) -> pd.DataFrame:
    """Audit rows, newest first; only for callers allowed to read the trail."""
    scope.require(Permission.VIEW_AUDIT)
    stmt = select(
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.target_kind,
        AuditEvent.target,
        AuditEvent.detail,
    )
    if flt.actor:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.action:
        # "login" selects login.ok, login.failed, ...
        stmt = stmt.where(
            (AuditEvent.action == flt.action) | AuditEvent.action.startswith(f"{flt.action}.")
        )
    if flt.target:
        stmt = stmt.where(AuditEvent.target == flt.target)
    if flt.since is not None:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEvent.at < flt.until)
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(flt.limit)
    return frame(session, stmt, AUDIT_COLUMNS)


def model_event(
    session: Session, actor: str, action: str, model_id: int, **detail: Any
) -> AuditEvent:
    """A training run (``train``) or a batch of predictions (``predict``) of a model."""
    return record(session, actor, action, target_kind="model", target=str(model_id), detail=detail)


def job_submitted(session: Session, actor: str, job_id: int, **detail: Any) -> AuditEvent:
    return record(
        session, actor, "job.submit", target_kind="job", target=str(job_id), detail=detail
    )


def job_cancelled(session: Session, actor: str, job_id: int, **detail: Any) -> AuditEvent:
    return record(
        session, actor, "job.cancel", target_kind="job", target=str(job_id), detail=detail
    )
