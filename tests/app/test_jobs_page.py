"""AppTest: predictions and training started from the pages become job rows; a failed job
is restarted from the jobs page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad import jobs
from gistcad.domain import JobStatus, ModelKind
from gistcad.job_progress import parameters_text
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target
from gistcad.store import AccessScope
from gistcad.store.models import Job, Prediction
from tests.app.conftest import APP
from tests.factories import add_deep_model_with_risk_head, seed_cohort
from tests.test_jobs import _held_worker


@pytest.fixture
def seeded(app_db: Engine) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=30, with_series=True)
        s.commit()


def _jobs(engine: Engine) -> list[Job]:
    with Session(engine) as s:
        rows = list(s.scalars(select(Job).order_by(Job.id)))
        for row in rows:
            s.expunge(row)
        return rows


def _open(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_run_prediction_from_the_case_view(app_db: Engine, seeded: None) -> None:
    at = _open("views/case.py", {"patient": "P-003"})
    at.button(key="case_predict").click().run()
    assert any("Prediction job 1 started" in i.value for i in at.info)
    (job,) = _jobs(app_db)
    assert job.kind == "predict" and job.parameters["pseudonyms"] == ["P-003"]
    deadline = time.monotonic() + 60
    while _jobs(app_db)[0].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    # seed_cohort's model row has no weights on disk: the job fails and says why, here
    assert "has no saved model file" in (_jobs(app_db)[0].error or "")
    at.run()  # what the fragment's next poll does
    assert any(
        "Prediction job 1 failed" in e.value and "has no saved model file" in e.value
        for e in at.error
    )


def test_a_prediction_run_from_the_case_view_shows_its_result_there(
    app_db: Engine, seeded: None, tmp_path: Path
) -> None:
    train_id = jobs.submit(
        app_db,
        "train",
        {"kind": "clinical", "target": "kit11", "name": "fresh"},
        AccessScope.everything(),
    )
    assert jobs.run(app_db, tmp_path, train_id) is JobStatus.SUCCEEDED
    with Session(app_db) as s:
        s.execute(delete(Prediction).where(Prediction.patient_id == 3))  # P-003: none yet
        s.commit()
    at = _open("views/case.py", {"patient": "P-003"})
    assert not any("fresh:" in m.value for m in at.markdown)
    at.selectbox(key="case_model").set_value(2)  # "fresh" (1 is seed_cohort's model)
    at.button(key="case_predict").click().run()
    job_id = _jobs(app_db)[-1].id
    assert any(f"Prediction job {job_id} started" in i.value for i in at.info)
    deadline = time.monotonic() + 60
    while _jobs(app_db)[-1].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert _jobs(app_db)[-1].status is JobStatus.SUCCEEDED, _jobs(app_db)[-1].error
    at.run()  # the fragment's next poll: the job ended, the card is reloaded with its result
    assert not at.exception, at.exception
    assert any(
        f"Prediction job {job_id} finished: 1 predictions written" in m.value for m in at.success
    )
    shown = " ".join(m.value for m in at.markdown)
    assert "Recommended model: fresh, the best validated for KIT exon 11 vs rest" in shown
    assert "fresh: **" in shown


def test_start_training_from_the_jobs_page(app_db: Engine, seeded: None) -> None:
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.CLINICAL)
    at.text_input(key="jobs_name").input("from-ui")
    at.button[1].click().run()  # the training form's submit button
    assert any("started" in s.value for s in at.success)
    (job,) = _jobs(app_db)
    assert job.kind == "train" and job.parameters["name"] == "from-ui"
    deadline = time.monotonic() + 90
    while _jobs(app_db)[0].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert _jobs(app_db)[0].status is JobStatus.SUCCEEDED, _jobs(app_db)[0].error


def test_a_batch_prediction_of_a_center_is_a_selection_not_a_list_of_names(
    app_db: Engine, seeded: None, tmp_path: Path
) -> None:
    """The centers chosen travel as centers (a patient the model cannot read is left out, as
    of all patients; a list of names would refuse the whole batch for one such patient)."""
    parameters = {"kind": "clinical", "target": "kit11", "name": "fresh"}
    train_id = jobs.submit(app_db, "train", parameters, AccessScope.everything())
    assert jobs.run(app_db, tmp_path, train_id) is JobStatus.SUCCEEDED
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_model").set_value(2)  # "fresh" (1 is seed_cohort's model)
    at.multiselect(key="jobs_centers").select("Alpha")
    at.button[0].click().run()  # the prediction form's submit button
    assert not at.exception, at.exception
    assert any("started" in s.value for s in at.success)
    job = _jobs(app_db)[-1]
    assert job.kind == "predict"
    assert job.parameters["centers"] == ["Alpha"] and job.parameters["pseudonyms"] is None
    assert parameters_text(job.parameters) == (
        f"model version {job.parameters['model_version_id']}, the patients of Alpha"
    )
    deadline = time.monotonic() + 90
    while _jobs(app_db)[-1].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    done = _jobs(app_db)[-1]
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.message == "15 predictions written"  # Alpha's half of the 30


def test_the_risk_score_target_is_offered_only_for_the_radiomics_model(
    app_db: Engine, seeded: None
) -> None:
    at = _open("views/jobs.py")
    offered = {}
    for kind in ModelKind:
        at.selectbox(key="jobs_kind").set_value(kind).run()
        assert not at.exception, at.exception
        offered[kind] = set(at.selectbox(key="jobs_target").options)
    survival = Target.RFS.label
    assert survival in offered[ModelKind.RADIOMICS]
    assert all(survival not in o for k, o in offered.items() if k is not ModelKind.RADIOMICS)
    assert offered[ModelKind.CLINICAL] == offered[ModelKind.RADIOMICS] - {survival}


def test_restart_a_failed_job_from_the_jobs_page(
    app_db: Engine, seeded: None, tmp_path: Path
) -> None:
    job_id = jobs.submit(
        app_db,
        "predict",
        {"model_version_id": 1, "pseudonyms": ["P-003"]},
        AccessScope.everything(),
    )
    at = _open("views/jobs.py")
    assert "jobs_restart_id" not in [s.key for s in at.selectbox]  # queued: nothing to restart
    assert jobs.run(app_db, tmp_path, job_id) is JobStatus.FAILED  # the model has no weights
    at.run()
    assert at.selectbox(key="jobs_restart_id").value == job_id
    at.button(key="jobs_restart").click().run()
    assert not at.exception, at.exception
    assert any(f"Job 2 started (restart of job {job_id})" in s.value for s in at.success)
    first, again = _jobs(app_db)
    assert first.status is JobStatus.FAILED
    assert again.parameters["restart_of"] == job_id
    assert again.parameters["pseudonyms"] == ["P-003"]
    deadline = time.monotonic() + 60
    while _jobs(app_db)[1].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline, "the restarted job was not started"
        time.sleep(0.5)
    # it ran in a worker of its own, and failed for the same reason as the first time
    assert _jobs(app_db)[1].error == first.error


def test_a_training_run_from_the_jobs_page_can_reuse_a_version_s_folds(
    app_db: Engine, seeded: None
) -> None:
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.CLINICAL)
    at.text_input(key="jobs_name").input("same-folds")
    at.text_input(key="jobs_folds_from").input(" earlier-model ")
    at.button[1].click().run()  # the training form's submit button
    (job,) = _jobs(app_db)
    assert job.parameters["folds_from"] == "earlier-model"
    deadline = time.monotonic() + 90
    while _jobs(app_db)[0].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    # there is no such version: the job fails before training and says so
    assert "no model version 'earlier-model'" in (_jobs(app_db)[0].error or "")


def test_a_running_job_shows_its_progress_and_time_left_and_is_cancelled_from_the_page(
    app_db: Engine, seeded: None, tmp_path: Path
) -> None:
    job_id = jobs.submit(
        app_db,
        "train",
        {"kind": "clinical", "target": "kit11", "name": "x"},
        AccessScope.everything(),
    )
    predict_id = jobs.submit(
        app_db,
        "predict",
        {"model_version_id": 1, "pseudonyms": [f"P-{i:03d}" for i in range(1, 13)]},
        AccessScope.everything(),
    )
    hold = tmp_path / "hold"
    worker = _held_worker(job_id, hold, "fold 4/")
    try:
        deadline = time.monotonic() + 60
        while not hold.exists():
            assert worker.poll() is None, worker.communicate()[1].decode()
            assert time.monotonic() < deadline, "the worker did not reach its fourth fold"
            time.sleep(0.2)
        time.sleep(1.1)  # some time elapses: the time left is extrapolated from it
        at = _open("views/jobs.py")
        shown = at.dataframe[0].value.set_index("Job")
        assert shown.loc[job_id, "Progress"] == pytest.approx(3 / 6)
        assert shown.loc[job_id, "Message"].startswith("fold 4/5")
        assert shown.loc[job_id, "Time left"] == "less than a minute left"
        assert shown.loc[predict_id, "Parameters"] == "model version 1, 12 patients"
        assert shown.loc[predict_id, "Time left"] == ""  # queued: no pace to go by
        at.selectbox(key="jobs_cancel_id").set_value(job_id)
        at.button(key="jobs_cancel").click().run()
        assert not at.exception, at.exception
        assert worker.wait(30) == 1
    finally:
        worker.kill()
        worker.communicate()
    job = _jobs(app_db)[0]
    assert job.status is JobStatus.CANCELLED, (job.status, job.message, job.error)
    assert job.message is not None and job.message.endswith("nothing was saved")


def test_a_risk_score_run_from_the_jobs_page_can_read_a_deep_model_s_risk_score(
    app_db: Engine, seeded: None
) -> None:
    """The deep-model box is offered with the radiomics kind only, lists the deep models, and
    its choice travels in the job's parameters; with the genotype target it is refused."""
    with Session(app_db) as s:
        deep_id = add_deep_model_with_risk_head(s, "deep-g")
        s.commit()
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.CLINICAL).run()
    assert "jobs_deep_model" not in [b.key for b in at.selectbox]
    at.selectbox(key="jobs_kind").set_value(ModelKind.RADIOMICS).run()
    box = at.selectbox(key="jobs_deep_model")
    assert box.options == ["none", "deep-g"]
    box.set_value(deep_id)
    at.button[1].click().run()  # genotype target: a deep score is for the survival score
    assert not at.exception, at.exception
    assert any("recurrence-free survival only" in e.value for e in at.error), at.error
    assert _jobs(app_db) == []
    at.selectbox(key="jobs_target").set_value(Target.RFS)
    at.selectbox(key="jobs_deep_model").set_value(deep_id)
    at.text_input(key="jobs_name").input("score-with-deep")
    at.button[1].click().run()
    assert any("started" in s.value for s in at.success), [e.value for e in at.error]
    (job,) = _jobs(app_db)
    assert job.parameters["deep_model"] == str(deep_id)
    assert job.parameters["target"] == Target.RFS.value
    deadline = time.monotonic() + 90
    while _jobs(app_db)[0].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)


