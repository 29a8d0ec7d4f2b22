"""A case's results as DICOM: the tumour as a SEG, the measurements and predictions as an SR.

Both are written with highdicom and refer to the source CT series as the PACS holds it: the
store keeps the CT de-identified as a canonical NIfTI and records the study and series
instance UIDs, not the instances. The PACS's own headers of that series (WADO-RS metadata,
no pixel data) are therefore read at push time and passed here as ``sources``; the SEG takes
its patient and study modules and its frame geometry from them, and the mask (on the
canonical grid) is resampled onto each source slice by nearest neighbour in patient
coordinates. Nothing of those headers is stored.

The SR follows TID 1500 (measurement report): one volumetric ROI referencing the SEG's
segment, with the longest axial diameter (mm), the volume (ml) and the mean attenuation (HU),
the predicted genotype class with its probability and the model's name and version (private
codes, scheme ``99GISTCAD``), and the intended use "research use only".
:func:`reread_seg` and :func:`reread_sr` read the encoded objects back and check them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from highdicom.sr import CodedConcept
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from gistcad.imaging.errors import ImagingError
from gistcad.imaging.lesion_measures import LesionMeasures
from gistcad.imaging.volume import Volume

logger = logging.getLogger(__name__)

MANUFACTURER = "gistcad"
SERIES_DESCRIPTION_SEG = "gistcad tumour segmentation (research use only)"
SERIES_DESCRIPTION_SR = "gistcad measurements and predictions (research use only)"
RESEARCH_USE_ONLY = "Research use only"
SEGMENT_LABEL = "GIST"

_SCHEME = "99GISTCAD"
LONG_AXIS = CodedConcept("103339001", "SCT", "Long axis")
VOLUME = CodedConcept("118565006", "SCT", "Volume")
MEAN_ATTENUATION = CodedConcept("112031", "DCM", "Attenuation Coefficient")
MEAN = CodedConcept("373098007", "SCT", "Mean")
PREDICTED_GENOTYPE = CodedConcept("GENOTYPE", _SCHEME, "Predicted genotype class")
PROBABILITY = CodedConcept("PROBABILITY", _SCHEME, "Probability of the predicted class")
INTENDED_USE = CodedConcept("INTENDED_USE", _SCHEME, "Intended use")
RESEARCH_USE = CodedConcept("RUO", _SCHEME, RESEARCH_USE_ONLY)
MILLIMETER = CodedConcept("mm", "UCUM", "millimeter")
MILLILITER = CodedConcept("ml", "UCUM", "milliliter")
HOUNSFIELD = CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
NO_UNITS = CodedConcept("1", "UCUM", "no units")


@dataclass(frozen=True)
class GenotypeCall:
    """A genotype model's prediction for the SR: class code and words, probability, model."""

    predicted_class: str
    label: str
    probability: float
    model: str
    version: str


@dataclass(frozen=True)
class CaseResults:
    """What the SR reports of one series' tumour."""

    measures: LesionMeasures
    genotype: GenotypeCall | None
    semi_automatic: bool = False


def _sorted_sources(sources: Sequence[Dataset]) -> list[Dataset]:
    if not sources:
        raise ImagingError("no source images: the CT series to refer to is empty")
    if any(int(d.get("NumberOfFrames") or 1) > 1 for d in sources):
        raise ImagingError(
            "the CT series is an enhanced multi-frame image (its slices' positions are in "
            "functional groups): a SEG and SR cannot be sent onto it yet; export the results "
            "as NIfTI or the printed report instead"
        )
    lacking = [
        str(d.get("SOPInstanceUID", "?"))
        for d in sources
        if "ImageOrientationPatient" not in d or "ImagePositionPatient" not in d
    ]
    if lacking:
        raise ImagingError(
            f"{len(lacking)} image(s) of the CT series in the PACS (e.g. {lacking[0]}) lack "
            "ImageOrientationPatient (0020,0037) or ImagePositionPatient (0020,0032): the "
            "SEG's frames cannot be placed on them"
        )
    first = sources[0]
    normal = np.cross(
        np.asarray(first.ImageOrientationPatient[:3], float),
        np.asarray(first.ImageOrientationPatient[3:], float),
    )
    return sorted(sources, key=lambda d: float(np.dot(normal, np.asarray(d.ImagePositionPatient))))


