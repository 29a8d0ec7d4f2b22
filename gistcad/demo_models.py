"""The demo's three models, trained as ordinary background jobs after the demo cohort loads.

``gistcad demo load`` queues them (:func:`queue_demo_models`), ``gistcad serve`` starts one
worker that trains them one after another (:func:`run_demo_queue`, via ``gistcad jobs run
--demo``) while the dashboard already answers, and the pages show how far they are
(:func:`demo_model_states`). A model already registered, or with a job queued or running, is
not queued again; a job whose worker died (the server stopped mid-training) is queued again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.domain import JobKind, JobStatus, ModelKind
from gistcad.errors import ValidationError
from gistcad.job_progress import describe_time_left, seconds_left
from gistcad.modelling.folds import Scheme
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target
from gistcad.store import AccessScope, session_scope
from gistcad.store.jobs import newest_named_jobs, registered_names
from gistcad.store.models import Job

#: parameter that marks a job as one of the demo's
DEMO = "demo"

#: the demo models: name -> what their train job trains
DEMO_MODELS: dict[str, dict[str, Any]] = {
    "demo-clinical": {
        "kind": ModelKind.CLINICAL,
        "target": Target.GENOTYPE,
        "scheme": Scheme.KFOLD,
    },
    # the logistic pipeline: the search's fits would take the first start past its budget
    # (README "First start"); `gistcad train --model radiomics` trains the search
    "demo-radiomics": {
        "kind": ModelKind.RADIOMICS,
        "target": Target.KIT11,
        "scheme": Scheme.KFOLD,
        "radiomics": "logistic",
    },
    "demo-deep": {"kind": ModelKind.DL, "target": Target.GENOTYPE, "scheme": Scheme.HOLDOUT},
}


class DemoState(StrEnum):
    READY = "ready"
    TRAINING = "training"
    QUEUED = "queued"
    FAILED = "failed"
    ABSENT = "not queued"


@dataclass(frozen=True)
class DemoModelState:
    """Where one demo model stands; ``seconds_left`` is None when unknown."""

    name: str
    state: DemoState
    job_id: int | None = None
    progress: float = 0.0
    message: str | None = None
    error: str | None = None
    seconds_left: float | None = None


def demo_job_parameters(name: str) -> dict[str, Any]:
    """The parameters of the train job of demo model ``name``: its training request, and
    predicting every patient with it in the same job."""
    request = TrainRequest.from_parameters({**DEMO_MODELS[name], "name": name})
    return {**request.to_parameters(), jobs.PREDICT_ALL: True, DEMO: True}


def _registered(session: Session) -> set[str]:
    return registered_names(session, DEMO_MODELS)


def _newest_demo_jobs(session: Session) -> dict[str, Job]:
    """Each demo model's newest job."""
    return newest_named_jobs(session, JobKind.TRAIN, DEMO_MODELS, DEMO)


def queue_demo_models(engine: Engine, scope: AccessScope) -> dict[str, DemoModelState]:
    """Queue a train job for each demo model that needs one; returns where each stands.

    Skipped: a model already registered, one whose job is queued or running, one whose job
    failed for a reason of its own (shown, not retried). Queued again: a job whose worker
    died (found by :func:`gistcad.jobs.reap_orphans` first) or that was cancelled.
    """
    jobs.reap_orphans(engine)
    with session_scope(engine) as session:
        ready = _registered(session)
        newest = {
            name: (job.id, job.status, job.error or "")
            for name, job in _newest_demo_jobs(session).items()
        }
    states: dict[str, DemoModelState] = {}
    for name in DEMO_MODELS:
        job_id, status, error = newest.get(name, (None, None, ""))
        if name in ready:
            states[name] = DemoModelState(name, DemoState.READY, job_id, 1.0)
        elif status in (JobStatus.QUEUED, JobStatus.RUNNING):
            state = DemoState.QUEUED if status is JobStatus.QUEUED else DemoState.TRAINING
            states[name] = DemoModelState(name, state, job_id)
        elif job_id is None:
            new = jobs.submit(engine, JobKind.TRAIN, demo_job_parameters(name), scope)
            states[name] = DemoModelState(name, DemoState.QUEUED, new)
        elif status is JobStatus.CANCELLED or error.startswith(jobs.ORPHAN_ERROR):
            new = jobs.restart(engine, job_id, scope)
            states[name] = DemoModelState(name, DemoState.QUEUED, new)
        else:
            states[name] = DemoModelState(name, DemoState.FAILED, job_id, error=error)
    return states


def queued_demo_jobs(engine: Engine) -> list[int]:
    """The ids of the queued demo jobs, oldest first."""
    with session_scope(engine) as session:
        return [
            job.id for job in _newest_demo_jobs(session).values() if job.status is JobStatus.QUEUED
        ]


def run_demo_queue(engine: Engine, data_dir: Path) -> dict[int, JobStatus]:
    """Run the queued demo jobs one after another, until none is left; returns each ending.

    A job another worker took meanwhile is left to it.
    """
    endings: dict[int, JobStatus] = {}
    while pending := [i for i in queued_demo_jobs(engine) if i not in endings]:
        try:
            endings[pending[0]] = jobs.run(engine, data_dir, pending[0])
        except ValidationError:  # claimed by another worker
            endings[pending[0]] = JobStatus.RUNNING
    return endings


def demo_model_states(
    session: Session, now: dt.datetime | None = None
) -> dict[str, DemoModelState] | None:
    """Where each demo model stands, with the time left of a running one; None when no demo
    model was ever queued (a database of real data, or a demo loaded with ``--no-models``)."""
    newest = _newest_demo_jobs(session)
    if not newest:
        return None
    ready, now = _registered(session), now or dt.datetime.now(dt.UTC)
    states: dict[str, DemoModelState] = {}
    for name in DEMO_MODELS:
        job = newest.get(name)
        if name in ready:
            states[name] = DemoModelState(
                name, DemoState.READY, None if job is None else job.id, 1.0
            )
            continue
        if job is None:
            states[name] = DemoModelState(name, DemoState.ABSENT)
            continue
        state = {
            JobStatus.QUEUED: DemoState.QUEUED,
            JobStatus.RUNNING: DemoState.TRAINING,
        }.get(job.status, DemoState.FAILED)
        left = None
        if state is DemoState.TRAINING and job.started_at is not None:
            started = job.started_at
            if started.tzinfo is None:  # SQLite returns naive UTC times
                started = started.replace(tzinfo=dt.UTC)
            left = seconds_left((now - started).total_seconds(), job.progress)
        states[name] = DemoModelState(
            name, state, job.id, job.progress, job.message, job.error, left
        )
    return states


def describe(state: DemoModelState) -> str:
    """One line for a page: "demo-radiomics is training: 40 %, about 1 min left"."""
    if state.state is DemoState.TRAINING:
        left = describe_time_left(state.seconds_left)
        step = f" ({state.message})" if state.message else ""
        return f"{state.name} is training{step}: {state.progress:.0%}" + (
            f", {left}" if left else ""
        )
    if state.state is DemoState.QUEUED:
        return f"{state.name} is queued: it trains after the demo models before it"
    if state.state is DemoState.FAILED:
        return f"{state.name} was not trained: {state.error}"
    if state.state is DemoState.ABSENT:
        return f"{state.name} is not queued: 'gistcad demo load' queues it"
    return f"{state.name} is ready"


def pending(states: dict[str, DemoModelState] | None) -> list[DemoModelState]:
    """The demo models still queued or training."""
    waiting = (DemoState.QUEUED, DemoState.TRAINING)
    return [s for s in (states or {}).values() if s.state in waiting]
