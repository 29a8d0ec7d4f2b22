"""Engines and sessions for the store.

SQLite (the embedded default) is opened in WAL mode with foreign keys enforced and a busy
timeout, so that the dashboard can read while an import writes. PostgreSQL needs nothing
special. The session's lifecycle belongs to the caller (``with session_scope(engine) as s``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: URL | str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the pragmas this project relies on.

    On SQLite every connection gets ``journal_mode=WAL``, ``foreign_keys=ON`` (SQLite
    ignores foreign keys otherwise) and ``busy_timeout``.
    """
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
