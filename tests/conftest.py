"""Shared fixtures: a migrated database on SQLite and, when configured, on PostgreSQL.

PostgreSQL tests need ``GISTCAD_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without it they are reported as
skipped with that reason. Each PostgreSQL test works in a store of its own that is dropped
afterwards, so tests never see each other's rows: an empty schema (``empty_engine``) or a
database copied from one migrated once per test process (``engine``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, make_url, text

# Under pytest-xdist (``make test`` runs one worker per core) each worker and the processes it
# starts get an equal share of the cores for torch's and BLAS's threads; without it, every
# worker would start one thread per core and they would wait on each other. Set before torch
# or NumPy are imported, and only where the caller has not chosen.
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault(
        "OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // max(1, int(workers))))
    )

from gistcad.store import make_engine, migrations

#: the files that take minutes (cohorts built, networks trained, clusters and browsers
#: started), longest first: collected first, so that under pytest-xdist (whole files per
#: worker, in collection order) they start at once and the quick files fill in behind them,
#: instead of one of them starting last and running alone. ``tests/synth/test_follow_up.py``
#: shares its build of the follow-up cohort with ``tests/ingest/test_follow_up_import.py``
#: (:mod:`tests.shared_builds`): starting early, it is the one that builds it
SLOWEST_FIRST = (
    "tests/modelling/test_image_models.py",
    "tests/modelling/test_response_targets.py",
    "tests/neural/test_fitting.py",
    "tests/modelling/test_learner_contract.py",
    "tests/cluster/test_cluster_results.py",
    "tests/app/test_browser_outline.py",
    "tests/app/test_browser_biomarkers.py",
    "tests/app/test_browser.py",
    "tests/cluster/test_running_cluster.py",
    "tests/app/test_browser_downloads.py",
    "tests/synth/test_follow_up.py",
    "tests/modelling/test_survival_by_prediction.py",
    "tests/synth/test_build.py",
    "tests/test_jobs.py",
    "tests/ingest/test_import_faults.py",
    "tests/analysis/test_discovery_on_generated_cohort.py",
    "tests/analysis/test_discovery_size_adjustment.py",
    "tests/biomarkers/test_rendered_cohort.py",
    # slow files that used to run last and leave one worker alone at the end
    "tests/app/test_browser_demo_training.py",
    "tests/app/test_browser_viewer.py",
    "tests/app/test_browser_jobs.py",
    "tests/app/test_browser_response.py",
    "tests/neural/test_distributed.py",
    "tests/pacs/test_browser_pacs.py",
    "tests/pacs/test_browser_upload.py",
    "tests/app/test_browser_login.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the slowest files to the front, keeping every other order as collected."""
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    root = config.rootpath

    def key(item: pytest.Item) -> int:
        if not item.path.is_relative_to(root):
            return len(rank)
        return rank.get(item.path.relative_to(root).as_posix(), len(rank))

    items.sort(key=key)  # stable: the tests of a file stay in their order


POSTGRES_URL_VAR = "GISTCAD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        pytest.skip(f"{POSTGRES_URL_VAR} is not set: PostgreSQL store tests not run")
    return url


@pytest.fixture
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of the backend named by the test's parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'test.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database upgraded to the newest schema by :func:`migrations.upgrade`, once
    per test process: the SQLite tests that start from the newest schema copy this file (a
    copy takes a millisecond, the migrations 0.15–0.3 s, and some 360 tests start so)."""
    path = tmp_path_factory.mktemp("migrated") / "newest.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()  # the last connection closed: the write-ahead log is checkpointed
    return path


def upgraded_sqlite(template: Path, engine: Engine) -> None:
    """Give ``engine``'s SQLite database, not yet opened, the newest schema: a copy of
    ``template`` (:func:`migrated_sqlite`) written into the file (its private mode kept)."""
    database = engine.url.database
    assert engine.dialect.name == "sqlite" and database, engine.url
    # never opened: a connection would have written the header (WAL mode) into the file
    assert Path(database).stat().st_size == 0, database
    shutil.copyfile(template, database)


@contextmanager
def postgres_database(prefix: str, template: str | None = None) -> Iterator[URL]:
    """A new PostgreSQL database (a copy of ``template`` when given) on the server of
    ``GISTCAD_TEST_POSTGRES_URL``: its URL, dropped on exit ``WITH (FORCE)``, since a
    child process may still hold a connection."""
    url = make_url(postgres_url())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copied = "" if template is None else f' TEMPLATE "{template}"'
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[URL]:
    """A PostgreSQL database upgraded to the newest schema by :func:`migrations.upgrade`, once
    per test process: the template of the databases of the PostgreSQL tests that start from
    the newest schema (``CREATE DATABASE … TEMPLATE`` takes 0.05 s, the migrations 1.1 s)."""
    with postgres_database("gistcad_template") as template:
        migrated = make_engine(template)
        migrations.upgrade(migrated)
        migrated.dispose()  # a template may have no open connection
        yield template


@pytest.fixture
def engine(request: pytest.FixtureRequest, migrated_sqlite: Path) -> Iterator[Engine]:
    """A database upgraded to the newest schema, of the backend named by the test's
    parameter (``parametrize("engine", BACKENDS, indirect=True)``) or else of
    ``empty_engine``'s: on SQLite a copy of one upgraded so, on PostgreSQL a database made
    from one (:func:`migrated_postgres`)."""
    if getattr(request, "param", None) == "postgresql":
        template: URL = request.getfixturevalue("migrated_postgres")
        with postgres_database("gistcad_test", template.database) as url:
            engine = make_engine(url)
            yield engine
            engine.dispose()
        return
    empty: Engine = request.getfixturevalue("empty_engine")
    if empty.dialect.name == "sqlite":
        upgraded_sqlite(migrated_sqlite, empty)
    else:
        migrations.upgrade(empty)
    yield empty


@pytest.fixture(params=BACKENDS)
def cli_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The environment of a fresh data folder and a migrated database, set for this process.

    On SQLite the database is the data folder's file; on PostgreSQL a schema of its own
    (through the URL's ``search_path``), dropped afterwards. ``TMPDIR`` is a folder of the
    test, so that what a command leaves in the temporary folder can be checked. The returned
    mapping can be handed to a subprocess.
    """
    data = tmp_path / "data"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"GISTCAD_DATA_DIR": str(data), "TMPDIR": str(temp)}
    schema = ""
    if request.param == "postgresql":
        url = postgres_url()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with make_engine(url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["GISTCAD_DB_URL"] = f"{url}?options=-csearch_path%3D{schema}"
    else:
        monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
        env["GISTCAD_DB_URL"] = f"sqlite:///{data / 'gistcad.sqlite'}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # gettempdir() caches TMPDIR
    from gistcad.cli import main

    assert main(["db", "upgrade"]) == 0
    yield env
    if schema:
        admin = make_engine(postgres_url())
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
