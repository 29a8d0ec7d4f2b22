"""A click in the browser's viewer (RAS mm) becomes the full-resolution seed voxel, whatever the
browser copy's stride; the outline grown from it comes back as an overlay on the browser's grid,
saved only when asked; a refused click stores nothing."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import SegmentationSource
from gistcad.errors import ValidationError
from gistcad.imaging.nifti_io import read_nifti
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.segmentation import SegmentationError, grow_from_seed
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import AuditEvent, Segmentation
from gistcad.viewer.browser import ct_for_browser
from gistcad.viewer.outline import (
    Stroke,
    StrokeMode,
    apply_strokes,
    clicked_voxel,
    outline_for_viewer,
    viewer_slices,
    voxel_of_viewer_slices,
)
from gistcad.viewer.slices import to_lps
from tests.segmentation.phantoms import add_phantom_patient, phantom


def _decoded(nifti_gz: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(nifti_gz))


def test_the_clicked_voxel_is_the_nearest_one_on_an_oblique_flipped_grid() -> None:
    affine = np.array(
        [[0.0, -0.8, 0.0, 120.0], [0.7, 0.0, 0.0, -40.0], [0.0, 0.0, -2.5, 60.0], [0, 0, 0, 1]]
    )
    ct = Volume(np.zeros((20, 30, 10), np.int16), affine)
    for ijk in [(0, 0, 0), (19, 29, 9), (7, 11, 4)]:
        mm = ct.index_to_world(ijk)[0]
        assert clicked_voxel(ct, mm + np.array([0.2, -0.3, 0.9])) == ijk  # within half a voxel


@pytest.mark.parametrize(
    ("point", "message"),
    [([1000.0, 0.0, 0.0], "outside the CT"), ([1.0, float("nan"), 0.0], "three finite")],
)
def test_a_click_off_the_ct_is_refused_with_what_to_do(point: list[float], message: str) -> None:
    ct = Volume(np.zeros((4, 4, 4), np.int16), np.eye(4))
    with pytest.raises(ValidationError, match=message):
        clicked_voxel(ct, point)


def test_a_click_on_a_down_sampled_copy_finds_the_full_resolution_voxel() -> None:
    affine = np.array(
        [[-0.7, 0.0, 0.0, 90.0], [0.0, -0.7, 0.0, 80.0], [0.0, 0.0, 1.5, -300.0], [0, 0, 0, 1]]
    )
    ct = Volume(np.zeros((40, 36, 30), np.int16), affine)
    copy = ct_for_browser(ct, max_voxels=4000)  # stride 3: 14 × 12 × 10
    assert copy.stride == 3
    browser = _decoded(copy.nifti_gz)
    for n in [(0, 0, 0), (5, 7, 3), (13, 11, 9)]:
        mm = (browser.affine @ [*n, 1])[:3]  # where the browser puts its voxel n
        assert clicked_voxel(ct, mm) == tuple(3 * v for v in n)


@pytest.mark.parametrize(
    "affine",
    [
        np.diag([1.0, 1.0, 2.0, 1.0]),  # RAS
        np.diag([-0.8, -0.8, 2.5, 1.0]),  # LPS, as DICOM stores an axial series
        np.array([[0, 0, -3.0, 0], [-1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 1]]),  # coronal
    ],
    ids=["RAS", "LPS", "permuted"],
)
def test_slice_numbers_are_the_viewers_whatever_the_voxel_order(affine: np.ndarray) -> None:
    ct = Volume(np.arange(4 * 5 * 6).reshape(4, 5, 6), affine)
    shown = np.asarray(to_lps(ct).array)  # what the viewers show, in their order
    for ijk in np.ndindex(ct.shape):
        numbers = viewer_slices(ct, ijk)  # type: ignore[arg-type]
        assert shown[numbers[0] - 1, numbers[1] - 1, numbers[2] - 1] == ct.array[ijk]
        assert voxel_of_viewer_slices(ct, numbers) == ijk
    with pytest.raises(ValidationError, match="axial slice 7 is outside this CT"):
        voxel_of_viewer_slices(ct, (1, 1, 7))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, DataLayout]]:
    """Patient P-1 with the phantom CT and no mask, in a fresh SQLite store."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    add_phantom_patient(engine, tmp_path)
    yield engine, DataLayout(tmp_path)
    engine.dispose()


