"""Writing the phantom's CT series: round trips per vendor, fake PHI, file order, bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from gistcad.synth.ct_export import VENDOR_HABITS, derive_uid
from gistcad.synth.phantom import RenderedCT
from tests.synth.conftest import CENTERS, read_sorted, small_ct, write_series


@pytest.mark.parametrize("vendor", sorted(VENDOR_HABITS))
def test_ct_series_round_trip(vendor: str, tmp_path: Path) -> None:
    center = CENTERS[vendor]
    ct = small_ct(center)
    paths = write_series(ct, center, tmp_path)
    assert len(paths) == ct.hu.shape[0] == 25
    datasets = read_sorted(paths)
    volume = np.stack([apply_modality_lut(d.pixel_array, d) for d in datasets])
    np.testing.assert_array_equal(volume, ct.hu)  # rescale gives back the HU exactly
    z = np.array([float(d.ImagePositionPatient[2]) for d in datasets])
    np.testing.assert_allclose(np.diff(z), 3.0)
    first = datasets[0]
    assert float(first.SliceThickness) == float(first.SpacingBetweenSlices) == 3.0
    np.testing.assert_allclose(
        [float(v) for v in first.ImagePositionPatient], ct.origin_mm, atol=1e-6
    )
    np.testing.assert_allclose([float(v) for v in first.PixelSpacing], ct.pixel_spacing_mm)
    assert [float(v) for v in first.ImageOrientationPatient] == list(ct.orientation)
    assert float(first.SliceLocation) == pytest.approx(z[0])
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert first.Manufacturer == vendor and int(first.KVP) == int(center.kvp)
    assert "portal venous" in first.SeriesDescription
    assert first.ConvolutionKernel and first.ContrastBolusAgent
    assert len({d.SOPInstanceUID for d in datasets}) == len(datasets)
    instances = [int(d.InstanceNumber) for d in datasets]
    assert sorted(instances) == list(range(1, len(datasets) + 1))
    if VENDOR_HABITS[vendor].instances_reversed:
        assert instances == sorted(instances, reverse=True)


def test_ct_files_carry_fake_phi_for_deidentification(
    ge_series: tuple[RenderedCT, list[Path]],
) -> None:
    ds = pydicom.dcmread(ge_series[1][0])
    assert str(ds.PatientName) == "DUPONT^Élodie"
    assert ds.PatientID == "LYO-000123" and ds.PatientBirthDate == "19580714"
    assert ds.PatientSex == "F"
    for keyword in (
        "PatientAddress",
        "InstitutionName",
        "ReferringPhysicianName",
        "OperatorsName",
        "AccessionNumber",
        "OtherPatientIDs",
    ):
        assert str(ds.data_element(keyword).value), keyword
    assert CENTERS["GE MEDICAL SYSTEMS"].name in ds.InstitutionName


def test_some_vendor_names_files_out_of_spatial_order(
    ge_series: tuple[RenderedCT, list[Path]],
) -> None:
    by_name = sorted(ge_series[1], key=lambda p: p.name)
    assert by_name != ge_series[1] and by_name != ge_series[1][::-1]


@pytest.mark.parametrize("vendor", sorted(VENDOR_HABITS))
def test_ct_bytes_equal_pydicom_save_as(vendor: str, tmp_path: Path) -> None:
    """The spliced encoder writes exactly what pydicom writes for the whole dataset, for
    every vendor's storage and every slice."""
    center = CENTERS[vendor]
    for path in write_series(small_ct(center), center, tmp_path / "ct"):
        pydicom.dcmread(path).save_as(tmp_path / "again.dcm", enforce_file_format=True)
        assert (tmp_path / "again.dcm").read_bytes() == path.read_bytes(), path.name


def test_uids_are_deterministic_and_valid() -> None:
    uid = derive_uid("seed", "patient-1")
    assert uid == derive_uid("seed", "patient-1") != derive_uid("seed", "patient-2")
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert pydicom.uid.UID(uid).is_valid


def test_every_slice_gets_its_own_file(tmp_path) -> None:
    """Regression: hashed file names of a 67-slice series once collided, losing a slice."""
    import numpy as np

    from gistcad.synth.build import BuildOptions, _tasks, write_patient
    from gistcad.synth.centers import default_centers
    from gistcad.synth.clinical import draw_cohort

    options = BuildOptions(out=tmp_path, patients=1400, centers=6, seed=0, matrix=64)
    profiles = default_centers(6)
    cohort = draw_cohort(
        1400, profiles, rng=np.random.default_rng(np.random.SeedSequence([0, 0])), signal=1.0
    )
    task = next(
        _tasks(cohort[cohort.patient_index == 1212], {c.name: c for c in profiles}, options)
    )
    write_patient(task)
    files = list(tmp_path.rglob("CT/*.dcm"))
    assert len(files) > 60 and len({f.name for f in files}) == len(files)
