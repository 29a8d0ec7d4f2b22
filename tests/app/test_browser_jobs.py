"""In a real browser: "Run prediction" in the case view shows the job's result on the card
when the job ends, without a reload (the page polls the job); the Jobs page's deep-model
options (ensemble, test-time views, crop) and the radiomics pipeline reach the queued run as a
user fills them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.domain import JobKind, JobStatus, ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import Center, Job, Patient
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.factories import seed_cohort

ENSEMBLE = "Networks in the ensemble"  # the deep kind's first option

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def server(data: Path) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, with_series=True)
        train(  # a model with its file saved: its prediction job succeeds
            s,
            AccessScope.everything(),
            data,
            TrainRequest(ModelKind.CLINICAL, Target.KIT11, name="fresh-k11"),
        )
        s.commit()
    engine.dispose()
    with serving(data) as url:
        yield url


def test_run_prediction_shows_its_result_in_the_case_view(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1800})
        tab.goto(f"{server}/case?patient=P-003", wait_until="networkidle", timeout=60_000)
        tab.get_by_text("Therapy implication").first.wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        assert tab.get_by_text("fresh-k11: ").count() == 0  # not predicted yet
        tab.locator("[data-testid='stSelectbox']").first.click()
        tab.get_by_role("option", name="fresh-k11").click()
        tab.get_by_role("button", name="Run prediction").click()
        tab.get_by_text("Prediction job 1 started").wait_for(timeout=30_000)
        # no reload: the page's poll shows the result when the worker has finished
        tab.get_by_text("Prediction job 1 finished: 1 predictions written.").wait_for(
            timeout=90_000
        )
        tab.get_by_text("Recommended model: fresh-k11").wait_for(timeout=10_000)
        assert not tab.locator("[data-testid='stException']").count()
        tab.screenshot(path=str(ARTIFACTS / "case_prediction_result.png"), full_page=True)
        browser.close()


def _train_jobs(data: Path) -> list[Job]:
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    try:
        with Session(engine) as s:
            return list(s.scalars(select(Job).where(Job.kind == JobKind.TRAIN).order_by(Job.id)))
    finally:
        engine.dispose()


def _jobs_page(playwright: Any, server: str) -> tuple[Any, Any]:
    """Chromium and a tab on the Jobs page, loaded (its training form shown)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    tab = browser.new_page(viewport={"width": 1400, "height": 1800})
    tab.goto(f"{server}/jobs", wait_until="domcontentloaded", timeout=60_000)
    tab.get_by_text("Training run").first.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    return browser, tab


def _training_form_drawn(tab: Any) -> None:
    """Wait until the training form is drawn: the deep kind comes first, so its options show
    (after them, what the form lacks can be counted)."""
    from playwright.sync_api import expect

    expect(tab.get_by_role("spinbutton", name=ENSEMBLE)).to_have_count(1, timeout=60_000)


def _pick_kind(tab: Any, label: str) -> None:
    """Choose the training run's model kind. The page reruns: the caller waits for what the
    kind shows or hides (the status widget may not have appeared yet when this returns)."""
    tab.locator("[data-testid='stSelectbox']").filter(has_text="Model kind").click()
    tab.get_by_role("option", name=label, exact=True).click()


def _start_training(tab: Any, screenshot: str, job_id: int | None = None) -> None:
    """Click "Start training", see the job (``job_id``, or any) started and no exception,
    keep a screenshot."""
    tab.get_by_role("button", name="Start training").click()
    started = r"\d+" if job_id is None else str(job_id)
    tab.get_by_text(re.compile(rf"Job {started} started")).wait_for(timeout=30_000)
    assert not tab.locator("[data-testid='stException']").count()
    tab.screenshot(path=str(ARTIFACTS / f"{screenshot}.png"), full_page=True)


def _refused_as_taken(data: Path, index: int) -> None:
    """The training job ``index`` ends refused by its worker: its name is in use."""
    deadline = time.monotonic() + 90
    while (job := _train_jobs(data)[index]).status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline, job.status
        time.sleep(0.5)
    assert "exists already" in (job.error or "")


