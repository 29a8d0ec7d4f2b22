"""``gistcad pacs pull``: one study from the PACS through the DICOM importer.

The study is retrieved into a private temporary folder outside the data folder (it carries
the patient's identity), then imported by :func:`gistcad.ingest.transaction.run_import` with
:func:`gistcad.ingest.dicom.import_dicom`, exactly as a folder import: validated,
de-identified, one transaction, audited; the folder is removed whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import Permission, center_name
from gistcad.ingest.dicom import ImportContext, import_dicom
from gistcad.ingest.report import ImportReport
from gistcad.ingest.staging import unpack_folder
from gistcad.ingest.transaction import run_import
from gistcad.pacs.dicomweb import check_url, pull_study
from gistcad.store import AccessScope


def import_from_pacs(
    engine: Engine,
    data_dir: Path,
    scope: AccessScope,
    url: str,
    study_uid: str,
    *,
    center: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[ImportReport]:
    """Pull study ``study_uid`` from the PACS at ``url`` and import it into ``center``.

    Returns
    -------
    list of ImportReport
        As :func:`~gistcad.ingest.transaction.run_import`; its source reads
        ``"PACS study <UID>"``.

    Raises
    ------
    PacsError
        The PACS does not answer, has no such study, or the study has no CT; nothing changed.
    AccessDenied
        The caller may not import.
    ValidationError
        A malformed URL or center name.
    """
    scope.require(Permission.IMPORT_DATA)
    check_url(url)
    name = center_name(center)
    uid = study_uid.strip()
    with unpack_folder() as folder:
        pull_study(url, uid, folder, progress)

        def importer(session: Session, ctx: ImportContext) -> list[ImportReport]:
            report = import_dicom(session, folder, ctx)
            report.source = f"PACS study {uid}"
            return [report]

        return run_import(engine, data_dir, scope, importer, center=name, dry_run=dry_run)
