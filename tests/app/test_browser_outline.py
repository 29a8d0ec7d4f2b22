"""The tumour board's path through the dashboard in chromium, for a new patient without a mask:
upload the CT (a zip of a synthetic DICOM export) → open the case → click the tumour in the
viewer's outline mode → the outline is shown → the tolerance slider re-grows it → "Discard"
removes it → a second click outlines it again → erase a stroke of it with the brush → save it →
run a prediction → download the report.

The click's screen position is computed from where the generator put the tumour (the centre of
its own mask, which is not uploaded). The screenshot of the outlined case is kept in
``tests/artifacts/case_outline.png`` (the README's ``docs/case_outline.png``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.domain import GenotypeClass, ModelKind, SegmentationSource
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.segmentation.region_growing import GrowOptions
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import Center, Patient, Prediction, Segmentation
from gistcad.synth.build import BuildOptions, build_cohort
from tests.app.test_browser import ARTIFACTS, CHROMIUM, RUNNING, click_download, serving
from tests.app.test_browser_viewer import WEBGL_FLAGS, open_viewer
from tests.factories import seed_cohort

CENTER = "Lyon"  # the synthetic center whose masks are NIfTI: its DICOM export is CT only
MODEL = "clin-geno"
TOLERANCE_HU = GrowOptions().tolerance_hu  # the outline slider's starting value

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


class NewPatient(NamedTuple):
    """The served dashboard, its data folder, the CT export to upload, its tumour's centre
    (RAS mm) and volume (mL) as the generator made them."""

    url: str
    data: Path
    archive: Path
    tumour_mm: list[float]
    tumour_ml: float


def _tumour(mask_path: Path) -> tuple[list[float], float]:
    """The generator's tumour voxel farthest from its edge (RAS mm) and its volume (mL)."""
    image = nib.load(mask_path)
    inside = np.asarray(image.dataobj) > 0
    depth = ndimage.distance_transform_edt(inside, sampling=image.header.get_zooms()[:3])
    centre = np.unravel_index(int(np.argmax(depth)), inside.shape)
    volume_ml = float(inside.sum()) * abs(float(np.linalg.det(image.affine[:3, :3]))) / 1000.0
    return [float(v) for v in (image.affine @ [*centre, 1])[:3]], volume_ml


@pytest.fixture(scope="module")
def new_patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewPatient]:
    tmp = tmp_path_factory.mktemp("outline_flow")
    data, cohort = tmp / "data", tmp / "cohort"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:  # a cohort to train a genotype model on, in seconds
        seed_cohort(s, with_series=True)
        train(
            s,
            AccessScope.everything(),
            data,
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name=MODEL),
        )
        s.commit()
    engine.dispose()
    build_cohort(
        BuildOptions(
            out=cohort,
            patients=2,
            centers=2,
            seed=5,
            matrix=96,
            scan_length_mm=60.0,
            workers=1,
            follow_up=False,
        )
    )
    patient = next((cohort / "centers" / CENTER / "dicom").iterdir())
    archive = tmp / "export.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for file in sorted(patient.rglob("*.dcm")):
            z.write(file, f"export/{file.name}")
    archive.write_bytes(buffer.getvalue())
    tumour_mm, tumour_ml = _tumour(cohort / "centers" / CENTER / "masks" / f"{patient.name}.nii.gz")
    with serving(data) as url:
        yield NewPatient(url, data, archive, tumour_mm, tumour_ml)


def _upload(tab: object, case: NewPatient) -> None:
    from playwright.sync_api import Page

    assert isinstance(tab, Page)
    tab.goto(f"{case.url}/pacs", wait_until="networkidle", timeout=60_000)
    tab.get_by_role("heading", name="PACS and upload").first.wait_for(timeout=60_000)
    tab.get_by_label("Center").first.fill(CENTER)
    tab.get_by_label("Center").first.press("Enter")
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    tab.locator("input[type='file']").first.set_input_files(str(case.archive))
    tab.get_by_text("export.zip").first.wait_for(timeout=60_000)
    tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
    tab.get_by_role("button", name="Import", exact=True).click()
    tab.get_by_text("dicom imported from upload (export.zip): 1 new").wait_for(timeout=120_000)


