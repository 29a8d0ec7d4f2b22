"""Biomarker discovery as a background job: run, keep the result, find the newest.

A ``discover`` job (:class:`~gistcad.domain.JobKind`) runs :func:`~gistcad.biomarkers
.discovery.discover_biomarkers` in its owner's scope (the same function the command calls)
and keeps the result as an artefact of the job, ``biomarkers/discovery-job-<id>.pkl`` in the
data folder, as a training job keeps its model's files there. The Biomarkers page shows the
newest succeeded discovery job's result that lies within the caller's scope.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gistcad.biomarkers.discovery import BiomarkerDiscovery, DiscoveryRequest, discover_biomarkers
from gistcad.domain import JobKind, JobStatus
from gistcad.errors import NotFoundError
from gistcad.progress import Progress
from gistcad.store.model_queries import list_jobs
from gistcad.store.scope import AccessScope

logger = logging.getLogger(__name__)

#: how many of the newest jobs are searched for a finished discovery
SEARCHED_JOBS = 10_000


def result_path(data_dir: Path, job_id: int) -> Path:
    """Where discovery job ``job_id`` keeps its result."""
    return data_dir / "biomarkers" / f"discovery-job-{int(job_id)}.pkl"


def save_result(data_dir: Path, job_id: int, result: BiomarkerDiscovery) -> Path:
    """Write ``result`` as job ``job_id``'s artefact; returns its path."""
    path = result_path(data_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    temporary.replace(path)
    return path


def load_result(data_dir: Path, job_id: int) -> BiomarkerDiscovery:
    """The result discovery job ``job_id`` kept (a file this application wrote).

    Raises
    ------
    NotFoundError
        When the job kept none (it failed, was cancelled, or the file was removed).
    """
    path = result_path(data_dir, job_id)
    if not path.is_file():
        raise NotFoundError(
            f"discovery job {job_id} has no result at {path}; run the discovery again"
        )
    result = pickle.loads(path.read_bytes())
    if not isinstance(result, BiomarkerDiscovery):
        raise NotFoundError(f"{path} is not a discovery result; run the discovery again")
    return result


def run_discovery_job(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    job_id: int,
    parameters: Mapping[str, Any],
    progress: Progress | None = None,
) -> str:
    """Run the discovery of a job's parameters and keep its result; returns the job's message."""
    request = DiscoveryRequest.from_parameters(parameters)
    result = discover_biomarkers(session, scope, data_dir, request, progress)
    save_result(data_dir, job_id, result)
    d = result.discovery
    confirmed = int(d.table["confirmed"].sum())
    return (
        f"{len(d.discovered)} of {d.analysed.shape[1]} features discovered, {confirmed} "
        f"confirmed ({d.n} patients, {d.n_events} events)"
    )


def newest_result(
    session: Session, scope: AccessScope, data_dir: Path
) -> tuple[int, BiomarkerDiscovery] | None:
    """The newest succeeded discovery job within ``scope`` and its result; None if none."""
    jobs = list_jobs(session, scope, limit=SEARCHED_JOBS)
    done = jobs[(jobs["kind"] == JobKind.DISCOVER.value) & (jobs["status"] == JobStatus.SUCCEEDED)]
    for job_id in done["job_id"]:
        try:
            return int(job_id), load_result(data_dir, int(job_id))
        except NotFoundError:
            logger.warning("discovery job %s kept no result", job_id)
    return None
