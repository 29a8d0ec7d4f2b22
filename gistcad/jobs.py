"""Long work (training, batch prediction) as jobs: a row in the jobs table and a worker process.

The dashboard never trains or predicts inside its own script: it inserts a job row and
starts ``gistcad jobs run ID`` as a separate process (:func:`launch`), which records progress,
messages and, on failure, the reason in the row. A job whose process vanished (killed, machine
restarted) is found by :func:`reap_orphans` and marked failed with that reason; it can be
started again as a new job.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from gistcad.domain import JobStatus, ModelKind
from gistcad.errors import GistcadError, ValidationError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, predict, train
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import Job
from gistcad.store.writes import create_job, update_job

logger = logging.getLogger(__name__)

KINDS = ("train", "predict")


def submit(engine: Engine, kind: str, parameters: dict[str, Any]) -> int:
    """Insert a queued job; returns its id."""
    if kind not in KINDS:
        raise ValidationError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")
    with session_scope(engine) as session:
        return create_job(session, kind, parameters).id


def launch(job_id: int, env: dict[str, str] | None = None) -> int:
    """Start ``gistcad jobs run job_id`` in its own process group; returns its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gistcad.cli", "jobs", "run", str(job_id)],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process.pid


def _progress_recorder(engine: Engine, job_id: int) -> Callable[[str], None]:
    steps = {"n": 0}

    def record(message: str) -> None:
        steps["n"] += 1
        with session_scope(engine) as session:
            # progress of an unknown number of steps: approach 1 without reaching it
            update_job(session, job_id, message=message, progress=1 - 1 / (1 + 0.3 * steps["n"]))

    return record


def _execute(engine: Engine, data_dir: Any, job: Job, progress: Callable[[str], None]) -> str:
    p = job.parameters
    with session_scope(engine) as session:
        if job.kind == "train":
            request = TrainRequest(
                kind=ModelKind(p["kind"]),
                target=Target(p.get("target", "genotype")),
                scheme=Scheme(p.get("scheme", "kfold")),
                name=p.get("name"),
                seed=int(p.get("seed", 0)),
            )
            version = train(session, AccessScope.everything(), data_dir, request, progress)
            return f"model version {version.id} ({version.name}) registered"
        n = predict(
            session,
            AccessScope.everything(),
            data_dir,
            int(p["model_version_id"]),
            p.get("pseudonyms"),
        )
        return f"{n} predictions written"


def run(engine: Engine, data_dir: Any, job_id: int) -> JobStatus:
    """Run a queued job to its end, recording every state change; never raises for the job."""
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ValidationError(f"no job {job_id}")
        if job.status is not JobStatus.QUEUED:
            raise ValidationError(f"job {job_id} is {job.status.value}, not queued")
        update_job(session, job_id, status=JobStatus.RUNNING, message="started")
        job.parameters = {**job.parameters, "pid": os.getpid()}
        session.flush()
        session.expunge(job)
    try:
        message = _execute(engine, data_dir, job, _progress_recorder(engine, job_id))
    except GistcadError as exc:
        _finish(engine, job_id, JobStatus.FAILED, error=str(exc))
        return JobStatus.FAILED
    except Exception as exc:  # the job's failure is recorded, not the worker's crash
        logger.exception("job %s failed", job_id)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _finish(engine, job_id, JobStatus.FAILED, error=f"unexpected error: {detail}")
        return JobStatus.FAILED
    _finish(engine, job_id, JobStatus.SUCCEEDED, message=message)
    return JobStatus.SUCCEEDED


def _finish(
    engine: Engine,
    job_id: int,
    status: JobStatus,
    *,
    message: str | None = None,
    error: str | None = None,
) -> None:
    with session_scope(engine) as session:
        update_job(
            session,
            job_id,
            status=status,
            progress=1.0 if status is JobStatus.SUCCEEDED else None,
            message=message,
            error=error,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans(engine: Engine) -> int:
    """Mark running jobs whose worker process is gone as failed; returns how many."""
    with session_scope(engine) as session:
        running = session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)).all()
        orphans = [
            j for j in running if "pid" in j.parameters and not _alive(int(j.parameters["pid"]))
        ]
        for job in orphans:
            update_job(
                session,
                job.id,
                status=JobStatus.FAILED,
                error="the worker process ended before the job finished (killed or restarted); "
                "start the job again",
            )
        return len(orphans)
