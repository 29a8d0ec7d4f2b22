"""Access scope: who is asking, with which role, and which centers they may see.

Every read in :mod:`gistcad.store.queries` and :mod:`gistcad.store.model_queries` takes a
scope, so that per-center access control and role permissions are enforced in one place (the
query layer), not in the pages. ``AccessScope.everything()`` is the single-user workstation
(or the operator at the command line): every center, every permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute

from gistcad.domain import ROLE_PERMISSIONS, Permission, Role
from gistcad.errors import AccessDenied

#: Actor name of the single-user workstation (no login) in the audit trail.
WORKSTATION_USER = "workstation"


@dataclass(frozen=True)
class AccessScope:
    """The caller, their role, and the center ids they may see (``None``: all centers)."""

    center_ids: frozenset[int] | None
    role: Role = Role.ADMIN
    user: str = WORKSTATION_USER

    @classmethod
    def everything(cls, user: str = WORKSTATION_USER) -> AccessScope:
        return cls(center_ids=None, role=Role.ADMIN, user=user)

    @classmethod
    def centers(
        cls, *center_ids: int, role: Role = Role.PI, user: str = WORKSTATION_USER
    ) -> AccessScope:
        return cls(center_ids=frozenset(center_ids), role=role, user=user)

    @property
    def is_unrestricted(self) -> bool:
        return self.center_ids is None

    def allows(self, center_id: int) -> bool:
        return self.center_ids is None or center_id in self.center_ids

    def covers(self, center_ids: frozenset[int] | None) -> bool:
        """Whether every center of ``center_ids`` (``None``: all centers) is in this scope."""
        if self.center_ids is None:
            return True
        return center_ids is not None and center_ids <= self.center_ids

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise :class:`AccessDenied` unless the role has ``permission``."""
        if not self.can(permission):
            what = permission.value.replace("_", " ")
            raise AccessDenied(
                f"{self.user} ({self.role.value}) may not {what}: ask an administrator "
                "for a role that includes it"
            )

    def clause(self, center_column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A WHERE clause restricting ``center_column`` to this scope."""
        if self.center_ids is None:
            return true()
        if not self.center_ids:
            return false()
        return center_column.in_(sorted(self.center_ids))