def _uploaded(data: Path) -> str:
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with Session(engine) as s:
        pseudonym = s.scalars(
            select(Patient.pseudonym).join(Center).where(Center.name == CENTER)
        ).one()
        assert not s.scalars(select(Segmentation)).all()  # no mask came with the CT
    engine.dispose()
    return str(pseudonym)


def _click_tumour(tab: Any, viewer: Any, tumour_mm: list[float]) -> dict[str, Any]:
    """Click the tumour's centre in the viewer's outline mode and wait until its outline is
    shown (measures under the viewer, a second volume in it); returns the viewer's click."""
    # a rerun may have loaded the viewer again: it takes clicks once it shows the CT
    viewer.wait_for_function("window.ctViewer && window.ctViewer.ready", timeout=60_000)
    viewer.locator("#tool").select_option("outline")
    viewer.locator("#gl").scroll_into_view_if_needed()  # the page may have scrolled it away
    spot = viewer.evaluate("(mm) => window.ctViewer.screenOf(mm)", tumour_mm)
    canvas = viewer.locator("#gl").bounding_box()
    assert spot is not None and canvas is not None
    before = [c["id"] for c in viewer.evaluate("window.ctViewer.clicks")]
    tab.mouse.click(canvas["x"] + spot["x"], canvas["y"] + spot["y"])
    viewer.wait_for_function(
        f"(c => c.length > 0 && !{before!r}.includes(c[c.length - 1].id))(window.ctViewer.clicks)",
        timeout=10_000,
    )
    clicks = viewer.evaluate("window.ctViewer.clicks")
    tab.get_by_text("Outline volume").wait_for(timeout=60_000)
    tab.get_by_text("New outline (green, not saved yet)").wait_for(timeout=10_000)
    # the outline arrives in the viewer as a second volume
    viewer.wait_for_function(
        "window.ctViewer.outlineKey !== null && window.ctViewer.nv.volumes.length === 2",
        timeout=30_000,
    )
    return dict(clicks[-1])


