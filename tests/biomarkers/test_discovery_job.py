"""Discovery as a job: its parameters, its failure, and the result the page shows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from gistcad import jobs
from gistcad.analysis.biomarker_discovery import WINSORISE
from gistcad.biomarkers import DiscoveryRequest
from gistcad.biomarkers.jobs import load_result, newest_result, result_path, save_result
from gistcad.domain import JobKind, JobStatus
from gistcad.errors import NotFoundError, ValidationError
from gistcad.job_progress import parameters_text
from gistcad.store import AccessScope, session_scope
from gistcad.store.jobs import update_job
from tests.discovery_runs import discovery_result

EVERYTHING = AccessScope.everything()


def test_the_request_travels_as_job_parameters() -> None:
    request = DiscoveryRequest(fdr=0.05, bootstrap=10, seed=3, adjust=(), winsorise=0.0)
    assert DiscoveryRequest.from_parameters(request.to_parameters()) == request
    # a job queued before the setting existed runs with its default
    assert DiscoveryRequest.from_parameters({}).winsorise == WINSORISE
    with pytest.raises(ValidationError, match=r"winsorised share of each tail must be 0 to 0\.25"):
        DiscoveryRequest(winsorise=0.3)
    with pytest.raises(ValidationError, match=r"unknown discovery parameter\(s\) \['model'\]"):
        DiscoveryRequest.from_parameters({"model": 1})
    with pytest.raises(ValidationError, match="bad discovery parameters"):
        DiscoveryRequest.from_parameters({"adjust": ["size"]})


def test_a_bad_discovery_job_is_never_queued(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="FDR must lie between 0 and 1"):
        jobs.submit(engine, JobKind.DISCOVER, {"fdr": 2.0}, EVERYTHING)


def test_a_discovery_job_without_patients_fails_saying_why_and_keeps_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    request = DiscoveryRequest(bootstrap=0)
    job_id = jobs.submit(engine, JobKind.DISCOVER, request.to_parameters(), EVERYTHING)
    assert jobs.run(engine, tmp_path, job_id) is JobStatus.FAILED
    state = jobs.job_state(engine, job_id, EVERYTHING)
    assert state.error is not None and "discovery needs at least 20" in state.error
    assert not result_path(tmp_path, job_id).exists()
    with session_scope(engine) as session:
        assert newest_result(session, EVERYTHING, tmp_path) is None


def test_the_newest_succeeded_discovery_is_shown(engine: Engine, tmp_path: Path) -> None:
    ids = [
        jobs.submit(engine, JobKind.DISCOVER, DiscoveryRequest().to_parameters(), EVERYTHING)
        for _ in range(3)
    ]
    kept = {ids[0]: discovery_result(1), ids[1]: discovery_result(2)}
    for job_id, result in kept.items():
        save_result(tmp_path, job_id, result)
        with session_scope(engine) as session:
            update_job(session, job_id, status=JobStatus.SUCCEEDED, progress=1.0)
    # the newest job has not finished: the newest finished one is shown
    with session_scope(engine) as session:
        found = newest_result(session, EVERYTHING, tmp_path)
    assert found is not None and found[0] == ids[1]
    pd.testing.assert_frame_equal(found[1].discovery.table, kept[ids[1]].discovery.table)
    with pytest.raises(NotFoundError, match=f"discovery job {ids[2]} has no result"):
        load_result(tmp_path, ids[2])


def test_a_discovery_jobs_parameters_read_as_words() -> None:
    text = parameters_text(DiscoveryRequest(harmonise="combat").to_parameters())  # type: ignore[arg-type]
    assert text.startswith("endpoint Recurrence-free survival, adjust: 3 items")
    assert "harmonise ComBat per center" in text
