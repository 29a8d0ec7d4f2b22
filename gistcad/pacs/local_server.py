"""A local stand-in for a hospital PACS: Orthanc with its DICOMweb plugin (Debian packages
``orthanc`` and ``orthanc-dicomweb``), started on a free localhost port with its storage in a
folder of the caller's, and stopped on leaving.

The PACS tests and ``bench/tumour_board_flow.py`` start it the same way; nothing in the
dashboard does (a deployment talks to the hospital's own PACS).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from gistcad.pacs.dicomweb import PacsError

logger = logging.getLogger(__name__)

ORTHANC = Path(shutil.which("Orthanc") or "/usr/sbin/Orthanc")
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
#: seconds Orthanc may take to answer its first request
START_TIMEOUT_S = 30.0


def orthanc_installed() -> bool:
    """Whether Orthanc and its DICOMweb plugin are where Debian's packages put them."""
    return ORTHANC.exists() and PLUGIN.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(folder: Path, port: int, name: str) -> dict[str, object]:
    return {
        "Name": name,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }


def _wait_until_up(rest: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{rest}/system", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:]
    raise PacsError(
        f"Orthanc did not answer at {rest} within {START_TIMEOUT_S:.0f} s; its log:\n{tail}"
    )


@contextmanager
def local_orthanc(folder: Path, *, name: str = "gistcad-local") -> Iterator[str]:
    """Run Orthanc with DICOMweb on a free localhost port, storing in ``folder``.

    Yields its REST root (``http://127.0.0.1:PORT``; DICOMweb is under ``/dicom-web``).
    Its configuration and log (``orthanc.json``, ``orthanc.log``) are written to ``folder``.

    Raises
    ------
    PacsError
        Orthanc or its plugin is not installed, or it did not answer within
        :data:`START_TIMEOUT_S`.
    """
    if not orthanc_installed():
        raise PacsError(
            f"Orthanc ({ORTHANC}) with its DICOMweb plugin ({PLUGIN}) is not installed: "
            "install the Debian packages 'orthanc' and 'orthanc-dicomweb'"
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config, log = folder / "orthanc.json", folder / "orthanc.log"
    config.write_text(json.dumps(_config(folder, port, name)))
    rest = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ORTHANC), str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(rest, process, log)
        logger.info("Orthanc answers at %s (storage in %s)", rest, folder)
        yield rest
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