def mask_on_sources(mask: Volume, sources: Sequence[Dataset]) -> tuple[list[Dataset], NDArray]:
    """``mask`` resampled onto each source slice (nearest neighbour, in patient coordinates).

    Returns
    -------
    sources, frames
        The sources in slice order and a boolean array (slices, rows, columns).
    """
    ordered = _sorted_sources(sources)
    inside = np.asarray(mask.array) > 0
    frames = np.zeros((len(ordered), int(ordered[0].Rows), int(ordered[0].Columns)), dtype=bool)
    if not inside.any():
        return ordered, frames
    # the mask's voxels lie within this index box: a slice that misses it stays empty
    found = np.argwhere(inside)
    low, high = found.min(axis=0) - 0.5, found.max(axis=0) + 0.5
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    to_index = np.linalg.inv(mask.affine)
    for k, ds in enumerate(ordered):
        rows, cols = int(ds.Rows), int(ds.Columns)
        d_row, d_col = (float(v) for v in ds.PixelSpacing)
        # one step along a row (to the next column) and down a column (to the next row), in
        # voxel indices of the mask; the pixel (r, c) is at origin + c · step_c + r · step_r
        step_c = to_index[:3, :3] @ (
            np.asarray(ds.ImageOrientationPatient[:3], float) * d_col * lps_to_ras
        )
        step_r = to_index[:3, :3] @ (
            np.asarray(ds.ImageOrientationPatient[3:], float) * d_row * lps_to_ras
        )
        origin = to_index[:3, :3] @ (np.asarray(ds.ImagePositionPatient, float) * lps_to_ras)
        origin = origin + to_index[:3, 3]
        corners = origin + np.array(
            [[0, 0], [cols - 1, 0], [0, rows - 1], [cols - 1, rows - 1]]
        ) @ np.stack([step_c, step_r])
        if np.any(corners.max(axis=0) < low) or np.any(corners.min(axis=0) > high):
            continue
        ijk = np.rint(
            origin
            + np.arange(cols)[None, :, None] * step_c
            + np.arange(rows)[:, None, None] * step_r
        ).astype(int)
        ok = np.all((ijk >= 0) & (ijk < np.asarray(inside.shape)), axis=2)
        frame = np.zeros((rows, cols), dtype=bool)
        frame[ok] = inside[ijk[ok][:, 0], ijk[ok][:, 1], ijk[ok][:, 2]]
        frames[k] = frame
    return ordered, frames


def build_seg(
    sources: Sequence[Dataset], mask: Volume, *, semi_automatic: bool = False
) -> hd.seg.Segmentation:
    """The tumour ``mask`` as a binary DICOM SEG over the source CT series.

    Raises
    ------
    ImagingError
        The mask does not overlap the source series.
    """
    ordered, frames = mask_on_sources(mask, sources)
    if not frames.any():
        raise ImagingError(
            "the stored segmentation does not overlap the PACS's CT series; is it the same series?"
        )
    algorithm = None
    if semi_automatic:
        # region growing from a click: "Neighborhood Analysis" of CID 7162 (PS3.16), not AI
        algorithm = hd.AlgorithmIdentificationSequence(
            name="gistcad region growing", family=codes.DCM.NeighborhoodAnalysis, version="1"
        )
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=(
            hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
            if semi_automatic
            else hd.seg.SegmentAlgorithmTypeValues.MANUAL
        ),
        algorithm_identification=algorithm,
    )
    return hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=frames.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=hd.UID(),
        series_number=9901,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MANUFACTURER,
        software_versions=_version(),
        device_serial_number="0",
        series_description=SERIES_DESCRIPTION_SEG,
        omit_empty_frames=True,
    )


def _version() -> str:
    from gistcad import __version__

    return str(__version__)


