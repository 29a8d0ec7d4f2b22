"""In a real browser: "Run prediction" in the case view shows the job's result on the card
when the job ends, without a reload (the page polls the job)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope, make_engine, migrations
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.factories import seed_cohort

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
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
