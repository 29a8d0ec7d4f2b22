"""Browser uploads: a zip export or several DICOM files, saved privately, then imported.

:func:`import_upload` is the dashboard's upload: the bytes are checked (size, zip or DICOM),
written to a private temporary folder outside the data folder (the files carry the patient's
identity), and imported by :func:`gistcad.ingest.transaction.run_import` with
:func:`gistcad.ingest.dicom.import_dicom`, as ``gistcad import dicom`` does a folder or a zip:
the same zip rules (:func:`gistcad.imaging.archive.safe_extract`), validation,
de-identification and transaction. The folder is removed whatever happens.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import Permission, center_name
from gistcad.errors import ValidationError
from gistcad.ingest.dicom import ImportContext, import_dicom
from gistcad.ingest.report import ImportReport
from gistcad.ingest.staging import unpack_folder
from gistcad.ingest.transaction import run_import
from gistcad.store import AccessScope

#: Largest upload, all files together: Streamlit's own limit per file (server.maxUploadSize,
#: 200 MB by default); a larger export is imported with ``gistcad import dicom``.
MAX_UPLOAD_BYTES = 200 * 1024**2
#: Largest number of files in one upload (a zip counts as one; its members follow the zip
#: rules of the command line).
MAX_UPLOAD_FILES = 5000
_DICOM_MAGIC_AT = 128


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file: the name the browser gave and its bytes."""

    name: str
    data: bytes


def _is_dicom(data: bytes) -> bool:
    return data[_DICOM_MAGIC_AT : _DICOM_MAGIC_AT + 4] == b"DICM"


def _is_zip(name: str, data: bytes) -> bool:
    return name.lower().endswith(".zip") and data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def check_upload(files: Sequence[UploadedFile]) -> None:
    """Refuse an upload that is empty, too large, or not one zip / DICOM files only.

    Raises
    ------
    ValidationError
        Naming what was wrong and what to upload instead.
    """
    if not files:
        raise ValidationError("no file uploaded; choose a zip of the export or its DICOM files")
    total = sum(len(f.data) for f in files)
    if total > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"the upload is {total / 1024**2:.0f} MB, over the limit of "
            f"{MAX_UPLOAD_BYTES / 1024**2:.0f} MB; import it with 'gistcad import dicom' instead"
        )
    if len(files) > MAX_UPLOAD_FILES:
        raise ValidationError(
            f"{len(files)} files uploaded, over the limit of {MAX_UPLOAD_FILES}; upload them "
            "as one zip"
        )
    zips = [f for f in files if f.name.lower().endswith(".zip")]
    if zips:
        if len(files) > 1:
            raise ValidationError("upload one zip alone, or DICOM files without a zip")
        if not _is_zip(zips[0].name, zips[0].data) or not zipfile.is_zipfile(
            _BytesFile(zips[0].data)
        ):
            raise ValidationError(f"{zips[0].name} is not a readable zip archive; copy it again")
        return
    not_dicom = [f.name for f in files if not _is_dicom(f.data)]
    if not_dicom:
        shown = ", ".join(not_dicom[:3]) + (" ..." if len(not_dicom) > 3 else "")
        raise ValidationError(
            f"not DICOM: {shown} ({len(not_dicom)} of {len(files)} file(s) lack the DICOM "
            "file header); upload the CT's .dcm files or a zip of the export"
        )


class _BytesFile:
    """Just enough of a binary file for :func:`zipfile.is_zipfile`, without a copy."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._data)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(len(self._data), self._pos + size)
        chunk = bytes(self._data[self._pos : end])
        self._pos = end
        return chunk


def save_upload(files: Sequence[UploadedFile], folder: Path) -> Path:
    """Write checked uploads into ``folder``; returns what to import (the zip or the folder).

    File names are reduced to their last part and numbered, so no name can leave the folder.
    """
    check_upload(files)
    if len(files) == 1 and files[0].name.lower().endswith(".zip"):
        target = folder / "upload.zip"
        target.write_bytes(files[0].data)
        return target
    for number, item in enumerate(files):
        stem = PurePath(item.name.replace("\\", "/")).name or "file"
        (folder / f"{number:05d}_{stem[:80]}").write_bytes(item.data)
    return folder


def import_upload(
    engine: Engine,
    data_dir: Path,
    scope: AccessScope,
    files: Sequence[UploadedFile],
    *,
    center: str,
    progress: Callable[[int], None] | None = None,
) -> list[ImportReport]:
    """Import an upload (see the module doc) into ``center``.

    Raises
    ------
    ValidationError
        A bad upload (:func:`check_upload`) or center name; nothing was written.
    AccessDenied
        The caller may not import.
    """
    scope.require(Permission.IMPORT_DATA)
    name = center_name(center)
    check_upload(files)
    with unpack_folder() as folder:
        path = save_upload(files, folder)
        label = files[0].name if len(files) == 1 else f"{len(files)} uploaded files"

        def importer(session: Session, ctx: ImportContext) -> list[ImportReport]:
            report = import_dicom(session, path, ctx)
            report.source = f"upload ({label})"
            return [report]

        return run_import(engine, data_dir, scope, importer, center=name, progress=progress)
