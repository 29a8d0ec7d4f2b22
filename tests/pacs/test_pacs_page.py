"""The "PACS and upload" page (AppTest): an upload imported with its report, a bad upload
refused with one message, a PACS that does not answer, and a study found and pulled."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import requests
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.store.models import Patient, Series
from tests.app.conftest import open_page
from tests.pacs.conftest import CENTER, Pacs, _free_port

PAGE = "views/pacs.py"


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (
            s.scalar(select(func.count(Patient.id))) or 0,
            s.scalar(select(func.count(Series.id))) or 0,
        )


def test_upload_panel(app_db: Engine, pacs: Pacs) -> None:
    at = open_page(PAGE)
    assert at.title[0].value == "PACS and upload"
    at.text_input(key="upload_center").set_value(CENTER)
    at.file_uploader(key="upload_files").set_value([("notes.txt", b"hello", "text/plain")]).run()
    at.button(key="upload_import").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "not DICOM: notes.txt" in at.error[0].value
    assert _counts(app_db) == (0, 0)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for file in pacs.ct_files:
            z.write(file, file.name)
    at.file_uploader(key="upload_files").set_value(
        [("export.zip", archive.getvalue(), "application/zip")]
    ).run()
    at.button(key="upload_import").click().run()
    assert not at.exception and not at.error
    assert "dicom imported from upload (export.zip): 1 new" in at.success[0].value
    assert _counts(app_db) == (1, 1)


def test_pacs_panel_and_push_button(app_db: Engine, pacs: Pacs, tmp_path: Path) -> None:
    at = open_page(PAGE)
    at.text_input(key="pacs_url").set_value(f"http://127.0.0.1:{_free_port()}/dicom-web").run()
    at.button(key="pacs_find").click().run()
    assert len(at.error) == 1 and "does not answer" in at.error[0].value

    at.text_input(key="pacs_url").set_value(pacs.url)
    at.text_input(key="pacs_patient_id").set_value(pacs.hospital_id)
    at.button(key="pacs_find").click().run()
    assert not at.error
    (frame,) = at.dataframe
    table = frame.value
    assert list(table["Images"]) == [len(pacs.ct_files)]
    at.text_input(key="pacs_center").set_value(CENTER)
    at.button(key="pacs_pull").click().run()
    assert not at.exception and not at.error
    assert "1 new" in at.success[0].value
    assert _counts(app_db) == (1, 1)

    # the case view's button sends the outline back as SEG + SR
    with Session(app_db) as s:
        pseudonym = s.scalars(select(Patient.pseudonym)).one()
    masks = tmp_path / "masks"
    masks.mkdir()
    shutil.copy(pacs.mask, masks)
    assert main(["import", "masks", str(masks), "--center", CENTER]) == 0
    at = open_page("views/case.py", {"patient": pseudonym})
    at.text_input(key="case_pacs_url").set_value(pacs.url).run()
    at.button(key="case_pacs_push").click().run()
    assert not at.exception and not at.error
    assert "sent a DICOM SEG" in at.success[-1].value
    study = requests.get(f"{pacs.url}/studies", timeout=30).json()[0]
    modalities = study["00080061"]["Value"]
    assert sorted(modalities) == ["CT", "SEG", "SR"]
