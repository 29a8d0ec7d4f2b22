"""DICOM SEG and RTSTRUCT masks, paired with their CT series and put on its voxel grid.

A mask object found by :func:`~gistcad.imaging.dicom_series.scan_dicom` is paired with a kept
series through what it references (ReferencedSeriesSequence, the RT referenced frame of
reference / study / series tree, or referenced SOPInstanceUIDs), and refused — with the reason —
when that series is absent or the geometry does not match. Each segment (SEG) or ROI
(RTSTRUCT) becomes one :class:`LabelMask`: a uint8 0/1 :class:`Volume` on the image's grid.

- SEG is read with highdicom (``hd.seg.segread``); frames are placed by their source
  image references, and rows, columns, pixel spacing and orientation must equal the image's.
- RTSTRUCT CLOSED_PLANAR contours (world LPS mm) are mapped to voxel indices through the
  image's affine and filled with an even-odd point-in-polygon test on pixel centres
  (``matplotlib.path``), so a contour inside another makes a hole, as most planning systems
  draw them. Each contour must lie on a slice of the image (within 0.1 slice).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import numpy.typing as npt
from matplotlib.path import Path as PolygonPath
from pydicom import dcmread
from pydicom.dataset import Dataset

from gistcad.imaging.dicom_series import DicomScan, DicomSeries, MaskKind, MaskObject
from gistcad.imaging.errors import GeometryMismatchError, ImagingError
from gistcad.imaging.volume import LPS_TO_RAS, Volume
from gistcad.problems import Problem

logger = logging.getLogger(__name__)

#: A contour must lie within this fraction of a slice of a slice centre.
CONTOUR_SLICE_TOLERANCE = 0.1


@dataclass(frozen=True)
class LabelMask:
    """One segment or ROI on its image's grid.

    Attributes
    ----------
    name
        SegmentLabel (SEG) or ROIName (RTSTRUCT), as written.
    number
        SegmentNumber or ROINumber.
    volume
        uint8, 1 inside, 0 outside; on the grid of the series ``series_instance_uid``.
    source
        The SEG or RTSTRUCT file.
    series_instance_uid
        The CT series the mask belongs to.
    """

    name: str
    number: int
    volume: Volume
    source: Path
    series_instance_uid: str


@dataclass(frozen=True)
class MaskReading:
    """All masks of a scan read onto their series, and the mask objects refused."""

    masks: tuple[LabelMask, ...]
    problems: tuple[Problem, ...]


def match_series(mask: MaskObject, series: Sequence[DicomSeries]) -> DicomSeries | Problem:
    """The kept series ``mask`` refers to, or a Problem saying why there is none."""
    source = str(mask.path)
    chosen = next((s for s in series if s.series_instance_uid in mask.referenced_series_uids), None)
    if chosen is None and mask.referenced_sop_instance_uids:
        wanted = set(mask.referenced_sop_instance_uids)
        chosen = next((s for s in series if wanted & set(s.sop_instance_uids)), None)
    if chosen is None:
        refs = ", ".join(mask.referenced_series_uids) or "no series"
        return Problem(
            source,
            f"the {mask.kind} refers to {refs}, which is not among the CT series read (absent, "
            "or refused: see the other problems); put the mask in the same import as its CT "
            "series.",
            tag="ReferencedSeriesSequence (0008,1115)",
        )
    reference = chosen.info.frame_of_reference_uid
    if mask.frame_of_reference_uid and reference and mask.frame_of_reference_uid != reference:
        return Problem(
            source,
            f"the {mask.kind} is in frame of reference {mask.frame_of_reference_uid} but its "
            f"series {chosen.series_instance_uid} is in {reference}; the mask was drawn on "
            "another registration of the patient. Export it again on this series.",
            tag="FrameOfReferenceUID (0020,0052)",
        )
    return chosen


# --- SEG ----------------------------------------------------------------------------------


def _seg_geometry_problem(seg: Dataset, series: DicomSeries) -> str | None:
    if (int(seg.Rows), int(seg.Columns)) != (series.rows, series.columns):
        return (
            f"the SEG frames are {seg.Columns}×{seg.Rows} pixels but the image slices are "
            f"{series.columns}×{series.rows}"
        )
    shared = (seg.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    measures = shared.get("PixelMeasuresSequence")
    if measures and "PixelSpacing" in measures[0]:
        spacing = np.asarray([float(v) for v in measures[0].PixelSpacing])
        expected = series.spacing_mm[[1, 0]]
        if not np.allclose(spacing, expected, rtol=0, atol=1e-3):
            return (
                f"the SEG pixel spacing is {spacing.tolist()} mm, the image's "
                f"{expected.tolist()} mm"
            )
    planes = shared.get("PlaneOrientationSequence")
    if planes and "ImageOrientationPatient" in planes[0]:
        cosines = np.asarray([float(v) for v in planes[0].ImageOrientationPatient])
        lps = (LPS_TO_RAS[:3, :3] @ series.affine[:3, :2]) / series.spacing_mm[:2]
        expected = np.concatenate([lps[:, 0], lps[:, 1]])
        if not np.allclose(cosines, expected, rtol=0, atol=1e-4):
            return (
                f"the SEG orientation is {cosines.tolist()}, the image's "
                f"{expected.round(5).tolist()}"
            )
    return None


def read_seg(path: str | Path, series: DicomSeries) -> list[LabelMask]:
    """Read a DICOM SEG onto ``series``' grid: one uint8 mask per segment.

    Raises
    ------
    GeometryMismatchError
        If the SEG's frame size, pixel spacing or orientation differ from the image's.
    ImagingError
        If highdicom cannot read it or it does not reference the series' images.
    """
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # highdicom validates on read and raises many types
        raise ImagingError(
            f"{path}: not a readable DICOM SEG ({exc})",
            [Problem(str(path), f"unreadable SEG: {exc}")],
        ) from exc
    mismatch = _seg_geometry_problem(seg, series)
    if mismatch is not None:
        message = f"the SEG is not on the image's grid: {mismatch}"
        raise GeometryMismatchError(f"{path}: {message}", [Problem(str(path), message)])
    uids = series.sop_instance_uids
    try:
        if len(set(uids)) == len(uids):
            pixels = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=list(uids), assert_missing_frames_are_empty=True
            )
        else:
            pixels = seg.get_pixels_by_source_frame(
                source_sop_instance_uid=uids[0],
                source_frame_numbers=[s.frame + 1 for s in series.slices],
                assert_missing_frames_are_empty=True,
            )
    except (ValueError, KeyError, AttributeError, RuntimeError) as exc:
        message = (
            f"the SEG frames cannot be placed on series {series.series_instance_uid} through "
            f"their source image references ({exc}); export the SEG from the series' images"
        )
        raise ImagingError(f"{path}: {message}", [Problem(str(path), message)]) from exc
    masks = []
    for index, number in enumerate(seg.segment_numbers):
        label = str(seg.get_segment_description(number).segment_label)
        labels = np.asarray(
            pixels[..., index] > 0.5 if pixels.dtype.kind == "f" else pixels[..., index] > 0
        )
        volume = Volume(labels.astype(np.uint8).transpose(2, 1, 0), series.affine)
        masks.append(LabelMask(label, int(number), volume, Path(path), series.series_instance_uid))
    return masks


# --- RTSTRUCT -----------------------------------------------------------------------------


def rasterise_polygon(points_ij: npt.ArrayLike, shape_ji: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Pixels (rows j, columns i) whose centres lie inside a polygon given in (i, j) indices.

    >>> rasterise_polygon([[0.5, 0.5], [2.5, 0.5], [2.5, 2.5], [0.5, 2.5]], (4, 4)).sum()
    np.int64(4)
    """
    vertices = np.asarray(points_ij, dtype=np.float64)
    inside = np.zeros(shape_ji, dtype=bool)
    low = np.maximum(np.floor(vertices.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(vertices.max(axis=0)).astype(int), [shape_ji[1] - 1, shape_ji[0] - 1])
    if np.any(high < low):
        return inside
    ii, jj = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1))
    centres = np.column_stack([ii.ravel(), jj.ravel()])
    hit = PolygonPath(vertices, closed=False).contains_points(centres)
    inside[jj.ravel()[hit], ii.ravel()[hit]] = True
    return inside


