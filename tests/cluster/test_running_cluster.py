"""GISTCAD_CLUSTER=tcp://host:port: the work goes to a cluster started with the engine's own
commands (``dask scheduler``, ``dask worker``), and a worker killed mid-task is retried by the
engine without losing or duplicating a prediction."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import Client
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.cli import main
from gistcad.cluster import run_cases
from gistcad.domain import JobStatus
from gistcad.layout import DataLayout
from gistcad.modelling.radiomics_model import RadiomicsSettings, feature_rows, feature_table
from gistcad.store import AccessScope, make_engine
from gistcad.store.models import AuditEvent, Job, ModelVersion, Prediction
from gistcad.synth.build import BuildOptions, build_cohort
from tests.cluster.volumes import tiny_case

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
#: the fewest patients the radiomics model trains on without a fold of one class (the trainer
#: wants 10); each still takes a second or more to extract, so a worker dies mid-task
PATIENTS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers (each under its nanny), started as
    separate processes with ``dask scheduler`` and ``dask worker``, as the README says."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = tmp_path_factory.mktemp("cluster")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    scheduler_args = ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
    worker_args = ["worker", address, "--nworkers", "2", "--nthreads", "1"]
    processes = [
        subprocess.Popen(
            [str(DASK), *args, "--no-dashboard"],
            env=env,
            cwd=log,
            stdout=(log / f"{args[0]}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for args in (scheduler_args, worker_args)
    ]
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _pid(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def test_work_goes_to_the_running_cluster(
    running_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(4)
    table = pd.DataFrame([tiny_case(tmp_path / "data", f"c{n}", rng) for n in range(3)])
    shutil.copytree(tmp_path / "data", tmp_path / "here")
    expected = feature_rows(table, tmp_path / "here", RadiomicsSettings(), None)
    monkeypatch.setenv("GISTCAD_CLUSTER", running_cluster)
    with Client(running_cluster) as client:
        workers = set(client.run(os.getpid).values())
    # a handful of cases: with GISTCAD_CLUSTER set they still go to the cluster
    assert set(run_cases(_pid, list(range(8)))) <= workers
    features = feature_table(table, tmp_path / "data", RadiomicsSettings())
    pd.testing.assert_frame_equal(features, expected, check_exact=True)
    assert len(list(DataLayout(tmp_path / "data").feature_cache.glob("*.json"))) == 3


def test_unreachable_scheduler_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("GISTCAD_CLUSTER", address)
    with pytest.raises(Exception, match=f"no Dask scheduler answers at GISTCAD_CLUSTER={address}"):
        run_cases(_pid, [1])


def _processing(client: Client) -> dict[str, Any]:
    return {w: keys for w, keys in client.processing().items() if keys}


def test_a_killed_worker_loses_and_duplicates_no_prediction(
    running_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort, data = tmp_path / "cohort", tmp_path / "data"
    build_cohort(
        BuildOptions(
            out=cohort,
            patients=PATIENTS,
            centers=2,
            seed=11,
            matrix=64,
            scan_length_mm=40.0,
            workers=1,
            follow_up=False,
        )
    )
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(data))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    monkeypatch.setenv("GISTCAD_CLUSTER", running_cluster)
    assert main(["db", "upgrade"]) == 0
    assert main(["import", "demo", str(cohort), "--json"]) == 0
    train = ["train", "--model", "radiomics", "--target", "kit11", "--cv", "holdout"]
    assert main([*train, "--name", "r"]) == 0  # its features and fold ran on the cluster
    shutil.rmtree(DataLayout(data).feature_cache)  # prediction extracts them again: slow tasks
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with Session(engine) as session:
        model_id = session.scalar(select(ModelVersion.id).where(ModelVersion.name == "r"))
    everyone = AccessScope.everything()
    job_id = jobs.submit(engine, "predict", {"model_version_id": model_id}, everyone)
    ended: list[JobStatus] = []
    runner = threading.Thread(target=lambda: ended.append(jobs.run(engine, data, job_id)))
    with Client(running_cluster) as client:
        pids = client.run(os.getpid)
        runner.start()
        deadline = time.monotonic() + 120
        while not _processing(client) and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = _processing(client)
        assert busy, "no prediction task reached a worker"
        time.sleep(1.0)  # well inside the task: a chunk of patients takes seconds
        victim = next(iter(busy))
        keys = list(client.processing()[victim])
        assert keys, "the task ended before the worker could be killed"
        os.kill(pids[victim], signal.SIGKILL)
        seen = set()  # the job row's messages while it runs: progress as tasks complete
        deadline = time.monotonic() + 300
        while runner.is_alive() and time.monotonic() < deadline:
            with Session(engine) as session:
                seen.add(session.scalar(select(Job.message).where(Job.id == job_id)))
            time.sleep(0.2)
        runner.join(timeout=1)
        assert not runner.is_alive()
        # the engine noticed: the worker left, and its task was handed out again
        assert victim not in client.scheduler_info()["workers"]
        story = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.story(*keys))
    assert ended == [JobStatus.SUCCEEDED]
    assert sum(1 for event in story if event[2] == "processing") >= 2, story
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.message == f"{PATIENTS} predictions written"
        assert job.progress == 1.0
        rows = session.scalars(
            select(Prediction.patient_id).where(Prediction.model_version_id == model_id)
        ).all()
        audited = session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "predict")
        )
    assert len(rows) == PATIENTS and len(set(rows)) == PATIENTS  # each patient exactly once
    assert audited == 1
    # progress was recorded as the tasks completed ("radiomics features k/12", "predicted k/12")
    steps = ("radiomics features ", "predicted ")
    assert any(str(message).startswith(steps) for message in seen), seen
