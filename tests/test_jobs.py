"""Background jobs: run to success, failure with its reason, orphans reaped, CLI launch;
a worker killed mid-run, restarts, and two workers at one job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.cli import main
from gistcad.domain import JobKind, JobStatus
from gistcad.errors import NotFoundError, ValidationError
from gistcad.job_progress import MAX_RUNNING
from gistcad.store import AccessScope, make_engine, migrations, session_scope
from gistcad.store import engine as engine_module
from gistcad.store.engine import import_lock
from gistcad.store.jobs import claim_job, fail_running_job, update_job
from gistcad.store.models import AuditEvent, Job, ModelVersion, Prediction
from tests.conftest import BACKENDS
from tests.factories import seed_cohort
from tests.workers import store_env

EVERYTHING = AccessScope.everything()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=40, with_series=True)
        s.commit()
    return engine


def _job(engine: Engine, job_id: int) -> Job:
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.expunge(job)
        return job


def test_train_then_predict_jobs_succeed(engine: Engine, tmp_path: Path) -> None:
    train_id = jobs.submit(
        engine, "train", {"kind": "clinical", "target": "kit11", "name": "j1"}, EVERYTHING
    )
    assert jobs.run(engine, tmp_path, train_id) is JobStatus.SUCCEEDED
    job = _job(engine, train_id)
    assert job.progress == 1.0 and "j1" in (job.message or "") and job.finished_at is not None
    with Session(engine) as s:
        model_id = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "j1"))
    predict_id = jobs.submit(engine, "predict", {"model_version_id": model_id}, EVERYTHING)
    assert jobs.run(engine, tmp_path, predict_id) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        n = s.scalar(
            select(func.count(Prediction.id)).where(Prediction.model_version_id == model_id)
        )
    assert n == 40


def test_a_failing_job_says_why_and_cannot_rerun(engine: Engine, tmp_path: Path) -> None:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 999}, EVERYTHING)
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.FAILED
    assert _job(engine, job_id).error == "no model version with id 999"
    with pytest.raises(Exception, match="is failed, not queued"):
        jobs.run(engine, tmp_path, job_id)


def test_a_vanished_worker_is_reaped(engine: Engine) -> None:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 1}, EVERYTHING)
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.parameters = JobStatus.RUNNING, {"pid": 2**22 + 12345}
        s.commit()
    assert jobs.reap_orphans(engine) == 1
    assert "worker process (pid 4206649) ended" in (_job(engine, job_id).error or "")


def test_launch_runs_in_another_process(engine: Engine, tmp_path: Path) -> None:
    job_id = jobs.submit(
        engine, "train", {"kind": "clinical", "target": "genotype", "name": "bg"}, EVERYTHING
    )
    pid = jobs.launch(job_id, env={"GISTCAD_DATA_DIR": str(tmp_path)})
    assert pid != os.getpid()
    deadline = time.monotonic() + 120
    while _job(engine, job_id).status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.5)
    assert _job(engine, job_id).status is JobStatus.SUCCEEDED


def test_jobs_list_cli(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    jobs.submit(engine, "predict", {"model_version_id": 1}, EVERYTHING)
    assert main(["jobs", "list"]) == 0
    assert "queued" in capsys.readouterr().out


# --- killed workers, restarts, and two processes at one job (SQLite and PostgreSQL) ---------

#: ``gistcad jobs run ID`` that stops just before recording "succeeded" and waits to be
#: killed: whatever the job wrote by then is exactly what a kill at that moment leaves
PAUSED_WORKER = """
import sys, time
from pathlib import Path
from gistcad import jobs
from gistcad.cli import main
from gistcad.domain import JobStatus

def pause_before_success(session, job_id, **changes):
    if changes.get("status") is JobStatus.SUCCEEDED:
        session.flush()
        Path(sys.argv[2]).write_text("paused")
        time.sleep(300)
    return record(session, job_id, **changes)

record, jobs.update_job = jobs.update_job, pause_before_success
sys.exit(main(["jobs", "run", sys.argv[1]]))
"""
N_PATIENTS = 20
WAIT_S = 120


@pytest.fixture
def store(empty_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A seeded store on the test's backend, which workers started from here also open."""
    migrations.upgrade(empty_engine)
    with Session(empty_engine) as s:
        seed_cohort(s, n=N_PATIENTS, with_series=True)
        s.commit()
    for name, value in store_env(empty_engine, tmp_path).items():
        monkeypatch.setenv(name, value)
    return empty_engine