def test_the_overlay_is_the_grown_outline_on_the_browser_grid(
    store: tuple[Engine, DataLayout],
) -> None:
    engine, layout = store
    ph = phantom()
    click = ph.ct.index_to_world(ph.centre)[0]
    expected = np.asarray(grow_from_seed(ph.ct, seed_ijk=ph.centre, tolerance_hu=60).array)
    with Session(engine) as s:
        full = outline_for_viewer(
            s, AccessScope.everything(), layout, "P-1", click, tolerance_hu=60
        )
        small = outline_for_viewer(
            s, AccessScope.everything(), layout, "P-1", click, tolerance_hu=60, max_voxels=20_000
        )
        typed = outline_for_viewer(  # the same point typed as the viewer numbers it
            s, AccessScope.everything(), layout, "P-1", slices=full.seed_slices, tolerance_hu=60
        )
        assert s.scalars(select(Segmentation)).all() == []
    assert full.seed_ijk == ph.centre and full.tolerance_hu == 60
    assert full.seed_slices == (64 - ph.centre[0], 64 - ph.centre[1], ph.centre[2] + 1)
    assert full.result.saved is None and full.result.mask is None
    assert full.result.voxels == int(expected.sum())
    assert np.array_equal(np.asarray(_decoded(full.overlay.nifti_gz).dataobj), expected)
    assert typed.seed_ijk == full.seed_ijk and typed.overlay == full.overlay
    k = small.overlay.stride
    assert k == 2
    shrunk = np.asarray(_decoded(small.overlay.nifti_gz).dataobj)
    assert np.array_equal(shrunk, expected[::k, ::k, ::k])


def test_save_stores_a_semi_automatic_outline_and_a_refused_click_stores_nothing(
    store: tuple[Engine, DataLayout],
) -> None:
    engine, layout = store
    ph = phantom()
    in_organ = ph.ct.index_to_world((55, 32, 16))[0]
    with Session(engine) as s, pytest.raises(SegmentationError, match="surrounding organs"):
        outline_for_viewer(s, AccessScope.everything(), layout, "P-1", in_organ, save=True)
    with Session(engine) as s:
        assert s.scalars(select(Segmentation)).all() == []
        click = ph.ct.index_to_world(ph.centre)[0]
        grown = outline_for_viewer(
            s, AccessScope.everything("dr-a"), layout, "P-1", click, save=True
        )
        s.commit()
    assert grown.result.saved is not None
    with Session(engine) as s:
        (row,) = s.scalars(select(Segmentation)).all()
        assert row.source is SegmentationSource.SEMI_AUTOMATIC and row.created_by == "dr-a"
        assert row.id == grown.result.saved.segmentation_id
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "outline.save")).one()


