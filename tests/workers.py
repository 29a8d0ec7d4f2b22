"""Run gistcad in other processes against a test's database (concurrency tests).

:func:`store_env` gives another process the settings that reach the same store: the SQLite
file, or the PostgreSQL database and schema of the test (``tests.conftest`` gives each test a
database of its own, or a schema of its own through ``search_path``). :func:`forked_cli` runs
``gistcad ...`` in a forked child, which starts in milliseconds, so that two of them can be
released at the same instant.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

from sqlalchemy import Engine, text

FORK = multiprocessing.get_context("fork")


def store_url(engine: Engine) -> str:
    """A URL that opens ``engine``'s database (and, on PostgreSQL, its schema) elsewhere."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            schema = connection.scalar(text("SELECT current_schema()"))
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def store_env(engine: Engine, data_dir: Path) -> dict[str, str]:
    """The ``GISTCAD_*`` variables of a process that works on ``engine``'s store."""
    return {"GISTCAD_DB_URL": store_url(engine), "GISTCAD_DATA_DIR": str(data_dir)}


def _child(
    env: dict[str, str], argv: list[str], log: Path, prepare: Callable[[], None] | None
) -> None:
    os.environ.update(env)
    sys.stdout = sys.stderr = log.open("w", encoding="utf-8")  # flushed when the child exits
    if prepare is not None:
        prepare()
    from gistcad.cli import main

    sys.exit(main(argv))


def forked_cli(
    env: dict[str, str],
    argv: list[str],
    log: Path,
    prepare: Callable[[], None] | None = None,
) -> BaseProcess:
    """Start ``gistcad argv`` in a forked child with ``env``; its output goes to ``log``.

    ``prepare`` runs in the child first (to hold it at a barrier, say). The parent's pooled
    database connections must not be shared with the child: dispose of the engine first.
    """
    process = FORK.Process(target=_child, args=(env, argv, log, prepare))
    process.start()
    return process
