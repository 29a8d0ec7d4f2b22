"""``gistcad report``: the case page's printable one-page report, written to a file.

The same document as the case page's download, made by the same function
(:func:`gistcad.viewer.report.export_case_report`) and recorded in the audit trail the same
way.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write a patient's one-page case report (printable HTML), as the case page does",
        description="Write the tumour board's one-page case report of one patient: the case "
        "card (risk by every scheme, genotype and predictions, therapy implication, "
        "follow-up) and the CT's key slice. Recorded in the audit trail as an export.",
    )
    parser.add_argument("pseudonym", help="the patient's pseudonym, e.g. GIST-7KQ3M2AB9X")
    parser.add_argument(
        "--out", required=True, type=Path, help="the HTML file to write, e.g. case.html"
    )
    parser.add_argument(
        "--series", metavar="SERIES_UID", help="the CT series to show (default: the newest)"
    )
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.is_dir():
        raise ValidationError(f"--out {out} is a folder; give a file name, e.g. {out / 'x.html'}")
    if not out.parent.is_dir():
        raise ValidationError(f"--out {out}: the folder {out.parent} does not exist; create it")
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    from gistcad.viewer.report import export_case_report  # NumPy, SciPy: here only

    with session_scope(engine) as session:  # a file that cannot be written is not audited
        text = export_case_report(
            session, scope, settings.layout, args.pseudonym, series_uid=args.series
        )
        out.write_text(text, encoding="utf-8")
    print(f"wrote the case report of {args.pseudonym} to {out}")
    return 0
