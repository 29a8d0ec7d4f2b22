"""Statements to data frames: the one place where result rows become pandas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import Boolean, Enum, Float, Integer, Select, String
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    import pandas as pd

AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def frame(session: Session, stmt: AnySelect, columns: list[str] | None = None) -> pd.DataFrame:
    """The statement's rows as a frame; column names from the select's labels by default."""
    import pandas as pd  # commands that never make a frame start without pandas

    names = columns or [str(c.key) for c in stmt.selected_columns]
    if all(_needs_no_conversion(c.type) for c in stmt.selected_columns):
        # numbers and strings come from the driver as they are: its own rows, read in C,
        # without a result row object per patient
        result = session.connection().execute(stmt)
        try:
            rows: list[Any] = list(result.cursor.fetchall())
        finally:
            result.close()
    else:
        rows = [tuple(row) for row in session.execute(stmt).all()]
    table = pd.DataFrame.from_records(rows, columns=names, coerce_float=False, nrows=len(rows))
    # a column SQLAlchemy leaves as the driver gives it (numbers, plain strings) holds no enum
    # member: only the others are looked at (finding a column's first value is a pass over
    # every row)
    coded = [
        name
        for name, selected in zip(names, stmt.selected_columns, strict=True)
        if not _needs_no_conversion(selected.type)
    ]
    for name in coded:
        column = table[name]
        if column.dtype != object:
            continue
        first = column.first_valid_index()
        if first is not None and _is_coded(column[first]):
            table[name] = column.map(plain)
    return table


def _needs_no_conversion(kind: TypeEngine[Any]) -> bool:
    """Whether SQLAlchemy leaves values of this type as the driver gives them: integers,
    floats and plain strings (not coded enums, dates, JSON or decimals)."""
    if isinstance(kind, Enum | Boolean) or getattr(kind, "asdecimal", False):
        return False
    return isinstance(kind, Integer | Float | String)


def _is_coded(value: Any) -> bool:
    return hasattr(value, "value") and isinstance(value.value, str)


def plain(value: Any) -> Any:
    """Enum members as their string values, everything else unchanged."""
    return value.value if hasattr(value, "value") and isinstance(value.value, str) else value
