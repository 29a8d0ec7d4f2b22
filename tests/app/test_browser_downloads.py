"""End to end in a real browser: every download button on every page delivers its file, and
a figure's camera button saves a PNG (or an SVG).

One server (``gistcad serve``) over one database: :func:`tests.factories.seed_cohort`'s
patients with a clinical genotype model trained on them, and a tiny synthetic cohort (seed 0
treats one patient: baseline and three follow-up CTs) imported with ``gistcad import demo``
and assessed with ``gistcad response assess --all``. Each page is visited once; each of its
tabs is opened so that every download button is visible, and every button is clicked. The
files must arrive and parse: CSV files with rows and labelled columns, the case report with
the patient's pseudonym. No page may show an exception or a traceback; a screenshot of each
page and the saved figure go to ``tests/artifacts/``.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope, make_engine, migrations
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, click_download, serving
from tests.factories import seed_cohort
from tests.shared_builds import shared_cohort

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]

DOWNLOAD = "[data-testid='stDownloadButton'] button"


def _cli(data: Path, *args: str) -> str:
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "gistcad.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The server's address and the pseudonym of the patient with follow-up CTs."""
    data = tmp_path_factory.mktemp("data")
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=40, with_series=True)
        train(
            s,
            AccessScope.everything(),
            data,
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="clin-geno"),
        )
        s.commit()
    engine.dispose()
    cohort = shared_cohort(
        tmp_path_factory, patients=4, centers=1, seed=0, matrix=64, scan_length_mm=60.0
    )
    _cli(data, "import", "demo", str(cohort), "--json")
    _cli(data, "response", "assess", "--all")
    rows = json.loads(_cli(data, "response", "cohort", "--json"))
    treated = [r["pseudonym"] for r in rows if r["timepoints"] == 4]
    assert len(treated) == 1, rows
    with serving(data) as url:
        yield url, treated[0]


def _csv(columns: set[str], *, contains: str | None = None) -> dict[str, Any]:
    return {"kind": "csv", "columns": columns, "contains": contains}


#: page address -> (a text the finished page shows, {button label: what its file must hold});
#: "{treated}" stands for the treated patient's pseudonym
PAGES: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "cohort": (
        "Download this cohort (CSV)",
        {
            "Download this cohort (CSV)": _csv({"Pseudonym", "Center", "Site", "Risk class"}),
            "Download table one (CSV)": _csv({"Variable", "Level", "Test"}),
        },
    ),
    # the address chooses the grouping by predicted status: its sources table too
    "survival?by=predicted": (
        "Agreement of predicted and true status",
        {
            "Download prediction sources (CSV)": _csv({"Group", "Source", "Patients"}),
            "Download summary (CSV)": _csv({"Group", "Patients", "Events", "Median (95 % CI)"}),
            "Download number at risk (CSV)": _csv({"Group", "Time", "Number at risk"}),
        },
    ),
    "response": (
        "Best change from baseline",
        {"Download the response table (CSV)": _csv({"Pseudonym"}, contains="{treated}")},
    ),
    "performance": (
        "Misclassified patients",
        {"Download per-center metrics (CSV)": _csv({"Center"})},
    ),
    "case?patient={treated}": (
        "Therapy implication",
        {"Download the one-page case report (printable HTML)": {"kind": "html"}},
    ),
    "admin": (
        "Audit trail",
        {"Download these events (CSV)": _csv({"At", "Who", "What"})},
    ),
}


