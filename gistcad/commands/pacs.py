"""``gistcad pacs``: find studies in a PACS, pull one into the store, push results back.

DICOMweb (QIDO-RS, WADO-RS, STOW-RS) via :mod:`gistcad.pacs`. ``pull`` imports through the same
use case as ``gistcad import dicom`` (validated, de-identified, one transaction, audited);
``push`` sends the stored segmentation as DICOM SEG and the measurements and predictions as a
DICOM SR. The PACS's own patient ids shown by ``find`` are printed only, never stored.
"""

from __future__ import annotations

import argparse
from typing import Any

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.store import migrations, session_scope

URL_HELP = "the DICOMweb service root, e.g. http://pacs.example.org:8042/dicom-web"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "pacs",
        help="a PACS over DICOMweb: find studies, pull one in, push results back",
        description="Exchange with a hospital PACS over DICOMweb (QIDO-RS, WADO-RS, STOW-RS).",
    )
    actions = parser.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)

    find = actions.add_parser(
        "find", help="list studies (QIDO-RS)", description="List the PACS's studies, newest first."
    )
    find.add_argument("--url", required=True, help=URL_HELP)
    find.add_argument("--patient-id", help="the PACS's patient id (shown, never stored)")
    find.add_argument("--accession", help="the accession number")
    find.add_argument("--study-date", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    find.set_defaults(handler=_find)

    pull = actions.add_parser(
        "pull",
        help="import one study's CT (WADO-RS), as 'gistcad import dicom' does",
        description="Retrieve one study's CT series (and any SEG/RTSTRUCT masks) and import "
        "them: validated, de-identified, one transaction.",
    )
    pull.add_argument("--url", required=True, help=URL_HELP)
    pull.add_argument("--study", required=True, metavar="UID", help="the StudyInstanceUID")
    pull.add_argument("--center", required=True, help="the center the patient belongs to")
    pull.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    pull.add_argument("--json", action="store_true", help="machine-readable report")
    pull.set_defaults(handler=_pull)

    push = actions.add_parser(
        "push",
        help="send a case's segmentation (DICOM SEG) and results (DICOM SR) to the PACS",
        description="Send the stored tumour segmentation of a patient's CT series as DICOM SEG "
        "and its measurements and genotype prediction as a TID 1500 DICOM SR (STOW-RS), both "
        "referring to the series in the PACS. Research use only.",
    )
    push.add_argument("--url", required=True, help=URL_HELP)
    push.add_argument("pseudonym", help="the patient's pseudonym, e.g. GIST-7KQ3M2AB9X")
    push.add_argument("--series", metavar="SERIES_UID", help="the CT series (default: newest)")
    push.set_defaults(handler=_push)


def _find(args: argparse.Namespace) -> int:
    from gistcad.pacs.dicomweb import find_studies

    studies = find_studies(
        args.url,
        patient_id=args.patient_id,
        accession=args.accession,
        study_date=args.study_date,
    )
    if not studies:
        print("no study found")
        return 0
    print("date        modalities  series  instances  patient id  study UID  description")
    for s in studies:
        print(
            f"{s.date.isoformat() if s.date else 'no date':<10}  "
            f"{'/'.join(s.modalities) or '-':<10}  {_count(s.series_count):>6}  "
            f"{_count(s.instance_count):>9}  {s.patient_id or '-'}  {s.study_uid}  "
            f"{s.description or '-'}"
        )
    return 0


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _pull(args: argparse.Namespace) -> int:
    from gistcad.commands.imports import _progress, print_reports
    from gistcad.pacs.pull import import_from_pacs

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with _progress(args, "file") as progress:
        reports = import_from_pacs(
            engine,
            settings.data_dir,
            scope,
            args.url,
            args.study,
            center=args.center,
            dry_run=args.dry_run,
            progress=progress,
        )
    return print_reports(reports, as_json=args.json)


def _push(args: argparse.Namespace) -> int:
    from gistcad.pacs.push import push_results

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with session_scope(engine) as session:
        result = push_results(
            session, scope, settings.layout, args.url, args.pseudonym, series_uid=args.series
        )
    print(result.summary())
    return 0
