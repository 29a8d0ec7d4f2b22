"""Benchmark: batch prediction through the distributed engine against the single process.

Issue 19, part 5: batch prediction over 1,400 cases through Dask distributed (a local
cluster of one worker process per core on this machine) against the current single process,
ratio printed.

What is timed is ``gistcad predict --model NAME --all`` of a radiomics model, run in this
process, with the feature cache emptied before each run, so that every case's IBSI features
are extracted again (the heavy part, seconds per case): once with ``GISTCAD_CLUSTER=off``
(one case after another here) and once with ``GISTCAD_CLUSTER=local`` (tasks of four cases
on the local cluster, its start and stop included). Both runs must write the same
predictions; the bench checks it.

Setup, not timed: a synthetic cohort of ``--cases`` patients (128-pixel matrix, 60 mm
scanned, no follow-up) is built and imported, and a radiomics model is trained on it (hold-out).
The load average is printed at start and end: on a shared machine other processes inflate
every number.

Usage::

    .venv/bin/python bench/batch_predict.py               # 1,400 cases (hours on 2 cores)
    .venv/bin/python bench/batch_predict.py --cases 40    # a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.cli import main as gistcad
from gistcad.cluster import machine_workers
from gistcad.layout import DataLayout
from gistcad.store import make_engine
from gistcad.store.models import ModelVersion, Prediction
from gistcad.synth.build import BuildOptions, build_cohort

STUDY = 1400


def _predictions(data: Path) -> dict[int, dict[str, float]]:
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with Session(engine) as session:
        model = session.scalar(select(ModelVersion.id).where(ModelVersion.name == "bench"))
        rows = session.scalars(select(Prediction).where(Prediction.model_version_id == model))
        return {row.patient_id: dict(row.probabilities) for row in rows}


def _timed_predict(data: Path, cluster: str) -> float:
    os.environ["GISTCAD_CLUSTER"] = cluster
    shutil.rmtree(DataLayout(data).feature_cache, ignore_errors=True)
    start = time.perf_counter()
    assert gistcad(["predict", "--model", "bench", "--all"]) == 0
    return time.perf_counter() - start


def run(cases: int, folder: Path) -> None:
    print(f"load average at start: {os.getloadavg()}; worker processes: {machine_workers()}")
    cohort, data = folder / "cohort", folder / "data"
    os.environ["GISTCAD_DATA_DIR"] = str(data)
    os.environ.pop("GISTCAD_DB_URL", None)
    os.environ["GISTCAD_CLUSTER"] = "local"
    start = time.perf_counter()
    build_cohort(
        BuildOptions(
            out=cohort, patients=cases, centers=3, seed=1, matrix=128, scan_length_mm=60.0,
            follow_up=False,
        )
    )  # fmt: skip
    assert gistcad(["db", "upgrade"]) == 0
    assert gistcad(["import", "demo", str(cohort), "--json"]) == 0
    train = ["train", "--model", "radiomics", "--target", "kit11", "--cv", "holdout"]
    assert gistcad([*train, "--name", "bench"]) == 0
    print(f"setup (build, import, train): {time.perf_counter() - start:.0f} s")
    single = _timed_predict(data, "off")
    serial = _predictions(data)
    engine = _timed_predict(data, "local")
    distributed = _predictions(data)
    assert len(serial) == cases and serial == distributed, "the two runs disagree"
    result = {
        "cases": cases,
        "single_process_s": round(single, 1),
        "local_cluster_s": round(engine, 1),
        "workers": machine_workers(),
        "ratio_single_over_cluster": round(single / engine, 2),
        "single_process_s_per_case": round(single / cases, 2),
        "local_cluster_s_per_case": round(engine / cases, 2),
    }
    print(json.dumps(result, indent=2))
    print(
        f"batch prediction of {cases} cases: single process {single:.1f} s, local cluster of "
        f"{machine_workers()} workers {engine:.1f} s: {single / engine:.2f}x; "
        f"at {STUDY} cases about {single / cases * STUDY / 60:.0f} vs "
        f"{engine / cases * STUDY / 60:.0f} min"
    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":  # the local cluster's worker processes import this module
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=STUDY, help=f"default {STUDY}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gistcad-batch-") as tmp:
        run(args.cases, Path(tmp))
