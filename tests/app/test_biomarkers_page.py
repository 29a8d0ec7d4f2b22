"""The Biomarkers page starts discovery as a job and shows the newest finished result."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine

from gistcad import jobs
from gistcad.analysis.biomarker_discovery import WINSORISE
from gistcad.biomarkers import DiscoveryRequest
from gistcad.biomarkers.jobs import save_result
from gistcad.domain import JobKind, JobStatus, ModelKind
from gistcad.store import AccessScope, session_scope
from gistcad.store.jobs import update_job
from gistcad.store.model_queries import list_jobs
from gistcad.store.models import ModelVersion
from tests.app.conftest import open_page
from tests.discovery_runs import discovery_result

PAGE = "views/biomarkers.py"
EVERYTHING = AccessScope.everything()


def test_the_page_shows_the_newest_finished_discovery(app_db: Engine, tmp_path: Path) -> None:
    job_id = jobs.submit(
        app_db, JobKind.DISCOVER, DiscoveryRequest(bootstrap=0).to_parameters(), EVERYTHING
    )
    result = discovery_result(4)
    save_result(tmp_path, job_id, result)
    with session_scope(app_db) as session:
        update_job(session, job_id, status=JobStatus.SUCCEEDED, progress=1.0)
    at = open_page(PAGE)
    assert any(f"Newest finished discovery: job {job_id}" in c.value for c in at.caption)
    shown = at.dataframe[0].value
    assert list(shown["Feature"]) == list(result.discovery.table["feature"])


def test_run_starts_a_discovery_job_and_reports_its_end(app_db: Engine) -> None:
    at = open_page(PAGE)
    assert any("run the discovery" in i.value for i in at.info)
    at.button(key="biomarkers_run").click().run()
    assert not at.exception, at.exception
    with session_scope(app_db) as session:
        listed = list_jobs(session, EVERYTHING)
    assert list(listed["kind"]) == [JobKind.DISCOVER.value]
    job_id = int(listed["job_id"][0])
    deadline = time.monotonic() + 120
    while not jobs.job_state(app_db, job_id, EVERYTHING).ended:
        assert time.monotonic() < deadline, "the discovery job did not end in 2 minutes"
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    # no patient has a mask here: the job failed and the page says why
    assert any(
        f"Discovery job {job_id} failed" in e.value and "at least 20" in e.value for e in at.error
    )


def test_a_deep_models_risk_score_can_join_the_candidates(app_db: Engine) -> None:
    with session_scope(app_db) as session:
        oof = [{"patient_id": 1, "risk_score": 0.3}]
        session.add(ModelVersion(name="deep-v1", kind=ModelKind.DL, target="genotype"))
        session.add(
            ModelVersion(name="deep-v2", kind=ModelKind.DL, target="rfs", metrics={"oof": oof})
        )
    at = open_page(PAGE)
    choice = at.selectbox(key="biomarkers_deep_model")
    # only the deep model versions with risk scores are offered
    assert choice.options == ["No deep model (radiomics features only)", "deep-v2"]
    choice.set_value("deep-v2")
    at.button(key="biomarkers_run").click().run()
    assert not at.exception, at.exception
    with session_scope(app_db) as session:
        listed = list_jobs(session, EVERYTHING)
    assert listed["parameters"][0]["deep_model"] == "deep-v2"
    job_id = int(listed["job_id"][0])
    deadline = time.monotonic() + 120
    while not jobs.job_state(app_db, job_id, EVERYTHING).ended:
        assert time.monotonic() < deadline, "the discovery job did not end in 2 minutes"
        time.sleep(0.5)


def test_the_winsorised_share_is_asked_and_travels_with_the_job(app_db: Engine) -> None:
    at = open_page(PAGE)
    share = at.number_input(key="biomarkers_winsorise")
    assert share.value == WINSORISE  # the command's default
    share.set_value(0.0)
    at.button(key="biomarkers_run").click().run()
    assert not at.exception, at.exception
    with session_scope(app_db) as session:
        listed = list_jobs(session, EVERYTHING)
    asked = DiscoveryRequest.from_parameters(listed["parameters"][0])
    assert asked.winsorise == 0.0 and asked.settings().winsorise == 0.0
    job_id = int(listed["job_id"][0])
    deadline = time.monotonic() + 120
    while not jobs.job_state(app_db, job_id, EVERYTHING).ended:  # its worker ends first
        assert time.monotonic() < deadline, "the discovery job did not end in 2 minutes"
        time.sleep(0.5)