def _contour_slice(ijk: np.ndarray, depth: int, path: Path, name: str) -> int:
    k = float(np.mean(ijk[:, 2]))
    nearest = round(k)
    if np.max(np.abs(ijk[:, 2] - nearest)) > CONTOUR_SLICE_TOLERANCE or not 0 <= nearest < depth:
        message = (
            f"a contour of ROI {name!r} lies at slice index {k:.2f}, not on a slice of the "
            f"image (0…{depth - 1}); the RTSTRUCT was drawn on another series or grid"
        )
        raise GeometryMismatchError(
            f"{path}: {message}", [Problem(str(path), message, tag="ContourData (3006,0050)")]
        )
    return nearest


def _rasterise_roi(
    roi: Dataset, series: DicomSeries, inverse: np.ndarray, path: Path, name: str
) -> npt.NDArray[np.uint8]:
    buffer = np.zeros((len(series.slices), series.rows, series.columns), dtype=bool)
    for contour in roi.get("ContourSequence") or ():
        kind = str(contour.get("ContourGeometricType", "")).upper()
        if kind != "CLOSED_PLANAR":
            logger.warning(
                "%s: ROI %r has a %s contour; only CLOSED_PLANAR is filled", path, name, kind
            )
            continue
        lps = np.asarray([float(v) for v in contour.ContourData]).reshape(-1, 3)
        ras = lps * np.array([-1.0, -1.0, 1.0])
        ijk = ras @ inverse[:3, :3].T + inverse[:3, 3]
        k = _contour_slice(ijk, len(series.slices), path, name)
        buffer[k] ^= rasterise_polygon(ijk[:, :2], (series.rows, series.columns))
    return buffer.astype(np.uint8).transpose(2, 1, 0)


