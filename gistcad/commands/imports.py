"""``gistcad import``: bring a center's data into the store (validated, one transaction)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gistcad.config import load_settings
from gistcad.ingest.clinical import import_clinical
from gistcad.ingest.pseudonym import load_or_create_key
from gistcad.ingest.report import ImportReport
from gistcad.store import migrations
from gistcad.store.engine import session_scope

EXIT_REFUSED = 3


def register(sub: Any) -> None:
    parser = sub.add_parser("import", help="import clinical spreadsheets (more formats to come)")
    kinds = parser.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    clinical = kinds.add_parser(
        "clinical",
        help="a clinical spreadsheet (.csv or .xlsx), one row per patient",
        description="Validate every row (all problems listed by row and column), then write "
        "all rows or none. Re-importing updates patients instead of duplicating them.",
    )
    clinical.add_argument("file", type=Path, help="the .csv or .xlsx file")
    clinical.add_argument("--center", required=True, help="the center the patients belong to")
    clinical.add_argument(
        "--dry-run", action="store_true", help="validate and report; write nothing"
    )
    clinical.add_argument(
        "--keep-mapping",
        action="store_true",
        help="also store pseudonym -> original patient id (off by default)",
    )
    clinical.add_argument("--json", action="store_true", help="machine-readable report")
    clinical.set_defaults(handler=_clinical)


def _clinical(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    pseudonymizer = load_or_create_key(settings.data_dir)
    with session_scope(engine) as session:
        report = import_clinical(
            session,
            args.file,
            center=args.center,
            pseudonymizer=pseudonymizer,
            keep_mapping=args.keep_mapping,
            dry_run=args.dry_run,
        )
        if args.dry_run or not report.ok:
            session.rollback()
    return _print(report, as_json=args.json)


def _print(report: ImportReport, *, as_json: bool) -> int:
    print(json.dumps(report.to_dict(), indent=2) if as_json else report.summary())
    return 0 if report.ok else EXIT_REFUSED
