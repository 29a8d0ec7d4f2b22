"""The same numbers whether the work runs here or on a local cluster of 1, 2 or 4 processes.

Real clusters (separate worker processes, :class:`distributed.LocalCluster`), tiny inputs:
radiomics features of a few small synthetic volumes, and the out-of-fold predictions of the
clinical model over a seeded cohort.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gistcad.cluster import cluster_executor, map_cases
from gistcad.config import ClusterMode, ClusterSetting
from gistcad.modelling.crossval import out_of_fold
from gistcad.modelling.folds import Scheme
from gistcad.modelling.learners import ClinicalLearner
from gistcad.modelling.radiomics_model import RadiomicsSettings, feature_rows
from gistcad.modelling.targets import Target, labels_for
from gistcad.modelling.tasks import FoldFit
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.model_queries import modelling_table
from gistcad.synth.build import BuildOptions, build_cohort
from tests.cluster.volumes import tiny_case
from tests.factories import seed_cohort

LOCAL = ClusterSetting(ClusterMode.LOCAL)
WORKERS = [1, 2, 4]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(19)
    table = pd.DataFrame([tiny_case(folder, f"case{n}", rng) for n in range(4)])
    return folder, table


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, np.ndarray]:
    folder = tmp_path_factory.mktemp("cohort")
    engine = make_engine(f"sqlite:///{folder / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as session:
        seed_cohort(session, n=40, seed=3, with_series=True)
        session.commit()
        table = modelling_table(session, AccessScope.everything())
    return table, labels_for(table, Target.KIT11)


def _features(
    images: tuple[Path, pd.DataFrame], copy: Path, executor: Executor | None
) -> pd.DataFrame:
    """The features, computed afresh (a copy of the images, no cache) on ``executor``."""
    source, table = images
    shutil.copytree(source, copy)
    assert not (copy / "features").exists()
    return feature_rows(table, copy, RadiomicsSettings(), executor)


def _oof(cohort: tuple[pd.DataFrame, np.ndarray], executor: Executor | None) -> pd.DataFrame:
    table, labels = cohort
    learner = ClinicalLearner(n_classes=2, seed=5)
    fit = FoldFit(learner, table, labels)
    return out_of_fold(
        table, labels, Target.KIT11.classes, Scheme.KFOLD, fit, seed=5, executor=executor
    )


@pytest.fixture(scope="module")
def in_process(
    images: tuple[Path, pd.DataFrame],
    cohort: tuple[pd.DataFrame, np.ndarray],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    copy = tmp_path_factory.mktemp("serial") / "data"
    return _features(images, copy, None), _oof(cohort, None)


@pytest.fixture(params=WORKERS, ids=[f"{n} workers" for n in WORKERS])
def local_cluster(request: pytest.FixtureRequest) -> Iterator[tuple[int, Executor]]:
    with cluster_executor(1, workers=request.param, setting=LOCAL) as executor:
        assert executor is not None
        yield request.param, executor


def test_the_same_numbers_on_1_2_and_4_workers(
    local_cluster: tuple[int, Executor],
    images: tuple[Path, pd.DataFrame],
    cohort: tuple[pd.DataFrame, np.ndarray],
    in_process: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
) -> None:
    workers, executor = local_cluster
    # the tasks really ran in other processes, as many as asked for
    pids = set(map_cases(_pid, list(range(4 * workers)), executor))
    assert os.getpid() not in pids and 1 <= len(pids) <= workers
    features, oof = _features(images, tmp_path / "data", executor), _oof(cohort, executor)
    expected_features, expected_oof = in_process
    assert features.shape == (4, expected_features.shape[1]) and features.shape[1] > 100
    pd.testing.assert_frame_equal(features, expected_features, check_exact=True)
    assert len(oof) == 40 and oof["patient_id"].is_unique
    pd.testing.assert_frame_equal(oof, expected_oof, check_exact=True)
    # every feature was written to the cache once, by a worker
    assert len(list((tmp_path / "data" / "features").glob("*.json"))) == 4
    assert not list((tmp_path / "data" / "features").glob("*.tmp"))


def _pid(_: int) -> int:
    time.sleep(0.05)  # long enough that more than one worker takes a task
    return os.getpid()


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_synthetic_build_writes_the_same_bytes_on_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def options(out: Path) -> BuildOptions:
        return BuildOptions(out, patients=3, centers=2, seed=6, matrix=64, scan_length_mm=40.0)

    monkeypatch.setenv("GISTCAD_CLUSTER", "off")
    build_cohort(options(tmp_path / "here"))
    monkeypatch.setenv("GISTCAD_CLUSTER", "local")  # a local cluster, though only 3 patients
    patients: list[int] = []
    build_cohort(options(tmp_path / "cluster"), patients.append)
    assert patients == [1, 1, 1]
    here, cluster = _digest(tmp_path / "here"), _digest(tmp_path / "cluster")
    assert len(here) > 3 * 20 and cluster == here
