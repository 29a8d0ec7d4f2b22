"""``gistcad demo``: build the synthetic multi-center cohort."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from gistcad.commands import imports
from gistcad.commands.access import operator_name
from gistcad.config import load_settings
from gistcad.domain import ModelKind
from gistcad.errors import GistcadError
from gistcad.store import AccessScope, audit, migrations, session_scope

if TYPE_CHECKING:
    from gistcad.modelling.trainer import TrainRequest

DEMO_DIRNAME = "demo-cohort"


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
        help="genotype signal in the images, 0-1 (0 = no signal: the negative control)",
    )
    build.add_argument(
        "--matrix", type=int, default=256, help="in-plane pixels: 256 demo, 512 clinical"
    )
    build.add_argument("--workers", type=int, help="processes (default: all cores)")
    build.set_defaults(handler=_build)

    load = actions.add_parser(
        "load",
        help="build the demo cohort in the data folder and import it, if the database is empty",
        description="What 'make run' does on first start: when the database holds no patient, "
        "build the synthetic cohort under <data folder>/demo-cohort (unless it is there), "
        "import it through the ordinary importers, then train the demo models (clinical, "
        "radiomics, deep) and predict every patient. Does nothing when patients exist.",
    )
    load.add_argument("--patients", type=int, default=200)
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--no-models", action="store_true", help="import only; train no demo model")
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
    )
    check_output_folder(options.out)
    with tqdm(total=options.patients, unit="patient", desc="CT and masks", file=sys.stderr) as bar:
        summary = build_cohort(options, progress=bar.update)
    centers = ", ".join(f"{name} {n}" for name, n in summary.centers.items())
    ceilings = ", ".join(f"{k} {v:.3f}" for k, v in summary.ceilings.items())
    print(f"{summary.patients} patients ({centers}) in {summary.out}: {summary.files} files")
    print(f"ceiling AUCs: {ceilings}")
    return 0


def _load(args: argparse.Namespace) -> int:
    from gistcad.store.queries import cohort_counts

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    with session_scope(engine) as session:
        patients = cohort_counts(session, AccessScope.everything()).patients
    if patients:
        print(f"the database holds {patients} patients: no demo cohort loaded")
        return 0
    out = settings.data_dir / DEMO_DIRNAME
    if not (out / "manifest.json").exists():
        print(f"building the synthetic demo cohort ({args.patients} patients) in {out}")
        build = argparse.Namespace(
            out=out,
            patients=args.patients,
            centers=6,
            seed=args.seed,
            signal=1.0,
            matrix=256,
            workers=None,
        )
        _build(build)
    print(f"importing {out}")
    load = argparse.Namespace(folder=out, dry_run=False, keep_mapping=False, json=False)
    status = imports.import_demo_command(load)
    if status == 0 and not args.no_models:
        train_demo_models(settings.data_dir, migrations.ready_engine(settings.db_url))
    return status


def train_demo_models(data_dir: Path, engine: Any) -> None:
    """Train the demo's clinical, radiomics and deep models and predict every patient."""
    from gistcad.modelling.folds import Scheme
    from gistcad.modelling.targets import Target
    from gistcad.modelling.trainer import TrainRequest

    demo_models = (
        TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, Scheme.KFOLD, name="demo-clinical"),
        TrainRequest(ModelKind.RADIOMICS, Target.KIT11, Scheme.KFOLD, name="demo-radiomics"),
        TrainRequest(ModelKind.DL, Target.GENOTYPE, Scheme.HOLDOUT, name="demo-deep"),
    )
    for request in demo_models:
        try:
            _train_one(data_dir, engine, request)
        except GistcadError as exc:
            print(f"{request.name}: not trained ({exc})")


def _train_one(data_dir: Path, engine: Any, request: TrainRequest) -> None:
    from gistcad.modelling.trainer import predict, train

    with (
        session_scope(engine) as session,
        tqdm(desc=f"training {request.name}", unit="step", file=sys.stderr) as bar,
    ):

        def step(message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(1)

        operator = AccessScope.everything(user=operator_name())
        version = train(session, operator, data_dir, request, step)
        n = predict(session, operator, data_dir, version.id)
        audit.model_event(session, operator.user, "train", version.id, name=version.name)
        audit.model_event(session, operator.user, "predict", version.id, patients=n)
    print(f"{request.name}: trained and {n} patients predicted")