DEEP_OPTIONS = ("jobs_ensemble", "jobs_tta", "jobs_crop_mm")


def _wait_until_ended(engine: Engine) -> Job:
    deadline = time.monotonic() + 90
    while _jobs(engine)[-1].status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return _jobs(engine)[-1]


def test_the_deep_model_s_ensemble_views_and_crop_are_offered_with_the_deep_kind_only(
    app_db: Engine, seeded: None
) -> None:
    at = _open("views/jobs.py")
    for kind in ModelKind:
        at.selectbox(key="jobs_kind").set_value(kind).run()
        assert not at.exception, at.exception
        shown = {n.key for n in at.number_input} | {r.key for r in at.radio}
        if kind is not ModelKind.DL:
            assert not shown & {*DEEP_OPTIONS, "jobs_crop"}, kind
    at.selectbox(key="jobs_kind").set_value(ModelKind.DL).run()
    # the defaults are the command's: one network, no views, crops fitted to each tumour
    assert at.number_input(key="jobs_ensemble").value == 1
    assert at.number_input(key="jobs_tta").value == 0
    assert at.number_input(key="jobs_crop_mm").value is None
    assert at.radio(key="jobs_crop").value == "fit"
    assert at.radio(key="jobs_crop").options == ["fit each tumour", "fixed spacing"]


