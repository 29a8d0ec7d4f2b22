"""Engines and sessions for the store, and the lock that makes concurrent imports safe.

SQLite (the embedded default) is opened in WAL mode with foreign keys enforced and a busy
timeout, so that the dashboard can read while an import writes. PostgreSQL needs nothing
special. The session's lifecycle belongs to the caller (``with session_scope(engine) as s``).

Readers never block: every statement sees the committed state before or after an import,
never a part of one, because an import writes in one transaction. Writers that check before
they insert (an importer asks "is this patient stored?") take :func:`import_lock` first, so
that two imports at the same time run one after the other instead of both inserting the same
patient.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gistcad.errors import GistcadError

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: how long an import waits for another one to finish before it gives up
IMPORT_LOCK_TIMEOUT_S = SQLITE_BUSY_TIMEOUT_MS // 1000
_IMPORT_LOCK_NAME = "gistcad import"
_PG_LOCK_NOT_AVAILABLE = "55P03"


class DatabaseBusyError(GistcadError):
    """Another process held the database's write lock for longer than we wait."""


def make_engine(url: URL | str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the pragmas this project relies on.

    On SQLite every connection gets ``busy_timeout`` (first, so that the other pragmas wait
    for a busy database too), ``journal_mode=WAL`` and ``foreign_keys=ON`` (SQLite ignores
    foreign keys otherwise).
    """
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        _create_private(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only (it holds patient data).

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
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


def import_lock(session: Session) -> None:
    """Make the session's transaction the only import writing, until it commits or rolls back.

    Call it before the first read that decides what to write. Readers are not blocked. On
    SQLite it takes the database's write lock now (``BEGIN IMMEDIATE``; SQLite allows one
    writer at a time anyway, this only moves the wait before the reads); on PostgreSQL a
    transaction-scoped advisory lock, one per schema. Calling it again in the same
    transaction does nothing.

    Raises
    ------
    DatabaseBusyError
        When another import kept the lock for more than ``IMPORT_LOCK_TIMEOUT_S`` seconds.
    """
    connection = session.connection()
    try:
        if connection.dialect.name == "sqlite":
            # pysqlite opens a transaction only before a write, which takes the write lock;
            # a transaction already open therefore holds it
            if not getattr(connection.connection.dbapi_connection, "in_transaction", False):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        connection.execute(text(f"SET LOCAL lock_timeout = '{IMPORT_LOCK_TIMEOUT_S}s'"))
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :name))"),
            {"name": _IMPORT_LOCK_NAME},
        )
        connection.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise DatabaseBusyError(
                f"another import has been writing to the database for over "
                f"{IMPORT_LOCK_TIMEOUT_S} s; nothing was imported. Run this import again when "
                "it has finished"
            ) from None
        raise


def _is_lock_timeout(exc: OperationalError) -> bool:
    if getattr(exc.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(exc.orig)
