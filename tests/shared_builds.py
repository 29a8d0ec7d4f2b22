"""Synthetic cohorts that several test files build alike, built once per test session.

``make test`` runs the files in pytest-xdist workers, each a process of its own, so a module
fixture cannot share a build between files. :func:`shared_cohort` builds into the session's
temporary folder instead (under xdist the folder above the worker's own, which every worker
of the session shares), while holding an exclusive ``fcntl.flock`` on a lock file beside it:
the first caller builds, the others wait on the lock and then read the finished folder. A
build is written into a ``.partial`` folder and renamed when complete, so a build that failed
is started again rather than read half-written.

A cohort's bytes do not depend on ``workers`` (``tests/synth/test_build.py`` checks it), so
the key is the other options. Callers only read the cohort; they copy what they change.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gistcad.synth.build import BuildOptions, build_cohort


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every process of this test session shares."""
    base = tmp_path_factory.getbasetemp()
    # under xdist the base is this worker's folder in the session's; without it, the session's
    # own (its parent holds the folders of earlier sessions)
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def cohort_key(options: dict[str, Any]) -> str:
    """The name of the folder of a shared cohort of ``options`` (``workers`` left out)."""
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


def shared_cohort(
    tmp_path_factory: pytest.TempPathFactory, *, workers: int = 1, **options: Any
) -> Path:
    """The cohort ``build_cohort(BuildOptions(out=..., workers=workers, **options))`` writes,
    built once per test session; read it, never change it."""
    key = cohort_key(options)
    folder = session_folder(tmp_path_factory) / "shared-cohorts"
    folder.mkdir(exist_ok=True)
    done, partial = folder / key, folder / f"{key}.partial"
    with (folder / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(partial, ignore_errors=True)  # what a failed build left
            build_cohort(BuildOptions(out=partial / "cohort", workers=workers, **options))
            partial.rename(done)
    return done / "cohort"


#: the follow-up cohort of ``tests/synth/test_follow_up.py`` and
#: ``tests/ingest/test_follow_up_import.py``: 16 patients of the 6 centers, three of them on
#: neoadjuvant imatinib (one in each mask format) with three follow-up CTs each
FOLLOW_UP_COHORT: dict[str, Any] = {
    "patients": 16,
    "centers": 6,
    "seed": 17,
    "matrix": 64,
    "scan_length_mm": 50.0,
}
