"""In a real browser, while the demo models train: the dashboard answers, the home page counts
the ready models with each one's progress, the survival page names those still training."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gistcad.demo_models import queue_demo_models
from gistcad.store import AccessScope, make_engine, migrations, session_scope
from gistcad.store.jobs import claim_job, update_job
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.factories import seed_cohort

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def test_pages_show_the_demo_models_in_training(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=20)
        s.commit()
    job_id = queue_demo_models(engine, AccessScope.everything())["demo-deep"].job_id
    assert job_id is not None
    with session_scope(engine) as session:  # this test's process stands in for the worker
        claim_job(session, job_id, {"pid": os.getpid(), "host": socket.gethostname()})
        update_job(session, job_id, progress=0.25, message="epoch 3/40 val loss 1.200")
    engine.dispose()
    with serving(tmp_path, "--no-demo-worker") as url:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as health:
            assert health.status == 200
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(url, wait_until="networkidle", timeout=60_000)
            tab.get_by_text("Demo models: 0 of 3 ready").wait_for(timeout=60_000)
            tab.get_by_text("demo-deep is training (epoch 3/40 val loss 1.200): 25%").wait_for(
                timeout=60_000
            )
            tab.get_by_text("demo-clinical is queued").first.wait_for(timeout=60_000)
            tab.screenshot(path=str(ARTIFACTS / "home-demo-training.png"), full_page=True)
            tab.goto(f"{url}/survival", wait_until="networkidle", timeout=60_000)
            tab.get_by_text("Grouping by a model's predictions offers each model").first.wait_for(
                timeout=60_000
            )
            tab.get_by_text("demo-deep is training").first.wait_for(timeout=60_000)
            tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
            assert not tab.locator("[data-testid='stException']").count()
            assert not tab.get_by_text("Traceback").count()
            tab.screenshot(path=str(ARTIFACTS / "survival-demo-training.png"), full_page=True)
            browser.close()