def test_the_radiomics_pipeline_is_chosen_with_the_radiomics_kind_and_reaches_the_job(
    app_db: Engine, seeded: None
) -> None:
    """Offered with the radiomics kind only, the search by default; the logistic pipeline
    travels in the job's parameters and is shown with them; asked of the survival score it
    is refused on the page with the request's message, and nothing is queued."""
    at = _open("views/jobs.py")
    for kind in (ModelKind.CLINICAL, ModelKind.DL):
        at.selectbox(key="jobs_kind").set_value(kind).run()
        assert "jobs_radiomics" not in [r.key for r in at.radio], kind
    at.selectbox(key="jobs_kind").set_value(ModelKind.RADIOMICS).run()
    choice = at.radio(key="jobs_radiomics")
    assert choice.value == "search"
    assert choice.options == [
        "model search (WORC-style, the default)",
        "tuned logistic regression (before the search)",
    ]
    choice.set_value("logistic")
    at.selectbox(key="jobs_target").set_value(Target.RFS)
    at.button[1].click().run()
    assert not at.exception, at.exception
    assert any("penalised Cox model of its own" in e.value for e in at.error), at.error
    assert _jobs(app_db) == []
    at.selectbox(key="jobs_target").set_value(Target.KIT11)
    at.text_input(key="jobs_name").input("clinical-v1")  # taken: the worker refuses it at once
    at.button[1].click().run()
    assert any("started" in s.value for s in at.success), [e.value for e in at.error]
    (job,) = _jobs(app_db)
    assert TrainRequest.from_parameters(job.parameters) == TrainRequest(
        ModelKind.RADIOMICS, Target.KIT11, name="clinical-v1", radiomics="logistic"
    )
    assert "exists already" in (_wait_until_ended(app_db).error or "")
    at.run()
    shown = at.dataframe[0].value.set_index("Job").loc[job.id, "Parameters"]
    assert "radiomics model tuned logistic regression (before the search)" in shown