def _open(tab: Any, url: str, ready: str, *labels: str) -> None:
    """Open ``url`` and wait until it shows ``ready``, holds every button of ``labels`` (in
    any tab) and has finished running."""
    tab.goto(url, wait_until="networkidle", timeout=60_000)
    tab.get_by_text(ready).first.wait_for(timeout=60_000)
    for label in labels:
        tab.locator(DOWNLOAD, has_text=label).first.wait_for(state="attached", timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    tab.wait_for_timeout(1000)  # stale elements of the previous run leave


def _click_every_download(tab: Any) -> dict[str, tuple[str, bytes]]:
    """Open each tab of the page in turn and click every visible download button once;
    returns label -> (suggested file name, content)."""
    files: dict[str, tuple[str, bytes]] = {}
    tabs = tab.get_by_role("tab")
    for index in range(max(1, tabs.count())):
        if tabs.count():
            tabs.nth(index).click()
            tab.wait_for_timeout(300)
        buttons = tab.locator(DOWNLOAD)
        for i in range(buttons.count()):
            button = buttons.nth(i)
            label = button.inner_text().strip()
            if label in files or not button.is_visible():
                continue
            # a download leaves the page as it is (on_click="ignore"), except on the
            # Performance page, whose rerun disables its widgets until the run ends
            download = click_download(tab, button)
            files[label] = (download.suggested_filename, Path(download.path()).read_bytes())
    return files


def _check(label: str, name: str, content: bytes, expected: dict[str, Any], who: str) -> None:
    text = content.decode("utf-8")
    if expected["kind"] == "html":
        assert name.endswith(".html") and "<html" in text.lower() and who in text, label
        return
    assert name.endswith(".csv"), (label, name)
    table = pd.read_csv(io.StringIO(text))
    assert len(table) > 0, label
    assert expected["columns"] <= set(table.columns), (label, list(table.columns))
    if expected["contains"]:
        assert expected["contains"].format(treated=who) in text, label


def _selectbox(tab: Any, label: str) -> Any:
    """The select box whose label is exactly ``label``."""
    return tab.locator("[data-testid='stSelectbox']").filter(
        has=tab.locator("[data-testid='stWidgetLabel']").get_by_text(label, exact=True)
    )


def _choose(tab: Any, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` and wait for the rerun."""
    _selectbox(tab, label).click()
    tab.get_by_role("option", name=option, exact=True).click()
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)


def _options(tab: Any, label: str) -> list[str]:
    """The options of the select box labelled ``label``."""
    _selectbox(tab, label).click()
    tab.get_by_role("option").first.wait_for(timeout=10_000)
    options = [text.strip() for text in tab.get_by_role("option").all_inner_texts()]
    tab.keyboard.press("Escape")
    return options


PAGE_CAPTION = re.compile(r"Page (\d+) of (\d+): patients (\d+)–(\d+) of (\d+) in (.+)")


def _group_page(tab: Any, group: str, page: int = 1) -> tuple[int, ...]:
    """(pages, first, last, total) of the Survival page's "Patients of a group", once it
    shows page ``page`` of ``group``."""
    shown = re.compile(rf"Page {page} of \d+: patients \d+–\d+ of \d+ in {re.escape(group)}")
    caption = tab.get_by_text(shown).first
    caption.wait_for(timeout=60_000)
    found = PAGE_CAPTION.fullmatch(caption.inner_text().strip())
    assert found, caption.inner_text()
    return tuple(int(v) for v in found.groups()[1:5])


def _page_through_the_largest_group(tab: Any) -> None:
    """Survival page: at 25 rows a page the largest group has a second page, which lists the
    patients after the 25th."""
    _choose(tab, "Rows per page", "25")
    totals = {}
    for group in _options(tab, "Group"):
        _choose(tab, "Group", group)
        totals[group] = _group_page(tab, group)[3]
    largest = max(totals, key=lambda g: totals[g])
    total = totals[largest]
    pages = math.ceil(total / 25)
    assert total > 25, totals  # the seeded cohort's larger group spans two pages
    _choose(tab, "Group", largest)
    assert _group_page(tab, largest) == (pages, 1, 25, total)
    number = tab.get_by_label("Page", exact=True)
    number.fill("2")
    number.press("Enter")
    assert _group_page(tab, largest, page=2) == (pages, 26, min(total, 50), total)


def _size_histogram_is_drawn(tab: Any) -> None:
    """Cohort explorer, Distributions tab: the tumour size figure is drawn as binned bars."""
    tab.get_by_role("tab", name="Distributions").click()
    figure = tab.locator("[data-testid='stPlotlyChart']", has_text="Tumour size").first
    figure.wait_for(timeout=60_000)
    bars = figure.locator(".barlayer .point path")
    bars.first.wait_for(state="attached", timeout=30_000)
    assert bars.count() > 1  # one bar per bin and center with patients


#: page address -> what else to check there once its downloads have arrived
ALSO: dict[str, Any] = {
    "cohort": _size_histogram_is_drawn,
    "survival?by=predicted": _page_through_the_largest_group,
}


def test_every_download_on_every_page_arrives(server: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, treated = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        for path, (ready, expected) in PAGES.items():
            _open(tab, f"{url}/{path.format(treated=treated)}", ready, *expected)
            files = _click_every_download(tab)
            # every button on the page was clicked, and each is one this test checks
            tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
            shown = {text.strip() for text in tab.locator(DOWNLOAD).all_inner_texts()}
            assert shown == set(files), (path, sorted(files))
            assert set(files) == set(expected), (path, sorted(files))
            for label, (name, content) in files.items():
                _check(label, name, content, expected[label], treated)
            if path in ALSO:
                ALSO[path](tab)
            assert not tab.locator("[data-testid='stException']").count(), path
            assert not tab.get_by_text("Traceback").count(), path
            assert not tab.get_by_text("Failed to generate file").count(), path
            ARTIFACTS.mkdir(exist_ok=True)
            page = path.split("?")[0]  # not the names of test_browser_response's screenshots
            tab.screenshot(path=str(ARTIFACTS / f"downloads-{page}.png"), full_page=True)
        browser.close()


def test_every_download_button_of_the_pages_is_in_this_test() -> None:
    # a new download button must be added to PAGES (and so be clicked above)
    root = Path(__file__).resolve().parents[2] / "views"
    found = {
        line.split('"')[1]
        for page in root.glob("*.py")
        for block in page.read_text().split("st.download_button(")[1:]
        for line in block.splitlines()[1:2]
        if '"' in line
    }
    listed = {label for _, buttons in PAGES.values() for label in buttons}
    assert found == listed


def test_no_download_button_reruns_its_page() -> None:
    # a download changes nothing a page shows: every button says on_click="ignore"
    root = Path(__file__).resolve().parents[2] / "views"
    rerunning = [
        f"{page.name}: {block.splitlines()[1].strip()}"
        for page in sorted(root.glob("*.py"))
        for block in page.read_text().split("st.download_button(")[1:]
        if 'on_click="ignore"' not in block.split("\n)")[0]
    ]
    assert rerunning == []


def _camera(tab: Any, figure: Any) -> Any:
    figure.hover()
    button = figure.locator(".modebar-btn[data-title^='Download plot']")
    button.wait_for(timeout=10_000)
    with tab.expect_download(timeout=30_000) as caught:
        button.click()
    return caught.value


def test_a_figure_saves_as_png_and_as_svg(server: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1600, "height": 1400}, accept_downloads=True)
        _open(tab, f"{url}/survival?by=risk", "Log-rank p")
        figure = tab.locator("[data-testid='stPlotlyChart']").first
        png = _camera(tab, figure)
        assert png.suggested_filename == "gistcad_survival_km.png"
        content = Path(png.path()).read_bytes()
        assert content[:8] == b"\x89PNG\r\n\x1a\n"
        (ARTIFACTS / "survival_km_export.png").write_bytes(content)
        # the sidebar's choice switches every camera button to SVG
        tab.locator("[data-testid='stSidebar']").get_by_text("SVG", exact=True).click()
        # plotly titles the camera "Download plot as a PNG" for PNG, "Download plot" otherwise:
        # wait until the rerun has drawn the figure again with the new format
        tab.wait_for_selector(
            "[data-testid='stPlotlyChart'] .modebar-btn[data-title='Download plot']",
            state="attached",
            timeout=60_000,
        )
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        figure = tab.locator("[data-testid='stPlotlyChart']").first
        svg = _camera(tab, figure)
        assert svg.suggested_filename == "gistcad_survival_km.svg"
        text = Path(svg.path()).read_text(encoding="utf-8")
        assert text.lstrip().startswith("<svg") and "Number at risk" in text
        browser.close()
