"""AppTest of the CT viewer on an imported synthetic cohort: planes, windows, stepping."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.cli import main
from gistcad.store.models import Patient
from gistcad.synth.build import BuildOptions, build_cohort
from tests.app.conftest import APP


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("viewer") / "cohort"
    build_cohort(
        BuildOptions(
            out=out, patients=3, centers=2, seed=2, matrix=64, scan_length_mm=40.0, workers=1
        )
    )
    return out


@pytest.fixture
def pseudonym(app_db: Engine, cohort: Path) -> str:
    assert main(["import", "demo", str(cohort)]) == 0
    with Session(app_db) as s:
        return str(s.scalars(select(Patient.pseudonym).order_by(Patient.pseudonym)).first())


def _image(at: AppTest) -> str:
    (image,) = at.get("image")
    return str(image.proto)


def _page(pseudonym: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["patient"] = pseudonym
    at.run()
    at.switch_page("views/case.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_viewer_steps_windows_and_measures(pseudonym: str) -> None:
    at = _page(pseudonym)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Longest axial diameter"].endswith(" mm")
    assert metrics["Mean attenuation"].endswith(" HU")
    start = at.slider(key="viewer_index_axial").value
    first = _image(at)
    at.button(key="viewer_next_axial").click().run()
    assert at.slider(key="viewer_index_axial").value in (start + 1, start)  # last slice stays
    at.button(key="viewer_prev_axial").click().run()
    at.button(key="viewer_prev_axial").click().run()
    assert at.slider(key="viewer_index_axial").value == max(start - 1, 0)
    at.button(key="viewer_jump_axial").click().run()
    assert at.slider(key="viewer_index_axial").value == start  # opened on the largest slice
    assert _image(at) == first
    at.selectbox(key="viewer_preset").select("bone").run()
    assert (
        at.number_input(key="viewer_level").value,
        at.number_input(key="viewer_width").value,
    ) == (400.0, 1800.0)
    assert _image(at) != first
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the one-page case report (printable HTML)" in labels
    at.radio(key="viewer_plane").set_value("coronal").run()
    assert not at.exception and _image(at) != first
