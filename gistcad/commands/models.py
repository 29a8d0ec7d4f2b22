"""``gistcad train``, ``gistcad evaluate``, ``gistcad predict``: the genotype and risk models."""

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
from gistcad.commands.arguments import count, probability_threshold
from gistcad.config import load_settings
from gistcad.domain import Device, ModelKind, Permission
from gistcad.errors import ValidationError
from gistcad.ingest.pseudonym import load_or_create_key
from gistcad.modelling.folds import Scheme
from gistcad.modelling.targets import Target
from gistcad.store import audit, migrations, session_scope

if TYPE_CHECKING:
    import pandas as pd

DEMO_ORACLE = Path("demo-cohort") / "oracle.csv"


def register(sub: Any) -> None:
    tr = sub.add_parser("train", help="train a genotype or risk model and register it")
    tr.add_argument("--model", choices=[k.value for k in ModelKind], required=True)
    tr.add_argument("--target", choices=[t.value for t in Target], default="genotype")
    tr.add_argument(
        "--cv",
        choices=[s.value for s in Scheme],
        default="kfold",
        help="kfold (5-fold, internal), loco (leave one center out), holdout",
    )
    tr.add_argument("--name", help="model version name (default from the options)")
    tr.add_argument("--seed", type=count(0, 2**32 - 1, "seeds"), default=0)
    tr.add_argument(
        "--epochs",
        type=count(1, 1000, "epochs"),
        help="deep model: maximum epochs (default 12)",
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
    pr.add_argument("--model", required=True, help="model version id or name")
    who = pr.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="every CT-imaged patient in scope")
    who.add_argument("--patient", action="append", help="a pseudonym (repeatable)")
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
    """The device, refused at once (one line) when it is not there."""
    from gistcad.neural.network import pick_device  # PyTorch: only here

    pick_device(name)
    return name


@contextmanager
def _bar(
    desc: str, *, quiet: bool, unit: str = "step"
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr fed with (done, total); nothing under ``--json``."""
    if quiet:
        yield None
        return
    with tqdm(desc=desc, unit=unit, file=sys.stderr, leave=False) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update


def _train(args: argparse.Namespace) -> int:
    from gistcad.modelling.trainer import TrainRequest, train

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    scope.require(Permission.RUN_JOBS)
    device = _checked_device(args.device)
    request = TrainRequest(
        kind=ModelKind(args.model),
        target=Target(args.target),
        scheme=Scheme(args.cv),
        name=args.name,
        seed=args.seed,
        epochs=args.epochs,
    )
    with (
        session_scope(engine) as session,
        tqdm(desc="training", unit="step", file=sys.stderr, leave=False) as bar,
    ):

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        version = train(session, scope, settings.data_dir, request, step, device=device)
        audit.model_event(
            session,
            scope.user,
            "train",
            version.id,
            name=version.name,
            patients=version.metrics.get("n_patients"),
        )
        print(f"registered model version {version.id}: {version.name}")
        print(version.metrics["card"])
    return 0


def _oracle(args: argparse.Namespace, data_dir: Path) -> pd.DataFrame | None:
    from gistcad.modelling.oracle_link import load_oracle

    path = args.oracle or (data_dir / DEMO_ORACLE)
    if args.oracle is None and not path.is_file():
        return None
    return load_oracle(path, load_or_create_key(data_dir))


def _evaluate(args: argparse.Namespace) -> int:
    from gistcad.modelling.evaluation import TASK_LABELS, evaluate
    from gistcad.store.model_queries import find_model_version, model_version_detail

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with session_scope(engine) as session:
        model_id, name = find_model_version(session, args.model, scope)
        detail = model_version_detail(session, scope, model_id)
        oof, target = detail.oof, Target(detail.target)
        other = None
        if args.compare:
            other_id, other_name = find_model_version(session, args.compare, scope)
            other = (other_name, model_version_detail(session, scope, other_id).oof)
    if oof.empty:
        raise ValidationError(f"{name} has no out-of-fold predictions for the centers you see")
    with _bar("bootstrap (centers)", quiet=args.json) as progress:
        evaluation = evaluate(
            oof,
            target,
            threshold=args.threshold,
            oracle=_oracle(args, settings.data_dir),
            progress=progress,
        )
    comparison = _compare(oof, target, other) if other is not None else None
    if args.json:
        print(
            json.dumps({"model": name, **evaluation.to_dict(), "comparison": comparison}, indent=2)
        )
        return 0
    print(f"{name}: out-of-fold evaluation, threshold {args.threshold:g}")
    for task, table in evaluation.tables.items():
        print(f"\n{TASK_LABELS[task]}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if evaluation.concordance:
        parts = ", ".join(f"{c} {v:.3f}" for c, v in evaluation.concordance.items())
        print(f"\nImaging risk score, Harrell's C for recurrence-free survival: {parts}")
    if comparison:
        print(f"\nDeLong test against {comparison['other']} on {comparison['n']} shared patients:")
        for task, result in comparison["tasks"].items():
            print(
                f"  {TASK_LABELS[task]}: AUC {result['auc_a']:.3f} vs {result['auc_b']:.3f}, "
                f"p = {result['p_value']:.3g}"
            )
    return 0


def _compare(oof: pd.DataFrame, target: Target, other: tuple[str, pd.DataFrame]) -> dict[str, Any]:
    from gistcad.analysis.performance import delong_test
    from gistcad.modelling.evaluation import task_scores

    name, other_oof = other
    shared = oof.merge(other_oof, on="pseudonym", suffixes=("", "_b"))
    if shared.empty:
        raise ValidationError(f"{name} and this model share no evaluated patient")
    b = shared[[c for c in shared.columns if c.endswith("_b")]].rename(columns=lambda c: c[:-2])
    b["center"] = shared["center"]
    results = {}
    for task, (score, label) in task_scores(shared, target).items():
        other_score = task_scores(b.assign(pseudonym=shared["pseudonym"]), target)[task][0]
        d = delong_test(score, other_score, label)
        results[task] = {"auc_a": d.auc_a, "auc_b": d.auc_b, "z": d.z, "p_value": d.p_value}
    return {"other": name, "n": len(shared), "tasks": results}


def _predict(args: argparse.Namespace) -> int:
    from gistcad.modelling.trainer import predict
    from gistcad.store.model_queries import find_model_version

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    scope.require(Permission.RUN_JOBS)
    device = _checked_device(args.device)
    with session_scope(engine) as session:
        model_id, name = find_model_version(session, args.model, scope)
        with _bar("predicting", quiet=False, unit="patient") as progress:
            n = predict(
                session, scope, settings.data_dir, model_id, args.patient, progress, device=device
            )
        selection = "all" if args.all else args.patient
        audit.model_event(session, scope.user, "predict", model_id, patients=n, selection=selection)
    print(f"{n} predictions written by {name}")
    return 0