def build_sr(
    sources: Sequence[Dataset], seg: Dataset, results: CaseResults
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 measurement report of ``results``, referencing ``seg`` and the CT."""
    m = results.measures
    measurements = [
        hd.sr.Measurement(name=LONG_AXIS, value=m.longest_axial_diameter_mm, unit=MILLIMETER),
        hd.sr.Measurement(name=VOLUME, value=m.volume_ml, unit=MILLILITER),
        hd.sr.Measurement(name=MEAN_ATTENUATION, value=m.mean_hu, unit=HOUNSFIELD, derivation=MEAN),
    ]
    evaluations = [hd.sr.QualitativeEvaluation(name=INTENDED_USE, value=RESEARCH_USE)]
    call = results.genotype
    if call is not None:
        algorithm = hd.sr.AlgorithmIdentification(name=call.model, version=call.version)
        measurements.append(
            hd.sr.Measurement(
                name=PROBABILITY, value=call.probability, unit=NO_UNITS, algorithm_id=algorithm
            )
        )
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                name=PREDICTED_GENOTYPE,
                value=CodedConcept(call.predicted_class[:16], _SCHEME, call.label[:64]),
            )
        )
    group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="GIST 1"),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID,
            sop_instance_uid=seg.SOPInstanceUID,
            segment_number=1,
            source_series=hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID),
        ),
        finding_type=codes.SCT.Neoplasm,
        measurements=measurements,
        qualitative_evaluations=evaluations,
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=hd.UID(), name=MANUFACTURER, model_name=_version()
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=9902,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=SERIES_DESCRIPTION_SR,
    )


def encode(dataset: Dataset) -> bytes:
    """``dataset`` as a DICOM file (Part 10 bytes)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def reread_seg(data: bytes, sources: Sequence[Dataset], expected: NDArray) -> hd.seg.Segmentation:
    """Read an encoded SEG back and check it: its study, the source series it refers to and
    its pixels (``expected``: the frames of :func:`mask_on_sources`, in source order).

    Raises
    ------
    ImagingError
        Naming what does not match.
    """
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(io.BytesIO(data)))
    ordered = _sorted_sources(sources)
    first = ordered[0]
    if seg.StudyInstanceUID != first.StudyInstanceUID:
        raise ImagingError("the SEG is not in the CT's study")
    referenced = {
        item.ReferencedSOPInstanceUID
        for series in seg.ReferencedSeriesSequence
        for item in series.ReferencedInstanceSequence
    }
    if {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence} != {first.SeriesInstanceUID}:
        raise ImagingError("the SEG does not refer to the CT series")
    if not referenced <= {d.SOPInstanceUID for d in ordered}:
        raise ImagingError("the SEG refers to images outside the CT series")
    uids = [d.SOPInstanceUID for d in ordered]
    read = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1], ignore_spatial_locations=True
    )
    if not np.array_equal(np.asarray(read)[..., 0] > 0, np.asarray(expected, bool)):
        raise ImagingError("the SEG's pixels differ from the stored segmentation")
    return seg


def reread_sr(data: bytes, seg: Dataset, results: CaseResults) -> dict[str, float | str]:
    """Read an encoded SR back, check it against ``results`` and ``seg``; returns its values
    by concept name (e.g. ``{"Long axis": 41.2, "Predicted genotype class": "KIT exon 11"}``).

    Raises
    ------
    ImagingError
        Naming what does not match.
    """
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(data)))
    content = sr.content
    if not isinstance(content, hd.sr.MeasurementReport):
        raise ImagingError("the SR is not a TID 1500 measurement report")
    groups = content.get_volumetric_roi_measurement_groups()
    if len(groups) != 1:
        raise ImagingError(f"the SR holds {len(groups)} measurement groups, not 1")
    group = groups[0]
    segment = group.referenced_segment
    if segment is None or segment.referenced_sop_instance_uid != seg.SOPInstanceUID:
        raise ImagingError("the SR does not refer to the SEG")
    values: dict[str, float | str] = {}
    for item in group.get_measurements():
        values[item.name.meaning] = float(item.value)
    for evaluation in group.get_qualitative_evaluations():
        coded = evaluation.value
        values[evaluation.name.meaning] = (
            coded.meaning if isinstance(coded, CodedConcept) else str(coded)
        )
    m = results.measures
    expected: dict[str, float | str] = {
        LONG_AXIS.meaning: m.longest_axial_diameter_mm,
        VOLUME.meaning: m.volume_ml,
        MEAN_ATTENUATION.meaning: m.mean_hu,
        INTENDED_USE.meaning: RESEARCH_USE_ONLY,
    }
    if results.genotype is not None:
        expected[PREDICTED_GENOTYPE.meaning] = results.genotype.label[:64]
        expected[PROBABILITY.meaning] = results.genotype.probability
    for name, value in expected.items():
        got = values.get(name)
        same = (
            isinstance(value, float) and isinstance(got, float) and abs(got - value) < 1e-3
        ) or got == value
        if not same:
            raise ImagingError(f"the SR's {name!r} is {got!r}, not {value!r}")
    return values
