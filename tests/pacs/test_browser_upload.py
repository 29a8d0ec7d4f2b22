"""The upload in a real browser (chromium): a zip of a synthetic CT export uploaded on the
"PACS and upload" page is imported, with the report shown; the screenshot is kept in
``tests/artifacts/pacs_upload.png``."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad.store import make_engine, migrations
from gistcad.store.models import Patient, Series
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.pacs.conftest import CENTER

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def test_upload_a_zip_in_the_browser(cohort: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    patient = sorted((cohort / "centers" / CENTER / "dicom").iterdir())[0]
    archive = tmp_path / "export.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for file in sorted(patient.rglob("*.dcm")):
            z.write(file, f"export/{file.name}")
    archive.write_bytes(buffer.getvalue())
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(data) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{url}/pacs", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="PACS and upload").first.wait_for(timeout=60_000)
        tab.get_by_label("Center").first.fill(CENTER)
        tab.get_by_label("Center").first.press("Enter")
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.locator("input[type='file']").first.set_input_files(str(archive))
        tab.get_by_text("export.zip").first.wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.get_by_role("button", name="Import", exact=True).click()
        tab.get_by_text("dicom imported from upload (export.zip): 1 new").wait_for(timeout=120_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        assert not tab.locator("[data-testid='stException']").count()
        tab.screenshot(path=str(ARTIFACTS / "pacs_upload.png"), full_page=True)
        browser.close()
    with Session(engine) as s:
        assert s.scalar(select(func.count(Patient.id))) == 1
        assert s.scalar(select(func.count(Series.id))) == 1
