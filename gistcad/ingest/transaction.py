"""One import, all or nothing: the use case behind ``gistcad import`` (and any page that imports).

:func:`run_import` wraps an importer (clinical table, DICOM, NIfTI, masks, the demo) in what
every import needs: the caller's permission, a valid center name, the removal of what killed
imports left behind, a file stage, one transaction, the audit row, publishing the staged files
with the rows, and rolling both back on any refusal or error. Importers only validate and
write rows into the session they are given.

The audit row names the import by a hash of its path, never the path itself: export folders
are often named after the patient, and the audit trail can never be edited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import Permission, center_name
from gistcad.ingest.dicom import ImportContext
from gistcad.ingest.failpoints import checkpoint
from gistcad.ingest.pseudonym import Pseudonymizer, load_or_create_key
from gistcad.ingest.report import ImportReport
from gistcad.ingest.staging import FileStage, sweep_stale
from gistcad.store import AccessScope, audit
from gistcad.store.engine import session_scope
from gistcad.store.writes import find_center, is_data_file_referenced

Importer = Callable[[Session, ImportContext], list[ImportReport]]


def source_hash(source: str | Path, pseudonymizer: Pseudonymizer) -> str:
    """What the audit trail records for an import's path: a hash keyed with the data folder's
    pseudonym key (HMAC-SHA256, 16 hex digits), so that a guessed patient name cannot be
    confirmed by hashing it; the same path gives the same hash, to find repeated imports."""
    resolved = str(Path(source).expanduser().resolve())
    return "hmac:" + pseudonymizer.fingerprint(resolved)


def run_import(
    engine: Engine,
    data_dir: Path,
    scope: AccessScope,
    importer: Importer,
    *,
    center: str = "",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[ImportReport]:
    """Run ``importer`` in one transaction; commit rows and publish files only if all is well.

    Parameters
    ----------
    center
        The center the data belong to, as the user typed it ("" when the importer finds the
        centers itself, as the demo does). It is trimmed and checked, and matched to a stored
        center ignoring case.
    dry_run
        Validate and report; write nothing.

    Returns
    -------
    list of ImportReport
        One per importer and center; any report with problems means nothing was written.

    Raises
    ------
    ValidationError
        For an unusable center name (before anything is read).
    AccessDenied
        When the caller may not import.
    """
    scope.require(Permission.IMPORT_DATA)
    name = center_name(center) if center else ""
    sweep_stale(data_dir)
    pseudonymizer = load_or_create_key(data_dir)
    stage = FileStage(data_dir)
    try:
        with session_scope(engine) as session:
            stored = find_center(session, name) if name else None
            ctx = ImportContext(name, data_dir, pseudonymizer, stage, progress)
            reports = importer(session, ctx)
            if stored is not None and stored.name != name and reports:
                reports[0].notes.append(
                    f"center {name!r} is the stored center {stored.name!r} (names are matched "
                    f"ignoring case): imported into {stored.name!r}"
                )
            if all(r.ok for r in reports) and not dry_run:
                _audit(session, scope, reports, name, pseudonymizer)
                stage.publish(
                    lambda relative: is_data_file_referenced(session, relative),
                    lambda: checkpoint("publish"),
                )
                checkpoint("commit")
            else:
                session.rollback()
                stage.discard()
    except BaseException:
        stage.discard()
        raise
    checkpoint("committed")
    stage.close()
    for report in reports:
        report.dry_run = dry_run
    return reports


def _audit(
    session: Session,
    scope: AccessScope,
    reports: list[ImportReport],
    center: str,
    pseudonymizer: Pseudonymizer,
) -> None:
    for report in reports:
        audit.record(
            session,
            scope.user,
            "import",
            target_kind="import",
            target=source_hash(report.source, pseudonymizer),
            detail={"kind": report.kind, "center": report.center or center, **report.counts()},
        )
