"""Background jobs: run to success, failure with its reason, orphans reaped, CLI launch."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.cli import main
from gistcad.domain import JobStatus
from gistcad.store import make_engine, migrations
from gistcad.store.models import Job, ModelVersion, Prediction
from tests.factories import seed_cohort


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
    train_id = jobs.submit(engine, "train", {"kind": "clinical", "target": "kit11", "name": "j1"})
    assert jobs.run(engine, tmp_path, train_id) is JobStatus.SUCCEEDED
    job = _job(engine, train_id)
    assert job.progress == 1.0 and "j1" in (job.message or "") and job.finished_at is not None
    with Session(engine) as s:
        model_id = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "j1"))
    predict_id = jobs.submit(engine, "predict", {"model_version_id": model_id})
    assert jobs.run(engine, tmp_path, predict_id) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        n = s.scalar(
            select(func.count(Prediction.id)).where(Prediction.model_version_id == model_id)
        )
    assert n == 40


def test_a_failing_job_says_why_and_cannot_rerun(engine: Engine, tmp_path: Path) -> None:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 999})
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.FAILED
    assert _job(engine, job_id).error == "no model version with id 999"
    with pytest.raises(Exception, match="is failed, not queued"):
        jobs.run(engine, tmp_path, job_id)


def test_a_vanished_worker_is_reaped(engine: Engine) -> None:
    job_id = jobs.submit(engine, "predict", {"model_version_id": 1})
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.parameters = JobStatus.RUNNING, {"pid": 2**22 + 12345}
        s.commit()
    assert jobs.reap_orphans(engine) == 1
    assert "worker process ended" in (_job(engine, job_id).error or "")


def test_launch_runs_in_another_process(engine: Engine, tmp_path: Path) -> None:
    job_id = jobs.submit(engine, "train", {"kind": "clinical", "target": "genotype", "name": "bg"})
    pid = jobs.launch(job_id, env={"GISTCAD_DATA_DIR": str(tmp_path)})
    assert pid != os.getpid()
    deadline = time.monotonic() + 120
    while _job(engine, job_id).status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.5)
    assert _job(engine, job_id).status is JobStatus.SUCCEEDED


def test_jobs_list_cli(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    jobs.submit(engine, "predict", {"model_version_id": 1})
    assert main(["jobs", "list"]) == 0
    assert "queued" in capsys.readouterr().out
