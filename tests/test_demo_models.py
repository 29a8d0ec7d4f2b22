"""The demo models as background jobs: queued once, re-queued when their worker died, trained
one after another by one worker, shown with their progress; the worker ends with the server."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad import demo_models, jobs
from gistcad.demo_models import DemoState, demo_model_states, queue_demo_models
from gistcad.domain import JobStatus
from gistcad.store import AccessScope, make_engine, migrations, session_scope
from gistcad.store.jobs import claim_job, update_job
from gistcad.store.models import Job, ModelVersion, Prediction
from tests.factories import seed_cohort

EVERYTHING = AccessScope.everything()
N_PATIENTS = 30


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=N_PATIENTS, with_series=True)
        s.commit()
    return engine


def _states(engine: Engine) -> dict[str, DemoState]:
    with session_scope(engine) as session:
        states = demo_model_states(session)
    assert states is not None
    return {name: s.state for name, s in states.items()}


def _count_jobs(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count(Job.id))) or 0)


def test_no_demo_state_before_anything_is_queued(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert demo_model_states(session) is None


def test_queueing_is_idempotent(engine: Engine) -> None:
    first = queue_demo_models(engine, EVERYTHING)
    assert [s.state for s in first.values()] == [DemoState.QUEUED] * 3
    assert _count_jobs(engine) == 3
    again = queue_demo_models(engine, EVERYTHING)
    assert {n: s.job_id for n, s in again.items()} == {n: s.job_id for n, s in first.items()}
    assert _count_jobs(engine) == 3
    with Session(engine) as s:
        job = s.get(Job, first["demo-radiomics"].job_id)
        assert job is not None
        assert job.parameters == {
            "kind": "radiomics",
            "target": "kit11",
            "scheme": "kfold",
            "name": "demo-radiomics",
            "seed": 0,
            "epochs": None,
            "folds_from": None,
            "deep_model": None,
            "radiomics": "logistic",  # the first start's budget (README "First start")
            "predict_all": True,
            "demo": True,
        }


def test_a_job_whose_worker_died_is_queued_again_one_that_failed_is_not(engine: Engine) -> None:
    first = queue_demo_models(engine, EVERYTHING)
    dead, failed = first["demo-clinical"].job_id, first["demo-deep"].job_id
    assert dead is not None and failed is not None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    with session_scope(engine) as session:
        claim_job(session, dead, {"pid": gone.pid, "host": socket.gethostname(), "process": "x"})
        update_job(session, failed, status=JobStatus.FAILED, error="only 3 patients have a CT")
    again = queue_demo_models(engine, EVERYTHING)
    assert again["demo-clinical"].state is DemoState.QUEUED
    assert again["demo-clinical"].job_id not in (None, dead)
    assert again["demo-deep"] == demo_models.DemoModelState(
        "demo-deep", DemoState.FAILED, failed, error="only 3 patients have a CT"
    )
    with Session(engine) as s:
        requeued = s.get(Job, again["demo-clinical"].job_id)
        assert requeued is not None and requeued.parameters["restart_of"] == dead
        assert s.get(Job, dead).status is JobStatus.FAILED  # type: ignore[union-attr]


def test_one_worker_trains_the_queue_and_predicts_every_patient(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinical = {"demo-clinical": demo_models.DEMO_MODELS["demo-clinical"]}
    monkeypatch.setattr(demo_models, "DEMO_MODELS", clinical)  # the fast one only
    queued = queue_demo_models(engine, EVERYTHING)
    job_id = queued["demo-clinical"].job_id
    assert demo_models.run_demo_queue(engine, tmp_path) == {job_id: JobStatus.SUCCEEDED}
    assert _states(engine) == {"demo-clinical": DemoState.READY}
    with Session(engine) as s:
        model_id = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "demo-clinical"))
        n = s.scalar(
            select(func.count(Prediction.id)).where(Prediction.model_version_id == model_id)
        )
        job = s.get(Job, job_id)
    assert n == N_PATIENTS
    assert job is not None and job.message == (
        f"model version {model_id} (demo-clinical) registered, {N_PATIENTS} patients predicted"
    )
    assert queue_demo_models(engine, EVERYTHING)["demo-clinical"].state is DemoState.READY
    assert demo_models.run_demo_queue(engine, tmp_path) == {}


def test_a_running_job_shows_its_progress_and_time_left(engine: Engine) -> None:
    job_id = queue_demo_models(engine, EVERYTHING)["demo-radiomics"].job_id
    assert job_id is not None
    with session_scope(engine) as session:
        claim_job(session, job_id, {"pid": os.getpid(), "host": socket.gethostname()})
        update_job(session, job_id, progress=0.25, message="fold 2/5 (fold 2)")
        job = session.get(Job, job_id)
        assert job is not None and job.started_at is not None
        started = job.started_at.replace(tzinfo=dt.UTC)
    with session_scope(engine) as session:
        states = demo_model_states(session, now=started + dt.timedelta(seconds=60))
    assert states is not None
    radiomics = states["demo-radiomics"]
    assert (radiomics.state, radiomics.progress, radiomics.message) == (
        DemoState.TRAINING,
        0.25,
        "fold 2/5 (fold 2)",
    )
    assert radiomics.seconds_left == pytest.approx(180.0)
    assert states["demo-clinical"].state is DemoState.QUEUED


# --- the worker ends with the server ----------------------------------------------------------

#: what ``gistcad serve`` runs, with the server replaced by ``sleep`` (same execve) and the
#: worker's Python by SLOW_WORKER
SERVER = """
import sys
from gistcad.cli import main
from gistcad.commands import serve

