"""Import a cohort written by ``gistcad demo build`` through the ordinary importers.

The demo goes through exactly the code path of real data: for every center folder, its
clinical table (:mod:`gistcad.ingest.clinical`), its DICOM folder (CT, SEG, RTSTRUCT, the
follow-up studies too; :mod:`gistcad.ingest.dicom`), its NIfTI masks
(:mod:`gistcad.ingest.nifti`) and its treatment lines (:mod:`gistcad.ingest.treatment_lines`).
``oracle.csv``, ``ceiling.json``, ``follow_up_truth.csv``, ``follow_up_categories.csv`` and
``follow_up_posterior.csv`` are never read here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy.orm import Session

from gistcad.domain import center_name
from gistcad.ingest.clinical import import_clinical
from gistcad.ingest.dicom import ImportContext, import_dicom
from gistcad.ingest.nifti import import_mask_folder
from gistcad.ingest.report import ImportReport
from gistcad.ingest.treatment_lines import import_treatment_lines
from gistcad.problems import Problem

TABLE_NAMES = ("clinical.csv", "clinical.xlsx")
TREATMENT_LINES = "treatment_lines.csv"


def import_demo(
    session: Session, folder: Path, ctx: ImportContext, *, keep_mapping: bool = False
) -> list[ImportReport]:
    """One report per importer and center; any refusal means the caller rolls back."""
    centers_dir = folder / "centers"
    if not centers_dir.is_dir():
        report = ImportReport(kind="demo", source=str(folder))
        report.problems.append(
            Problem(str(folder), "no 'centers' folder: not a cohort written by gistcad demo build")
        )
        return [report]
    reports: list[ImportReport] = []
    for center_dir in sorted(p for p in centers_dir.iterdir() if p.is_dir()):
        name = center_name(center_dir.name)
        center_ctx = dataclasses.replace(ctx, center=name)
        table = next((center_dir / n for n in TABLE_NAMES if (center_dir / n).exists()), None)
        if table is not None:
            reports.append(
                import_clinical(
                    session,
                    table,
                    center=name,
                    pseudonymizer=ctx.pseudonymizer,
                    keep_mapping=keep_mapping,
                )
            )
        if (center_dir / "dicom").is_dir():
            reports.append(import_dicom(session, center_dir / "dicom", center_ctx))
        if (center_dir / "masks").is_dir():
            reports.append(import_mask_folder(session, center_dir / "masks", center_ctx))
        if (center_dir / TREATMENT_LINES).is_file() and all(r.ok for r in reports):
            reports.append(
                import_treatment_lines(session, center_dir / TREATMENT_LINES, center_ctx)
            )
        if any(not r.ok for r in reports):
            break
    return reports