def read_rtstruct(path: str | Path, series: DicomSeries) -> list[LabelMask]:
    """Rasterise an RTSTRUCT's closed planar contours onto ``series``: one mask per ROI.

    Raises
    ------
    GeometryMismatchError
        If a contour does not lie on a slice of the image.
    """
    source = Path(path)
    ds = dcmread(source)
    names = {
        int(r.ROINumber): str(r.get("ROIName", "")) for r in ds.get("StructureSetROISequence") or ()
    }
    inverse = np.linalg.inv(series.affine)
    masks = []
    for roi in ds.get("ROIContourSequence") or ():
        number = int(roi.ReferencedROINumber)
        name = names.get(number, f"ROI {number}")
        array = _rasterise_roi(roi, series, inverse, source, name)
        volume = Volume(array, series.affine)
        masks.append(LabelMask(name, number, volume, source, series.series_instance_uid))
    return masks


def read_masks(scan: DicomScan) -> MaskReading:
    """Pair every SEG/RTSTRUCT of ``scan`` with its series and read it; refusals as Problems."""
    masks: list[LabelMask] = []
    problems: list[Problem] = []
    for mask in scan.masks:
        series = match_series(mask, scan.series)
        if isinstance(series, Problem):
            problems.append(series)
            continue
        reader = read_seg if mask.kind is MaskKind.SEG else read_rtstruct
        try:
            masks.extend(reader(mask.path, series))
        except ImagingError as exc:
            problems.extend(exc.problems or [Problem(str(mask.path), str(exc))])
    return MaskReading(tuple(masks), tuple(problems))
