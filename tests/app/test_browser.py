"""End to end in a real browser: the dashboard served by ``gistcad serve``, every page opened
(here, or in ``tests/app/test_browser_downloads.py``, which opens the pages with downloads).

Drives Debian's chromium through Playwright and keeps a screenshot of each page under
``tests/artifacts/``. Without /usr/bin/chromium the test reports itself skipped with the
reason (CI installs chromium, so there it always runs).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.synth.build import BuildOptions, build_cohort
from tests.factories import add_deep_model_with_risk_head, seed_cohort

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# page -> (path, heading, a text the finished page must show): the pages that
# tests/app/test_browser_downloads.py does not open (it opens the others, clicks every download
# and checks them alike); test_every_page_is_opened_in_a_browser keeps the two lists whole
PAGES = {
    "home": ("", "GIST cohort explorer", "Model versions"),
    "biomarkers": (
        "biomarkers",
        "Biomarkers",
        "Choose the endpoint and the adjustment, then run the discovery.",
    ),
    "jobs": ("jobs", "Jobs", "Recent jobs"),
    "pacs": ("pacs", "PACS and upload", "Names, ids and birth dates are removed at import"),
}
RUNNING = "[data-testid='stStatusWidget']"
DEEP = "deep-g"  # a deep genotype model with its risk head (tests.factories)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    cohort = tmp_path_factory.mktemp("cohort") / "synthetic"
    build_cohort(
        BuildOptions(
            out=cohort, patients=3, centers=1, seed=4, matrix=96, scan_length_mm=60.0, workers=1
        )
    )
    with Session(engine) as s:
        seed_cohort(s, with_series=True)
        train(
            s,
            AccessScope.everything(),
            data,
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="clin-geno"),
        )
        add_deep_model_with_risk_head(s, DEEP)
        s.commit()
    engine.dispose()
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    subprocess.run(
        [sys.executable, "-m", "gistcad.cli", "import", "demo", str(cohort), "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    with serving(data) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One chromium for this module's tests: starting Playwright's driver and the browser
    costs about a second each time; every test still opens a context of its own (no cookie,
    storage or download shared), as a fresh browser would."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_tab(chromium: Any) -> Iterator[Callable[..., Any]]:
    """Open a tab in a new browser context (``new_tab(viewport=..., accept_downloads=...)``);
    the contexts close when the test ends."""
    contexts: list[Any] = []

    def open_tab(**options: Any) -> Any:
        context = chromium.new_context(**options)
        contexts.append(context)
        return context.new_page()

    yield open_tab
    for context in contexts:
        context.close()


@contextmanager
def serving(data: Path, *options: str) -> Iterator[str]:
    """``gistcad serve`` on a free localhost port over the data folder ``data``."""
    port = _free_port()
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    env.pop("GISTCAD_AUTH", None)
    command = [sys.executable, "-m", "gistcad.cli", "serve", "--port", str(port), *options]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    out = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"gistcad serve exited: {out}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_opens_in_a_browser(server: str, page: str, new_tab: Callable[..., Any]) -> None:
    path, heading, finished = PAGES[page]
    ARTIFACTS.mkdir(exist_ok=True)
    tab = new_tab(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/{path}", wait_until="networkidle", timeout=60_000)
    tab.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    tab.get_by_text(finished).first.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    tab.wait_for_timeout(1000)  # let plotly and the data grid finish drawing
    assert not tab.get_by_text("Traceback").count()
    assert not tab.locator("[data-testid='stException']").count()
    tab.screenshot(path=str(ARTIFACTS / f"{page}.png"), full_page=True)


def test_every_page_is_opened_in_a_browser() -> None:
    """Every page of the menu (app.py) is opened by the test above or by the downloads'."""
    from tests.app.test_browser_downloads import PAGES as DOWNLOAD_PAGES

    def page_of(address: str) -> str:
        return f"views/{address.split('?')[0] or 'home'}.py"

    menu = set(re.findall(r'"(views/\w+\.py)"', (Path(__file__).parents[2] / "app.py").read_text()))
    opened = {page_of(path) for path, _, _ in PAGES.values()}
    opened |= {page_of(address) for address in DOWNLOAD_PAGES}
    assert len(menu) == 10 and opened == menu


def test_menu_and_click_through_from_cohort_to_case(
    server: str, new_tab: Callable[..., Any]
) -> None:
    tab = new_tab(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/cohort", wait_until="networkidle", timeout=60_000)
    tab.get_by_text("Download this cohort (CSV)").first.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    sidebar = tab.locator("[data-testid='stSidebar']").inner_text()
    assert "Cohort explorer" in sidebar and "Case view" in sidebar
    assert "common" not in sidebar and "viewer" not in sidebar  # no automatic file listing
    tab.locator("[data-testid='stSidebar']").get_by_text("Case view").click()
    tab.get_by_role("heading", name="Case view").wait_for(timeout=60_000)
    search = tab.get_by_label("Pseudonym")
    search.fill("P-000")
    search.press("Enter")
    tab.get_by_role("heading", name="P-000").wait_for(timeout=60_000)
    tab.get_by_text("Therapy implication").first.wait_for(timeout=60_000)


def click_download(tab: Any, button: Any) -> Any:
    """The file a click on ``button`` delivers, clicked as a user does: once the page has
    finished running and the button can be pressed; again if a rerun swallowed the click."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    for attempt in range(2):
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        # the rerun a download starts may begin after the check above: its widgets stay
        # disabled until it ends, which on a machine busy with other tests takes a while
        expect(button).to_be_enabled(timeout=180_000)
        try:
            with tab.expect_download(timeout=20_000) as caught:
                button.click()
            return caught.value
        except PlaywrightTimeout:
            if attempt:
                raise
    raise AssertionError("unreachable")


def test_performance_page_shows_a_deep_models_risk_head(
    server: str, new_tab: Callable[..., Any]
) -> None:
    """The user picks the deep model in the page's "Model" box and sees its genotype AUCs
    with the mean of the per-center AUCs, then the risk head judged as a survival score:
    its table, forest plot and KM by tertiles, and no calibration."""
    tab = new_tab(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/performance", wait_until="networkidle", timeout=60_000)
    tab.get_by_role("heading", name="Model performance").first.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    model = tab.locator("[data-testid='stSelectbox']").filter(
        has=tab.locator("[data-testid='stWidgetLabel']").get_by_text("Model", exact=True)
    )
    model.click()
    tab.get_by_role("option", name=DEEP, exact=True).click()
    head = tab.get_by_role("heading", name="Risk head (recurrence-free survival)")
    head.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    tab.get_by_text("Mean of centers: the unweighted mean").first.wait_for(timeout=30_000)
    tab.get_by_text("not calibrated: a risk head gives a ranking").first.wait_for(timeout=30_000)
    head.scroll_into_view_if_needed()
    tab.get_by_text("Uno's C (τ 60 months)").first.wait_for(state="attached", timeout=30_000)
    # genotype forest and ROC, then the head's forest and KM: plotly has drawn them
    plots = tab.locator(".js-plotly-plot")
    plots.nth(3).locator("path").first.wait_for(state="attached", timeout=60_000)
    # the head's ΔC forests: in Harrell's C and in Uno's C, both drawn
    for measure in ("Harrell's C", "Uno's C"):
        forest = plots.filter(has_text=f"ΔC in {measure}").first
        forest.locator("path").first.wait_for(state="attached", timeout=30_000)
    assert not tab.locator("[data-testid='stException']").count()
    assert not tab.get_by_text("Traceback").count()
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "performance-risk-head.png"), full_page=True)
