"""Writing the phantom's tumour mask: SEG, RTSTRUCT and NIfTI round trips, determinism."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from matplotlib.path import Path as PolygonPath

from gistcad.synth.ct_export import derive_uid, write_ct_slices
from gistcad.synth.mask_export import write_nifti_mask, write_rtstruct, write_seg
from gistcad.synth.phantom import RenderedCT
from tests.synth.conftest import (
    CENTERS,
    RECORD,
    STUDY_DATE,
    read_sorted,
    small_ct,
    write_series,
)


def test_seg_round_trip_on_the_right_frames(
    ge_series: tuple[RenderedCT, list[Path]], tmp_path: Path
) -> None:
    ct, paths = ge_series
    out = write_seg(
        ct.tumour_mask,
        paths,
        tmp_path / "seg.dcm",
        series_uid=derive_uid("sg"),
        sop_uid=derive_uid("sgi"),
        study_date=STUDY_DATE,
    )
    seg = hd.seg.segread(out)
    assert seg.SegmentSequence[0].SegmentLabel == "GIST tumour"
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "108369006"
    datasets = read_sorted(paths)
    tumour_slices = np.flatnonzero(ct.tumour_mask.any(axis=(1, 2)))
    assert int(seg.NumberOfFrames) == tumour_slices.size
    uids = [datasets[k].SOPInstanceUID for k in tumour_slices]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1])
    np.testing.assert_array_equal(pixels[..., 0].astype(bool), ct.tumour_mask[tumour_slices])
    assert seg.StudyInstanceUID == datasets[0].StudyInstanceUID


def rasterise(contours: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    """Even-odd fill of (n, 2) (col, row) polygons at pixel centres."""
    jj, ii = np.mgrid[0:rows, 0:cols]
    centres = np.column_stack([ii.ravel(), jj.ravel()])
    filled = np.zeros(rows * cols, dtype=bool)
    for polygon in contours:
        filled ^= PolygonPath(polygon).contains_points(centres)
    return filled.reshape(rows, cols)


def test_rtstruct_contours_rasterise_back_to_the_mask(
    ge_series: tuple[RenderedCT, list[Path]], tmp_path: Path
) -> None:
    ct, paths = ge_series
    out = write_rtstruct(
        ct.tumour_mask,
        paths,
        tmp_path / "rt.dcm",
        series_uid=derive_uid("rt"),
        sop_uid=derive_uid("rti"),
        study_date=STUDY_DATE,
    )
    rt = pydicom.dcmread(out)
    assert rt.StructureSetROISequence[0].ROIName == "GIST"
    datasets = read_sorted(paths)
    by_uid = {d.SOPInstanceUID: k for k, d in enumerate(datasets)}
    referenced = rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    contour_images = referenced.RTReferencedSeriesSequence[0].ContourImageSequence
    assert {c.ReferencedSOPInstanceUID for c in contour_images} == set(by_uid)
    polygons: dict[int, list[np.ndarray]] = {}
    for contour in rt.ROIContourSequence[0].ContourSequence:
        assert contour.ContourGeometricType == "CLOSED_PLANAR"
        k = by_uid[contour.ContourImageSequence[0].ReferencedSOPInstanceUID]
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        assert np.allclose(points[:, 2], float(datasets[k].ImagePositionPatient[2]))
        index = np.linalg.inv(ct.affine_lps) @ np.column_stack([points, np.ones(len(points))]).T
        polygons.setdefault(k, []).append(index[:2].T)
    redrawn = np.zeros_like(ct.tumour_mask)
    for k, contours in polygons.items():
        redrawn[k] = rasterise(contours, *ct.tumour_mask.shape[1:])
    dice = 2 * (redrawn & ct.tumour_mask).sum() / (redrawn.sum() + ct.tumour_mask.sum())
    assert dice > 0.9


def test_nifti_affine_maps_voxels_to_the_ct_points(
    ge_series: tuple[RenderedCT, list[Path]], tmp_path: Path
) -> None:
    ct, paths = ge_series
    image = nib.load(write_nifti_mask(ct.tumour_mask, ct, tmp_path / "mask.nii.gz"))
    data = np.asarray(image.dataobj)
    assert data.dtype == np.uint8
    np.testing.assert_array_equal(data.transpose(2, 1, 0).astype(bool), ct.tumour_mask)
    datasets = read_sorted(paths)
    for i, j, k in [(0, 0, 0), (5, 17, 3), (95, 95, 24)]:
        ds = datasets[k]
        lps = np.asarray(ds.ImagePositionPatient, float) + np.asarray(
            [i * float(ds.PixelSpacing[1]), j * float(ds.PixelSpacing[0]), 0.0]
        )
        ras = image.affine @ np.array([i, j, k, 1.0])
        np.testing.assert_allclose(ras[:3], lps * np.array([-1.0, -1.0, 1.0]), atol=1e-4)
    assert int(image.header["sform_code"]) == int(image.header["qform_code"]) == 1


def test_writers_are_deterministic(tmp_path: Path) -> None:
    center = CENTERS["SIEMENS"]
    ct = small_ct(center)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        paths = write_series(ct, center, out / "ct")
        masks = [
            write_seg(
                ct.tumour_mask,
                paths,
                out / "seg.dcm",
                series_uid=derive_uid("s"),
                sop_uid=derive_uid("si"),
                study_date=STUDY_DATE,
            ),
            write_rtstruct(
                ct.tumour_mask,
                paths,
                out / "rt.dcm",
                series_uid=derive_uid("r"),
                sop_uid=derive_uid("ri"),
                study_date=STUDY_DATE,
            ),
            write_nifti_mask(ct.tumour_mask, ct, out / "mask.nii.gz"),
        ]
        outputs.append([p.read_bytes() for p in [*paths, *masks]])
    assert outputs[0] == outputs[1]


def test_masks_from_the_written_headers_equal_masks_from_the_files(tmp_path: Path) -> None:
    """The headers write_ct_slices returns are what a reader sees without the pixels: the
    masks that reference them are byte-identical to those written from the files."""
    center = CENTERS["GE MEDICAL SYSTEMS"]  # hashed file names, instances reversed
    ct = small_ct(center)
    slices = write_ct_slices(
        ct,
        RECORD,
        center,
        tmp_path / "ct",
        study_uid=derive_uid("study"),
        series_uid=derive_uid("ser"),
        frame_of_reference_uid=derive_uid("for"),
        uid_root_entropy="seed-11",
        study_date=STUDY_DATE,
    )
    for written in slices:
        read = pydicom.dcmread(written.path, stop_before_pixels=True)
        assert list(written.header) == list(read), written.path  # same elements and values
        assert written.header.file_meta == read.file_meta
    for name, sources in (
        ("headers", [s.header for s in slices]),
        ("files", [s.path for s in slices]),
    ):
        write_seg(
            ct.tumour_mask,
            sources,
            tmp_path / name / "seg.dcm",
            series_uid=derive_uid("s"),
            sop_uid=derive_uid("si"),
            study_date=STUDY_DATE,
        )
        write_rtstruct(
            ct.tumour_mask,
            sources,
            tmp_path / name / "rt.dcm",
            series_uid=derive_uid("r"),
            sop_uid=derive_uid("ri"),
            study_date=STUDY_DATE,
        )
    for mask in ("seg.dcm", "rt.dcm"):
        assert (tmp_path / "headers" / mask).read_bytes() == (
            tmp_path / "files" / mask
        ).read_bytes()
