"""The PACS pull and the push back in a real browser (chromium), against the Orthanc fixture.

On the "PACS and upload" page's PACS tab the study is found by the patient id, imported under
a pseudonym (the screenshot is kept in ``tests/artifacts/pacs_pull.png``); once the pulled
patient has a segmentation, the case view's "Send to the PACS" button puts a DICOM SEG and a
DICOM SR into the study, which the PACS then holds, referring to the CT series.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad.pacs.dicomweb import connect, find_studies, series_metadata
from gistcad.store import make_engine, migrations
from gistcad.store.models import Base, Patient, Segmentation, Series
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.pacs.conftest import CENTER, Pacs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def _type(tab: Any, key: str, text: str) -> None:
    """Type ``text`` into the text input of widget ``key`` and let the app rerun."""
    field = tab.locator(f".st-key-{key} input")
    field.fill(text)
    field.press("Enter")
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)


def test_pull_and_push_in_the_browser(pacs: Pacs, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    first = pydicom.dcmread(pacs.ct_files[0], stop_before_pixels=True)
    study = str(first.StudyInstanceUID)
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(data) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{url}/pacs", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="PACS and upload").first.wait_for(timeout=60_000)
        tab.get_by_role("tab", name="PACS").click()
        _type(tab, "pacs_url", pacs.url)
        _type(tab, "pacs_patient_id", pacs.hospital_id)
        tab.get_by_role("button", name="Find studies").click()
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        # the table lists the one study of that patient, with its UID and its image count
        table = tab.locator("[data-testid='stDataFrame']")
        table.wait_for(timeout=60_000)
        assert not tab.locator("[data-testid='stException']").count()
        cells = table.locator("td[role='gridcell']")  # the grid's accessible copy
        cells.first.wait_for(state="attached", timeout=60_000)
        texts = [cells.nth(i).text_content() for i in range(cells.count())]
        assert study in texts and str(len(pacs.ct_files)) in texts
        assert pacs.hospital_id in texts
        chosen = tab.get_by_role("combobox", name="Study to import").input_value()
        assert chosen.startswith(f"{first.StudyDate[:4]}-")  # the study's date, chosen already
        _type(tab, "pacs_center", CENTER)
        tab.get_by_role("button", name="Import the study").click()
        tab.get_by_text("dicom imported from").first.wait_for(timeout=120_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        report = tab.locator("[data-testid='stAlertContentSuccess']").first.inner_text()
        assert ": 1 new, 0 updated" in report
        assert not tab.locator("[data-testid='stException']").count()
        tab.screenshot(path=str(ARTIFACTS / "pacs_pull.png"), full_page=True)

        # in the database: one patient under a pseudonym, nothing identifying from the DICOM
        with Session(engine) as s:
            pseudonym = s.scalars(select(Patient.pseudonym)).one()
            assert s.scalars(select(Series.series_instance_uid)).one() == first.SeriesInstanceUID
            stored = "\n".join(
                repr(row)
                for table_ in Base.metadata.sorted_tables
                for row in s.execute(table_.select())
            )
        assert pseudonym != pacs.hospital_id and f"new patient {pseudonym}" in report
        for identifying in (first.PatientID, str(first.PatientName), first.PatientBirthDate):
            assert identifying and identifying not in stored

        # the pulled CT gets the generator's mask through the masks importer
        masks = tmp_path / "masks"
        masks.mkdir()
        (masks / pacs.mask.name).write_bytes(pacs.mask.read_bytes())
        env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
        env.pop("GISTCAD_DB_URL", None)
        command = [sys.executable, "-m", "gistcad.cli", "import", "masks", str(masks)]
        subprocess.run([*command, "--center", CENTER], env=env, check=True, capture_output=True)
        with Session(engine) as s:
            assert s.scalar(select(func.count(Segmentation.id))) == 1

        # the case view's button sends SEG + SR into the study
        tab.goto(f"{url}/case?patient={pseudonym}", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name=pseudonym).first.wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.get_by_text("Send the segmentation and results to the PACS").click()
        _type(tab, "case_pacs_url", pacs.url)
        tab.get_by_role("button", name="Send to the PACS").click()
        sent = tab.get_by_text("sent a DICOM SEG")
        sent.first.wait_for(timeout=120_000)
        message = sent.first.inner_text()
        assert not tab.locator("[data-testid='stException']").count()
        browser.close()

    found = re.search(r"\(([\d.]+)\) and SR \(([\d.]+)\)", message)
    assert found, message
    assert "of the outline" in message and "(Manual (imported))" in message  # the one pulled
    seg_uid, sr_uid = found.groups()
    (summary,) = find_studies(pacs.url, patient_id=pacs.hospital_id)
    assert summary.study_uid == study and sorted(summary.modalities) == ["CT", "SEG", "SR"]
    series = {
        item["00080060"]["Value"][0]: item["0020000E"]["Value"][0]
        for item in connect(pacs.url).search_for_series(study_instance_uid=study)
    }
    assert set(series) == {"CT", "SEG", "SR"} and series["CT"] == first.SeriesInstanceUID
    (seg,) = series_metadata(pacs.url, study, series["SEG"])
    (sr,) = series_metadata(pacs.url, study, series["SR"])
    assert seg.SOPInstanceUID == seg_uid and sr.SOPInstanceUID == sr_uid
    assert [r.SeriesInstanceUID for r in seg.ReferencedSeriesSequence] == [first.SeriesInstanceUID]
    evidence = {
        item.SeriesInstanceUID
        for study_item in sr.CurrentRequestedProcedureEvidenceSequence
        for item in study_item.ReferencedSeriesSequence
    }
    assert evidence == {first.SeriesInstanceUID, series["SEG"]}
