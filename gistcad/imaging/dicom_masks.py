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

An RTSTRUCT whose ROI numbers or contour points are missing or malformed is refused with the
tag, not read in part. Segment and ROI names are de-identified like a series description
(:func:`~gistcad.imaging.deid.scrubbed_label`): a name that holds an identifying value of the
mask's header or of its CT's becomes ``"segment N"`` / ``"ROI N"``, and :attr:`LabelMask.scrubbed`
says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import highdicom as hd
import numpy as np
import numpy.typing as npt
from matplotlib.path import Path as PolygonPath
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from gistcad.domain import SegmentationSource
from gistcad.imaging.deid import identifying_values, scrubbed_label
from gistcad.imaging.dicom_series import DicomScan, DicomSeries, MaskKind, MaskObject
from gistcad.imaging.errors import GeometryMismatchError, ImagingError
from gistcad.imaging.volume import LPS_TO_RAS, Volume
from gistcad.problems import Problem

logger = logging.getLogger(__name__)

#: A contour must lie within this fraction of a slice of a slice centre.
CONTOUR_SLICE_TOLERANCE = 0.1

TAG_CONTOUR_DATA = "ContourData (3006,0050)"
TAG_ROI_NUMBER = "ROINumber (3006,0022)"
TAG_REFERENCED_ROI_NUMBER = "ReferencedROINumber (3006,0084)"

#: SegmentAlgorithmType (0062,0008) and ROIGenerationAlgorithm (3006,0036) -> who made the
#: outline. The RTSTRUCT's attribute may be empty (type 2): an empty or unknown value counts as
#: manual, as RTSTRUCTs were read before the attribute was.
MADE_BY = {
    "MANUAL": SegmentationSource.MANUAL,
    "SEMIAUTOMATIC": SegmentationSource.IMPORTED_SEMI_AUTOMATIC,
    "AUTOMATIC": SegmentationSource.IMPORTED_AUTOMATIC,
}
#: Where each kind of mask names its segments, as the reports name it.
LABEL_TAGS = {MaskKind.SEG: "SegmentLabel (0062,0005)", MaskKind.RTSTRUCT: "ROIName (3006,0026)"}


@dataclass(frozen=True)
class LabelMask:
    """One segment or ROI on its image's grid.

    Attributes
    ----------
    name
        SegmentLabel (SEG) or ROIName (RTSTRUCT) as written, or ``"segment N"`` /
        ``"ROI N"`` where that held identifying text.
    number
        SegmentNumber or ROINumber.
    volume
        uint8, 1 inside, 0 outside; on the grid of the series ``series_instance_uid``.
    source
        The SEG or RTSTRUCT file.
    series_instance_uid
        The CT series the mask belongs to.
    scrubbed
        Whether the name as written held identifying text and was replaced.
    made_by
        Who made it, as the file says (:data:`MADE_BY`).
    """

    name: str
    number: int
    volume: Volume
    source: Path
    series_instance_uid: str
    scrubbed: bool = False
    made_by: SegmentationSource = SegmentationSource.MANUAL


