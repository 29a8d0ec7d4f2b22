"""SEG and SR written from a stored mask, read back and checked; what the checks refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from gistcad.imaging import read_nifti
from gistcad.imaging.dicom_export import (
    CaseResults,
    GenotypeCall,
    build_seg,
    build_sr,
    encode,
    mask_on_sources,
    reread_seg,
    reread_sr,
)
from gistcad.imaging.errors import ImagingError
from gistcad.imaging.lesion_measures import LesionMeasures
from tests.pacs.conftest import CENTER


@pytest.fixture(scope="module")
def case(cohort: Path) -> tuple[list[pydicom.Dataset], Path]:
    patient = sorted((cohort / "centers" / CENTER / "dicom").iterdir())[0]
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in patient.rglob("*.dcm")]
    return sources, cohort / "centers" / CENTER / "masks" / f"{patient.name}.nii.gz"


MEASURES = LesionMeasures(
    longest_axial_diameter_mm=41.5,
    short_axis_mm=30.0,
    slice_index=3,
    volume_ml=12.25,
    mean_hu=38.5,
    solid_mean_hu=None,
)


def test_seg_and_sr_read_back(case: tuple[list[pydicom.Dataset], Path]) -> None:
    sources, mask_path = case
    mask = read_nifti(mask_path)
    ordered, frames = mask_on_sources(mask, sources)
    # the generator's mask is on the CT's own grid: resampling keeps every voxel
    assert int(frames.sum()) == int((np.asarray(mask.array) > 0).sum())
    positions = [float(d.ImagePositionPatient[2]) for d in ordered]
    assert positions == sorted(positions)
    seg = build_seg(sources, mask, semi_automatic=True)
    reread_seg(encode(seg), sources, frames)
    segment = seg.SegmentSequence[0]
    assert segment.SegmentAlgorithmType == "SEMIAUTOMATIC"
    (algorithm,) = segment.SegmentationAlgorithmIdentificationSequence
    family = algorithm.AlgorithmFamilyCodeSequence[0]
    assert (family.CodeValue, family.CodingSchemeDesignator) == ("123101", "DCM")  # region growing
    with pytest.raises(ImagingError, match="pixels differ"):
        reread_seg(encode(seg), sources, np.roll(frames, 1, axis=2))

    call = GenotypeCall("pdgfra", "PDGFRA", 0.61, "genotype forest", "7")
    values = reread_sr(
        encode(build_sr(sources, seg, CaseResults(MEASURES, call))),
        seg,
        CaseResults(MEASURES, call),
    )
    assert values["Long axis"] == pytest.approx(41.5)
    assert values["Volume"] == pytest.approx(12.25)
    assert values["Attenuation Coefficient"] == pytest.approx(38.5)
    assert values["Predicted genotype class"] == "PDGFRA"
    assert values["Probability of the predicted class"] == pytest.approx(0.61)
    other = CaseResults(MEASURES, GenotypeCall("kit9", "KIT exon 9", 0.61, "g", "7"))
    with pytest.raises(ImagingError, match="Predicted genotype class"):
        reread_sr(encode(build_sr(sources, seg, CaseResults(MEASURES, call))), seg, other)


def test_mask_outside_the_series_is_refused(case: tuple[list[pydicom.Dataset], Path]) -> None:
    sources, mask_path = case
    mask = read_nifti(mask_path)
    moved = mask.affine.copy()
    moved[2, 3] += 1000.0  # a metre away along the body axis
    far = type(mask)(mask.array, moved)
    with pytest.raises(ImagingError, match="does not overlap"):
        build_seg(sources, far)


def test_an_enhanced_multi_frame_ct_is_refused_before_anything_is_built(
    case: tuple[list[pydicom.Dataset], Path],
) -> None:
    sources, mask_path = case
    mask = read_nifti(mask_path)
    enhanced = pydicom.Dataset()
    enhanced.update(sources[0])
    enhanced.NumberOfFrames = len(sources)
    del enhanced.ImagePositionPatient  # per frame, in the functional groups
    with pytest.raises(ImagingError, match="enhanced multi-frame"):
        build_seg([enhanced], mask, semi_automatic=True)
    without = pydicom.Dataset()
    without.update(sources[0])
    del without.ImageOrientationPatient
    with pytest.raises(ImagingError, match=r"ImageOrientationPatient \(0020,0037\)"):
        mask_on_sources(mask, [without, *sources[1:]])
