"""The store: SQLAlchemy models and the query functions; the only module that talks SQL."""

from gistcad.store.engine import make_engine, session_scope
from gistcad.store.scope import AccessScope

__all__ = ["AccessScope", "make_engine", "session_scope"]
