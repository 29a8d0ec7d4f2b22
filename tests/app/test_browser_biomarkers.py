"""On a stored cohort whose radiomics features are in the feature cache (a planted feature
among 110 noise features, :mod:`tests.cached_cohort`): ``gistcad biomarkers discover`` as a
user runs it, then the Biomarkers page in a real browser runs the discovery and shows the
volcano plot and the table.

Reading the images into the candidate features is checked apart, against build and import
(``tests/biomarkers/test_rendered_cohort.py``); here the command and the page get the features
without paying for the extraction."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gistcad.biomarkers.simulation import planted_cohort
from gistcad.domain import ModelKind
from gistcad.store import make_engine, migrations, session_scope
from gistcad.store.models import ModelVersion
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.cached_cohort import store_cached_cohort

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]

PATIENTS = 150
NOISE = 110
DEEP = "deep-b"


def _gistcad(data: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "gistcad.cli", *arguments],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """150 patients in three centers, a feature with hazard ratio 2.5 per SD among 110 noise
    features and a size echo, stored in the data folder's database with the features cached,
    and a deep model version whose out-of-fold risk score is that feature;
    the command's JSON; and the recurrences stored, counted apart from the command."""
    data = tmp_path_factory.mktemp("data")
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    cohort = planted_cohort(PATIENTS, hazard_ratio=2.5, noise_features=NOISE, seed=14)
    ids = store_cached_cohort(engine, data, cohort, list(cohort.features.columns), seed=14)
    with session_scope(engine) as session:  # a deep model whose out-of-fold score is the trait
        trait = cohort.features["planted"].to_numpy(dtype=float)
        oof = [{"patient_id": p, "risk_score": float(t)} for p, t in zip(ids, trait, strict=True)]
        session.add(
            ModelVersion(
                name=DEEP,
                kind=ModelKind.DL,
                target="genotype",
                parameters={"scheme": "kfold"},
                metrics={"oof": oof, "training_patients": ids},
            )
        )
    engine.dispose()
    found = _gistcad(data, "biomarkers", "discover", "--bootstrap", "5", "--json")
    with sqlite3.connect(data / "gistcad.sqlite") as connection:
        (stored,) = connection.execute("SELECT SUM(rfs_event) FROM outcomes").fetchone()
    yield data, {**json.loads(found.stdout), "stored_events": stored}


def test_the_command_reports_every_table(imported: tuple[Path, dict[str, Any]]) -> None:
    _, found = imported
    assert found["patients"] == PATIENTS and found["events"] == found["stored_events"] >= 10
    assert found["centers"] == ["C0", "C1", "C2"]
    assert found["covariates"][:2] == ["log_size", "log_mitoses"]
    features = {row["feature"] for row in found["features"]}
    assert len(features) == found["tested"] == NOISE + 2
    # image features only: no outcome, no clinical column among the candidates
    assert not features & {"rfs_months", "rfs_event", "os_months", "os_event", "size_cm"}
    assert found["discovered"][0] == "planted"
    assert {row["center"] for row in found["per_center"]} == set(found["centers"])
    q = [row["q"] for row in found["features"] if row["q"] is not None]
    assert q == sorted(q)


def test_discovery_runs_and_shows_the_volcano_and_the_table(
    imported: tuple[Path, dict[str, Any]],
) -> None:
    from playwright.sync_api import sync_playwright

    data, _ = imported
    with serving(data) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{url}/biomarkers", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="Biomarkers").first.wait_for(timeout=60_000)
        tab.get_by_label("Bootstrap resamples").fill("10")
        deep = tab.locator("[data-testid='stSelectbox']").filter(
            has=tab.locator("[data-testid='stWidgetLabel']").get_by_text(
                "Deep model's risk score among the candidates", exact=True
            )
        )
        deep.click()
        tab.get_by_role("option", name=DEEP, exact=True).click()
        tab.get_by_role("button", name="Run discovery").click()
        tab.get_by_text("Discovery: all centers").wait_for(timeout=180_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=120_000)
        tab.get_by_text(f"with deep model {DEEP}'s risk score").wait_for(timeout=30_000)
        # the volcano plot: its title, and its points (one marker per feature)
        volcano = tab.locator(".js-plotly-plot").first
        volcano.locator("path.point").first.wait_for(state="attached", timeout=60_000)
        assert "features" in (volcano.locator(".gtitle").text_content() or "")
        assert volcano.locator("path.point").count() > 100
        tab.get_by_text("Confirmation: each center left out").wait_for(timeout=30_000)
        table = tab.locator("[data-testid='stDataFrame']").first
        table.wait_for(timeout=30_000)
        table.get_by_text("HR per SD").first.wait_for(state="attached", timeout=30_000)
        assert not tab.locator("[data-testid='stException']").count()
        assert not tab.get_by_text("Traceback").count()
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "biomarkers-discovery.png"), full_page=True)
        browser.close()
