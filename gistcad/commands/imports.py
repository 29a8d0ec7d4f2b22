"""``gistcad import``: bring a center's data into the store (validated, one transaction).

Every importer validates everything before it writes; the command then commits the database
rows and publishes the staged image files together, or rolls both back. Exit status 0 when
imported, 3 when refused (the report lists every problem), 2 for a usage or setting error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.domain import center_name
from gistcad.errors import ValidationError
from gistcad.store import migrations

if TYPE_CHECKING:
    from gistcad.ingest.report import ImportReport
    from gistcad.ingest.transaction import Importer

# The importers read DICOM and NIfTI (pydicom, nibabel, highdicom): imported by the handlers,
# so that every other command starts without them.
EXIT_REFUSED = 3


def register(sub: Any) -> None:
    parser = sub.add_parser("import", help="import clinical tables, DICOM, NIfTI, the demo")
    kinds = parser.add_subparsers(dest="import_kind", metavar="KIND", required=True)

    clinical = _add(kinds, "clinical", "a clinical spreadsheet (.csv or .xlsx), one row a patient")
    clinical.add_argument("file", type=Path)
    clinical.add_argument("--center", required=True, help="the center the patients belong to")
    clinical.set_defaults(handler=_clinical)

    dicom = _add(kinds, "dicom", "DICOM CT series with SEG/RTSTRUCT masks (a folder or .zip)")
    dicom.add_argument("path", type=Path)
    dicom.add_argument("--center", required=True)
    dicom.set_defaults(handler=_dicom)

    nifti = _add(kinds, "nifti", "NIfTI images with masks in the WORC layout")
    nifti.add_argument("path", type=Path, help="the folder holding one folder per subject")
    nifti.add_argument("--layout", choices=["worc"], required=True)
    nifti.add_argument("--labels", type=Path, help="pinfo-style label CSV (2/blank = unknown)")
    nifti.add_argument("--center", default="WORC")
    nifti.set_defaults(handler=_nifti)

    masks = _add(kinds, "masks", "NIfTI masks named <patient id>.nii.gz for stored CT series")
    masks.add_argument("folder", type=Path)
    masks.add_argument("--center", required=True)
    masks.set_defaults(handler=_masks)

    lines = _add(
        kinds,
        "treatment-lines",
        "a treatment-line sheet (.csv or .xlsx): hospital_id, line, drug, dose_mg_per_day, "
        "start_date, stop_date, stop_reason",
    )
    lines.add_argument("file", type=Path)
    lines.add_argument("--center", required=True, help="the center the patients belong to")
    lines.set_defaults(handler=_treatment_lines)

    demo = _add(kinds, "demo", "a cohort written by 'gistcad demo build', every center")
    demo.add_argument("folder", type=Path)
    demo.set_defaults(handler=_demo)


def _add(kinds: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = kinds.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    parser.add_argument(
        "--keep-mapping",
        action="store_true",
        help="also store pseudonym -> original patient id (off by default)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    return parser


@contextmanager
def _progress(args: argparse.Namespace, unit: str) -> Iterator[Callable[[int], None] | None]:
    if args.json:
        yield None
        return
    with tqdm(unit=unit, desc="importing", file=sys.stderr, leave=False, delay=1.0) as bar:
        yield bar.update


def _run(args: argparse.Namespace, runner: Importer, unit: str = "series") -> int:
    from gistcad.ingest.transaction import run_import

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    center = getattr(args, "center", None)
    with _progress(args, unit) as progress:
        reports = run_import(
            engine,
            settings.data_dir,
            scope,
            runner,
            center=center_name(center) if center is not None else "",
            dry_run=args.dry_run,
            progress=progress,
        )
    return print_reports(reports, as_json=args.json)


def print_reports(reports: list[ImportReport], *, as_json: bool = False) -> int:
    """Print the import reports; returns the exit status (0 imported, 3 refused)."""
    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print("\n".join(r.summary() for r in reports))
    return 0 if all(r.ok for r in reports) else EXIT_REFUSED


def _clinical(args: argparse.Namespace) -> int:
    from gistcad.ingest.clinical import import_clinical

    return _run(
        args,
        lambda session, ctx: [
            import_clinical(
                session,
                args.file,
                center=ctx.center,
                pseudonymizer=ctx.pseudonymizer,
                keep_mapping=args.keep_mapping,
            )
        ],
    )


def _dicom(args: argparse.Namespace) -> int:
    from gistcad.ingest.dicom import import_dicom

    _no_mapping(args)
    return _run(args, lambda session, ctx: [import_dicom(session, args.path, ctx)])


def _nifti(args: argparse.Namespace) -> int:
    from gistcad.ingest.nifti import import_worc

    _no_mapping(args)
    return _run(args, lambda session, ctx: [import_worc(session, args.path, ctx, args.labels)])


def _masks(args: argparse.Namespace) -> int:
    from gistcad.ingest.nifti import import_mask_folder

    _no_mapping(args)
    return _run(args, lambda session, ctx: [import_mask_folder(session, args.folder, ctx)], "mask")


def _treatment_lines(args: argparse.Namespace) -> int:
    from gistcad.ingest.treatment_lines import import_treatment_lines

    _no_mapping(args)
    return _run(
        args, lambda session, ctx: [import_treatment_lines(session, args.file, ctx)], "line"
    )


def _demo(args: argparse.Namespace) -> int:
    from gistcad.demo_cohort import import_demo_cohort

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with _progress(args, "patient") as progress:
        reports = import_demo_cohort(
            engine,
            settings.data_dir,
            scope,
            args.folder,
            dry_run=args.dry_run,
            keep_mapping=args.keep_mapping,
            progress=progress,
        )
    return print_reports(reports, as_json=args.json)


def _no_mapping(args: argparse.Namespace) -> None:
    if args.keep_mapping:
        raise ValidationError(
            "--keep-mapping applies to clinical tables (where the original ids are); import "
            "the clinical table with it"
        )