sys.executable = sys.argv[1]
serve.streamlit_command = lambda *args: ["/bin/sleep", "300"]
sys.exit(main(["serve", "--port", "1"]))
"""

#: ``python -m gistcad.cli jobs run --demo`` whose training stops, to be killed mid-run
SLOW_WORKER = """
import sys, time
from pathlib import Path
from gistcad.cli import main
from gistcad.modelling import trainer

def blocked_train(*args, **kwargs):
    Path(sys.argv[1]).write_text("training")
    time.sleep(300)

trainer.train = blocked_train
sys.exit(main(sys.argv[4:]))  # after: marker, -m, gistcad.cli
"""


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_stopping_the_server_stops_the_worker_and_the_job_is_queued_again(
    engine: Engine, tmp_path: Path
) -> None:
    queued = queue_demo_models(engine, EVERYTHING)
    first = queued["demo-clinical"].job_id
    marker = tmp_path / "training"
    python = tmp_path / "slow-python"
    worker = tmp_path / "slow_worker.py"
    worker.write_text(SLOW_WORKER)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} {worker} {marker} "$@"\n')
    python.chmod(0o755)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(python)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        _wait_for(lambda: marker.exists() or server.poll() is not None, "the worker to train")
        assert server.poll() is None, server.communicate()[0].decode()
        with Session(engine) as s:
            running = s.get(Job, first)
            assert running is not None and running.status is JobStatus.RUNNING
            worker_pid = int(running.parameters["pid"])
        assert jobs.process_token(worker_pid) is not None
        os.kill(server.pid, signal.SIGKILL)  # the server dies without a word to its children
        server.wait()
        _wait_for(lambda: jobs.process_token(worker_pid) is None, "the worker to end", 10)
    finally:
        server.kill()
        out = server.communicate()[0].decode()
    assert "training 3 demo model(s) in the background (worker pid" in out
    again = queue_demo_models(engine, EVERYTHING)  # what the next 'make run' does
    with Session(engine) as s:
        killed = s.get(Job, first)
        assert killed is not None and killed.status is JobStatus.FAILED
        assert (killed.error or "").startswith(f"the worker process (pid {worker_pid}) ended")
    assert again["demo-clinical"].state is DemoState.QUEUED
    assert again["demo-clinical"].job_id not in (None, first)
    assert [again[n].job_id for n in ("demo-radiomics", "demo-deep")] == [
        queued[n].job_id for n in ("demo-radiomics", "demo-deep")
    ]
