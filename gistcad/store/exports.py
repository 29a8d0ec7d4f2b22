"""Exports: every download leaves the dashboard through here, checked and audited.

A *bulk* export lists patients (the cohort table, the per-patient predictions, the audit
trail); only roles with :attr:`~gistcad.domain.Permission.BULK_EXPORT` may take one.
Aggregate tables (table one, survival summaries) and a single case report are not bulk, but
are recorded in the audit trail all the same.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from gistcad.domain import Permission
from gistcad.store import audit
from gistcad.store.scope import AccessScope


def export_csv(
    session: Session, scope: AccessScope, what: str, table: pd.DataFrame, *, bulk: bool = False
) -> str:
    """``table`` as CSV text, after the permission check and with its audit row."""
    if bulk:
        scope.require(Permission.BULK_EXPORT)
    audit.record(
        session,
        scope.user,
        "export",
        target_kind="export",
        target=what,
        detail={"rows": len(table), "bulk": bulk},
    )
    return table.to_csv(index=False)


def export_text(
    session: Session, scope: AccessScope, what: str, text: str, *, patient: str | None = None
) -> str:
    """A single-case document (not bulk), with its audit row."""
    audit.record(
        session,
        scope.user,
        "export",
        target_kind="patient" if patient else "export",
        target=patient or what,
        detail={"document": what},
    )
    return text
