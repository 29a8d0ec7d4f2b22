"""``gistcad demo``: build the synthetic multi-center cohort."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from gistcad.commands import imports
from gistcad.commands.access import operator_name
from gistcad.config import load_settings
from gistcad.demo_models import DemoState, demo_model_states, queue_demo_models
from gistcad.layout import DataLayout
from gistcad.store import AccessScope, migrations, session_scope

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gistcad.synth.build import BuildSummary


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="the synthetic multi-center demo cohort")
    actions = parser.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="write a synthetic cohort (DICOM CT, masks, clinical tables, oracle) to a folder",
        description="Write what a consortium of centers would send: DICOM CT series, tumour "
        "masks (SEG, RTSTRUCT, NIfTI) and clinical tables, plus oracle.csv and ceiling.json "
        "(the best any model can do; never import them). Same options, same bytes.",
    )
    build.add_argument("--out", type=Path, required=True, help="an empty or new folder")
    build.add_argument("--patients", type=int, default=200)
    build.add_argument("--centers", type=int, default=6, help="1-6 (default 6)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--signal",
        type=float,
        default=1.0,
        help="signal, 0-1: of the genotype in the images and of the planted prognostic "
        "trait in the recurrence hazard (0 = no signal: the negative control)",
    )
    build.add_argument(
        "--matrix", type=int, default=256, help="in-plane pixels: 256 demo, 512 clinical"
    )
    build.add_argument("--workers", type=int, help="processes (default: all cores)")
    build.add_argument(
        "--no-follow-up",
        action="store_true",
        help="leave out the follow-up CTs, treatment lines and truth of the patients treated "
        "with neoadjuvant imatinib (faster)",
    )
    build.set_defaults(handler=_build)

    load = actions.add_parser(
        "load",
        help="build the demo cohort in the data folder and import it, if the database is empty",
        description="What 'make run' does on first start: when the database holds no patient, "
        "build the synthetic cohort under <data folder>/demo-cohort (unless it is there), "
        "import it through the ordinary importers, then queue the demo models (clinical, "
        "radiomics, deep; each predicts every patient) as background jobs, which 'gistcad "
        "serve' runs. Imports nothing when patients exist; then queues again only demo "
        "models whose worker was stopped before they finished.",
    )
    load.add_argument("--patients", type=int, default=200)
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--no-models", action="store_true", help="import only; queue no demo model")
    load.set_defaults(handler=_load)


def _build(args: argparse.Namespace) -> int:
    from gistcad.synth.build import BuildOptions, build_cohort, check_output_folder

    options = BuildOptions(
        out=args.out,
        patients=args.patients,
        centers=args.centers,
        seed=args.seed,
        signal=args.signal,
        matrix=args.matrix,
        workers=args.workers,
        follow_up=not args.no_follow_up,
    )
    check_output_folder(options.out)
    with _bar(options.patients) as progress:
        summary = build_cohort(options, progress=progress)
    _print_summary(summary)
    return 0


@contextmanager
def _bar(patients: int) -> Iterator[Callable[[int], None]]:
    with tqdm(total=patients, unit="patient", desc="CT and masks", file=sys.stderr) as bar:
        yield bar.update


def _print_summary(summary: BuildSummary) -> None:
    centers = ", ".join(f"{name} {n}" for name, n in summary.centers.items())
    ceilings = ", ".join(f"{k} {v:.3f}" for k, v in summary.ceilings.items())
    print(f"{summary.patients} patients ({centers}) in {summary.out}: {summary.files} files")
    print(f"ceiling AUCs: {ceilings}")
    references = ", ".join(
        f"{name} {aucs['kit11_vs_rest']:.3f}" for name, aucs in summary.references.items()
    )
    if references:
        print(f"reference AUCs, KIT exon 11 vs rest: {references}")
    if summary.rfs_ceilings:
        rfs = ", ".join(f"{k} {v['pooled']:.3f}" for k, v in summary.rfs_ceilings.items())
        print(f"RFS C-index ceilings (pooled): {rfs}")


def _load(args: argparse.Namespace) -> int:
    from gistcad.store.queries import cohort_counts

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    with session_scope(engine) as session:
        patients = cohort_counts(session, AccessScope.everything()).patients
    status = 0
    if patients:
        print(f"the database holds {patients} patients: no demo cohort loaded")
    else:
        status = _build_and_import(args, engine, settings.layout)
    if status == 0 and not args.no_models and (not patients or _demo_started(engine)):
        _queue_models(engine)
    return status


def _build_and_import(args: argparse.Namespace, engine: Engine, layout: DataLayout) -> int:
    from gistcad.demo_cohort import build_demo_cohort, demo_cohort_built, import_demo_cohort

    out = layout.demo_cohort
    if not demo_cohort_built(layout):
        print(f"building the synthetic demo cohort ({args.patients} patients) in {out}")
        with _bar(args.patients) as progress:
            summary = build_demo_cohort(layout, args.patients, args.seed, progress)
        _print_summary(summary)
    print(f"importing {out}")
    scope = AccessScope.everything(user=operator_name())
    with tqdm(unit="patient", desc="importing", file=sys.stderr, leave=False, delay=1.0) as bar:
        reports = import_demo_cohort(engine, layout.root, scope, out, progress=bar.update)
    return imports.print_reports(reports)


def _demo_started(engine: Any) -> bool:
    """Whether this database's demo models were queued once (then they are finished)."""
    with session_scope(engine) as session:
        return demo_model_states(session) is not None


def _queue_models(engine: Any) -> None:
    states = queue_demo_models(engine, AccessScope.everything(user=operator_name()))
    for state in states.values():
        detail = f" ({state.error})" if state.error else ""
        job = "" if state.job_id is None else f" (job {state.job_id})"
        print(f"{state.name}: {state.state.value}{job}{detail}")
    if any(s.state in (DemoState.QUEUED, DemoState.TRAINING) for s in states.values()):
        print("the demo models train in the background: 'gistcad serve' starts their worker")
