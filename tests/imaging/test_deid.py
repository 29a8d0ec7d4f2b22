"""De-identification: only whitelisted facts leave a header; PatientID only via patient_key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from gistcad.domain import ContrastPhase
from gistcad.errors import ValidationError
from gistcad.imaging.deid import guess_contrast_phase, patient_key, series_info
from gistcad.imaging.dicom_series import scan_dicom
from tests.imaging.conftest import PHI, BuiltSeries


def test_series_info_copies_only_non_identifying_facts(
    tmp_path: Path, ct_series: Callable[..., BuiltSeries]
) -> None:
    built = ct_series(tmp_path)
    info = series_info(pydicom.dcmread(built.paths[0], stop_before_pixels=True))
    assert info.series_instance_uid == built.series_uid
    assert info.study_instance_uid == built.study_uid
    assert info.frame_of_reference_uid == built.frame_of_reference_uid
    assert info.modality == "CT"
    assert info.contrast_phase is ContrastPhase.PORTAL_VENOUS
    assert info.study_date == info.acquisition_date == date(2021, 3, 15)
    assert (info.manufacturer, info.kvp, info.slice_thickness_mm) == ("SIEMENS", 120.0, 2.5)
    assert info.convolution_kernel == "Br40f"
    text = repr(dataclasses.astuple(info))
    for value in PHI.values():
        assert value not in text
    # The scanned series carries the same info, and the PatientID apart, for pseudonymising.
    series = scan_dicom(tmp_path).series[0]
    assert series.info == info
    assert series.patient_id == PHI["PatientID"]


def test_free_text_holding_a_name_is_dropped() -> None:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = "1.2", "1.2.3", "CT"
    ds.PatientName = "DOE^JANE"
    ds.SeriesDescription = "Jane Doe venous"
    info = series_info(ds)
    assert info.series_description is None
    assert info.contrast_phase is ContrastPhase.UNKNOWN


def test_missing_uid_is_named() -> None:
    ds = Dataset()
    ds.Modality = "CT"
    with pytest.raises(ValidationError, match=r"StudyInstanceUID \(0020,000D\) is missing"):
        series_info(ds)


def test_patient_key() -> None:
    ds = Dataset()
    ds.PatientID = "  PID-1 "
    assert patient_key(ds) == "PID-1"
    ds.PatientID = ""
    with pytest.raises(ValidationError, match=r"PatientID \(0010,0020\) is missing or empty"):
        patient_key(ds)


@pytest.mark.parametrize(
    ("description", "agent", "phase"),
    [
        ("ABD W/O CONTRAST", None, ContrastPhase.NON_CONTRAST),
        ("Thorax nativ 5mm", None, ContrastPhase.NON_CONTRAST),
        ("CT ABDOMEN ARTERIAL", None, ContrastPhase.ARTERIAL),
        ("Abdomen_PV_3mm", None, ContrastPhase.PORTAL_VENOUS),
        ("Abd delayed 5 min", None, ContrastPhase.DELAYED),
        ("Abdomen 5mm", "Omnipaque", ContrastPhase.UNKNOWN),
        ("Abdomen 5mm", None, ContrastPhase.UNKNOWN),
        (None, None, ContrastPhase.UNKNOWN),
    ],
)
def test_contrast_phase_guess(
    description: str | None, agent: str | None, phase: ContrastPhase
) -> None:
    assert guess_contrast_phase(description, agent) is phase