def _predictions(engine: Engine, model_id: int) -> int:
    with Session(engine) as s:
        return int(
            s.scalar(
                select(func.count(Prediction.id)).where(Prediction.model_version_id == model_id)
            )
            or 0
        )


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_a_killed_prediction_job_fails_with_its_reason_leaves_nothing_and_restarts(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train_id = jobs.submit(
        store, "train", {"kind": "clinical", "target": "kit11", "name": "k"}, EVERYTHING
    )
    assert jobs.run(store, tmp_path, train_id) is JobStatus.SUCCEEDED
    with Session(store) as s:
        model_id = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "k"))
    assert model_id is not None
    job_id = jobs.submit(store, "predict", {"model_version_id": model_id}, EVERYTHING)
    paused = tmp_path / "paused"
    worker = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WORKER, str(job_id), str(paused)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: paused.exists() or worker.poll() is not None, "the worker to pause")
        assert worker.poll() is None, worker.communicate()[1].decode()
        mid_run = _job(store, job_id)
        assert mid_run.status is JobStatus.RUNNING and mid_run.parameters["pid"] == worker.pid
        assert _predictions(store, model_id) == 0  # written by the worker, not committed
        os.kill(worker.pid, signal.SIGKILL)
        # not waited for: the worker is a zombie, which must count as gone
        _wait_for(lambda: jobs.reap_orphans(store) == 1, "the killed worker to be reaped", 10)
    finally:
        worker.kill()
        worker.communicate()
    killed = _job(store, job_id)
    assert killed.status is JobStatus.FAILED and killed.finished_at is not None
    assert f"worker process (pid {worker.pid}) ended before the job finished" in (
        killed.error or ""
    )
    assert f"'gistcad jobs restart {job_id}'" in (killed.error or "")
    assert _predictions(store, model_id) == 0  # all or nothing: nothing

    assert main(["jobs", "restart", str(job_id)]) == 0
    assert f"restart of job {job_id}" in capsys.readouterr().out
    with Session(store) as s:
        restart_id = s.scalar(select(func.max(Job.id)))
    assert restart_id is not None and restart_id != job_id
    _wait_for(
        lambda: _job(store, restart_id).status not in (JobStatus.QUEUED, JobStatus.RUNNING),
        "the restarted job to finish",
    )
    restarted = _job(store, restart_id)
    assert restarted.status is JobStatus.SUCCEEDED, restarted.error
    assert restarted.parameters["restart_of"] == job_id
    assert restarted.parameters["model_version_id"] == model_id
    assert restarted.parameters["pid"] != worker.pid
    assert _predictions(store, model_id) == N_PATIENTS
    assert _job(store, job_id).status is JobStatus.FAILED  # the old row stays as it ended


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_one_job_is_run_by_one_worker_and_a_finished_job_is_never_reaped(
    store: Engine, tmp_path: Path
) -> None:
    job_id = jobs.submit(store, "predict", {"model_version_id": 999}, EVERYTHING)
    with session_scope(store) as late:
        assert late.get(Job, job_id).status is JobStatus.QUEUED  # type: ignore[union-attr]
        with session_scope(store) as early:
            assert claim_job(early, job_id, {"pid": 1})
        assert not claim_job(late, job_id, {"pid": 2})  # it saw "queued"; it is not any more
    assert _job(store, job_id).parameters["pid"] == 1
    with pytest.raises(ValidationError, match=f"job {job_id} is running, not queued"):
        jobs.run(store, tmp_path, job_id)
    with session_scope(store) as s:
        update_job(s, job_id, status=JobStatus.SUCCEEDED, message="done")
    with session_scope(store) as s:  # a reaper that looked before the job finished
        assert not fail_running_job(s, job_id, "worker gone")
    assert _job(store, job_id).status is JobStatus.SUCCEEDED


def _running_job(engine: Engine, worker: dict[str, object]) -> int:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 1}, EVERYTHING)
    with session_scope(engine) as s:
        assert claim_job(s, job_id, worker)
    return job_id


def test_only_workers_of_this_machine_that_are_gone_are_reaped(engine: Engine) -> None:
    here, me = socket.gethostname(), os.getpid()
    elsewhere = _running_job(engine, {"pid": 2**22 + 1, "host": "another-machine"})
    reused = _running_job(engine, {"pid": me, "host": here, "process": "an older process"})
    alive = _running_job(engine, {"pid": me, "host": here, "process": jobs.process_token(me)})
    assert jobs.reap_orphans(engine) == 1
    assert [_job(engine, i).status for i in (elsewhere, reused, alive)] == [
        JobStatus.RUNNING,
        JobStatus.FAILED,
        JobStatus.RUNNING,
    ]


