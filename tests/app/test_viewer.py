"""AppTest of the case view's CT viewer on an imported synthetic cohort.

The viewer runs in the browser (tests/app/test_browser_viewer.py drives it in chromium); here
the page's side is checked: what the component is sent (the series, its mask, where it opens,
the window presets) and the tumour's measures printed beside it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.cli import main
from gistcad.imaging import read_nifti
from gistcad.store import AccessScope
from gistcad.store.models import Patient
from gistcad.store.queries import case_rows, series_segmentations
from gistcad.viewer.slices import PRESETS, Plane, largest_slice, to_lps
from tests.app.conftest import APP
from tests.shared_builds import shared_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_cohort(
        tmp_path_factory, patients=3, centers=2, seed=2, matrix=64, scan_length_mm=40.0
    )


@pytest.fixture
def pseudonym(app_db: Engine, cohort: Path) -> str:
    assert main(["import", "demo", str(cohort)]) == 0
    with Session(app_db) as s:
        return str(s.scalars(select(Patient.pseudonym).order_by(Patient.pseudonym)).first())


def _page(pseudonym: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["patient"] = pseudonym
    at.run()
    at.switch_page("views/case.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _component(at: AppTest) -> tuple[dict[str, object], dict[str, bytes]]:
    """The viewer component's JSON arguments and its byte arguments."""
    (element,) = [e for e in at.get("component_instance") if "ct_viewer" in e.proto.component_name]
    special = {arg.key: arg.bytes for arg in element.proto.special_args}
    return json.loads(element.proto.json_args), special


def test_viewer_is_sent_the_series_and_its_mask(app_db: Engine, pseudonym: str) -> None:
    at = _page(pseudonym)
    args, data = _component(at)
    with Session(app_db) as s:
        series = case_rows(s, AccessScope.everything(), pseudonym).series.iloc[0]
        masks = series_segmentations(s, AccessScope.everything(), int(series["series_id"]))
        volume_path, mask_path = str(series["volume_path"]), str(masks.iloc[0]["path"])
    data_dir = Path(app_db.url.database or "").parent
    ct = read_nifti(data_dir / volume_path)
    sent = nib.Nifti1Image.from_bytes(gzip.decompress(data["image"]))
    np.testing.assert_array_equal(np.asarray(sent.dataobj), np.asarray(ct.array))
    np.testing.assert_allclose(sent.affine, ct.affine)
    mask = nib.Nifti1Image.from_bytes(gzip.decompress(data["mask"]))
    stored_mask = np.asarray(read_nifti(data_dir / mask_path).array) > 0
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, stored_mask)
    assert stored_mask.any()
    # the synthetic cohort's outlines are a reader's (SEG MANUAL, RTSTRUCT, NIfTI)
    assert "Outline shown: Manual (imported), the one the models read." in [
        c.value for c in at.caption
    ]
    # it opens on the largest tumour slice of each plane (fractions along L, P, S)
    view = to_lps(ct)
    lps_mask = to_lps(read_nifti(data_dir / mask_path))
    for fraction, plane, axis in zip(
        args["start"],  # type: ignore[call-overload]
        (Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL),
        range(3),
        strict=True,
    ):
        n = view.array.shape[axis]
        assert round(fraction * n - 0.5) == largest_slice(lps_mask, plane)
    presets = args["presets"]
    assert [(p["level"], p["width"]) for p in presets] == [(p.level, p.width) for p in PRESETS]  # type: ignore[union-attr]
    assert "Soft tissue (abdomen)" in [p["label"] for p in presets]  # type: ignore[union-attr]
    assert args["attention_labels"] == []
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Longest axial diameter"].endswith(" mm")
    assert metrics["Mean attenuation"].endswith(" HU")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the one-page case report (printable HTML)" in labels
