"""A real DICOMweb server for the PACS tests: Orthanc with its DICOMweb plugin (Debian packages
``orthanc`` and ``orthanc-dicomweb``), started once per test module on a free localhost port
with its storage in a temporary folder, and emptied before each test, which then finds one
synthetic CT study in it (an Orthanc starts in 0.1 s but takes 2.5 s to stop)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gistcad.pacs.local_server import local_orthanc, orthanc_installed
from gistcad.synth.build import BuildOptions, build_cohort
from tests.app.conftest import app_db  # noqa: F401  (the dashboard's database, for AppTest)

CENTER = "Lyon"  # the synthetic center whose masks are NIfTI: its DICOM export is CT only


@dataclass(frozen=True)
class Pacs:
    """A running Orthanc: its REST root, its DICOMweb root and the synthetic patient in it."""

    rest: str
    url: str
    hospital_id: str
    ct_files: list[Path]
    mask: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pacs_cohort") / "cohort"
    build_cohort(
        BuildOptions(
            out=out,
            patients=2,
            centers=2,
            seed=5,
            matrix=64,
            scan_length_mm=50.0,
            workers=1,
            follow_up=False,
        )
    )
    return out


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's Orthanc: its REST root."""
    if not orthanc_installed():
        pytest.skip(
            "Orthanc with its DICOMweb plugin is not installed (Debian packages 'orthanc' and "
            "'orthanc-dicomweb'; .ci/run installs them)"
        )
    with local_orthanc(tmp_path_factory.mktemp("orthanc"), name="gistcad-test") as rest:
        yield rest


@pytest.fixture
def pacs(cohort: Path, orthanc: str) -> Pacs:
    """The module's Orthanc holding exactly one synthetic CT study: whatever an earlier test
    pushed or uploaded is deleted first (a push changes what the PACS holds)."""
    for patient in requests.get(f"{orthanc}/patients", timeout=30).json():
        requests.delete(f"{orthanc}/patients/{patient}", timeout=30).raise_for_status()
    assert requests.get(f"{orthanc}/instances", timeout=30).json() == []
    patient_dir = sorted((cohort / "centers" / CENTER / "dicom").iterdir())[0]
    files = sorted(patient_dir.rglob("*.dcm"))
    for file in files:
        answer = requests.post(f"{orthanc}/instances", data=file.read_bytes(), timeout=30)
        answer.raise_for_status()
    mask = cohort / "centers" / CENTER / "masks" / f"{patient_dir.name}.nii.gz"
    return Pacs(orthanc, f"{orthanc}/dicom-web", patient_dir.name, files, mask)