def test_a_zombie_worker_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        _wait_for(lambda: jobs.process_token(child.pid) is None, "the child to exit", 30)
        os.kill(child.pid, 0)  # a signal still reaches it: it is a zombie, not yet waited for
    finally:
        child.wait()


def test_restart_refuses_what_cannot_be_restarted_and_can_only_queue(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = jobs.submit(
        engine, "predict", {"model_version_id": 999, "pseudonyms": ["P-001"]}, EVERYTHING
    )
    with pytest.raises(ValidationError, match="job 1 is queued; only a failed or cancelled"):
        jobs.restart(engine, job_id, EVERYTHING)
    assert main(["jobs", "restart", "42"]) == 2
    assert "no job 42" in capsys.readouterr().err
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.FAILED
    assert main(["jobs", "restart", str(job_id), "--no-launch"]) == 0
    assert "job 2 queued (restart of job 1)" in capsys.readouterr().out
    again = _job(engine, 2)
    assert again.status is JobStatus.QUEUED and again.message == "restart of job 1"
    assert again.parameters == {"model_version_id": 999, "pseudonyms": ["P-001"], "restart_of": 1}


def test_a_busy_database_skips_a_progress_step_instead_of_failing_the_job(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine.dispose()  # new connections get the short timeout
    job_id = jobs.submit(
        engine, "train", {"kind": "clinical", "target": "kit11", "name": "p"}, EVERYTHING
    )
    with session_scope(engine) as an_import:
        import_lock(an_import)  # SQLite: the database's write lock, held by "an import"
        jobs._progress_recorder(engine, job_id)("fold 1 of 5")
    assert "progress 'fold 1 of 5' not recorded (database is locked)" in caplog.text
    jobs._progress_recorder(engine, job_id)("fold 2 of 5")
    assert _job(engine, job_id).message == "fold 2 of 5"


def test_the_features_or_crops_read_before_the_folds_hold_the_progress(engine: Engine) -> None:
    """Every patient's features (crops) are read once before the folds or the predictions:
    their messages are shown, and the fraction holds (their share of the job is not known),
    so that it never falls back when the folds or the predicted patients start counting."""
    predict_job = jobs.submit(engine, "predict", {"model_version_id": 1}, EVERYTHING)
    record = jobs._progress_recorder(engine, predict_job)
    seen = []
    for message, done, total in [
        ("radiomics features 1/400", None, None),
        ("radiomics features 376/400", None, None),
        ("predicted 100/400", 100, 400),
        ("predicted 400/400", 400, 400),
    ]:
        record(message, done, total)
        seen.append((_job(engine, predict_job).message, _job(engine, predict_job).progress))
    assert seen == [
        ("radiomics features 1/400", 0.0),
        ("radiomics features 376/400", 0.0),
        ("predicted 100/400", 0.25),
        ("predicted 400/400", MAX_RUNNING),
    ]
    train_job = jobs.submit(engine, "train", {"kind": "dl", "target": "kit11"}, EVERYTHING)
    record = jobs._progress_recorder(engine, train_job, epochs=True)
    fractions = []
    for message in ["crops 1/400", "crops 351/400", "fold 1/5 (fold 1)", "epoch 20/40 val"]:
        record(message)
        fractions.append(_job(engine, train_job).progress)
    # the folds and the final fit: six stages; half the epochs of the first after its crops
    assert fractions == pytest.approx([0.0, 0.0, 0.0, (0.3 + 0.7 * 0.5) / 6])


# --- what a job is given: the training request, the kind, the runner ----------------------


def test_a_train_job_keeps_its_epochs_and_audits_once(engine: Engine, tmp_path: Path) -> None:
    parameters = {"kind": "clinical", "target": "kit11", "name": "e3", "epochs": 3, "seed": 5}
    job_id = jobs.submit(engine, JobKind.TRAIN, parameters, EVERYTHING)
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        version = s.scalars(select(ModelVersion).where(ModelVersion.name == "e3")).one()
        assert version.parameters["epochs"] == 3 and version.parameters["seed"] == 5
        trail = s.scalars(select(AuditEvent).where(AuditEvent.action == "train")).all()
        assert [(e.target, e.detail) for e in trail] == [
            (str(version.id), {"name": "e3", "patients": 40, "job": job_id})
        ]


def test_a_train_job_keeps_the_folds_it_was_asked_to_reuse(engine: Engine, tmp_path: Path) -> None:
    first = jobs.submit(engine, JobKind.TRAIN, {"kind": "clinical", "name": "f1"}, EVERYTHING)
    assert jobs.run(engine, tmp_path, first) is JobStatus.SUCCEEDED
    parameters = {"kind": "clinical", "name": "f2", "seed": 3, "folds_from": "f1"}
    second = jobs.submit(engine, JobKind.TRAIN, parameters, EVERYTHING)
    assert jobs.run(engine, tmp_path, second) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        versions = {
            v.name: v
            for v in s.scalars(select(ModelVersion).where(ModelVersion.name.in_(["f1", "f2"])))
        }
    assert versions["f2"].parameters["folds_from"] == "f1"
    assert versions["f2"].metrics["folds"]["from"] == "f1"
    folds = {n: {r["pseudonym"]: r["fold"] for r in v.metrics["oof"]} for n, v in versions.items()}
    assert len(folds["f1"]) == 40 and folds["f2"] == folds["f1"]


@pytest.mark.parametrize(
    ("kind", "parameters", "message"),
    [
        ("cleanup", {}, "unknown job kind 'cleanup'; one of train, predict"),
        ("train", {"kind": "forest"}, "unknown model kind 'forest'"),
        ("train", {"kind": "dl", "epochs": 0}, "epochs must lie between 1 and 1000, not 0"),
        ("predict", {}, "a prediction job needs a model version id, not None"),
        ("predict", {"model_version_id": 1, "pseudonyms": "P-001"}, "must be a list of"),
    ],
)
def test_a_job_that_cannot_run_is_never_queued(
    engine: Engine, kind: str, parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        jobs.submit(engine, kind, dict(parameters), EVERYTHING)
    with Session(engine) as s:
        assert s.scalar(select(func.count(Job.id))) == 0


class RecordingRunner:
    """A runner that queues like the local one and records what it was asked to start."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def submit(
        self, engine: Engine, kind: JobKind, parameters: dict[str, Any], scope: AccessScope
    ) -> int:
        return jobs.submit(engine, kind, parameters, scope)

    def start(self, job_id: int) -> None:
        self.started.append(job_id)

    def status(self, engine: Engine, job_id: int) -> JobStatus:
        return jobs.LocalRunner().status(engine, job_id)


def test_start_job_queues_then_starts_through_its_runner(engine: Engine, tmp_path: Path) -> None:
    runner = RecordingRunner()
    job_id = jobs.start_job(engine, "predict", {"model_version_id": 1}, EVERYTHING, runner)
    assert runner.started == [job_id]
    assert runner.status(engine, job_id) is JobStatus.QUEUED
    assert _job(engine, job_id).kind == JobKind.PREDICT
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.FAILED  # no saved model file
    assert runner.status(engine, job_id) is JobStatus.FAILED
    again = jobs.restart_job(engine, job_id, EVERYTHING, runner)
    assert runner.started == [job_id, again] and again != job_id
    with pytest.raises(NotFoundError, match=r"^no job 99$"):
        runner.status(engine, 99)


def test_the_local_runner_starts_a_worker_for_the_data_folder(
    engine: Engine, tmp_path: Path
) -> None:
    job_id = jobs.start_job(
        engine, JobKind.TRAIN, {"kind": "clinical", "name": "local"}, EVERYTHING, data_dir=tmp_path
    )
    runner = jobs.LocalRunner(tmp_path)
    deadline = time.monotonic() + 120
    while runner.status(engine, job_id) in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.5)
    assert runner.status(engine, job_id) is JobStatus.SUCCEEDED, _job(engine, job_id).error


# --- progress seen from outside while a job runs; cancelling a real worker ------------------

#: ``gistcad jobs run ID`` whose worker, once it has recorded a step starting with argv[3],
#: waits until the file argv[2] is removed: the test reads the job's row meanwhile. What is
#: recorded is the worker's own progress; the wait only holds the worker at that step.
HELD_WORKER = """
import sys, time
from pathlib import Path
from gistcad import jobs
from gistcad.cli import main

real = jobs._progress_recorder

def held(engine, job_id, epochs=False):
    record = real(engine, job_id, epochs)
    def step(message, done=None, total=None):
        record(message, done, total)
        hold = Path(sys.argv[2])
        if message.startswith(sys.argv[3]) and not Path(sys.argv[2] + ".seen").exists():
            Path(sys.argv[2] + ".seen").write_text(message)
            hold.write_text(message)
            while hold.exists():
                time.sleep(0.05)
    return step

jobs._progress_recorder = held
sys.exit(main(["jobs", "run", sys.argv[1]]))
"""


def _held_worker(job_id: int, hold: Path, step: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", HELD_WORKER, str(job_id), str(hold), step],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_a_running_training_shows_its_progress_and_cancelling_it_saves_nothing(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = jobs.submit(
        store, "train", {"kind": "clinical", "target": "kit11", "name": "c"}, EVERYTHING
    )
    hold = tmp_path / "hold"
    worker = _held_worker(job_id, hold, "fold 3/")
    try:
        _wait_for(lambda: hold.exists() or worker.poll() is not None, "the worker's third fold")
        assert worker.poll() is None, worker.communicate()[1].decode()
        mid_run = _job(store, job_id)
        # 5 folds and the final fit are 6 equal stages: fold 3 starts at 2/6 of the job
        assert mid_run.status is JobStatus.RUNNING and mid_run.message is not None
        assert mid_run.message.startswith("fold 3/5")
        assert mid_run.progress == pytest.approx(2 / 6)
        assert main(["jobs", "cancel", str(job_id)]) == 0
        assert capsys.readouterr().out.strip() == f"job {job_id}: cancelled"
        assert worker.wait(30) == 1  # "gistcad jobs run" says the job did not succeed
    finally:
        worker.kill()
        worker.communicate()
    cancelled = _job(store, job_id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
    by = cancelled.parameters[jobs.CANCEL_REQUESTED_BY]
    assert by.startswith("cli:")  # the command's caller
    assert cancelled.message == f"cancelled by {by}; nothing was saved"
    with Session(store) as s:
        # no partial model
        assert s.scalar(select(func.count(ModelVersion.id)).where(ModelVersion.name == "c")) == 0
        trail = s.scalars(select(AuditEvent).where(AuditEvent.action == "job.cancel")).all()
        assert [(e.actor, e.target, e.detail) for e in trail] == [
            (by, str(job_id), {"was": "running"})
        ]
    # a cancelled job can be run again, without the cancel request
    again = jobs.restart(store, job_id, EVERYTHING)
    assert jobs.CANCEL_REQUESTED_BY not in _job(store, again).parameters


def test_a_running_prediction_shows_the_share_of_patients_predicted(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in store_env(engine, tmp_path).items():
        monkeypatch.setenv(name, value)
    train_id = jobs.submit(
        engine, "train", {"kind": "clinical", "target": "kit11", "name": "q"}, EVERYTHING
    )
    assert jobs.run(engine, tmp_path, train_id) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        model_id = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "q"))
    assert model_id is not None
    job_id = jobs.submit(engine, "predict", {"model_version_id": model_id}, EVERYTHING)
    hold = tmp_path / "hold"
    worker = _held_worker(job_id, hold, "predicted 16/")
    try:
        _wait_for(lambda: hold.exists() or worker.poll() is not None, "16 patients predicted")
        assert worker.poll() is None, (_job(engine, job_id).message, worker.communicate()[1])
        mid_run = _job(engine, job_id)
        assert (mid_run.status, mid_run.message) == (JobStatus.RUNNING, "predicted 16/40")
        assert mid_run.progress == pytest.approx(16 / 40)
        hold.unlink()  # let it finish
        assert worker.wait(60) == 0, worker.communicate()[1].decode()
    finally:
        worker.kill()
        worker.communicate()
    assert _job(engine, job_id).status is JobStatus.SUCCEEDED


def test_a_queued_job_is_cancelled_at_once_and_an_ended_one_cannot_be(engine: Engine) -> None:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 1}, EVERYTHING)
    assert jobs.cancel(engine, job_id, EVERYTHING) is JobStatus.CANCELLED
    assert _job(engine, job_id).message == "cancelled by workstation"
    with pytest.raises(ValidationError, match="is cancelled, not queued"):
        jobs.run(engine, Path("."), job_id)  # a worker started for it finds it cancelled
    with pytest.raises(ValidationError, match="only a queued or running job can be cancelled"):
        jobs.cancel(engine, job_id, EVERYTHING)
    with pytest.raises(NotFoundError):
        jobs.cancel(engine, 999, EVERYTHING)
