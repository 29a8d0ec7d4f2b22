"""Long work (training, batch prediction) as jobs: a row in the jobs table and a worker process.

The dashboard never trains or predicts inside its own script: :func:`start_job` inserts a job
row and has a :class:`JobRunner` execute it; the :class:`LocalRunner` starts ``gistcad jobs run
ID`` as a separate process (:func:`launch`), which records progress, messages and, on failure,
the reason in the row. The pages and commands know only :func:`start_job` and
:func:`restart_job`, so a runner that hands the work to a distributed engine can replace the
local one without touching them. What a job produces (a model version, a run
of predictions) is committed in the same transaction as its "succeeded", so a job is done
entirely or not at all. A job whose process vanished (killed, machine restarted) is found by
:func:`reap_orphans` and marked failed with that reason; :func:`restart` queues it again as a
new job.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gistcad.domain import CURRENT_MODELS, JobKind, JobStatus, ModelKind, Permission, Role
from gistcad.errors import GistcadError, ValidationError
from gistcad.job_progress import COUNTED, MAX_RUNNING, TrainingProgress
from gistcad.modelling.request import TrainRequest
from gistcad.progress import Progress
from gistcad.store import AccessScope, audit, session_scope
from gistcad.store.jobs import (
    cancel_queued_job,
    cancel_running_job,
    claim_job,
    create_job,
    fail_running_job,
    job_in_scope,
    request_cancel,
    running_jobs,
    update_job,
)
from gistcad.store.models import Job
from gistcad.store.scope import WORKSTATION_USER

logger = logging.getLogger(__name__)

#: parameter of a running job: who asked to cancel it (set by :func:`cancel`)
CANCEL_REQUESTED_BY = "cancel_requested_by"
#: parameters the worker adds to say which process runs the job, and a cancel request
#: (never copied by a restart)
WORKER_KEYS = ("pid", "host", "process", CANCEL_REQUESTED_BY)
#: the signal :func:`cancel` sends a worker: it stops the job, which ends "cancelled"
CANCEL_SIGNAL = signal.SIGUSR1
#: parameter of a restarted job: the id of the job it repeats
RESTART_OF = "restart_of"
RESTARTABLE = (JobStatus.FAILED, JobStatus.CANCELLED)
#: parameter of a train job: predict every patient with the new model, in the same job
PREDICT_ALL = "predict_all"
#: how the error of a job whose worker vanished begins (:func:`orphan_reason`)
ORPHAN_ERROR = "the worker process"
_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def submit(
    engine: Engine, kind: JobKind | str, parameters: dict[str, Any], scope: AccessScope
) -> int:
    """Insert a queued job owned by the caller and limited to their centers; returns its id.

    The worker runs the job in that same scope (:func:`job_scope`), so a job can never read
    or write more than the person who started it could. The parameters are checked here
    (:func:`check_parameters`), so that a job that cannot run is never queued.
    """
    kind = job_kind(kind)
    scope.require(Permission.RUN_JOBS)
    check_parameters(kind, parameters)
    with session_scope(engine) as session:
        job = create_job(session, kind, parameters)
        job.submitted_by = scope.user
        job.center_ids = None if scope.center_ids is None else sorted(scope.center_ids)
        audit.job_submitted(session, scope.user, job.id, kind=kind.value)
        return job.id


def job_kind(kind: JobKind | str) -> JobKind:
    """``kind`` as a :class:`JobKind`; a clear error for one that is not."""
    try:
        return JobKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in JobKind)
        raise ValidationError(f"unknown job kind {kind!r}; one of {known}") from None


def check_parameters(kind: JobKind, parameters: Mapping[str, Any]) -> None:
    """Refuse parameters a job of ``kind`` cannot run with: a train job's are a
    :class:`TrainRequest`'s; a predict job names a model version, or asks for the current
    versions (``"models": "current"``, :func:`~gistcad.modelling.current.
    predict_with_current_models`), and may list pseudonyms or, for one model version, centers
    (whose patients the model cannot read are left out, as of all patients)."""
    if kind is JobKind.TRAIN:
        TrainRequest.from_parameters(parameters)
        return
    if kind is JobKind.DISCOVER:
        from gistcad.biomarkers.discovery import DiscoveryRequest  # pandas: not at import

        DiscoveryRequest.from_parameters(parameters)
        return
    models = parameters.get("models")
    if models is not None and models != CURRENT_MODELS:
        raise ValidationError(
            f"a prediction job's models are {CURRENT_MODELS!r} or absent, not {models!r}"
        )
    model = parameters.get("model_version_id")
    if models is None and (isinstance(model, bool) or not isinstance(model, int)):
        raise ValidationError(f"a prediction job needs a model version id, not {model!r}")
    pseudonyms = parameters.get("pseudonyms")
    if pseudonyms is not None and not (
        isinstance(pseudonyms, list) and all(isinstance(p, str) for p in pseudonyms)
    ):
        raise ValidationError("a prediction job's patients must be a list of pseudonyms")
    centers = parameters.get("centers")
    if centers is not None and not (
        isinstance(centers, list) and all(isinstance(c, str) for c in centers)
    ):
        raise ValidationError("a prediction job's centers must be a list of center names")
    if centers and models is not None:
        raise ValidationError(
            "a prediction job of the current models predicts named patients or all, not centers"
        )


def job_scope(job: Job) -> AccessScope:
    """The scope a job runs in: its owner's centers (all centers for an operator's job)."""
    user = job.submitted_by or WORKSTATION_USER
    if job.center_ids is None:
        return AccessScope.everything(user=user)
    return AccessScope(center_ids=frozenset(job.center_ids), role=Role.PI, user=user)


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


def launch_tied(arguments: list[str], env: dict[str, str] | None = None) -> int:
    """Start ``gistcad <arguments>`` as a worker that ends when this process ends.

    On Linux the child asks the kernel for SIGTERM when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``), which holds across the parent's ``execve`` (``gistcad
    serve`` becomes the server): stopping the server in any way, even SIGKILL, stops the
    worker, and its job is then reaped as failed (:func:`reap_orphans`). Elsewhere the worker
    outlives the parent. Its output goes to this process's standard error. Returns its pid.
    """
    parent = os.getpid()
    libc = None
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls it

    def die_with_parent() -> None:  # runs in the child, between fork and exec
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before the request took effect
                os.kill(os.getpid(), signal.SIGTERM)

    process = subprocess.Popen(
        [sys.executable, "-m", "gistcad.cli", *arguments],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        preexec_fn=die_with_parent,
    )
    return process.pid


class JobRunner(Protocol):
    """Where the work of a job runs: the jobs table keeps its state, progress and audit; a
    runner only queues it there and has it executed (:class:`LocalRunner`: a process on this
    machine; a distributed engine's runner would hand it to that engine instead)."""

    def submit(
        self, engine: Engine, kind: JobKind, parameters: dict[str, Any], scope: AccessScope
    ) -> int:
        """Queue a job; returns its id."""
        ...

    def start(self, job_id: int) -> None:
        """Have queued job ``job_id`` executed (without waiting for it)."""
        ...

    def status(self, engine: Engine, job_id: int) -> JobStatus:
        """Where job ``job_id`` stands."""
        ...


@dataclass(frozen=True)
class LocalRunner:
    """Each job in a worker process of its own on this machine (``gistcad jobs run ID``),
    which finds the data in ``data_dir`` (default: this process's setting)."""

    data_dir: Path | None = None

    def submit(
        self, engine: Engine, kind: JobKind, parameters: dict[str, Any], scope: AccessScope
    ) -> int:
        return submit(engine, kind, parameters, scope)

    def start(self, job_id: int) -> None:
        env = None if self.data_dir is None else {"GISTCAD_DATA_DIR": str(self.data_dir)}
        pid = launch(job_id, env=env)
        logger.info("job %s: worker pid %s", job_id, pid)

    def status(self, engine: Engine, job_id: int) -> JobStatus:
        reap_orphans(engine)  # a worker that died leaves its job "running" until reaped
        with session_scope(engine) as session:
            return job_in_scope(session, job_id, None).status


def start_job(
    engine: Engine,
    kind: JobKind | str,
    parameters: dict[str, Any],
    scope: AccessScope,
    runner: JobRunner | None = None,
    *,
    data_dir: Path | None = None,
) -> int:
    """Queue a job and start it: what the pages and ``gistcad`` do to run one. Returns its id.

    ``runner``: where it runs (default: a :class:`LocalRunner` for ``data_dir``).
    """
    runner = runner or LocalRunner(data_dir)
    job_id = runner.submit(engine, job_kind(kind), parameters, scope)
    runner.start(job_id)
    return job_id


def restart_job(
    engine: Engine,
    job_id: int,
    scope: AccessScope,
    runner: JobRunner | None = None,
    *,
    data_dir: Path | None = None,
) -> int:
    """Queue failed or cancelled job ``job_id`` again (:func:`restart`) and start it;
    returns the new job's id."""
    new_id = restart(engine, job_id, scope)
    (runner or LocalRunner(data_dir)).start(new_id)
    return new_id


def restart(engine: Engine, job_id: int, scope: AccessScope) -> int:
    """Queue a failed or cancelled job again, as a new job with the same parameters.

    The new job's parameters name the job it repeats (``restart_of``); the old row stays as
    it ended. Returns the new job's id; :func:`restart_job` also starts it.

    Raises
    ------
    NotFoundError
        When there is no job ``job_id``.
    ValidationError
        When the job is queued, running or succeeded.
    """
    reap_orphans(engine)  # a job whose worker died is still "running" until reaped
    with session_scope(engine) as session:
        scope.require(Permission.RUN_JOBS)
        job = job_in_scope(session, job_id, scope)
        if job.status not in RESTARTABLE:
            raise ValidationError(
                f"job {job_id} is {job.status.value}; only a failed or cancelled job can be "
                "restarted"
            )
        parameters = {k: v for k, v in job.parameters.items() if k not in WORKER_KEYS}
        new = create_job(session, JobKind(job.kind), {**parameters, RESTART_OF: job_id})
        # the same owner and centers: a restart never widens what the job may touch
        new.submitted_by, new.center_ids = job.submitted_by, job.center_ids
        update_job(session, new.id, message=f"restart of job {job_id}")
        audit.job_submitted(session, scope.user, new.id, kind=job.kind, restart_of=job_id)
        return new.id


class JobCancelled(Exception):
    """Raised inside a worker when its job is cancelled (:data:`CANCEL_SIGNAL`)."""


def cancel(engine: Engine, job_id: int, scope: AccessScope) -> JobStatus:
    """Cancel job ``job_id``: a queued one at once, a running one by signalling its worker.

    The worker stops where it is; its transaction is rolled back, so nothing of the job (no
    model version, no prediction) is saved, and it records the job as cancelled
    (:func:`run`). A job whose worker is already gone is marked cancelled here. Audited.
    Returns the job's status after the request: ``cancelled``, or ``running`` while the
    worker is stopping.

    Raises
    ------
    NotFoundError
        When there is no job ``job_id`` in ``scope``.
    ValidationError
        When the job has already ended, or runs on another machine (only that machine can
        signal it).
    """
    scope.require(Permission.RUN_JOBS)
    message = f"cancelled by {scope.user}"
    with session_scope(engine) as session:
        job = job_in_scope(session, job_id, scope)
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise ValidationError(
                f"job {job_id} is {job.status.value}; only a queued or running job can be cancelled"
            )
        if cancel_queued_job(session, job_id, message):
            audit.job_cancelled(session, scope.user, job_id, was="queued")
            return JobStatus.CANCELLED
        session.refresh(job)
        host = job.parameters.get("host", socket.gethostname())
        if job.status is JobStatus.RUNNING and host != socket.gethostname():
            raise ValidationError(
                f"job {job_id} runs on {host}; cancel it there with 'gistcad jobs cancel {job_id}'"
            )
        if job.status is not JobStatus.RUNNING:  # it ended meanwhile
            raise ValidationError(
                f"job {job_id} is {job.status.value}; it can no longer be cancelled"
            )
        parameters = request_cancel(session, job_id, scope.user)
        audit.job_cancelled(session, scope.user, job_id, was="running")
    if _worker_gone(parameters):
        with session_scope(engine) as session:
            cancel_running_job(session, job_id, f"{message} (its worker had already stopped)")
        return JobStatus.CANCELLED
    try:
        os.kill(int(parameters["pid"]), CANCEL_SIGNAL)
    except ProcessLookupError:  # it ended between the look and the signal
        with session_scope(engine) as session:
            cancel_running_job(session, job_id, f"{message} (its worker had already stopped)")
        return JobStatus.CANCELLED
    logger.info("job %s: cancel signalled to worker pid %s", job_id, parameters["pid"])
    return JobStatus.RUNNING


@dataclass(frozen=True)
class JobState:
    """Where a job stands: status, fraction done, last message and, on failure, why."""

    status: JobStatus
    progress: float
    message: str
    error: str | None

    @property
    def ended(self) -> bool:
        """Whether the job has finished (succeeded, failed or cancelled)."""
        return self.status not in (JobStatus.QUEUED, JobStatus.RUNNING)


def job_state(engine: Engine, job_id: int, scope: AccessScope | None) -> JobState:
    """Where job ``job_id`` (in ``scope``; any job when None) stands now; a job whose worker
    died is reaped first, so it never looks running for ever.

    Raises
    ------
    NotFoundError
        When there is no such job in ``scope``.
    """
    reap_orphans(engine)
    with session_scope(engine) as session:
        job = job_in_scope(session, job_id, scope)
        return JobState(job.status, float(job.progress), job.message or "", job.error)


def job_status(engine: Engine, job_id: int) -> JobStatus:
    """Where job ``job_id`` stands now (a job whose worker died is reaped first)."""
    return job_state(engine, job_id, None).status


class _CancelSignal:
    """While armed, :data:`CANCEL_SIGNAL` raises :class:`JobCancelled` in this (the main)
    thread; disarmed before the job's result is committed, so that a late cancel never
    interrupts the commit."""

    def __init__(self) -> None:
        self.armed = False
        self.previous: Any = None

    def __enter__(self) -> _CancelSignal:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(CANCEL_SIGNAL, self._raise)
            self.armed = True
        return self

    def _raise(self, signum: int, frame: object) -> None:
        del signum, frame
        if self.armed:
            self.armed = False
            raise JobCancelled

    def __exit__(self, *exc: object) -> None:
        self.armed = False
        if self.previous is not None:
            signal.signal(CANCEL_SIGNAL, self.previous)


def _progress_recorder(engine: Engine, job_id: int, epochs: bool = False) -> Progress:
    """Record each message, with the fraction done where the messages tell it
    (:class:`~gistcad.job_progress.TrainingProgress`: folds, epochs), else the counted steps'
    (``done`` of ``total``: patients predicted); a message that counts steps of its own
    ("radiomics features 25/400", "crops 51/400": what every patient needs, read once before
    the folds or the predictions) keeps the fraction where it was, since its share of the
    job is not known; any other step nears 1 step by step."""
    steps = {"n": 0}
    last = {"fraction": 0.0}
    tracker = TrainingProgress(epochs=epochs)

    def record(message: str, done: int | None = None, total: int | None = None) -> None:
        steps["n"] += 1
        known = tracker.update(message)
        if known is None and done is not None and total:
            known = min(done / total, MAX_RUNNING)  # a prediction's patients: the whole job
        elif known is None and COUNTED.search(message):
            known = last["fraction"]
        # progress of an unknown number of steps: approach 1 without reaching it
        progress = 1 - 1 / (1 + 0.3 * steps["n"]) if known is None else known
        last["fraction"] = progress
        try:
            with session_scope(engine) as session:
                update_job(session, job_id, message=message, progress=progress)
        except OperationalError as exc:  # e.g. an import holds SQLite's write lock
            logger.warning("job %s: progress %r not recorded (%s)", job_id, message, exc.orig)

    return record


def _execute(
    session: Session,
    data_dir: Path,
    job: Job,
    progress: Progress,
) -> str:
    """Run the job in its owner's scope; its audit rows commit with the result."""
    # PyTorch and pandas: imported only here, by the worker
    from gistcad.biomarkers.discovery import DiscoveryRequest
    from gistcad.biomarkers.jobs import run_discovery_job
    from gistcad.modelling.current import predict_with_current_models
    from gistcad.modelling.trainer import predict_and_record, train_and_register

    kind, p, scope = JobKind(job.kind), dict(job.parameters), job_scope(job)
    if kind is JobKind.DISCOVER:  # the request's keys, not the worker's (pid, restart_of)
        asked = {k: v for k, v in p.items() if k in DiscoveryRequest.__dataclass_fields__}
        return run_discovery_job(session, scope, data_dir, job.id, asked, progress)
    device = str(p.get("device", "auto"))  # the deep model's: CUDA when available
    if kind is JobKind.TRAIN:
        request = TrainRequest.from_parameters(p)
        version = train_and_register(
            session, scope, data_dir, request, progress, device=device, job_id=job.id
        )
        if not p.get(PREDICT_ALL):
            return f"model version {version.id} ({version.name}) registered"
        # no progress message from here: this transaction holds the write lock (SQLite)
        run = predict_and_record(session, scope, data_dir, version.id, device=device, job_id=job.id)
        return (
            f"model version {version.id} ({version.name}) registered, {run.written} patients "
            f"predicted{run.note()}"
        )
    if p.get("models") == CURRENT_MODELS:  # a case: genotype, risk score, response where registered
        done = predict_with_current_models(
            session, scope, data_dir, p.get("pseudonyms"), progress, device=device, job_id=job.id
        )
        return "; ".join(f"{v.question}: {run.written} by {v.name}{run.note()}" for v, run in done)
    model_id = int(p["model_version_id"])
    # "predicted k/n" as the chunks are done: nothing is written before the last one, so
    # the progress rows never wait for this transaction's write lock (SQLite)
    run = predict_and_record(
        session,
        scope,
        data_dir,
        model_id,
        p.get("pseudonyms"),
        progress,
        device=device,
        job_id=job.id,
        centers=p.get("centers"),
    )
    return run.text()


def run(engine: Engine, data_dir: Path, job_id: int, scope: AccessScope | None = None) -> JobStatus:
    """Run a queued job to its end, recording every state change; never raises for the job.

    ``scope`` is the caller's, when a user (not the worker the job was launched with) asks;
    the job then must lie within it. The job itself always runs in its owner's scope.

    Raises
    ------
    NotFoundError
        When there is no such job (in ``scope``).
    ValidationError
        When it is not queued (another worker took it).
    AccessDenied
        When ``scope`` may not run jobs.
    """
    with session_scope(engine) as session:
        if scope is not None:
            scope.require(Permission.RUN_JOBS)
        job = job_in_scope(session, job_id, scope)
        if job.status is not JobStatus.QUEUED or not claim_job(session, job_id, _this_worker()):
            session.refresh(job)
            raise ValidationError(f"job {job_id} is {job.status.value}, not queued")
    try:
        with _CancelSignal() as cancellable, session_scope(engine) as session:
            job = job_in_scope(session, job_id, None)  # claimed above
            epochs = job.kind == JobKind.TRAIN and job.parameters.get("kind") == ModelKind.DL
            record = _progress_recorder(engine, job_id, epochs=epochs)
            message = _execute(session, data_dir, job, record)
            cancellable.armed = False  # from here the job finishes
            # the result and "succeeded" are committed together, or neither is
            update_job(session, job_id, status=JobStatus.SUCCEEDED, progress=1.0, message=message)
    except JobCancelled:  # the transaction above was rolled back: nothing of the job is kept
        with session_scope(engine) as session:
            by = job_in_scope(session, job_id, None).parameters.get(CANCEL_REQUESTED_BY)
            cancel_running_job(session, job_id, f"cancelled by {by}; nothing was saved")
        logger.info("job %s cancelled", job_id)
        return JobStatus.CANCELLED
    except GistcadError as exc:
        _fail(engine, job_id, str(exc))
        return JobStatus.FAILED
    except Exception as exc:  # the job's failure is recorded, not the worker's crash
        logger.exception("job %s failed", job_id)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _fail(engine, job_id, f"unexpected error: {detail}")
        return JobStatus.FAILED
    return JobStatus.SUCCEEDED


def _fail(engine: Engine, job_id: int, error: str) -> None:
    with session_scope(engine) as session:
        update_job(session, job_id, status=JobStatus.FAILED, error=error)


def _this_worker() -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "process": process_token(pid)}