def test_the_search_s_ensemble_is_chosen_on_the_page_and_reaches_the_job(
    app_db: Engine, seeded: None
) -> None:
    """All 16 by default; the best N travels as ``radiomics_ensemble``; with the logistic
    pipeline it is refused with the request's message and nothing is queued."""
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.RADIOMICS).run()
    ensemble = at.selectbox(key="jobs_radiomics_ensemble")
    assert ensemble.value is None and ensemble.options[:2] == [
        "all 16 classifiers (default)",
        "the best 1 by inner cross-validation",
    ]
    ensemble.set_value(3)
    at.radio(key="jobs_radiomics").set_value("logistic")
    at.button[1].click().run()
    assert any("keeps no ensemble" in e.value or "not --radiomics" in e.value for e in at.error)
    assert _jobs(app_db) == []
    at.radio(key="jobs_radiomics").set_value("search")
    at.selectbox(key="jobs_target").set_value(Target.KIT11)
    at.text_input(key="jobs_name").input("clinical-v1")  # taken: the worker refuses it at once
    at.button[1].click().run()
    assert any("started" in s.value for s in at.success), [e.value for e in at.error]
    (job,) = _jobs(app_db)
    assert job.parameters["radiomics_ensemble"] == 3
    assert TrainRequest.from_parameters(job.parameters).radiomics_ensemble == 3
    assert "exists already" in (_wait_until_ended(app_db).error or "")
    at.run()
    shown = at.dataframe[0].value.set_index("Job").loc[job.id, "Parameters"]
    assert "radiomics ensemble 3" in shown


def test_a_deep_training_run_from_the_jobs_page_keeps_its_ensemble_views_and_crop(
    app_db: Engine, seeded: None
) -> None:
    """The options travel in the job's parameters as the command's; a fixed crop without
    its spacing is refused on the page with the request's message, and nothing is queued."""
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.DL).run()
    at.number_input(key="jobs_ensemble").set_value(3)
    at.number_input(key="jobs_tta").set_value(4)
    at.radio(key="jobs_crop").set_value("fixed")
    at.button[1].click().run()  # the training form's submit button
    assert not at.exception, at.exception
    assert any(
        "needs the crop's spacing" in e.value and '"Crop spacing, mm per voxel"' in e.value
        for e in at.error
    ), at.error
    assert _jobs(app_db) == []
    at.number_input(key="jobs_crop_mm").set_value(4.0)
    # seed_cohort's model's name: the worker refuses a taken name before any training
    at.text_input(key="jobs_name").input("clinical-v1")
    at.button[1].click().run()
    assert any("started" in s.value for s in at.success), [e.value for e in at.error]
    (job,) = _jobs(app_db)
    asked = TrainRequest.from_parameters(job.parameters)
    assert asked == TrainRequest(
        ModelKind.DL,
        Target.GENOTYPE,
        name="clinical-v1",
        ensemble=3,
        tta=4,
        crop="fixed",
        crop_mm=4.0,
    )
    assert "exists already" in (_wait_until_ended(app_db).error or "")
    at.run()
    shown = at.dataframe[0].value.set_index("Job").loc[job.id, "Parameters"]
    assert "networks in the ensemble 3, test-time views 4, crop fixed spacing" in shown


def test_a_deep_training_run_with_the_default_options_is_stored_as_before_them(
    app_db: Engine, seeded: None
) -> None:
    at = _open("views/jobs.py")
    at.selectbox(key="jobs_kind").set_value(ModelKind.DL).run()
    at.text_input(key="jobs_name").input("clinical-v1")  # taken: refused before training
    at.button[1].click().run()
    (job,) = _jobs(app_db)
    assert job.parameters["kind"] == ModelKind.DL.value
    assert not {"ensemble", "tta", "crop", "crop_mm"} & set(job.parameters)
    assert "exists already" in (_wait_until_ended(app_db).error or "")
