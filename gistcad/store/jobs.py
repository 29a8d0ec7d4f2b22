"""The jobs table: queue, claim, record and look up background jobs (never commit).

What a job does lives in :mod:`gistcad.jobs`; this module only reads and writes its row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gistcad.domain import JobKind, JobStatus
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store.models import Job, ModelVersion
from gistcad.store.scope import AccessScope


def create_job(session: Session, kind: JobKind, parameters: dict[str, Any]) -> Job:
    """A queued job of ``kind`` with ``parameters`` (flushed: it has its id)."""
    job = Job(
        kind=JobKind(kind).value, parameters=parameters, status=JobStatus.QUEUED, progress=0.0
    )
    session.add(job)
    session.flush()
    return job


def update_job(
    session: Session,
    job_id: int,
    *,
    status: JobStatus | None = None,
    progress: float | None = None,
    message: str | None = None,
    error: str | None = None,
) -> None:
    """Record a job's state; sets the start and finish times as the status moves on."""
    job = session.get(Job, job_id)
    if job is None:
        raise ValidationError(f"no job {job_id}")
    now = dt.datetime.now(dt.UTC)
    if status is not None:
        job.status = status
        if status is JobStatus.RUNNING and job.started_at is None:
            job.started_at = now
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            job.finished_at = now
    if progress is not None:
        job.progress = min(max(progress, 0.0), 1.0)
    if message is not None:
        job.message = message[:2000]
    if error is not None:
        job.error = error[:8000]
    session.flush()


def claim_job(session: Session, job_id: int, worker: dict[str, Any]) -> bool:
    """Move a queued job to running for ``worker`` (recorded in its parameters).

    The status is checked in the same statement that changes it, so of two workers started
    for one job exactly one gets it; returns whether this one did.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise ValidationError(f"no job {job_id}")
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            parameters={**job.parameters, **worker},
            message="started",
            started_at=dt.datetime.now(dt.UTC),
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(job)
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def fail_running_job(session: Session, job_id: int, error: str) -> bool:
    """Mark a job failed with ``error`` if it is still running; returns whether it was.

    A job that finished between the caller's look and this write keeps its own ending.
    """
    failed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(status=JobStatus.FAILED, error=error[:8000], finished_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(failed.rowcount)  # type: ignore[attr-defined]


def cancel_queued_job(session: Session, job_id: int, message: str) -> bool:
    """Mark a job cancelled if it is still queued; returns whether it was.

    The status is checked in the same statement, so a worker that claims the job at the same
    moment either gets it (and this returns False) or finds it cancelled.
    """
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.CANCELLED, message=message, finished_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(cancelled.rowcount)  # type: ignore[attr-defined]


def cancel_running_job(session: Session, job_id: int, message: str) -> bool:
    """Mark a running job cancelled (its worker is gone or has stopped); returns whether it
    was still running."""
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(status=JobStatus.CANCELLED, message=message, finished_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(cancelled.rowcount)  # type: ignore[attr-defined]


def request_cancel(session: Session, job_id: int, by: str) -> dict[str, Any]:
    """Note in a running job's parameters who asked to cancel it; returns its parameters."""
    job = session.get(Job, job_id)
    if job is None:
        raise ValidationError(f"no job {job_id}")
    job.parameters = {**job.parameters, "cancel_requested_by": by}
    session.flush()
    return dict(job.parameters)


def job_in_scope(session: Session, job_id: int, scope: AccessScope | None) -> Job:
    """Job ``job_id``, when it lies within ``scope`` (any job when ``scope`` is None).

    Raises
    ------
    NotFoundError
        When there is no such job, or it touches centers outside ``scope`` (for the caller,
        it does not exist).
    """
    job = session.get(Job, job_id)
    centers = None if job is None or job.center_ids is None else frozenset(job.center_ids)
    if job is None or (scope is not None and not scope.covers(centers)):
        raise NotFoundError(f"no job {job_id}")
    return job


def running_jobs(session: Session) -> list[tuple[int, dict[str, Any]]]:
    """(id, parameters) of every running job."""
    rows = session.execute(select(Job.id, Job.parameters).where(Job.status == JobStatus.RUNNING))
    return [(job_id, parameters) for job_id, parameters in rows]


def newest_named_jobs(
    session: Session, kind: JobKind, names: Collection[str], marker: str
) -> dict[str, Job]:
    """Per name in ``names``, the newest job of ``kind`` whose parameters hold that ``name``
    and a true ``marker`` (the parameters are JSON: filtered here, portable across dialects)."""
    newest: dict[str, Job] = {}
    for job in session.scalars(select(Job).where(Job.kind == kind.value).order_by(Job.id)):
        name = job.parameters.get("name")
        if job.parameters.get(marker) and isinstance(name, str) and name in names:
            newest[name] = job
    return newest


def registered_names(session: Session, names: Collection[str]) -> set[str]:
    """Which of ``names`` are registered model versions."""
    found = session.scalars(select(ModelVersion.name).where(ModelVersion.name.in_(list(names))))
    return set(found)