@dataclass(frozen=True)
class MaskReading:
    """All masks of a scan read onto their series, the mask objects refused, and notes (a
    name replaced because it held identifying text)."""

    masks: tuple[LabelMask, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()


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
    phi = series.identifying_values | identifying_values(seg)
    masks = []
    for index, number in enumerate(seg.segment_numbers):
        description = seg.get_segment_description(number)
        written = str(description.segment_label)
        label = scrubbed_label(written, phi, f"segment {number}")
        algorithm = str(description.get("SegmentAlgorithmType", "") or "").strip().upper()
        made_by = MADE_BY.get(algorithm, SegmentationSource.MANUAL)
        labels = np.asarray(
            pixels[..., index] > 0.5 if pixels.dtype.kind == "f" else pixels[..., index] > 0
        )
        volume = Volume(labels.astype(np.uint8).transpose(2, 1, 0), series.affine)
        masks.append(
            LabelMask(
                label,
                int(number),
                volume,
                Path(path),
                series.series_instance_uid,
                scrubbed=label != written,
                made_by=made_by,
            )
        )
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


def _refuse(path: Path, message: str, tag: str, value: Any = None) -> NoReturn:
    """Raise the :class:`ImagingError` of a malformed RTSTRUCT, located by ``tag``."""
    problem = Problem(str(path), message, tag=tag, value=None if value is None else str(value)[:80])
    raise ImagingError(f"{path}: {message}", [problem])


def _roi_number(item: Dataset, keyword: str, tag: str, path: Path, where: str) -> int:
    """The ROI number ``keyword`` of a sequence item, or an ImagingError naming ``tag``."""
    value = item.get(keyword)
    try:
        return int(value)
    except (TypeError, ValueError):
        what = f"no {keyword}" if value in (None, "") else f"a {keyword} that is not a number"
        _refuse(
            path,
            f"{where} has {what}, so it cannot be told which ROI it is; the structure set is "
            "incomplete or damaged. Export the RTSTRUCT again from the planning system.",
            tag,
            value,
        )


def _contour_points(contour: Dataset, path: Path, name: str, index: int) -> np.ndarray:
    """The (n, 3) LPS+ mm points of a contour, or an ImagingError naming ContourData."""
    where = f"contour {index + 1} of ROI {name!r}"
    raw = contour.get("ContourData")
    if raw in (None, ""):
        _refuse(
            path,
            f"{where} has no ContourData: the outline has no points. Export the RTSTRUCT "
            "again from the planning system.",
            TAG_CONTOUR_DATA,
        )
    values = list(raw) if isinstance(raw, (MultiValue, list, tuple)) else [raw]
    try:
        numbers = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        _refuse(
            path,
            f"the ContourData of {where} holds a value that is not a number; the file is "
            "damaged. Export the RTSTRUCT again from the planning system.",
            TAG_CONTOUR_DATA,
        )
    if numbers.size % 3 or not np.isfinite(numbers).all():
        problem = (
            f"holds {numbers.size} numbers, not a multiple of 3 (x, y, z of each point)"
            if numbers.size % 3
            else "holds a value that is not finite (NaN or infinity)"
        )
        _refuse(
            path,
            f"the ContourData of {where} {problem}: the file is damaged or was cut short. "
            "Export the RTSTRUCT again from the planning system.",
            TAG_CONTOUR_DATA,
        )
    return numbers.reshape(-1, 3)


def _contour_slice(ijk: np.ndarray, depth: int, path: Path, name: str) -> int:
    k = float(np.mean(ijk[:, 2]))
    nearest = round(k)
    if np.max(np.abs(ijk[:, 2] - nearest)) > CONTOUR_SLICE_TOLERANCE or not 0 <= nearest < depth:
        message = (
            f"a contour of ROI {name!r} lies at slice index {k:.2f}, not on a slice of the "
            f"image (0…{depth - 1}); the RTSTRUCT was drawn on another series or grid"
        )
        raise GeometryMismatchError(
            f"{path}: {message}", [Problem(str(path), message, tag=TAG_CONTOUR_DATA)]
        )
    return nearest


def _rasterise_roi(
    roi: Dataset, series: DicomSeries, inverse: np.ndarray, path: Path, name: str
) -> npt.NDArray[np.uint8]:
    buffer = np.zeros((len(series.slices), series.rows, series.columns), dtype=bool)
    for index, contour in enumerate(roi.get("ContourSequence") or ()):
        kind = str(contour.get("ContourGeometricType", "")).upper()
        if kind != "CLOSED_PLANAR":
            logger.warning(
                "%s: ROI %r has a %s contour; only CLOSED_PLANAR is filled", path, name, kind
            )
            continue
        lps = _contour_points(contour, path, name, index)
        ras = lps * np.array([-1.0, -1.0, 1.0])
        ijk = ras @ inverse[:3, :3].T + inverse[:3, 3]
        k = _contour_slice(ijk, len(series.slices), path, name)
        buffer[k] ^= rasterise_polygon(ijk[:, :2], (series.rows, series.columns))
    return buffer.astype(np.uint8).transpose(2, 1, 0)


@dataclass(frozen=True)
class _RoiHeader:
    name: str
    scrubbed: bool  # the name as written held identifying text and was replaced
    made_by: SegmentationSource


def _roi_headers(ds: Dataset, path: Path, phi: Iterable[str]) -> dict[int, _RoiHeader]:
    """ROINumber → the ROI's name and who made it (StructureSetROISequence)."""
    headers = {}
    for position, item in enumerate(ds.get("StructureSetROISequence") or ()):
        where = f"item {position + 1} of the StructureSetROISequence (3006,0020)"
        number = _roi_number(item, "ROINumber", TAG_ROI_NUMBER, path, where)
        written = str(item.get("ROIName", ""))
        name = scrubbed_label(written, phi, f"ROI {number}")
        algorithm = str(item.get("ROIGenerationAlgorithm", "") or "").strip().upper()
        made_by = MADE_BY.get(algorithm, SegmentationSource.MANUAL)
        headers[number] = _RoiHeader(name, name != written, made_by)
    return headers


def read_rtstruct(path: str | Path, series: DicomSeries) -> list[LabelMask]:
    """Rasterise an RTSTRUCT's closed planar contours onto ``series``: one mask per ROI.

    Raises
    ------
    GeometryMismatchError
        If a contour does not lie on a slice of the image.
    ImagingError
        If the file cannot be read, or an ROI number or a contour's points are missing or
        malformed; the problem names the tag.
    """
    source = Path(path)
    try:
        ds = dcmread(source)
    except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
        message = f"unreadable RTSTRUCT ({exc}); copy the file again from the source"
        raise ImagingError(f"{source}: {message}", [Problem(str(source), message)]) from exc
    phi = series.identifying_values | identifying_values(ds)
    headers = _roi_headers(ds, source, phi)
    inverse = np.linalg.inv(series.affine)
    masks = []
    for position, roi in enumerate(ds.get("ROIContourSequence") or ()):
        where = f"item {position + 1} of the ROIContourSequence (3006,0039)"
        number = _roi_number(roi, "ReferencedROINumber", TAG_REFERENCED_ROI_NUMBER, source, where)
        header = headers.get(number, _RoiHeader(f"ROI {number}", False, SegmentationSource.MANUAL))
        array = _rasterise_roi(roi, series, inverse, source, header.name)
        masks.append(
            LabelMask(
                header.name,
                number,
                Volume(array, series.affine),
                source,
                series.series_instance_uid,
                scrubbed=header.scrubbed,
                made_by=header.made_by,
            )
        )
    return masks


def read_masks(scan: DicomScan) -> MaskReading:
    """Pair every SEG/RTSTRUCT of ``scan`` with its series and read it; refusals as Problems."""
    masks: list[LabelMask] = []
    problems: list[Problem] = []
    notes: list[str] = []
    for mask in scan.masks:
        series = match_series(mask, scan.series)
        if isinstance(series, Problem):
            problems.append(series)
            continue
        reader = read_seg if mask.kind is MaskKind.SEG else read_rtstruct
        try:
            read = reader(mask.path, series)
        except ImagingError as exc:
            problems.extend(exc.problems or [Problem(str(mask.path), str(exc))])
            continue
        masks.extend(read)
        noun = "segment" if mask.kind is MaskKind.SEG else "ROI"
        notes.extend(
            f"{mask.path}: the {LABEL_TAGS[mask.kind]} of {noun} {m.number} held identifying "
            f"text (a name or id of the patient or staff); stored as {m.name!r}"
            for m in read
            if m.scrubbed
        )
    return MaskReading(tuple(masks), tuple(problems), tuple(notes))