def _point(ct: Volume, ijk: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = ct.index_to_world(ijk)[0]
    return float(x), float(y), float(z)


def test_a_brush_stroke_paints_a_disc_on_its_slice_only() -> None:
    ct = Volume(np.zeros((20, 20, 10), np.int16), np.diag([1.0, 1.0, 2.0, 1.0]))
    # off the slice's centre by 0.6 mm: the path is projected onto the slice it starts on
    point = _point(ct, (10, 10, 5.3))
    added = apply_strokes(ct, np.zeros(ct.shape), [Stroke(StrokeMode.ADD, (point,), 2.5)])
    # voxels within 2.5 mm of (10, 10): squared distances 0, 1, 2, 4, 5 -> 1 + 4 + 4 + 4 + 8
    assert added.sum() == 21 and added[:, :, 5].sum() == 21
    assert added[10, 12, 5] and not added[12, 12, 5]
    line = (_point(ct, (5, 10, 5)), _point(ct, (15, 10, 5)))
    erased = apply_strokes(ct, np.ones(ct.shape), [Stroke(StrokeMode.ERASE, line, 1.0)])
    # within 1 mm of the segment: 13 voxels on its row (rounded ends), 11 on each side
    assert (~erased).sum() == 13 + 11 + 11 and (~erased[:, :, 5]).sum() == 35


def test_a_coronal_stroke_paints_on_the_viewers_coronal_slice() -> None:
    affine = np.array([[0, 0, -3.0, 0], [-1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 1]])
    ct = Volume(np.zeros((12, 14, 10), np.int16), affine)
    point = _point(ct, (6, 7, 5))
    added = apply_strokes(
        ct, np.zeros(ct.shape), [Stroke(StrokeMode.ADD, (point,), 4.0, "coronal")]
    )
    numbers = {viewer_slices(ct, v) for v in map(tuple, np.argwhere(added))}  # type: ignore[arg-type]
    assert len(numbers) > 1 and {n[1] for n in numbers} == {viewer_slices(ct, (6, 7, 5))[1]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"mode": "smear", "points": [[0, 0, 0]], "radius": 2}, "cannot be read"),
        ({"mode": "add", "points": [], "radius": 2}, "three coordinates"),
        ({"mode": "add", "points": [[0, 0]], "radius": 2}, "cannot be read"),
        ({"mode": "add", "points": [[0, 0, 0]], "radius": 0}, "brush radius"),
        ({"mode": "add", "points": [[0, 0, 0]], "radius": 2, "plane": "three"}, "not 'three'"),
    ],
)
def test_a_stroke_the_viewer_cannot_have_sent_is_refused(
    value: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Stroke.from_viewer(value)


def test_strokes_correct_the_outline_before_it_is_measured_and_saved(
    store: tuple[Engine, DataLayout],
) -> None:
    engine, layout = store
    ph = phantom()
    i, j, k = ph.centre
    click = ph.ct.index_to_world(ph.centre)[0]
    across = (_point(ph.ct, (0, j, k)), _point(ph.ct, (63, j, k)))
    cut = Stroke(StrokeMode.ERASE, across, 1.0)  # rows j-1..j+1 of the centre's slice
    scope = AccessScope.everything()
    with Session(engine) as s:
        grown = outline_for_viewer(s, scope, layout, "P-1", click)
        corrected = outline_for_viewer(s, scope, layout, "P-1", click, strokes=[cut], save=True)
        s.commit()
    before = np.asarray(_decoded(grown.overlay.nifti_gz).dataobj).astype(bool)
    after = np.asarray(_decoded(corrected.overlay.nifti_gz).dataobj).astype(bool)
    assert before[:, j - 1 : j + 2, k].any() and not after[:, j - 1 : j + 2, k].any()
    removed = before & ~after
    assert removed.sum() == before[:, j - 1 : j + 2, k].sum() == removed[:, :, k].sum()
    assert corrected.result.voxels == grown.result.voxels - removed.sum()
    assert corrected.result.volume_ml < grown.result.volume_ml
    saved = corrected.result.saved
    assert saved is not None
    stored = np.asarray(read_nifti(layout.resolve(saved.path)).array).astype(bool)
    assert np.array_equal(stored, after)
    every_slice = [Stroke(StrokeMode.ERASE, (_point(ph.ct, (i, j, n)),), 50.0) for n in range(32)]
    with Session(engine) as s, pytest.raises(ValidationError, match="erase the whole outline"):
        outline_for_viewer(s, scope, layout, "P-1", click, strokes=every_slice, save=True)
    with Session(engine) as s:  # only the corrected outline saved above
        assert [r.id for r in s.scalars(select(Segmentation))] == [saved.segmentation_id]
