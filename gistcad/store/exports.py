"""Exports: every download leaves the dashboard through here, checked and audited.

A *bulk* export lists patients (the cohort table, the per-patient predictions, the audit
trail); only roles with :attr:`~gistcad.domain.Permission.BULK_EXPORT` may take one.
Aggregate tables (table one, survival summaries) and a single case report are not bulk, but
are recorded in the audit trail all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from gistcad.domain import Permission
from gistcad.store import audit
from gistcad.store.scope import AccessScope

if TYPE_CHECKING:
    import pandas as pd

#: a text cell starting with one of these is a formula to a spreadsheet program (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV that a spreadsheet program opens as data, never as formulas.

    Every text cell (object, string or categorical columns) and every column header that
    starts with ``= + - @``, a tab or a carriage return gets a leading apostrophe (OWASP's
    advice against CSV injection); numbers, negative ones included, are written as they are.

    >>> csv_text(pd.DataFrame({"note": ["=1+1", "ok"], "x": [-1.5, 2.0]}))
    "note,x\\n'=1+1,-1.5\\nok,2.0\\n"
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    safe = table.copy()
    for column in safe.columns:
        kind = safe[column].dtype
        if not (is_numeric_dtype(kind) or is_bool_dtype(kind)):
            safe[column] = safe[column].astype(object).map(_defuse)
    safe.columns = [_defuse(str(c)) for c in safe.columns]
    return safe.to_csv(index=False)


def record_export(
    session: Session, scope: AccessScope, what: str, rows: int, *, bulk: bool = False
) -> None:
    """The permission check and the audit row of a table's export, in whatever format."""
    if bulk:
        scope.require(Permission.BULK_EXPORT)
    audit.record(
        session,
        scope.user,
        "export",
        target_kind="export",
        target=what,
        detail={"rows": rows, "bulk": bulk},
    )


def export_csv(
    session: Session, scope: AccessScope, what: str, table: pd.DataFrame, *, bulk: bool = False
) -> str:
    """``table`` as CSV text, after the permission check and with its audit row."""
    record_export(session, scope, what, len(table), bulk=bulk)
    return csv_text(table)


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
