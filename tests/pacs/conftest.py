"""A real DICOMweb server for the PACS tests: Orthanc with its DICOMweb plugin (Debian packages
``orthanc`` and ``orthanc-dicomweb``), started for each test on a free localhost port with its
storage in a temporary folder, holding one synthetic CT study."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gistcad.synth.build import BuildOptions, build_cohort
from tests.app.conftest import app_db  # noqa: F401  (the dashboard's database, for AppTest)

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
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


def start_orthanc(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Orthanc on a free port with its storage in ``folder``; return it and its root."""
    if not (Path(ORTHANC).exists() and PLUGIN.exists()):
        pytest.skip(
            "Orthanc with its DICOMweb plugin is not installed (Debian packages 'orthanc' and "
            "'orthanc-dicomweb'; .ci/run installs them)"
        )
    port = _free_port()
    config = {
        "Name": "gistcad-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen([ORTHANC, str(path)], stdout=log, stderr=subprocess.STDOUT)
    rest = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if requests.get(f"{rest}/system", timeout=1).ok:
                return process, rest
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()[-2000:]}")


@pytest.fixture
def pacs(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pacs]:
    """A fresh Orthanc for each test (a push changes what the PACS holds)."""
    folder = tmp_path_factory.mktemp("orthanc")
    process, rest = start_orthanc(folder)
    try:
        patient = sorted((cohort / "centers" / CENTER / "dicom").iterdir())[0]
        files = sorted(patient.rglob("*.dcm"))
        for file in files:
            answer = requests.post(f"{rest}/instances", data=file.read_bytes(), timeout=30)
            answer.raise_for_status()
        mask = cohort / "centers" / CENTER / "masks" / f"{patient.name}.nii.gz"
        yield Pacs(rest, f"{rest}/dicom-web", patient.name, files, mask)
    finally:
        process.terminate()
        process.wait(timeout=30)
