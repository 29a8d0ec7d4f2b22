"""AppTest of the case view's "Outline tumour" form: grow, then grow and save (audited)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import SegmentationSource
from gistcad.store.models import AuditEvent, Patient, Segmentation
from tests.app.conftest import open_page
from tests.segmentation.phantoms import PATIENT, add_phantom_patient, phantom


def _click(at, axial: int, coronal: int, sagittal: int, button: str):  # type: ignore[no-untyped-def]
    """The point typed as the viewer numbers it (the phantom is RAS: sagittal slices count
    from the last column, coronal from the last row, axial from the first slice, all from 1)."""
    at.number_input(key="outline_axial").set_value(axial)
    at.number_input(key="outline_coronal").set_value(coronal)
    at.number_input(key="outline_sagittal").set_value(sagittal)
    next(b for b in at.button if b.label == button).click().run()
    assert not at.exception, at.exception


def test_grow_shows_the_measures_and_save_stores_the_outline(
    app_db: Engine, tmp_path: Path
) -> None:
    add_phantom_patient(app_db, tmp_path)
    at = open_page("views/case.py", {"patient": PATIENT})
    assert not at.exception, at.exception
    _click(at, 17, 32, 31, "Grow")
    assert any("not saved" in s.value and "ml" in s.value for s in at.success)
    with Session(app_db) as s:
        assert s.scalars(select(Segmentation)).all() == []
    _click(at, 17, 32, 31, "Grow and save")
    assert any("saved." in s.value and "not saved" not in s.value for s in at.success)
    with Session(app_db) as s:
        (row,) = s.scalars(select(Segmentation)).all()
        assert row.source is SegmentationSource.SEMI_AUTOMATIC
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "outline.save")).one()


def test_a_click_in_the_organ_shows_the_leak_message_and_saves_nothing(
    app_db: Engine, tmp_path: Path
) -> None:
    add_phantom_patient(app_db, tmp_path)
    at = open_page("views/case.py", {"patient": PATIENT})
    _click(at, 17, 32, 9, "Grow and save")
    assert any("grew into the surrounding organs" in e.value for e in at.error)
    with Session(app_db) as s:
        assert s.scalars(select(Segmentation)).all() == []
        assert s.scalars(select(Patient)).one().pseudonym == PATIENT


def _viewer_click(at, ijk: tuple[int, int, int], click_id: str):  # type: ignore[no-untyped-def]
    """What the viewer sends for a click in its outline mode: the voxel's centre in RAS mm."""
    mm = [float(v) for v in phantom().ct.index_to_world(ijk)[0]]
    at.session_state["ct_viewer"] = {"mm": mm, "id": click_id}
    at.run()
    assert not at.exception, at.exception


def test_a_viewer_click_grows_the_outline_the_slider_regrows_and_save_stores_it(
    app_db: Engine, tmp_path: Path
) -> None:
    add_phantom_patient(app_db, tmp_path)
    at = open_page("views/case.py", {"patient": PATIENT})
    _viewer_click(at, (33, 32, 16), "c1")
    volume = next(m for m in at.metric if m.label == "Outline volume").value
    assert "grown from axial slice 17, coronal slice 32, sagittal slice 31" in " ".join(
        c.value for c in at.caption
    )
    at.slider(key="outline_click_tolerance").set_value(30).run()
    assert not at.exception, at.exception
    assert next(m for m in at.metric if m.label == "Outline volume").value != volume
    with Session(app_db) as s:
        assert s.scalars(select(Segmentation)).all() == []
    next(b for b in at.button if b.label == "Save outline").click().run()
    assert not at.exception, at.exception
    assert any("Outline saved as a semi-automatic segmentation" in s.value for s in at.success)
    with Session(app_db) as s:
        (row,) = s.scalars(select(Segmentation)).all()
        assert row.source is SegmentationSource.SEMI_AUTOMATIC
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "outline.save")).one()


def test_a_viewer_click_in_the_organ_is_refused_and_nothing_can_be_saved(
    app_db: Engine, tmp_path: Path
) -> None:
    add_phantom_patient(app_db, tmp_path)
    at = open_page("views/case.py", {"patient": PATIENT})
    _viewer_click(at, (55, 32, 16), "c1")
    assert any("grew into the surrounding organs" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Save outline").disabled
    assert not [m for m in at.metric if m.label == "Outline volume"]
    with Session(app_db) as s:
        assert s.scalars(select(Segmentation)).all() == []


def _stroke(at, mode: str, ijk_path: list[tuple[int, int, int]], radius: float, stroke_id: str):  # type: ignore[no-untyped-def]
    """What the viewer sends for a brush stroke along the voxels ``ijk_path`` (axial)."""
    points = [[float(v) for v in phantom().ct.index_to_world(ijk)[0]] for ijk in ijk_path]
    at.session_state["ct_viewer"] = {
        "kind": "stroke",
        "mode": mode,
        "points": points,
        "radius": radius,
        "plane": "axial",
        "id": stroke_id,
    }
    at.run()
    assert not at.exception, at.exception


def _volume(at) -> float:  # type: ignore[no-untyped-def]
    return float(next(m for m in at.metric if m.label == "Outline volume").value.split()[0])


def test_strokes_correct_the_outline_undo_takes_one_back_and_save_keeps_them(
    app_db: Engine, tmp_path: Path
) -> None:
    add_phantom_patient(app_db, tmp_path)
    at = open_page("views/case.py", {"patient": PATIENT})
    _viewer_click(at, (33, 32, 16), "c1")
    grown = _volume(at)
    _stroke(at, "erase", [(10, 32, 16), (50, 32, 16)], 3.0, "s1")  # a cut across the centre
    cut = _volume(at)
    assert cut < grown
    assert "corrected by 1 brush stroke" in " ".join(c.value for c in at.caption)
    _stroke(at, "erase", [(33, 32, 16)], 0.0, "s2")  # no brush: refused, the outline kept
    assert any("brush radius" in e.value for e in at.error)
    assert _volume(at) == cut
    next(b for b in at.button if b.label == "Undo the last stroke").click().run()
    assert _volume(at) == grown
    _stroke(at, "erase", [(10, 32, 16), (50, 32, 16)], 3.0, "s3")
    next(b for b in at.button if b.label == "Save outline").click().run()
    assert not at.exception, at.exception
    with Session(app_db) as s:
        (row,) = s.scalars(select(Segmentation)).all()
        assert row.volume_ml is not None and round(row.volume_ml, 1) == cut