def test_a_deep_training_run_takes_its_ensemble_views_and_crop_from_the_jobs_page(
    server: str, data: Path
) -> None:
    """The deep kind is the page's first: its options go with the clinical kind and come
    back with the deep one. The user fills the four fields, is told that a fixed crop needs
    its spacing (nothing queued), gives it, and the queued run carries what was filled. The
    run takes a name in use, so its worker refuses it before any training."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, tab = _jobs_page(p, server)
        _training_form_drawn(tab)
        ensemble = tab.get_by_role("spinbutton", name=ENSEMBLE)
        _pick_kind(tab, "Clinical")
        expect(ensemble).to_have_count(0, timeout=30_000)  # not offered with another kind
        _pick_kind(tab, "Deep learning (CT)")
        expect(ensemble).to_have_count(1, timeout=30_000)
        ensemble.fill("2")
        tab.get_by_role("spinbutton", name="Test-time views").fill("3")
        tab.get_by_text("fixed spacing").click()
        tab.get_by_role("textbox", name="Name (optional)").fill(
            "fresh-k11"
        )  # taken: refused before training
        tab.get_by_role("button", name="Start training").click()
        tab.get_by_text("needs the crop's spacing").wait_for(timeout=30_000)
        assert _train_jobs(data) == []
        tab.get_by_role("spinbutton", name="Crop spacing, mm per voxel").fill("4")
        _start_training(tab, "jobs_deep_options")
        browser.close()
    (job,) = _train_jobs(data)
    assert TrainRequest.from_parameters(job.parameters) == TrainRequest(
        ModelKind.DL,
        Target.GENOTYPE,
        name="fresh-k11",
        ensemble=2,
        tta=3,
        crop="fixed",
        crop_mm=4.0,
    )
    _refused_as_taken(data, 0)


def test_a_radiomics_training_run_takes_the_pipeline_chosen_on_the_jobs_page(
    server: str, data: Path
) -> None:
    """The user picks the radiomics kind, sees the model search chosen, keeps its best 3
    classifiers and starts it; then clicks the tuned logistic regression instead, sets the
    search's ensemble back to its default, and starts again. Each queued run carries what was
    chosen (a name in use again: the worker refuses each before any training)."""
    from playwright.sync_api import sync_playwright

    def pick_ensemble(tab: Any, option: str) -> None:
        box = tab.locator("[data-testid='stSelectbox']").filter(has_text="Search's ensemble")
        box.click()
        tab.get_by_role("option", name=option, exact=True).click()

    before = len(_train_jobs(data))
    with sync_playwright() as p:
        browser, tab = _jobs_page(p, server)
        _training_form_drawn(tab)
        logistic = "tuned logistic regression (before the search)"
        assert tab.get_by_text(logistic).count() == 0  # not the radiomics kind
        assert tab.get_by_text("Search's ensemble").count() == 0
        _pick_kind(tab, "Radiomics (CT)")
        searched = tab.get_by_role("radio", name="model search (WORC-style, the default)")
        searched.wait_for(timeout=30_000)
        assert searched.is_checked()
        pick_ensemble(tab, "the best 3 by inner cross-validation")
        tab.get_by_role("textbox", name="Name (optional)").fill("fresh-k11")
        _start_training(tab, "jobs_radiomics_search_best3")
        tab.get_by_text(logistic).click()
        pick_ensemble(tab, "all 16 classifiers (default)")
        _start_training(tab, "jobs_radiomics_pipeline", _train_jobs(data)[-1].id + 1)
        browser.close()
    jobs = _train_jobs(data)
    assert len(jobs) == before + 2
    requests = [TrainRequest.from_parameters(job.parameters) for job in jobs[-2:]]
    assert requests == [
        TrainRequest(ModelKind.RADIOMICS, Target.GENOTYPE, name="fresh-k11", radiomics_ensemble=3),
        TrainRequest(ModelKind.RADIOMICS, Target.GENOTYPE, name="fresh-k11", radiomics="logistic"),
    ]
    _refused_as_taken(data, -2)
    _refused_as_taken(data, -1)


def test_a_batch_prediction_of_one_center_predicts_its_patients(server: str, data: Path) -> None:
    """The user picks the model and one center on the Jobs page and starts the prediction: the
    queued job carries the center (a selection, not a list of names) and predicts its
    patients."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, tab = _jobs_page(p, server)
        tab.locator("[data-testid='stSelectbox']").filter(has_text="Model").first.click()
        tab.get_by_role("option", name="fresh-k11").click()
        tab.locator("[data-testid='stMultiSelect']").filter(has_text="Centers").click()
        tab.get_by_role("option", name="Alpha").click()
        tab.keyboard.press("Escape")
        tab.get_by_role("button", name="Start prediction").click()
        tab.get_by_text(re.compile(r"Job \d+ started")).wait_for(timeout=30_000)
        assert not tab.locator("[data-testid='stException']").count()
        tab.screenshot(path=str(ARTIFACTS / "jobs_center_prediction.png"), full_page=True)
        browser.close()
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    try:
        deadline = time.monotonic() + 90
        while True:
            with Session(engine) as s:
                job = s.scalars(
                    select(Job).where(Job.kind == JobKind.PREDICT).order_by(Job.id.desc())
                ).first()
                of_alpha = select(Patient.id).join(Center).where(Center.name == "Alpha")
                alpha = len(s.scalars(of_alpha).all())
            assert job is not None
            if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                break
            assert time.monotonic() < deadline, job.status
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert job.parameters["centers"] == ["Alpha"] and job.parameters["pseudonyms"] is None
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.message == f"{alpha} predictions written"
