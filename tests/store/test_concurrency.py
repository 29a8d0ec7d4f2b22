"""Concurrent use of the store: two imports at once, and the dashboard reading during one.

Each import runs as ``gistcad import clinical`` in a process of its own (forked, so that it
starts at once). The children wait at a barrier right after validating their file, so both
reach the database in the same instant: without the import lock, both see "no such center"
and both insert it. SQLite (a file, WAL) and PostgreSQL alike.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest import clinical as clinical_module
from gistcad.ingest.pseudonym import Pseudonymizer, load_or_create_key
from gistcad.layout import KEY_FILENAME
from gistcad.store import AccessScope, session_scope
from gistcad.store import engine as engine_module
from gistcad.store.engine import DatabaseBusyError, import_lock
from gistcad.store.models import Center, Outcome, Patient, Treatment, Tumour
from gistcad.store.queries import cohort_counts, cohort_table
from tests.conftest import BACKENDS
from tests.workers import FORK, forked_cli, store_env

on_both_backends = pytest.mark.parametrize("engine", BACKENDS, indirect=True)

HEADER = "patient_id,sex,site,size_cm,mitotic_count,mitotic_unit,rfs_months,rfs_event\n"
CHILD_TIMEOUT_S = 60


def _sheet(folder: Path, prefix: str, n: int) -> Path:
    rows = "".join(
        f"{prefix}{i:03d},{'female' if i % 2 else 'male'},stomach,{2 + i % 7},{i % 9},"
        f"per_50hpf,{12 + i},{i % 2}\n"
        for i in range(n)
    )
    path = folder / f"{prefix}.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def _held_after_validation(barrier: Barrier) -> Callable[[], None]:
    """In the child: validate as usual, then wait for the other import before writing."""

    def prepare() -> None:
        validate = clinical_module.validate_sheet

        def validate_then_wait(*args: object, **kwargs: object) -> clinical_module.Validation:
            validation = validate(*args, **kwargs)  # type: ignore[arg-type]
            barrier.wait(CHILD_TIMEOUT_S)
            return validation

        clinical_module.validate_sheet = validate_then_wait  # type: ignore[assignment]

    return prepare


def _import_at_once(
    engine: Engine, data_dir: Path, imports: list[tuple[Path, str]]
) -> list[tuple[int | None, str]]:
    """Run ``gistcad import clinical FILE --center C --json`` for each, all at the same time.

    Returns each child's exit status and output.
    """
    engine.dispose()  # the children must not inherit pooled connections
    barrier = FORK.Barrier(len(imports))
    env = store_env(engine, data_dir)
    logs = [data_dir / f"import-{i}.log" for i in range(len(imports))]
    children = [
        forked_cli(
            env,
            ["import", "clinical", str(path), "--center", center, "--json"],
            log,
            _held_after_validation(barrier),
        )
        for (path, center), log in zip(imports, logs, strict=True)
    ]
    for child in children:
        child.join(CHILD_TIMEOUT_S)
    for child in children:
        if child.is_alive():
            child.kill()
    return [(c.exitcode, log.read_text()) for c, log in zip(children, logs, strict=True)]


def _import(engine: Engine, data_dir: Path, sheet: Path, center: str) -> int | None:
    """``gistcad import clinical`` in a child process (the test's environment stays as is)."""
    engine.dispose()
    child = forked_cli(
        store_env(engine, data_dir),
        ["import", "clinical", str(sheet), "--center", center],
        data_dir / "first-import.log",
    )
    child.join(CHILD_TIMEOUT_S)
    return child.exitcode


def _report(output: str) -> dict[str, object]:
    (report,) = json.loads(output[output.index("[") :])
    return dict(report)


def _pseudonyms(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.execute(
            select(Center.name, Patient.pseudonym).join(Center, Patient.center_id == Center.id)
        ).all()
    return sorted((center, pseudonym) for center, pseudonym in rows)


def _assert_one_row_of_each_kind_per_patient(engine: Engine) -> None:
    with Session(engine) as s:
        patients = s.scalar(select(func.count(Patient.id)))
        per_patient = {
            table.__tablename__: s.scalar(select(func.count(table.patient_id.distinct())))
            for table in (Tumour, Treatment, Outcome)
        }
        rows = {
            table.__tablename__: s.scalar(select(func.count()).select_from(table))
            for table in (Tumour, Treatment, Outcome)
        }
    assert per_patient == rows == dict.fromkeys(rows, patients)


def _expected(data_dir: Path, center: str, prefix: str, n: int) -> list[tuple[str, str]]:
    key = Pseudonymizer((data_dir / KEY_FILENAME).read_bytes())
    return [(center, key.pseudonym(center, f"{prefix}{i:03d}")) for i in range(n)]


@on_both_backends
def test_two_centers_imported_at_once_both_complete(engine: Engine, tmp_path: Path) -> None:
    # a new data folder: both imports also create the pseudonym key at the same time
    results = _import_at_once(
        engine,
        tmp_path,
        [(_sheet(tmp_path, "A", 25), "Alpha"), (_sheet(tmp_path, "B", 20), "Beta")],
    )
    assert [code for code, _ in results] == [0, 0], results
    assert [_report(out)["created"] for _, out in results] == [25, 20]
    expected = _expected(tmp_path, "Alpha", "A", 25) + _expected(tmp_path, "Beta", "B", 20)
    assert _pseudonyms(engine) == sorted(expected)
    _assert_one_row_of_each_kind_per_patient(engine)


@on_both_backends
@pytest.mark.parametrize("stored_before", [0, 8], ids=["new center", "center with patients"])
def test_the_same_file_imported_twice_at_once_is_stored_once(
    engine: Engine, tmp_path: Path, stored_before: int
) -> None:
    sheet = _sheet(tmp_path, "S", 30)
    if stored_before:
        first_rows = "".join(sheet.read_text().splitlines(keepends=True)[: 1 + stored_before])
        (tmp_path / "first.csv").write_text(first_rows)
        assert _import(engine, tmp_path, tmp_path / "first.csv", "Alpha") == 0
    results = _import_at_once(engine, tmp_path, [(sheet, "Alpha"), (sheet, "Alpha")])
    assert [code for code, _ in results] == [0, 0], results
    # one import writes the new patients, the other then finds every one already stored
    counts = sorted((_report(out)["created"], _report(out)["unchanged"]) for _, out in results)
    assert counts == [(0, 30), (30 - stored_before, stored_before)]
    assert _pseudonyms(engine) == sorted(_expected(tmp_path, "Alpha", "S", 30))
    _assert_one_row_of_each_kind_per_patient(engine)


@on_both_backends
def test_an_import_kept_waiting_too_long_says_so_and_writes_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for name, value in store_env(engine, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(engine_module, "IMPORT_LOCK_TIMEOUT_S", 1)
    sheet = _sheet(tmp_path, "W", 5)
    with session_scope(engine) as other_import:
        import_lock(other_import)
        import_lock(other_import)  # again in the same transaction: no effect, no deadlock
        assert main(["import", "clinical", str(sheet), "--center", "Alpha"]) == 2
        with (
            pytest.raises(DatabaseBusyError, match="another import has been writing"),
            session_scope(engine) as session,
        ):
            import_lock(session)
    error = capsys.readouterr().err
    assert "another import has been writing to the database for over 1 s" in error
    assert "Run this import again when it has finished" in error
    assert "Traceback" not in error
    assert _pseudonyms(engine) == []
    assert main(["import", "clinical", str(sheet), "--center", "Alpha"]) == 0  # lock released
    assert len(_pseudonyms(engine)) == 5


def _halfway_through(half: int, written: Event, resume: Event) -> Callable[[], None]:
    """In the child: after ``half`` patients are written (flushed, not committed), wait."""

    def prepare() -> None:
        upsert = clinical_module.upsert_clinical
        calls = {"n": 0}

        def upsert_and_maybe_pause(*args: object, **kwargs: object) -> object:
            change = upsert(*args, **kwargs)  # type: ignore[arg-type]
            calls["n"] += 1
            if calls["n"] == half:
                written.set()
                resume.wait(CHILD_TIMEOUT_S)
            return change

        clinical_module.upsert_clinical = upsert_and_maybe_pause  # type: ignore[assignment]

    return prepare


@on_both_backends
def test_the_dashboard_never_sees_half_an_import(engine: Engine, tmp_path: Path) -> None:
    before, n = 12, 40
    assert _import(engine, tmp_path, _sheet(tmp_path, "OLD", before), "Alpha") == 0
    engine.dispose()
    written, resume = FORK.Event(), FORK.Event()
    child = forked_cli(
        store_env(engine, tmp_path),
        ["import", "clinical", str(_sheet(tmp_path, "NEW", n)), "--center", "Beta"],
        tmp_path / "import.log",
        _halfway_through(n // 2, written, resume),
    )
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_like_the_dashboard() -> None:
        try:
            while not stop.is_set():
                with session_scope(engine) as session:
                    counts = cohort_counts(session, AccessScope.everything())
                    table = cohort_table(session, AccessScope.everything())
                seen.append((counts.patients, len(table)))
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    try:
        assert written.wait(CHILD_TIMEOUT_S), (tmp_path / "import.log").read_text()
        with session_scope(engine) as session:  # half of the import is written, uncommitted
            assert cohort_counts(session, AccessScope.everything()).patients == before
            assert len(cohort_table(session, AccessScope.everything())) == before
        reader = threading.Thread(target=read_like_the_dashboard)
        reader.start()
        resume.set()
        child.join(CHILD_TIMEOUT_S)
        stop.set()
        reader.join(CHILD_TIMEOUT_S)
    finally:
        resume.set()
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0, (tmp_path / "import.log").read_text()
    assert not errors, errors
    assert seen, "the reader never ran"
    assert {patients for patients, _ in seen} <= {before, before + n}
    assert {rows for _, rows in seen} <= {before, before + n}
    with session_scope(engine) as session:
        assert cohort_counts(session, AccessScope.everything()).patients == before + n


def _create_key_slowly(folder: Path, opened: Event, resume: Event, results: Queue) -> None:
    """In the child: create the key, pausing once its file is open, before writing it."""
    fdopen = os.fdopen

    def fdopen_then_wait(fd: int, *args: Any, **kwargs: Any) -> Any:
        opened.set()
        resume.wait(CHILD_TIMEOUT_S)
        return fdopen(fd, *args, **kwargs)

    os.fdopen = fdopen_then_wait
    try:
        results.put(load_or_create_key(folder).key)
    except Exception as exc:  # sent to the test, which shows it
        results.put(repr(exc))


def test_the_pseudonym_key_is_created_once_when_imports_start_together(tmp_path: Path) -> None:
    opened, resume, results = FORK.Event(), FORK.Event(), FORK.Queue()
    child = FORK.Process(target=_create_key_slowly, args=(tmp_path, opened, resume, results))
    child.start()
    try:
        assert opened.wait(CHILD_TIMEOUT_S)
        # the other import is creating the key right now: this one must not read half a key
        ours = load_or_create_key(tmp_path).key
    finally:
        resume.set()
    theirs = results.get(timeout=CHILD_TIMEOUT_S)
    child.join(CHILD_TIMEOUT_S)
    assert theirs == ours == (tmp_path / KEY_FILENAME).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILENAME]  # no draft left behind
