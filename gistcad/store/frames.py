"""Statements to data frames: the one place where result rows become pandas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import Select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import pandas as pd

AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def frame(session: Session, stmt: AnySelect, columns: list[str] | None = None) -> pd.DataFrame:
    """The statement's rows as a frame; column names from the select's labels by default."""
    import pandas as pd  # commands that never make a frame start without pandas

    names = columns or [str(c.key) for c in stmt.selected_columns]
    rows = session.execute(stmt).all()
    # plain tuples: pandas reads them in C, a result row one attribute at a time
    table = pd.DataFrame.from_records(
        [tuple(row) for row in rows], columns=names, coerce_float=False, nrows=len(rows)
    )
    for name in names:
        column = table[name]
        if column.dtype != object:
            continue
        first = column.first_valid_index()
        if first is not None and _is_coded(column[first]):
            table[name] = column.map(plain)
    return table


def _is_coded(value: Any) -> bool:
    return hasattr(value, "value") and isinstance(value.value, str)


def plain(value: Any) -> Any:
    """Enum members as their string values, everything else unchanged."""
    return value.value if hasattr(value, "value") and isinstance(value.value, str) else value
