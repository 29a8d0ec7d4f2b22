"""``gistcad train``, ``gistcad evaluate``, ``gistcad predict``: the genotype and risk models."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import count, probability_threshold
from gistcad.commands.hints import hint
from gistcad.config import load_settings
from gistcad.domain import CURRENT_MODELS, MAX_LOADER_WORKERS, Device, ModelKind, Permission
from gistcad.errors import ValidationError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.request import (
    CROP_POLICIES,
    MAX_ENSEMBLE,
    MAX_RADIOMICS_ENSEMBLE,
    MAX_TTA,
    PRECISIONS,
    RADIOMICS_MODELS,
)
from gistcad.modelling.targets import Target, trainable_targets
from gistcad.progress import Progress
from gistcad.store import migrations, session_scope


def register(sub: Any) -> None:
    tr = sub.add_parser("train", help="train a genotype or risk model and register it")
    tr.add_argument("--model", choices=[k.value for k in ModelKind], required=True)
    tr.add_argument(
        "--target",
        choices=[t.value for t in Target],
        default="genotype",
        help="what the model predicts; "
        + ", ".join(
            f"{t.value} only with --model "
            + " or ".join(k.value for k in ModelKind if t in trainable_targets(k))
            for t in Target
            if any(t not in trainable_targets(k) for k in ModelKind)
        ),
    )
    tr.add_argument(
        "--cv",
        choices=[s.value for s in Scheme],
        default="kfold",
        help="kfold (5-fold, internal), loco (leave one center out), holdout",
    )
    tr.add_argument("--name", help="model version name (default from the options)")
    tr.add_argument("--seed", type=count(0, 2**32 - 1, "seeds"), default=0)
    tr.add_argument(
        "--folds-from",
        metavar="MODEL",
        help="a model version (id or name) whose folds to keep, to compare on the same folds; "
        "patients it did not have are dealt by hash",
    )
    tr.add_argument(
        "--deep-model",
        metavar="MODEL",
        help="imaging risk score (--model radiomics --target rfs): a deep model version (id or "
        "name) whose risk score is an input beside radiomics and size; out-of-fold for the "
        "patients it was trained on; predicting reads its stored prediction of the patient",
    )
    tr.add_argument(
        "--radiomics",
        choices=RADIOMICS_MODELS,
        default=RADIOMICS_MODELS[0],
        help="radiomics model (genotype, risk and response targets): search (default) adds the "
        "solid part's features and site, size, age and sex, harmonises centers with ComBat and "
        "averages the classifiers of its grid (all 16 by default, so no inner selection; for "
        "KIT exon 11 vs rest fitted on the four genotype classes); "
        "logistic is the tuned logistic regression on the whole tumour's features trained "
        "before it",
    )
    tr.add_argument(
        "--radiomics-ensemble",
        type=count(1, MAX_RADIOMICS_ENSEMBLE, "candidates"),
        metavar="N",
        help="radiomics model search: keep the best N candidates by its inner cross-validation "
        "(AUC over 3 folds repeated twice, or leaving one center out with --cv loco), as WORC "
        "keeps a few (default: all 16 averaged, without inner cross-validation)",
    )
    tr.add_argument(
        "--epochs",
        type=count(1, 1000, "epochs"),
        help="deep model: maximum epochs (default 40)",
    )
    tr.add_argument(
        "--ensemble",
        type=count(1, MAX_ENSEMBLE, "networks"),
        default=1,
        metavar="N",
        help="deep model: train N networks with different seeds on the same patients and "
        "average their predictions (default 1: a single network)",
    )
    tr.add_argument(
        "--tta",
        type=count(0, MAX_TTA, "views"),
        default=0,
        metavar="N",
        help="deep model: average each prediction over the crop and N fixed rotated and shifted "
        "views of it (test-time augmentation; default 0)",
    )
    tr.add_argument(
        "--crop",
        choices=CROP_POLICIES,
        default="fit",
        help="deep model: fit (default) scales each crop to its tumour; fixed cuts every crop "
        "at the spacing of --crop-mm, so the network sees tumours at their true size",
    )
    tr.add_argument(
        "--crop-mm",
        type=float,
        metavar="MM",
        help="deep model: the crop's mm per voxel: with --crop fixed every crop's (required; "
        "a 32-voxel crop spans 32 × MM mm), with fit the finest allowed (default 1)",
    )
    tr.add_argument(
        "--nproc",
        type=count(1, 64, "processes"),
        default=1,
        help="deep model: spread each fit over N processes with PyTorch's distributed data "
        "parallel, started by torchrun (gloo on the CPU; one GPU per process on CUDA)",
    )
    tr.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="deep model: fp32 (default) or mixed precision while training, bf16 (CPU or GPU) "
        "or fp16 (CUDA only, with loss scaling); validation and prediction stay fp32; stored "
        "with the model",
    )
    tr.add_argument(
        "--loader-workers",
        type=count(0, MAX_LOADER_WORKERS, "processes"),
        default=0,
        metavar="N",
        help="deep model: N processes read each batch's crops ahead of the training step "
        "(pinned memory on CUDA; default 0: read between steps); the same model either way",
    )
    _device_option(tr)
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("evaluate", help="per-center performance of a model (out of fold)")
    ev.add_argument("--model", required=True, help="model version id or name")
    ev.add_argument("--threshold", type=probability_threshold, default=0.5)
    ev.add_argument("--oracle", type=Path, help="oracle.csv of a synthetic cohort (ceiling)")
    ev.add_argument("--compare", help="another model version: DeLong test on shared patients")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=_evaluate)

    pr = sub.add_parser("predict", help="predict patients with a registered model")
    pr.add_argument(
        "--model",
        required=True,
        help="model version id or name, or 'current': the newest genotype, risk and (where "
        "registered) response and imaging risk score (rfs) models",
    )
    who = pr.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="every CT-imaged patient in scope")
    who.add_argument("--patient", action="append", help="a pseudonym (repeatable)")
    who.add_argument(
        "--center",
        action="append",
        help="the CT-imaged patients of a center (repeatable); a patient the model cannot "
        "read is left out, as with --all",
    )
    _device_option(pr)
    pr.set_defaults(handler=_predict)


def _device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=[d.value for d in Device],
        default=Device.AUTO.value,
        help="deep model: auto (a CUDA GPU when PyTorch sees one, else the CPU), cpu or cuda",
    )


def _checked_device(name: str) -> str:
    """The device, refused at once (one line) when it is not there. Only a CUDA device can be
    missing (``auto`` falls back to the CPU), so PyTorch is loaded to ask only for ``cuda``:
    a clinical or radiomics run never loads it."""
    if name != Device.CUDA.value:
        return name
    from gistcad.neural.network import pick_device  # PyTorch: only here

    pick_device(name)
    return name


@contextmanager
def _bar(desc: str, *, quiet: bool, unit: str = "step") -> Iterator[Progress | None]:
    """A progress bar on stderr, shown from the first step (an error before it stays one
    line): counted steps set it to done of total, others advance it by one with their
    message beside it. Nothing under ``--json``."""
    if quiet:
        yield None
        return
    bars: list[tqdm[Any]] = []

    def update(message: str, done: int | None = None, total: int | None = None) -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit=unit, file=sys.stderr, leave=False))
        bar = bars[0]
        if done is None or total is None:
            bar.set_postfix_str(message)
            bar.update(1)
        else:
            bar.total = total
            bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _train(args: argparse.Namespace) -> int:
    from gistcad.modelling.request import TrainRequest
    from gistcad.modelling.trainer import train_and_register
    from gistcad.store.writes import NameTakenError

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    scope.require(Permission.RUN_JOBS)
    device = _checked_device(args.device)
    request = TrainRequest.from_parameters(
        {
            "kind": args.model,
            "target": args.target,
            "scheme": args.cv,
            "name": args.name,
            "seed": args.seed,
            "epochs": args.epochs,
            "folds_from": args.folds_from,
            "deep_model": args.deep_model,
            "ensemble": args.ensemble,
            "tta": args.tta,
            "crop": args.crop,
            "crop_mm": args.crop_mm,
            "precision": args.precision,
            "radiomics": args.radiomics,
            "radiomics_ensemble": args.radiomics_ensemble,
        }
    )
    with (
        hint(NameTakenError, "choose another --name"),
        session_scope(engine) as session,
        _bar("training", quiet=False) as progress,
    ):
        version = train_and_register(
            session,
            scope,
            settings.data_dir,
            request,
            progress,
            device=device,
            nproc=args.nproc,
            loader_workers=args.loader_workers,
        )
        print(f"registered model version {version.id}: {version.name}")
        print(version.metrics["card"])
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gistcad.modelling.assessment import evaluate_version
    from gistcad.modelling.evaluation import POOLED, TASK_LABELS, center_mean_text
    from gistcad.modelling.survival_evaluation import RISK_HEAD_TITLE, report_lines

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with (
        session_scope(engine) as session,
        _bar("bootstrap (centers)", quiet=args.json) as progress,
    ):
        assessment = evaluate_version(
            session,
            scope,
            settings.layout,
            args.model,
            args.threshold,
            compare=args.compare,
            oracle=args.oracle,
            progress=progress,
        )
    name, evaluation, comparison = (
        assessment.detail.name,
        assessment.evaluation,
        assessment.comparison,
    )
    if args.json:
        print(
            json.dumps({"model": name, **evaluation.to_dict(), "comparison": comparison}, indent=2)
        )
        return 0
    print(f"{name}: out-of-fold evaluation, threshold {args.threshold:g}")
    for task, table in evaluation.tables.items():
        print(f"\n{TASK_LABELS[task]}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        pooled = table.set_index("center").loc[POOLED]
        print(
            f"Pooled AUC {pooled['auc']:.3f}; mean of the per-center AUCs "
            f"{center_mean_text(pooled)}, scores compared within each center only"
        )
    if evaluation.survival:
        print("\n" + "\n".join(report_lines(evaluation.survival)))
    elif evaluation.risk_head.get("metrics"):
        print("\n" + "\n".join(report_lines(evaluation.risk_head, RISK_HEAD_TITLE)))
    elif evaluation.risk_head:
        print(f"\n{RISK_HEAD_TITLE}: not evaluated, {evaluation.risk_head['not_evaluated']}")
    elif evaluation.concordance:
        parts = ", ".join(f"{c} {v:.3f}" for c, v in evaluation.concordance.items())
        print(f"\nImaging risk score, Harrell's C for recurrence-free survival: {parts}")
    if comparison:
        folds = (
            "the same folds"
            if comparison["same_folds"]
            else "different folds (train one with --folds-from the other to share them)"
        )
        print(
            f"\nDeLong test against {comparison['other']} on {comparison['n']} shared patients, "
            f"{folds}:"
        )
        for task, result in comparison["tasks"].items():
            p = result["p_value"]
            tested = f"p = {p:.3g}" if np.isfinite(p) else "p not available (no variance)"
            print(
                f"  {TASK_LABELS[task]}: AUC {result['auc_a']:.3f} vs {result['auc_b']:.3f}, "
                + tested
            )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from gistcad.modelling.current import predict_with_current_models
    from gistcad.modelling.trainer import predict_and_record
    from gistcad.store.model_queries import find_model_version

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    scope.require(Permission.RUN_JOBS)
    device = _checked_device(args.device)
    if args.model == CURRENT_MODELS:
        if args.center:
            raise ValidationError(
                "--center predicts with one model version (--model NAME); the current models "
                "predict named patients (--patient) or all (--all)"
            )
        with session_scope(engine) as session:
            done = predict_with_current_models(
                session, scope, settings.data_dir, args.patient, device=device
            )
        for version, run in done:
            print(f"{version.question}: {run.text(version.name)}")
        return 0
    with session_scope(engine) as session:
        model_id, name = find_model_version(session, args.model, scope)
        with _bar("predicting", quiet=False, unit="patient") as progress:
            run = predict_and_record(
                session,
                scope,
                settings.data_dir,
                model_id,
                args.patient,
                progress,
                device=device,
                centers=args.center,
            )
    print(run.text(name))
    return 0
