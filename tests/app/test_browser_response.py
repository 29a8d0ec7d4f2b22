"""End to end in a real browser: a treated patient's follow-up on the case view, and the
Treatment response page.

A tiny synthetic cohort (4 patients, 64² matrix; seed 0 treats one of them with neoadjuvant
imatinib: baseline and three follow-up CTs) goes through ``gistcad import demo`` and ``gistcad
response assess --all``, then ``gistcad serve``. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gistcad.store import make_engine, migrations
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.shared_builds import shared_cohort

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def _cli(data: Path, *args: str) -> str:
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "gistcad.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def treated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The server's address and the pseudonym of the patient with follow-up CTs."""
    data = tmp_path_factory.mktemp("data")
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    engine.dispose()
    cohort = shared_cohort(
        tmp_path_factory, patients=4, centers=1, seed=0, matrix=64, scan_length_mm=60.0
    )
    _cli(data, "import", "demo", str(cohort), "--json")
    _cli(data, "response", "assess", "--all")
    rows = json.loads(_cli(data, "response", "cohort", "--json"))
    treated = [r["pseudonym"] for r in rows if r["timepoints"] == 4]
    assert len(treated) == 1, rows  # seed 0 treats one patient: baseline and three follow-ups
    with serving(data) as url:
        yield url, treated[0]


def test_case_view_shows_the_timeline_side_by_side_ct_and_categories(
    treated_server: tuple[str, str],
) -> None:
    from playwright.sync_api import sync_playwright

    url, pseudonym = treated_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 3200})
        tab.goto(f"{url}/case?patient={pseudonym}", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="Follow-up CT and treatment response").wait_for(
            timeout=60_000
        )
        tab.get_by_text("Follow-up 3: axial slice").first.wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.wait_for_timeout(1000)
        assert not tab.locator("[data-testid='stException']").count()
        timeline = tab.locator("[data-testid='stTable']").first.inner_text()
        for text in ("Baseline", "Follow-up 1", "Follow-up 2", "Follow-up 3", "imatinib"):
            assert text in timeline
        categories = tab.locator("[data-testid='stTable']").nth(1).inner_text()
        assert "RECIST 1.1" in categories and "Choi" in categories
        assert "PR (partial response)" in categories and "density −" in categories
        panels = tab.locator("[data-testid='stImage']").all_inner_texts()
        assert any("Baseline: axial slice" in t for t in panels)
        assert any("Follow-up 3: axial slice" in t for t in panels)
        # the two side-by-side panels are images from the server; the CT viewer draws in the
        # browser, in its own frame
        assert tab.locator("[data-testid='stImage'] img").count() == 2
        assert tab.locator("iframe[title*='ct_viewer']").count() == 1
        assert tab.get_by_text("Linked axial position (mm from the first slice)").count() == 1
        assert tab.get_by_text("Response by RECIST 1.1 and Choi").count() == 1
        tab.screenshot(path=str(ARTIFACTS / "case_follow_up.png"), full_page=True)
        browser.close()


def test_response_page_draws_the_waterfall(treated_server: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, pseudonym = treated_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 3000}, accept_downloads=True)
        tab.goto(f"{url}/response", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="Treatment response").first.wait_for(timeout=60_000)
        tab.get_by_text("Best change in sum of diameters from baseline").first.wait_for(
            timeout=60_000
        )
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.wait_for_timeout(1000)
        assert not tab.locator("[data-testid='stException']").count()
        waterfall = tab.locator("[data-testid='stPlotlyChart']").first
        assert waterfall.locator("g.point path").count() == 1  # one treated patient, one bar
        legend = waterfall.locator("text.legendtitletext").first.text_content() or ""
        assert legend.replace("\xa0", " ") == "Best response (Choi)"
        waterfall.screenshot(path=str(ARTIFACTS / "response_waterfall.png"))
        tab.screenshot(path=str(ARTIFACTS / "response.png"), full_page=True)
        # the response table arrives as a file, one row per treated patient
        button = tab.get_by_role("button", name="Download the response table (CSV)")
        with tab.expect_download(timeout=30_000) as caught:
            button.click()
        rows = Path(caught.value.path()).read_text(encoding="utf-8").strip().splitlines()
        assert len(rows) == 2 and rows[1].split(",")[1] == pseudonym, rows
        assert not tab.locator("[data-testid='stException']").count()
        browser.close()