def process_token(pid: int) -> str | None:
    """What identifies the live process ``pid``, or None when no such process runs.

    On Linux: the boot id and the process's start time (``/proc``), so that a pid reused by
    another process, or a machine restarted since, does not pass for the worker; a zombie
    (exited, not yet waited for by its parent) counts as gone. Elsewhere: the pid itself,
    if a signal can reach it.
    """
    if not (_PROC / "self" / "stat").exists():
        return str(pid) if _signal_reaches(pid) else None
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot = (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None
    # "pid (name) state ppid ...": the name may hold spaces; field 22 is the start time
    fields = stat[stat.rindex(")") + 2 :].split()
    state, started = fields[0], fields[19]
    return None if state in ("Z", "X") else f"{boot}/{started}"


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_gone(parameters: dict[str, Any]) -> bool:
    """True when the job's worker certainly no longer runs; False when it may (or runs on
    another machine, which only that machine can tell)."""
    here = socket.gethostname()
    if "pid" not in parameters or parameters.get("host", here) != here:
        return False
    now = process_token(int(parameters["pid"]))
    recorded = parameters.get("process")
    return now is None or (recorded is not None and now != recorded)


def orphan_reason(job_id: int, parameters: dict[str, Any]) -> str:
    """The error recorded for a job whose worker vanished: what happened and what to do."""
    return (
        f"{ORPHAN_ERROR} (pid {parameters.get('pid')}) ended before the job finished: it "
        "was killed (out of memory, or stopped by someone) or the machine restarted. Nothing "
        f"of this job was saved. Restart it: 'gistcad jobs restart {job_id}' or the Restart "
        "button on the Jobs page"
    )


def reap_orphans(engine: Engine) -> int:
    """Mark running jobs whose worker process is gone as failed; returns how many.

    Only workers on this machine are judged. A job that finishes while this looks keeps
    its own ending.
    """
    with session_scope(engine) as session:
        orphans = [(job_id, p) for job_id, p in running_jobs(session) if _worker_gone(p)]
        return sum(fail_running_job(session, i, orphan_reason(i, p)) for i, p in orphans)
