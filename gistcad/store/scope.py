"""Access scope: which centers a caller may see.

Every read in :mod:`gistcad.store.queries` takes a scope, so that per-center access control
is enforced in one place. ``AccessScope.everything()`` is the single-user workstation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute


@dataclass(frozen=True)
class AccessScope:
    """The set of center ids a caller may see, or ``None`` for all centers."""

    center_ids: frozenset[int] | None

    @classmethod
    def everything(cls) -> AccessScope:
        return cls(center_ids=None)

    @classmethod
    def centers(cls, *center_ids: int) -> AccessScope:
        return cls(center_ids=frozenset(center_ids))

    @property
    def is_unrestricted(self) -> bool:
        return self.center_ids is None

    def allows(self, center_id: int) -> bool:
        return self.center_ids is None or center_id in self.center_ids

    def clause(self, center_column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A WHERE clause restricting ``center_column`` to this scope."""
        if self.center_ids is None:
            return true()
        if not self.center_ids:
            return false()
        return center_column.in_(sorted(self.center_ids))