def test_upload_outline_predict_and_report_in_the_browser(new_patient: NewPatient) -> None:
    from playwright.sync_api import Frame, sync_playwright

    case = new_patient
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=WEBGL_FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1300}, accept_downloads=True)
        _upload(tab, case)
        pseudonym = _uploaded(case.data)
        viewer = open_viewer(tab, f"{case.url}/case?patient={pseudonym}")
        assert isinstance(viewer, Frame)
        tab.get_by_text("To outline the tumour").wait_for(timeout=10_000)
        # outline mode, then a click on the tumour's centre as the screen shows it
        click = _click_tumour(tab, viewer, case.tumour_mm)
        assert np.allclose(click["mm"], case.tumour_mm, atol=3.0)  # within a voxel or so
        # the tolerance slider re-grows the outline from the same click (a new overlay, keyed
        # by the tolerance); "Discard" takes it away, and the viewer shows the CT alone
        slider = tab.get_by_role("slider", name="Outline tolerance (HU)")
        slider.focus()
        slider.press("ArrowRight")  # one step of 5 HU above the default
        viewer.wait_for_function(
            f"(window.ctViewer.outlineKey || '').includes('@{TOLERANCE_HU + 5:g}/')",
            timeout=60_000,
        )
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        slider.focus()
        slider.press("ArrowLeft")  # back to the default, for the volume checked below
        viewer.wait_for_function(
            f"(window.ctViewer.outlineKey || '').includes('@{TOLERANCE_HU:g}/')", timeout=60_000
        )
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.get_by_role("button", name="Discard the outline").click()
        tab.get_by_text("To outline the tumour").wait_for(timeout=60_000)
        viewer.wait_for_function(
            "window.ctViewer.outlineKey === null && window.ctViewer.nv.volumes.length === 1",
            timeout=30_000,
        )
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        # outline again, from a new click at the same place
        click = _click_tumour(tab, viewer, case.tumour_mm)
        inside = viewer.evaluate(
            "(mm) => { const v = window.ctViewer.nv.volumes[1]; const x = v.mm2vox(mm);"
            " return v.getValue(x[0], x[1], x[2]); }",
            click["mm"],
        )
        assert inside == 1
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "case_outline.png"))
        # the erase brush, dragged across the clicked point: the outline there is gone
        key = viewer.evaluate("window.ctViewer.outlineKey")
        viewer.locator("#tool").select_option("erase")
        viewer.locator("#brush").fill("3")
        spot = viewer.evaluate("(mm) => window.ctViewer.screenOf(mm)", click["mm"])
        canvas = viewer.locator("#gl").bounding_box()
        assert spot is not None and canvas is not None
        x, y = canvas["x"] + spot["x"], canvas["y"] + spot["y"]
        tab.mouse.move(x - 30, y)
        tab.mouse.down()
        tab.mouse.move(x + 30, y, steps=6)
        tab.mouse.up()
        stroke = viewer.evaluate("window.ctViewer.clicks")[-1]
        assert stroke["kind"] == "stroke" and stroke["mode"] == "erase"
        assert stroke["plane"] == "axial" and stroke["radius"] == 3
        # its path passes within a voxel of the clicked point, on its slice
        assert min(abs(p[1] - click["mm"][1]) for p in stroke["points"]) < 1.0
        assert {p[2] for p in stroke["points"]} == {click["mm"][2]}
        tab.get_by_text("corrected by 1 brush stroke").wait_for(timeout=60_000)
        viewer.wait_for_function(
            f"window.ctViewer.outlineKey !== {key!r} && window.ctViewer.nv.volumes.length === 2",
            timeout=30_000,
        )
        after = viewer.evaluate(
            "(mm) => { const v = window.ctViewer.nv.volumes[1]; const x = v.mm2vox(mm);"
            " return v.getValue(x[0], x[1], x[2]); }",
            click["mm"],
        )
        assert after == 0
        # save: the outline becomes the case's segmentation, semi-automatic
        tab.get_by_role("button", name="Save outline").click()
        tab.get_by_text("Outline saved as a semi-automatic segmentation").wait_for(timeout=60_000)
        # predict with the model trained in the fixture, then the report
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        tab.locator("[data-testid='stSelectbox']").first.click()
        tab.get_by_role("option", name=MODEL).click()
        tab.get_by_role("button", name="Run prediction").click()
        tab.get_by_text(re.compile(r"Prediction job \d+ finished: 1 predictions written")).wait_for(
            timeout=90_000
        )
        tab.get_by_text(f"Recommended model: {MODEL}").wait_for(timeout=30_000)
        button = tab.locator("[data-testid='stDownloadButton'] button", has_text="case report")
        report = Path(click_download(tab, button.first).path()).read_text(encoding="utf-8")
        assert not tab.locator("[data-testid='stException']").count()
        browser.close()
    engine = make_engine(f"sqlite:///{case.data / 'gistcad.sqlite'}")
    with Session(engine) as s:
        (row,) = s.scalars(select(Segmentation)).all()
        assert row.source is SegmentationSource.SEMI_AUTOMATIC and row.volume_ml is not None
        # one click at the centre outlines the generator's tumour, give or take a quarter
        assert row.volume_ml == pytest.approx(case.tumour_ml, rel=0.25)
        (prediction,) = s.scalars(
            select(Prediction).join(Patient).where(Patient.pseudonym == pseudonym)
        ).all()
    engine.dispose()
    assert pseudonym in report
    assert f"{MODEL}: {GenotypeClass(prediction.predicted_class).label}" in report
